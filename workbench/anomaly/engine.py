"""Detection on the Dask engine, with the forecasting engine's connection, key scheme and store.

A unit is (detection task, detector spec, chunk of items): the engine's one unit type
(`workbench.engine.units.Unit`, kind `detection`), run through its one worker entry point
(`workbench.engine.worker.run_unit`). A worker cuts the task's items into
parquet chunks once; each unit reads its own chunk, scores its items and commits the per-row
scores to the store's `detection_scores` table (kind `detection`), its record last. A rerun skips
complete units, so a killed run resumes. Scoring the corpus (NAB's corpus-wide threshold, the
point-wise metrics) needs every item and happens on the client from the stored scores; the
scoreboard of each detector is committed too, as a unit of `detection_metrics` rows (every one
higher-is-better), keyed by the score units it was computed from.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.anomaly.replay import check_replayable, replay
from workbench.anomaly.run import Detection, as_detector, distinct_labels, score_item, scoreboard
from workbench.anomaly.task import DetectionData, DetectionTask
from workbench.config import cache_dir
from workbench.engine.cluster import connect
from workbench.engine.runner import package_versions
from workbench.engine.units import ItemChunk, Unit
from workbench.engine.worker import CpuMeter, commit, failure, run_unit
from workbench.errors import WorkbenchError
from workbench.fingerprint import code_fingerprint, digest, module_of
from workbench.keys import identity_key, unit_key, unit_payload
from workbench.models.spec import ModelSpec
from workbench.storage import atomic_write, sha256_file
from workbench.store.records import commit_unit, first_in_process, new_run_id
from workbench.store.results_store import ResultsStore

__all__ = [
    "DETECTION_CORE",
    "SCOREBOARD_CORE",
    "EngineDetections",
    "commit_scoreboard",
    "compute_detection_unit",
    "detect_on_engine",
    "detector_fingerprint",
    "prepare_item_chunks",
    "run_detection_unit",
]

# what every detection unit runs besides its detector, and what the corpus scoreboard runs
DETECTION_CORE = ("workbench.anomaly.run", "workbench.anomaly.task", "workbench.anomaly.engine")
SCOREBOARD_CORE = (
    *DETECTION_CORE,
    "workbench.anomaly.nab",
    "workbench.anomaly.metrics",
    "workbench.anomaly.thresholds",
)


def detector_fingerprint(spec: ModelSpec) -> str:
    """The detector's module and the detection core, with the numerical libraries' versions.

    Parameters
    ----------
    spec
        The detector and its parameters.
    """
    detector = as_detector(spec.model_dump())
    return digest(
        {"workbench": code_fingerprint(module_of(detector), *DETECTION_CORE), "packages": package_versions()}, 24
    )


def _item_batches(task: DetectionTask, batch: int) -> Iterator[pd.DataFrame]:
    """The task's rows (item, unique_id, ds, y), a reader's batch at a time (a file, where the card's
    reader reads one file at a time: `workbench.sources.catalog.split_batches`), checked as a Panel.
    A user card's subset, or a task that fills gaps, is read whole (`DetectionTask.subset_frame`) and
    handed on `batch` items at a time: filling needs each series whole, and a user card's files are
    read where they are."""
    from workbench.data.cards import UserCard, get_card
    from workbench.sources.catalog import split_batches

    card = get_card(task.dataset)
    if isinstance(card, UserCard) or task.gap_policy not in (None, "none"):
        for subset in task.subsets:
            df = task.subset_frame(subset)
            if task.items is not None:
                df = df[df["item"].isin(task.items)]
            items = list(dict.fromkeys(df["item"]))
            for start in range(0, len(items), batch):
                part = df[df["item"].isin(items[start : start + batch])]
                if len(part):
                    yield part
        return
    for subset in task.subsets:
        for panel in split_batches(card, subset, "train", batch):
            df = panel.df.assign(item=panel.df["item"] if "item" in panel.df.columns else panel.df["unique_id"])
            if task.items is not None:
                df = df[df["item"].isin(task.items)]
            if len(df):
                yield df


def prepare_item_chunks(task: DetectionTask, chunk_size: int) -> tuple[list[ItemChunk], DetectionData]:
    """Cut the task's items into parquet chunks, on a worker, and return them with the data's
    scoring view (rows, labels, windows; no values): the client never holds the series, and this
    worker holds one chunk's values at a time (plus every row's stamp, which scoring needs).

    Parameters
    ----------
    task
        The detection task.
    chunk_size
        Items per chunk.

    Raises
    ------
    WorkbenchError
        The task has no rows.
    """
    folder = cache_dir() / "detection-chunks" / task.key()
    chunks: list[ItemChunk] = []
    stamps: list[pd.DataFrame] = []
    pending: list[pd.DataFrame] = []
    n_pending = 0  # items in `pending`

    def flush() -> None:
        nonlocal n_pending
        if not pending:
            return
        frame = pd.concat(pending, ignore_index=True)
        pending.clear()
        n_pending = 0
        items = tuple(dict.fromkeys(frame["item"]))
        for start in range(0, len(items), chunk_size):
            part = items[start : start + chunk_size]
            rows = frame.loc[frame["item"].isin(part), ["item", "unique_id", "y"]]
            path = folder / f"chunk-{len(chunks):05d}.parquet"
            atomic_write(path, lambda tmp, f=rows: f.to_parquet(tmp, index=False))
            chunks.append(ItemChunk(len(chunks), part, str(path), sha256_file(path)))

    for df in _item_batches(task, chunk_size):
        stamps.append(df.drop(columns="y"))
        pending.append(df)
        n_pending += df["item"].nunique()
        if n_pending >= chunk_size:
            flush()
    flush()
    if not stamps:
        raise WorkbenchError(f"{task.name}: no rows to detect on")
    # in the order `task.load()` gives (a Panel's: by series, each series' rows as read)
    rows = pd.concat(stamps, ignore_index=True).sort_values("unique_id", kind="stable").reset_index(drop=True)
    data = task.from_frame(rows)
    return chunks, data.scoring_view({item: c.path for c in chunks for item in c.items})


def _label(frame: pd.DataFrame, task: DetectionTask, model: str, unit: str) -> pd.DataFrame:
    """Every row says which task (key and description), detector and unit made it."""
    frame.insert(0, "model", model)
    frame.insert(0, "subset", "+".join(task.subsets))
    frame.insert(0, "dataset", task.dataset)
    frame.insert(0, "task", task.describe())
    frame.insert(0, "task_key", task.key())
    frame.insert(0, "kind", "detection")
    frame["unit"] = unit
    return frame


def compute_detection_unit(unit: Unit) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(per-row scores, what the unit's record says of the computation) of one detection unit (one
    `ItemChunk`), computed in this process. Both kinds of task record the detector's CPU seconds
    (`cpu_s`, `cpu_clock`). A batch task scores each item whole (`score_item`) and records the seconds
    per item (`item_seconds`); a replay task feeds the chunk's series one stamp at a time across all
    of them (`workbench.anomaly.replay`), whose scores are the batch path's, and records the feed's
    latency, throughput and state (`replay`: no seconds per item, the items are fed interleaved).

    Parameters
    ----------
    unit
        A detection unit over one `ItemChunk` (a `TypeError` otherwise).
    """
    (chunk,) = unit.chunks
    if not isinstance(chunk, ItemChunk):
        raise TypeError(f"a detection unit covers one ItemChunk, not {type(chunk).__name__}")
    task: DetectionTask = unit.task  # type: ignore[assignment]
    detector = as_detector(unit.model.model_dump(), seed=unit.seed)  # type: ignore[union-attr]
    frame = pd.read_parquet(chunk.path)
    label = unit.model.labelled(unit.seed)  # type: ignore[union-attr]
    if task.mode == "replay":
        per_item, stats = replay(detector, _with_stamps(task, chunk, frame), task.probationary_percent)
        scores = [_item_scores(item, per_item[item]) for item in chunk.items]
        # the replay reads the feeding thread's clock
        facts = {"cpu_s": round(stats.cpu_s, 6), "cpu_clock": "thread", "replay": stats.as_record()}
        return _label(pd.concat(scores, ignore_index=True), task, label, unit.key), facts
    scores, seconds, cpu = [], {}, 0.0
    meter = CpuMeter()
    for item in chunk.items:
        sub = frame[frame["item"] == item]
        channels = {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
        start = time.perf_counter()
        meter.start()
        s = score_item(detector, channels, item, task.probationary_percent)
        cpu += meter.stop()
        seconds[item] = round(time.perf_counter() - start, 6)
        scores.append(_item_scores(item, s))
    facts = {"cpu_s": round(cpu, 6), "cpu_clock": meter.name, "item_seconds": seconds}
    return _label(pd.concat(scores, ignore_index=True), task, label, unit.key), facts


def _item_scores(item: str, scores: np.ndarray) -> pd.DataFrame:
    """One item's rows of `detection_scores` (before `_label`): the same shape in batch and replay."""
    return pd.DataFrame({"unique_id": item, "row": np.arange(len(scores)), "anomaly_score": scores})


def _with_stamps(task: DetectionTask, chunk: ItemChunk, frame: pd.DataFrame) -> pd.DataFrame:
    """The chunk's rows with their stamps (`ds`), which a replay orders the feed by. A chunk file holds
    item, unique_id and y only, so the stamps are read again the way the chunk was cut
    (`_item_batches`), up to the batch holding the chunk's last item, and each series' values are
    checked against the chunk's: the replay scores exactly the values the unit's key names.

    Parameters
    ----------
    task
        The unit's task.
    chunk
        The unit's chunk.
    frame
        The chunk file's rows.

    Raises
    ------
    WorkbenchError
        The data read again does not hold the chunk's series with the chunk's values.
    """
    if "ds" in frame.columns:
        return frame
    wanted, found, parts = set(chunk.items), set(), []
    for df in _item_batches(task, len(chunk.items)):
        mine = df[df["item"].isin(wanted)]
        if len(mine):
            parts.append(mine[["item", "unique_id", "ds", "y"]])
            found |= set(mine["item"])
        if found == wanted:
            break
    stamped = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0].assign(ds=pd.NaT)
    ours = {key: g["y"].to_numpy(float) for key, g in frame.groupby(["item", "unique_id"], sort=False)}
    again = {key: g["y"].to_numpy(float) for key, g in stamped.groupby(["item", "unique_id"], sort=False)}
    differ = [key for key, y in ours.items() if key not in again or not np.array_equal(y, again[key], equal_nan=True)]
    if differ or len(again) != len(ours):
        raise WorkbenchError(
            f"{task.name}: the stamps of chunk {chunk.index} cannot be matched to its values (series "
            f"{differ[:3] or sorted(set(again) - set(ours))[:3]} differ from the chunk file {chunk.path})"
        )
    return stamped


def run_detection_unit(unit: Unit, store_root: str, run_id: str) -> dict:
    """Compute one detection unit and commit it; a detector's failure is recorded, never raised.
    Called through the engine's one worker entry point (`workbench.engine.worker.run_unit`). A batch
    unit's record has the seconds per item (`item_seconds`); a replay unit's has the replay's
    latency, throughput and state (`replay`: `ReplayStats.as_record`). Both record the CPU seconds
    of the detector's work (`cpu_s`: reading the chunk left out) for `workbench.store.cost`.

    Parameters
    ----------
    unit
        The detection unit.
    store_root
        The results store's root (a folder or URL).
    run_id
        The run the unit is committed under.
    """
    start = time.perf_counter()
    scores = None
    outcome: dict = {"status": "ok"}
    try:
        scores, facts = compute_detection_unit(unit)
        outcome |= facts | {"first_in_process": first_in_process(unit.model.key())}  # type: ignore[union-attr]
    except Exception as exc:
        outcome = failure(exc)
    return commit(
        unit,
        store_root,
        run_id,
        {"detection_scores": scores},
        **outcome,
        duration_s=round(time.perf_counter() - start, 4),
    )


def commit_scoreboard(
    store: ResultsStore, data: DetectionData, detection: Detection, spec: ModelSpec, units: list[str], seed: int
) -> pd.DataFrame:
    """One detector's corpus scoreboard as a `detection` unit of `detection_metrics` rows (all
    higher-is-better), keyed by the score units it was computed from; reused when already stored.

    Parameters
    ----------
    store
        The results store.
    data
        The task's data (its scoring view suffices).
    detection
        The detector's scores over the whole corpus.
    spec
        The detector.
    units
        The keys of the detection units the scores come from.
    seed
        The run's seed.
    """
    task = data.task
    # a user card's labels are not pinned: the scoreboard is keyed by their content too
    scored: Any = (
        sorted(units)
        if data.labels_fingerprint is None
        else {"units": sorted(units), "labels": data.labels_fingerprint}
    )
    payload = unit_payload(kind="detection", task=task, model=spec.key(), data=scored, seed=seed, part="scoreboard")
    code = digest({"workbench": code_fingerprint(*SCOREBOARD_CORE), "packages": package_versions()}, 24)
    key = unit_key(payload, code)
    if store.complete([key]):
        return store.read_table("detection_metrics", [key])
    board = scoreboard(data, [detection]).rename(columns={"detector": "model_label"})
    board = board.drop(columns=["dataset", "model_label"]).assign(unique_id=None, higher_is_better=True)
    board = _label(board, task, spec.labelled(seed), key)
    commit_unit(
        store,
        key=key,
        kind="detection",
        identity=identity_key(payload),
        code=code,
        run_id=new_run_id(),
        task=task,
        model=spec.labelled(seed),
        model_name=spec.name,
        params=spec.params,
        seed=seed,
        tables={"detection_metrics": board},
        n_series=len(data.items),
        score_units=sorted(units),
        status="ok",
    )
    return board


@dataclass
class EngineDetections:
    """What `detect_on_engine` did: the detections of the detectors that ran, their unit records and the
    stored scoreboard.

    Parameters
    ----------
    data
        The task's data (its scoring view: rows, labels, windows; no values).
    detections
        One `Detection` per detector that did not fail.
    records
        The unit records of every (detector, chunk).
    failures
        Detector label -> the first error of a detector that failed.
    store
        The results store written to.
    scoreboard
        The `detection_metrics` rows, as stored.
    n_computed
        Units this call computed (the others were complete in the store).
    """

    data: DetectionData
    detections: list[Detection]
    records: pd.DataFrame
    failures: dict[str, str]
    store: ResultsStore
    scoreboard: pd.DataFrame = field(default_factory=pd.DataFrame)  # detection_metrics rows, as stored
    n_computed: int = 0  # units this call computed (the others were complete in the store)


def detect_on_engine(
    task: DetectionTask,
    detectors: list[str | dict | ModelSpec],
    *,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    store: str | Path | ResultsStore | None = None,
    chunk_size: int = 8,
    seed: int = 0,
    progress: bool = True,
    data: DetectionData | None = None,
    retry_failed: bool = False,
    strict: bool = True,
) -> EngineDetections:
    """Every detector on every item of `task`, one Dask task per (detector, chunk of items).

    A worker reads the task's data and cuts it into chunks; this process gets back the rows'
    stamps and labels (`DetectionData.scoring_view`), never the values, and scores the corpus from
    the stored scores (NAB's threshold is chosen over every row of the corpus at once). Units stored
    as failed are complete (kept, not recomputed) unless `retry_failed`. With `strict` (the default),
    a task on which every detector failed raises; without it (`workbench run`, which reports failed
    units with the others), the failures come back in `failures` and `records`. A replay task
    (`mode='replay'`) feeds each chunk stamp by stamp (`workbench.anomaly.replay`) and records the
    replay's stats in each unit's record; its detectors must all have a streaming form.

    Parameters
    ----------
    task
        The detection task.
    detectors
        Detector names, `{name, params}` dicts or `ModelSpec`s.
    client
        A Dask client to run on; None: `scheduler`, else a local cluster opened for the call.
    scheduler
        A Dask scheduler address, used where no `client` is given.
    n_workers
        Workers of the local cluster, where one is opened; None: one per CPU.
    store
        The results store, or its root; None: `WORKBENCH_RESULTS`, else `./results`.
    chunk_size
        Items per detection unit.
    seed
        The run's seed.
    progress
        Show a progress bar.
    data
        The task's data, to score with instead of the scoring view the worker sends back; None: that view.
    retry_failed
        Recompute units stored as failed.
    strict
        Raise a `WorkbenchError` when every detector failed.

    Raises
    ------
    NotStreamingError
        A replay task names detectors without a streaming form (each named, with what it is fitted on),
        before any unit runs.
    """
    specs = [ModelSpec.of(d) for d in detectors]
    built = [as_detector(spec.model_dump()) for spec in specs]  # unknown names fail before any work
    if task.mode == "replay":  # so do detectors a replay cannot feed stamp by stamp
        check_replayable(built)
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    run_id = new_run_id()
    with connect(client, scheduler, n_workers) as c:
        chunks, view = c.submit(prepare_item_chunks, task, chunk_size, pure=False).result()
        data = data if data is not None else view
        codes = {spec.key(): detector_fingerprint(spec) for spec in specs}
        units = [
            Unit(task, spec, (chunk,), seed, code=codes[spec.key()], kind="detection")
            for spec in specs
            for chunk in chunks
        ]
        done = store.complete([u.key for u in units], retry_failed=retry_failed)
        todo = [u for u in units if u.key not in done]
        if todo:
            futures = c.map(run_unit, todo, store_root=str(store.root), run_id=run_id,
                            key=[f"detect-{u.key}-{run_id}" for u in todo], pure=False)  # fmt: skip
            from distributed import as_completed

            bar = tqdm(total=len(todo), desc="detection units", unit="unit", disable=not progress)
            for _ in as_completed(futures):
                bar.update()
            bar.close()
    records = pd.DataFrame([store.record(u.key) for u in units])
    detections, failures, boards = [], {}, []
    labels = distinct_labels([(s.name, s.params, seed) for s in specs])
    for spec, label in zip(specs, labels, strict=True):
        mine = records[records["model"] == spec.labelled(seed)]
        failed = mine[mine["status"] != "ok"]
        if len(failed):
            failures[spec.label] = str(failed["error"].iloc[0])
            continue
        scores = store.read_table("detection_scores", list(mine["key"]))
        per_item = {item: g.sort_values("row")["anomaly_score"].to_numpy() for item, g in scores.groupby("unique_id")}
        detector = as_detector(spec.model_dump())
        detection = Detection(
            label, detector.fitted_on, data.corpus.align(per_item, spec.label), float(mine["duration_s"].sum()),
            spec.name, dict(spec.params), seed,
        )  # fmt: skip
        detections.append(detection)
        boards.append(commit_scoreboard(store, data, detection, spec, list(mine["key"]), seed))
    if failures and not detections and strict:
        raise WorkbenchError(f"{task.name}: every detector failed: {failures}")
    board = pd.concat(boards, ignore_index=True) if boards else pd.DataFrame()
    return EngineDetections(data, detections, records, failures, store, board, n_computed=len(todo))
