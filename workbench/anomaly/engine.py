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

from workbench.anomaly.run import Detection, as_detector, distinct_labels, score_item, scoreboard
from workbench.anomaly.task import DetectionData, DetectionTask
from workbench.config import cache_dir
from workbench.engine.cluster import connect
from workbench.engine.runner import package_versions
from workbench.engine.units import ItemChunk, Unit
from workbench.engine.worker import commit, failure, run_unit
from workbench.errors import WorkbenchError
from workbench.fingerprint import code_fingerprint, digest, module_of
from workbench.keys import identity_key, unit_key, unit_payload
from workbench.models.spec import ModelSpec
from workbench.storage import atomic_write, sha256_file
from workbench.store.records import commit_unit, new_run_id
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


def compute_detection_unit(unit: Unit) -> tuple[pd.DataFrame, dict[str, float]]:
    """(per-row scores, seconds per item) of one detection unit (one `ItemChunk`), computed in this process.

    Parameters
    ----------
    unit
        A detection unit over one `ItemChunk` (a `TypeError` otherwise).
    """
    (chunk,) = unit.chunks
    if not isinstance(chunk, ItemChunk):
        raise TypeError(f"a detection unit covers one ItemChunk, not {type(chunk).__name__}")
    detector = as_detector(unit.model.model_dump(), seed=unit.seed)
    frame = pd.read_parquet(chunk.path)
    scores, seconds = [], {}
    for item in chunk.items:
        sub = frame[frame["item"] == item]
        channels = {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
        start = time.perf_counter()
        s = score_item(detector, channels, item, unit.task.probationary_percent)  # type: ignore[attr-defined]
        seconds[item] = round(time.perf_counter() - start, 6)
        scores.append(pd.DataFrame({"unique_id": item, "row": np.arange(len(s)), "anomaly_score": s}))
    out = _label(pd.concat(scores, ignore_index=True), unit.task, unit.model.labelled(unit.seed), unit.key)  # type: ignore[arg-type]
    return out, seconds


def run_detection_unit(unit: Unit, store_root: str, run_id: str) -> dict:
    """Compute one detection unit and commit it; a detector's failure is recorded, never raised.
    Called through the engine's one worker entry point (`workbench.engine.worker.run_unit`).

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
        scores, outcome["item_seconds"] = compute_detection_unit(unit)
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
    units with the others), the failures come back in `failures` and `records`.

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
    """
    specs = [ModelSpec.of(d) for d in detectors]
    for spec in specs:  # unknown names fail before any work
        as_detector(spec.model_dump())
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
