"""What runs on a Dask worker: cutting a dataset into chunk files, and computing one unit.

Both functions take and return small objects only: a worker reads its own slice of the panel from
parquet and writes its results to the store itself, so neither the series nor the per-series rows
ever travel through the client.
"""

from __future__ import annotations

import resource
import time
import traceback
from datetime import UTC, datetime

import pandas as pd

from workbench.data import Panel
from workbench.data.chunks import ChunkRef
from workbench.engine.isolation import UnitTimeout, run_with_deadline
from workbench.engine.units import Unit
from workbench.forecasters import make_forecaster
from workbench.registry import forecasters as registered_forecasters
from workbench.scoring import score_window
from workbench.store.records import RuntimeLog, unit_record
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task


def prepare_chunks(task: Task, chunk_size: int) -> list[ChunkRef]:
    """Cut a catalog subset into chunk files once per (data, chunk size); later calls reuse them.

    Runs on a worker: the card's reader is read a batch of `chunk_size` series at a time where it
    can be (`workbench.sources.catalog`), each batch written to the chunk cache (`WORKBENCH_CACHE`:
    a local folder, or an fsspec URL every worker can reach) before the next is read."""
    from workbench.sources.catalog import cut_catalog_chunks

    return cut_catalog_chunks(task.dataset, task.subset, task.protocol, chunk_size)


def _read(chunks: tuple[ChunkRef, ...], split: str, allow_gaps: bool = False) -> Panel:
    """The unit's panel: chunk files the workbench wrote, or a user file's row groups, read here."""
    from workbench.sources.chunkfiles import read_refs

    return read_refs(chunks, split, allow_gaps)


def compute_unit(
    unit: Unit, save_forecasts: bool = False, facts: dict | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Metric rows (and forecasts) of one unit, computed in this process.

    `facts`, when given, receives what the unit's record says of the computation: its runtime
    (`RuntimeLog`) and, for a model trained here, the hashed-window check of its training data
    against the test windows (`workbench.leakage.check_panels`). Whether a pretrained model's
    corpus holds the data is asked by `unit_record` (`workbench.leakage.record_facts`)."""
    from workbench import leakage

    task, spec = unit.task, unit.model
    train = _read(unit.chunks, "train", task.gap_policy != "none")
    # test chunks come from load_holdout: their ds already continue each train series
    test = _read(unit.chunks, "test") if task.protocol == "holdout" else None
    frames, forecasts = [], []
    runtime = RuntimeLog()
    checked: leakage.WindowCheck | None = None
    for window in task.windows_of(train, test):
        if unit.window is not None and window.index != unit.window:
            continue
        params = dict(spec.params)
        started = time.perf_counter()
        forecaster = make_forecaster(spec.name, seed=unit.seed, **params).fit(window.past)
        fitted = time.perf_counter()
        forecast = forecaster.predict(task.h)
        runtime.add(forecaster, fitted - started, time.perf_counter() - fitted)
        if leakage.trains_here(forecaster):
            check = leakage.check_panels(window.past, window.truth, task.h)
            checked = check if checked is None else checked + check
        scores = score_window(task, window.past, window.truth, forecast, spec.label)
        scores.insert(0, "window", window.index)
        frames.append(scores)
        if save_forecasts:
            forecasts.append(forecast.assign(window=window.index))
    metrics = pd.concat(frames, ignore_index=True)
    _label(metrics, unit)
    out_forecasts = None
    if save_forecasts:
        out_forecasts = pd.concat(forecasts, ignore_index=True)
        _label(out_forecasts, unit)
    if facts is not None:
        facts["runtime_log"] = runtime
        facts |= checked.record() if checked is not None else {}
    return metrics, out_forecasts


def _label(frame: pd.DataFrame, unit: Unit) -> None:
    """Every row says which task (key and readable description), model and unit made it."""
    frame.insert(0, "seed", unit.seed)
    frame.insert(0, "model", unit.model.labelled(unit.seed))
    frame.insert(0, "subset", unit.task.subset)
    frame.insert(0, "dataset", unit.task.dataset)
    frame.insert(0, "task", unit.task.describe())
    frame.insert(0, "task_key", unit.task.key())
    frame.insert(0, "kind", "forecast")
    frame["unit"] = unit.key


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_unit(
    unit: Unit,
    store_root: str,
    run_id: str,
    save_forecasts: bool = False,
    timeout_s: float | None = None,
    chunk_size: int | None = None,
    routed: str = "",
) -> dict:
    """Compute one unit and commit it to the store; never raises for a model's or a series' fault.

    The record carries the unit's runtime and leakage facts (see `compute_unit`) and `routed`, the
    Dask resources the runner submitted it with (e.g. `GPU`), beside the device the model chose.

    Without `timeout_s` the unit is computed in this process. With it, the unit runs in a child
    process (`workbench.engine.isolation`; one that finished its previous unit in time takes the
    next) that is killed once it exceeds `timeout_s`, so a hung model frees the worker's core before
    the next unit starts: the unit is recorded as `timeout`, with the time its process was killed
    (`killed_at`).
    """
    _single_threaded_kernels()
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    result: dict = {}
    facts: dict = {}
    try:
        if timeout_s:
            args = (unit, save_forecasts, dict(registered_forecasters.added))
            metrics, forecasts, result["peak_rss_mb"], facts = run_with_deadline(_compute_in_child, args, timeout_s)
            result["value"] = metrics, forecasts
        else:
            result["value"] = compute_unit(unit, save_forecasts, facts)
    except UnitTimeout as exc:
        result["killed_at"] = datetime.fromtimestamp(exc.killed_at, UTC).isoformat()
    except BaseException as exc:  # a model's fault is recorded, not raised
        result["error"] = getattr(exc, "child_error", None) or f"{type(exc).__name__}: {exc}"
        result["trace"] = getattr(exc, "child_traceback", None) or traceback.format_exc(limit=6)
    record = unit_record(
        key=unit.key,
        kind="forecast",
        identity=unit.identity,
        code=unit.code,
        run_id=run_id,
        task=unit.task,
        model=unit.model.labelled(unit.seed),
        model_name=unit.model.name,
        params=unit.model.params,
        seed=unit.seed,
        chunk_size=chunk_size,
        chunks=[c.index for c in unit.chunks],
        n_series=sum(c.n_series for c in unit.chunks),
        window=unit.window,
        data_hash=sorted({c.data_hash for c in unit.chunks}),
        peak_rss_mb=round(result.get("peak_rss_mb") or _peak_rss_mb(), 1),
        started_at=started_at,
        duration_s=round(time.perf_counter() - start, 4),
    )
    metrics = pd.DataFrame()
    forecasts = None
    if "killed_at" in result:
        record["status"] = "timeout"
        record["error"] = f"exceeded {timeout_s:g} s (the unit's process was killed)"
        record["killed_at"] = result["killed_at"]
    elif "error" in result:
        record["status"] = "error"
        record["error"] = result["error"]
        record["trace"] = result["trace"]
    else:
        record["status"] = "ok"
        metrics, forecasts = result["value"]
    runtime = facts.pop("runtime_log", None)
    record |= (runtime or RuntimeLog()).facts(routed) if record["status"] == "ok" else {"routed": routed}
    record |= facts
    return ResultsStore(store_root).write_unit(unit.key, {"metrics": metrics, "forecasts": forecasts}, record)


def _compute_in_child(
    unit: Unit, save_forecasts: bool, added: dict[str, type]
) -> tuple[pd.DataFrame, pd.DataFrame | None, float, dict]:
    """`compute_unit` in the unit's own process, which knows the models this worker registered at run
    time (a notebook's or a test's) and keeps numba single-threaded; also returns its peak memory and
    the unit's runtime and leakage facts."""
    for name, cls in added.items():
        registered_forecasters.added.setdefault(name, cls)
    _single_threaded_kernels()
    facts: dict = {}
    metrics, forecasts = compute_unit(unit, save_forecasts, facts)
    return metrics, forecasts, _peak_rss_mb(), facts


def _single_threaded_kernels() -> None:
    """Dask parallelises over units; numba's own threads inside each worker would oversubscribe."""
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:
        pass
