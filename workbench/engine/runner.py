"""The client side of a run: expand the grid, skip what is done, map the rest on Dask, record the run.

The client only ever holds unit descriptions and their small records: chunk files are cut on a
worker, and each unit reads its own chunk and writes its own results. Killing the client loses
nothing that was committed; rerunning the same grid recomputes only what is missing or corrupt.

Forecast once, score many: a forecast unit stores forecasts, and each of the task's metrics is a
score unit of its own (`workbench.engine.units`). A first run submits each forecast unit with its
score units (one Dask task: scored right after forecasting); a rerun that asks for a metric the
store lacks submits only the missing score units, which read the stored forecasts and fit nothing.
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from workbench import __version__
from workbench.data.chunks import ChunkRef
from workbench.engine.cluster import connect
from workbench.engine.preflight import check_preflight
from workbench.engine.series import SERIES_CODE, series_units
from workbench.engine.units import Unit
from workbench.engine.worker import run_unit
from workbench.errors import WorkbenchError
from workbench.fingerprint import code_fingerprint as source_fingerprint
from workbench.fingerprint import digest, forecaster_fingerprint, git_state
from workbench.forecasters import make_forecaster
from workbench.metrics import get_metric
from workbench.models.spec import ModelSpec
from workbench.sources import plan_chunks
from workbench.store.failures import failed_units
from workbench.store.records import new_run_id
from workbench.store.results_store import FORMAT, ResultsStore
from workbench.tasks import Task

__all__ = [
    "PACKAGES",
    "SCORE_CORE",
    "RunSummary",
    "accelerator_resources",
    "advertised_resources",
    "as_model_specs",
    "check_partitioning",
    "check_store_format",
    "code_fingerprint",
    "evaluate",
    "is_global",
    "metric_params",
    "package_versions",
    "plan_scores",
    "plan_units",
    "reusable_across_code",
    "scoring_fingerprint",
    "wants_accelerator",
]

PACKAGES = ("numpy", "pandas", "numba", "dask", "distributed", "statsforecast", "darts", "torch", "pyarrow")
# what a score unit runs: the windows, the scorer and the metrics (no model)
SCORE_CORE = ("workbench.tasks", "workbench.scoring", "workbench.metrics", "workbench.engine.worker")


@dataclass(frozen=True)
class RunSummary:
    """What a run did: `records` of the forecast units it computed (`n_units` planned, `n_skipped`
    complete or reused), and `score_records` of the score units it computed (`n_scores` planned).

    `failed_before` holds the stored records of the planned units (forecast and score) that had
    ended in error or timeout in an earlier run and were skipped because `retry_failed` was False:
    they count as complete (a rerun does not hammer a model that fails), yet the grid's results
    lack them, so a rerun must say so rather than "nothing to compute". `failed()` lists this
    run's grid failures, of this run and from before. `series_records` are the `series` units
    (per-series metadata of each task and chunk) this run described.

    Parameters
    ----------
    run_id
        The run's id (its record is `runs/<run_id>.json` in the store).
    store
        The store the run wrote to.
    records
        The records of the forecast units this run computed, one row per unit.
    n_units
        Forecast units planned.
    n_skipped
        Planned forecast units already complete, or reused across code.
    seconds
        The run's wall-clock time.
    score_records
        The records of the score units this run computed.
    n_scores
        Score units planned.
    failed_before
        Stored records of planned units that had failed in an earlier run and were not retried.
    series_records
        The records of the `series` units this run computed.
    """

    run_id: str
    store: ResultsStore
    records: pd.DataFrame
    n_units: int
    n_skipped: int
    seconds: float
    score_records: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_scores: int = 0
    failed_before: pd.DataFrame = field(default_factory=pd.DataFrame)
    series_records: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_computed(self) -> int:
        return len(self.records)

    @property
    def n_failed_before(self) -> int:
        """Planned units (forecast and score) stored as failed by an earlier run and not retried."""
        return len(self.failed_before)

    @property
    def n_failed(self) -> int:
        """Units (forecast, score and series) this run computed that ended in error or timeout."""
        frames = (self.records, self.score_records, self.series_records)
        return sum(int((f["status"] != "ok").sum()) for f in frames if len(f))

    def failed(self) -> pd.DataFrame:
        """The grid's failed units per (task_key, task, model, kind), as `failed_units` counts them:
        those this run computed and those stored as failed before and skipped (`failed_before`).
        Empty when every planned unit is ok."""
        frames = [f for f in (self.failed_before, self.records, self.score_records, self.series_records) if len(f)]
        return failed_units(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())

    def counts(self) -> dict[str, int]:
        if self.records.empty:
            return {}
        return self.records["status"].value_counts().to_dict()

    def metrics(self) -> pd.DataFrame:
        return self.store.metrics()


def as_model_specs(models: Iterable[str | dict | ModelSpec]) -> list[ModelSpec]:
    """Names, {name, params} dicts or specs; every name is checked against the registry up front.

    Parameters
    ----------
    models
        Registered names, `{"name": ..., "params": {...}}` dicts or `ModelSpec`s.

    Raises
    ------
    UnknownNameError
        A name is not registered; a model's parameters are refused as its constructor refuses them.
    """
    specs = []
    for m in models:
        spec = ModelSpec.of(m)
        make_forecaster(spec.name, **spec.params)  # unknown names and bad parameters fail before any work
        specs.append(spec)
    return specs


def is_global(spec: ModelSpec) -> bool:
    """Whether the model is fitted across all series (`is_global`): one unit per window over every
    chunk, instead of one unit per chunk.

    Parameters
    ----------
    spec
        The model and its parameters.
    """
    return bool(make_forecaster(spec.name, **spec.params).is_global)


def wants_accelerator(spec: ModelSpec) -> bool:
    """A model whose class says it can use an accelerator (`uses_accelerator`), unless its
    parameters pin it to the CPU (`device="cpu"`).

    Parameters
    ----------
    spec
        The model and its parameters (`device` among them, if any).
    """
    forecaster = make_forecaster(spec.name, **spec.params)
    device = spec.params.get("device")
    pinned = isinstance(device, str) and device.lower().startswith("cpu")
    return bool(getattr(forecaster, "uses_accelerator", False)) and not pinned


def advertised_resources(client: Any) -> dict[str, float]:
    """Resource name -> the most any one worker of the cluster advertises (`scheduler_info()`).

    Parameters
    ----------
    client
        A connected Dask `distributed.Client`.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    out: dict[str, float] = {}
    for worker in workers.values():
        for name, amount in (worker.get("resources") or {}).items():
            out[name] = max(out.get(name, 0.0), float(amount))
    return out


def accelerator_resources(client: Any, requested: dict[str, float] | bool | None) -> dict[str, float] | None:
    """The Dask resources accelerator units are submitted with: `None` or `True` asks for one `GPU`
    where some worker advertises it (else none: they run on any worker, on its CPU); a mapping asks
    for exactly that and is refused when no worker could ever satisfy it (Dask would wait forever);
    `False` asks for nothing.

    Parameters
    ----------
    client
        A connected Dask `distributed.Client`.
    requested
        None or True: one `GPU` where advertised; a mapping: exactly those resources; False: none.

    Raises
    ------
    WorkbenchError
        A requested resource is advertised by no worker in the amount asked for.
    """
    if requested is False:
        return None
    advertised = advertised_resources(client)
    if requested is None or requested is True:
        return {"GPU": 1} if advertised.get("GPU", 0) >= 1 else None
    short = {k: v for k, v in requested.items() if advertised.get(k, 0) < v}
    if short:
        raise WorkbenchError(
            f"resources {short} are asked for, but no worker of the cluster advertises that much "
            f"(workers advertise {advertised or 'no resources'}); start workers with `--resources "
            f'"{" ".join(f"{k}={v:g}" for k, v in short.items())}"` or pass resources=None'
        )
    return dict(requested)


def code_fingerprint(spec: ModelSpec) -> str:
    """What a model's units depend on besides data and task: the workbench modules its computation
    reaches (its own module and the forecasting core; the metrics are a score unit's) and the
    versions of the numerical libraries.

    Parameters
    ----------
    spec
        The model and its parameters.
    """
    forecaster = make_forecaster(spec.name, **spec.params)
    return digest({"workbench": forecaster_fingerprint(forecaster), "packages": package_versions()}, 24)


def package_versions() -> dict[str, str | None]:
    return {p: _version(p) for p in PACKAGES}


def plan_units(tasks: list[tuple[Task, list[ChunkRef]]], models: list[ModelSpec], seed: int = 0) -> list[Unit]:
    """Local models: one unit per (task, model, chunk); global models: one per (task, model, window).

    Parameters
    ----------
    tasks
        Each task with its chunk references (`workbench.sources.plan_chunks`).
    models
        The model specs.
    seed
        The run's seed, part of each unit's key.
    """
    units = []
    codes = {spec.key(): code_fingerprint(spec) for spec in models}
    for task, chunks in tasks:
        n_windows = 1 if task.protocol == "holdout" else task.n_windows
        for spec in models:
            code = codes[spec.key()]
            if is_global(spec):
                units += [Unit(task, spec, tuple(chunks), seed, window=w, code=code) for w in range(n_windows)]
            else:
                units += [Unit(task, spec, (c,), seed, code=code) for c in chunks]
    return units


def scoring_fingerprint() -> str:
    """What a score unit's numbers depend on besides its forecasts: the scoring core's source and the
    numerical libraries' versions."""
    return digest({"workbench": source_fingerprint(*SCORE_CORE), "packages": package_versions()}, 24)


def series_fingerprint() -> str:
    """What a series unit's rows depend on besides the data: the description code's source and the
    libraries' versions."""
    return digest({"workbench": source_fingerprint(*SERIES_CODE), "packages": package_versions()}, 24)


def metric_params(task: Task, name: str) -> dict:
    """A score unit's metric with the parameters its value depends on: the quantile levels a
    probabilistic metric scores (the task's `quantile_levels`; None: every level the forecast has).
    Interval metrics name their level in the metric (`msis@80`); point metrics have none.

    Parameters
    ----------
    task
        The task scored (its `quantile_levels`).
    name
        A registered metric name.
    """
    metric = get_metric(name)
    if metric.probabilistic and metric.level is None:
        return {"metric": name, "quantile_levels": list(task.quantile_levels) if task.quantile_levels else None}
    return {"metric": name}


def plan_scores(forecasts: list[tuple[Unit, str]], code: str) -> list[Unit]:
    """One score unit per (forecast unit, task metric). Each forecast unit comes with the key of the
    unit whose stored forecasts are scored (itself, or a unit reused across code); a score unit's
    code is the scoring core's and that key's, so it is rescored when either changes.

    Parameters
    ----------
    forecasts
        Forecast units, each with the key of the unit whose stored forecasts are scored.
    code
        The scoring core's fingerprint (`scoring_fingerprint`).
    """
    units = []
    for forecast, key in forecasts:
        scored = digest({"scoring": code, "forecast": key}, 24)
        for name in forecast.task.metrics:  # type: ignore[attr-defined]
            units.append(
                Unit(
                    forecast.task,
                    forecast.model,
                    forecast.chunks,
                    forecast.seed,
                    window=forecast.window,
                    code=scored,
                    kind="score",
                    forecast=key,
                    forecast_identity=forecast.identity,
                    metric=metric_params(forecast.task, name),  # type: ignore[arg-type]
                )
            )
    return units


def check_store_format(store: ResultsStore, records: pd.DataFrame) -> None:
    """Refuse to add forecast units to a store holding forecast units of an older store format.

    Before store format 3 a forecast unit held its metric rows and its task key hashed the metric
    set; today's forecast units hold forecasts and their metrics are score units, under task keys
    without the metrics. New units beside old ones would split each task in two in every
    leaderboard and count rescored series twice, so the store is refused, not mixed. Reading an old
    store (views, leaderboards, reports) keeps working.

    Parameters
    ----------
    store
        The store written to (named in the error).
    records
        Its committed records (`ResultsStore.records`).

    Raises
    ------
    WorkbenchError
        The store holds forecast units of a store format older than `FORMAT`.
    """
    if records.empty or "kind" not in records:
        return
    forecast = records[records["kind"] == "forecast"]
    if forecast.empty:
        return
    formats = forecast["store_format"] if "store_format" in forecast else pd.Series(1, index=forecast.index)
    old = int((formats.fillna(1).astype(int) < FORMAT).sum())
    if old:
        raise WorkbenchError(
            f"results store {store.root} holds {old} forecast unit(s) of store format < {FORMAT}, whose keys "
            "include the metric set and whose rows hold the scores; new units (forecasts, and scores as units "
            "of their own) would sit beside them with other task keys in every leaderboard. Evaluate into a "
            "new store (store=... or WORKBENCH_RESULTS), or move this one aside; it can still be read."
        )


def check_partitioning(units: list[Unit], records: pd.DataFrame, chunk_size: int) -> None:
    """Refuse to store the same series of a (task, model, seed) under a second chunking: its rows
    would count twice in every mean. The store says which chunk size it already holds.

    Parameters
    ----------
    units
        The planned forecast units.
    records
        The store's committed records.
    chunk_size
        The chunk size of this run.

    Raises
    ------
    WorkbenchError
        A planned (task, model, seed) is stored under another chunk size.
    """
    if records.empty or "chunk_size" not in records:
        return
    held = records[records["kind"] == "forecast"] if "kind" in records else records
    held = held.dropna(subset=["chunk_size"])
    if held.empty:
        return
    sizes = held.groupby(["task_key", "model", "seed"])["chunk_size"].agg(lambda s: sorted(set(s)))
    for unit in units:
        other = sizes.get((unit.task.key(), unit.model.labelled(unit.seed), unit.seed))
        if other and any(size != chunk_size for size in other):
            raise WorkbenchError(
                f"the store already holds {unit.task.describe()} × {unit.model.labelled(unit.seed)} in chunks of "
                f"{other[0]} series; rerun with chunk_size={other[0]} or use another store, so no series counts twice"
            )


def reusable_across_code(units: list[Unit], records: pd.DataFrame) -> dict[str, str]:
    """Planned key -> key of a committed ok unit doing the same work with other code (explicit opt-in).

    Parameters
    ----------
    units
        The planned units not complete under their own key.
    records
        The store's committed records.
    """
    if records.empty or "identity" not in records:
        return {}
    ok = records[(records["status"] == "ok") & records["identity"].notna()]
    latest = ok.sort_values("committed_at").groupby("identity")["key"].last() if "committed_at" in ok else None
    if latest is None:
        latest = ok.groupby("identity")["key"].last()
    return {u.key: latest[u.identity] for u in units if u.identity in latest.index}


def _is_data(tasks: Any) -> bool:
    """A Panel, a pandas or Dask frame handed over instead of tasks."""
    from workbench.data import Panel

    return isinstance(tasks, Panel | pd.DataFrame) or (hasattr(tasks, "to_delayed") and hasattr(tasks, "npartitions"))


def evaluate(
    tasks: Task | Iterable[Task] | Any,
    models: str | Iterable[str | dict | ModelSpec],
    *,
    client: Any = None,
    scheduler: str | None = None,
    store: str | Path | ResultsStore | None = None,
    chunk_size: int = 500,
    seed: int = 0,
    save_forecasts: bool = False,
    timeout_s: float | None = None,
    retry_failed: bool = False,
    n_workers: int | None = None,
    progress: bool = True,
    chunks: dict[str, list[ChunkRef]] | None = None,
    reuse_across_code: bool = False,
    resources: dict[str, float] | bool | None = None,
    **task_fields: Any,
) -> RunSummary:
    """Evaluate every task × model on Dask; results go to the store, a summary comes back.

    `tasks` are tasks, or data to build one from: a Panel, a pandas frame in long layout or a Dask
    DataFrame, with the task's fields as keywords (`horizon`, `season_length`, `protocol`,
    `n_windows`, `metrics`, ...; for frames also `freq`, `id_col`, `time_col`, `target_col`), e.g.
    `workbench.evaluate(panel, ["theta"], horizon=24, season_length=24)` (see `Task.for_data`).

    Each task's units are planned from metadata (`workbench.sources.plan_chunks`): a catalog subset
    is cut into chunk files on a worker, a user card's files are described on the workers and split
    into row groups, in-memory data are written to the chunk cache. `chunks` maps a task key to
    ready-made chunk files instead. Rerunning the same grid skips complete units (`retry_failed`
    recomputes units that ended in error or timeout); a metric the store lacks for a complete
    forecast unit is scored from its stored forecasts (a score unit), with no model fitted.
    Forecasts are always stored (`forecasts` table, with the model's quantile columns), since the
    score units read them; `save_forecasts` is accepted for grid files and callers written before
    that, and changes nothing. A store holding forecast units of an older store format is refused
    (`check_store_format`). A unit made by other workbench code is
    recomputed unless `reuse_across_code=True`, which reuses it and lists it in the run record.

    Units of models that can use an accelerator (`uses_accelerator`, e.g. the foundation models)
    are submitted with Dask worker `resources` (`accelerator_resources`): by default `{"GPU": 1}`
    when a worker of the cluster advertises `GPU`, so they run there (one at a time per GPU) while
    other units fill the remaining workers; each unit records what it was routed by (`routed`) and
    the device its model chose (`device`).

    Parameters
    ----------
    tasks
        A `Task`, several, or data to build one task from (a Panel, a pandas or Dask frame).
    models
        A model name, `{"name", "params"}` dict or `ModelSpec`, or several.
    client
        A Dask client to run on; None: `scheduler`, else a `LocalCluster` opened (and closed) for the run.
    scheduler
        A Dask scheduler address, used where no `client` is given; None: Dask's configured
        `scheduler-address`, else a local cluster.
    store
        The results store, or its root (a folder or URL); None: `WORKBENCH_RESULTS`, else `./results`.
    chunk_size
        Series per chunk (and per unit of a local model).
    seed
        The run's seed, handed to each model (and part of each unit's key).
    save_forecasts
        Accepted and ignored: forecasts are always stored.
    timeout_s
        Seconds a forecast unit may run before its process is killed and it is recorded as a timeout; None: no limit.
    retry_failed
        Recompute units stored as failed (error or timeout) instead of skipping them.
    n_workers
        Workers of the local cluster, where one is opened; None: one per CPU.
    progress
        Show a progress bar (and the Dask dashboard's address).
    chunks
        Task key -> ready-made chunk references, used instead of planning that task's chunks.
    reuse_across_code
        Reuse units that did the same work with other workbench code instead of recomputing them.
    resources
        Dask worker resources for accelerator models (`accelerator_resources`); None: one `GPU` where a
        worker advertises one.
    **task_fields
        The task's fields, only where `tasks` is data (a `TypeError` with tasks).

    Returns
    -------
    RunSummary
        What was computed, skipped and failed; the results are in `store`.
    """
    data = tasks if _is_data(tasks) else None
    if data is None and task_fields:
        raise TypeError(f"task fields {sorted(task_fields)} are given with tasks: set them on the tasks")
    task_list = [] if data is not None else [tasks] if isinstance(tasks, Task) else list(tasks)
    specs = as_model_specs([models] if isinstance(models, str | dict | ModelSpec) else models)
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    run_id = new_run_id()
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat()
    with connect(client, scheduler, n_workers) as c:
        dashboard = getattr(c, "dashboard_link", None)
        if progress and dashboard:
            print(f"Dask dashboard: {dashboard}")
        if data is not None:  # a Dask frame is written out by this client's workers
            task_list = [Task.for_data(data, **task_fields)]
        prepared = []
        for task in task_list:
            refs = (chunks or {}).get(task.key())
            if refs is None:
                refs = plan_chunks(task, chunk_size, c)
            prepared.append((task, refs))
        check_preflight(prepared, specs, client=c)  # every problem of the grid, before any unit
        units = plan_units(prepared, specs, seed)
        keys = [u.key for u in units]
        if len(set(keys)) != len(keys):
            raise ValueError("the grid holds the same unit twice (a task or model listed twice?)")
        held = store.records()
        check_store_format(store, held)
        check_partitioning(units, held, chunk_size)
        done = store.complete(keys, retry_failed=retry_failed)
        reused: dict[str, str] = {}
        if reuse_across_code:
            candidates = reusable_across_code([u for u in units if u.key not in done], held)
            verified = store.complete(sorted(set(candidates.values())))
            reused = {new: old for new, old in candidates.items() if old in verified}
        todo = [u for u in units if u.key not in done and u.key not in reused]
        # score units: of every forecast unit this run computes, and of every stored one that ended ok
        ok = set(held.loc[held["status"] == "ok", "key"]) if len(held) else set()
        computing = {u.key for u in todo}
        scored = [(u, reused.get(u.key, u.key)) for u in units]
        scored = [(u, key) for u, key in scored if u.key in computing or key in ok]
        scores = plan_scores(scored, scoring_fingerprint())
        scores_done = store.complete([s.key for s in scores], retry_failed=retry_failed)
        # complete but failed (kept, not retried): the rerun reports them instead of "nothing to compute"
        failed_before = held[held["key"].isin(done | scores_done) & (held["status"] != "ok")] if len(held) else held
        missing: dict[str, list[Unit]] = {}
        for s in scores:
            if s.key not in scores_done:
                missing.setdefault(s.forecast or "", []).append(s)
        # the missing score units of each stored forecast unit, together: one task reads its forecasts once
        rescore = [missing[key] for u, key in scored if u.key not in computing and key in missing]
        # what each task's series are (metadata, metric type): once per task and chunk, whatever the models;
        # a description that failed is retried on every run (it is cheap, and the breakdowns need it)
        describing = series_units(prepared, series_fingerprint())
        described = store.complete([u.key for u in describing], retry_failed=True)
        describe = [u for u in describing if u.key not in described]
        records, score_records, series_records = [], [], []
        routing = accelerator_resources(c, resources) if todo else None
        accelerated = {s.key() for s in specs if wants_accelerator(s)} if routing else set()
        if todo or rescore or describe:
            futures = []
            if describe:
                futures += c.map(
                    run_unit,
                    describe,
                    store_root=str(store.root),
                    run_id=run_id,
                    key=[f"series-{u.key}-{run_id}" for u in describe],
                    pure=False,
                )
            for group, wanted in (
                ([u for u in todo if u.model.key() not in accelerated], None),
                ([u for u in todo if u.model.key() in accelerated], routing),
            ):
                if not group:
                    continue
                futures += c.map(
                    run_unit,
                    group,
                    [missing.get(u.key, []) for u in group],
                    store_root=str(store.root),
                    run_id=run_id,
                    chunk_size=chunk_size,
                    timeout_s=timeout_s,
                    routed=",".join(sorted(wanted)) if wanted else "",
                    key=[f"unit-{u.key}-{run_id}" for u in group],
                    pure=False,
                    resources=wanted,
                )
            if rescore:  # from stored forecasts: no model, no accelerator
                futures += c.map(
                    run_unit,
                    [group[0] for group in rescore],
                    [group[1:] for group in rescore],
                    store_root=str(store.root),
                    run_id=run_id,
                    chunk_size=chunk_size,
                    key=[f"score-{group[0].key}-{run_id}" for group in rescore],
                    pure=False,
                )
            from distributed import as_completed

            bar = tqdm(total=len(futures), desc="units", unit="unit", disable=not progress)
            for future in as_completed(futures):
                record = future.result()
                score_records += record.pop("scores", [])
                kind = record["kind"]
                (score_records if kind == "score" else series_records if kind == "series" else records).append(record)
                bar.update()
                failed = sum(r["status"] != "ok" for r in records)
                if failed:
                    bar.set_postfix_str(f"{failed} failed")
            bar.close()
    frame = pd.DataFrame(records)
    summary = RunSummary(
        run_id,
        store,
        frame,
        len(units),
        len(done) + len(reused),
        time.perf_counter() - started,
        pd.DataFrame(score_records),
        len(scores),
        failed_before.reset_index(drop=True),
        series_records=pd.DataFrame(series_records),
    )
    record = _run_record(summary, prepared, specs, seed, started_at, chunk_size)
    record["code"] = {u.label: u.code for u in units}
    record["series_units"] = len(describing)
    record["described"] = len(describe)
    record["reuse_across_code"] = reuse_across_code
    record["reused_across_code"] = reused
    record["accelerated_models"] = sorted(s.label for s in specs if s.key() in accelerated)
    record["routed"] = ",".join(f"{k}={v:g}" for k, v in sorted((routing or {}).items()))
    store.write_run(record)
    return summary


def _run_record(summary: RunSummary, prepared, specs, seed, started_at, chunk_size) -> dict:
    return {
        "run_id": summary.run_id,
        "kind": "forecast",
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(summary.seconds, 3),
        "workbench_version": __version__,
        **git_state(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "seed": seed,
        "chunk_size": chunk_size,
        "tasks": [t.resolved() | {"key": t.key(), "description": t.describe()} for t, _ in prepared],
        "data_hashes": sorted({c.data_hash for _, refs in prepared for c in refs}),
        "models": [s.label for s in specs],
        "units": summary.n_units,
        "skipped": summary.n_skipped,
        "computed": summary.n_computed,
        "status_counts": summary.counts(),
        "unit_seconds": round(float(summary.records["duration_s"].sum()), 3) if summary.n_computed else 0.0,
        "score_units": summary.n_scores,
        "scored": len(summary.score_records),
        "score_status_counts": (
            summary.score_records["status"].value_counts().to_dict() if len(summary.score_records) else {}
        ),
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
