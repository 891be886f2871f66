"""What runs on a Dask worker: cutting a dataset into chunk files, and computing one unit.

`run_unit` is the one entry point for every kind of unit (forecast, score, detection). A forecast
unit stores its forecasts (`forecasts` table, with the model's quantile columns); each metric is a
score unit (`metrics` rows) computed from those forecasts, right after them on a first run, or
later from the stored forecasts when a rerun asks for a metric the store lacks. The sequential path
(`workbench.sequential`) runs the same `forecast_windows` and `score_windows` in-process.

These functions take and return small objects only: a worker reads its own slice of the panel from
parquet and writes its results to the store itself, so neither the series nor the per-series rows
ever travel through the client.
"""

from __future__ import annotations

import importlib
import resource
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from workbench.data import Panel
from workbench.engine.isolation import UnitTimeout, run_with_deadline
from workbench.engine.units import Unit
from workbench.forecasters import make_forecaster
from workbench.metrics import get_metric
from workbench.registry import forecasters as registered_forecasters
from workbench.scoring import score_window
from workbench.sources.chunkfiles import read_refs
from workbench.store.records import RuntimeLog, commit_unit, cpu_seconds, first_in_process
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task, Window

__all__ = [
    "CpuMeter",
    "commit",
    "compute_unit",
    "failure",
    "forecast_windows",
    "run_unit",
    "score_windows",
    "too_short",
    "unit_windows",
]


def too_short(task: Task, train: Panel) -> dict[str, str]:
    """The series of `train` too short for the task's rolling windows (counted after its gap
    policy fills them, as the windows are cut), each with why: {unique_id: reason}.

    The preflight refuses a grid with such series before any unit runs; a unit that still meets one
    (its data changed since, a gap filled otherwise, chunks planned elsewhere) forecasts and scores
    its other series and records these as not forecastable, rather than losing the whole unit.

    Parameters
    ----------
    task:
        The task (protocol, horizon, windows, step, gap policy).
    train:
        The train split of some of its series, as read (before the gap policy).
    """
    if task.protocol != "rolling" or not len(train.df):
        return {}
    step = task.step or task.h
    need = task.h + (task.n_windows - 1) * step + 1
    lengths = train.lengths()
    if task.gap_policy != "none" and (lengths < need).any():
        lengths = task.prepared(train).lengths()  # filling only adds stamps: counted again where short
    short = lengths[lengths < need]
    return {
        str(uid): f"series {str(uid)!r} has {int(n)} points, fewer than the {need} that {task.n_windows} window(s) "
        f"of horizon {task.h} and step {step} need (plus one point of past), so it was not forecast"
        for uid, n in short.items()
    }


def unit_windows(unit: Unit, not_forecastable: dict[str, str] | None = None) -> list[Window]:
    """The windows a forecast or score unit covers, cut from its chunks read here.

    Series too short for the windows (`too_short`) are left out of every window and, when
    `not_forecastable` is given, put in it with why; the unit's other series keep their windows."""
    task = unit.task
    train = read_refs(unit.chunks, "train", task.gap_policy != "none")  # type: ignore[arg-type]
    # test chunks come from load_holdout: their ds already continue each train series
    test = read_refs(unit.chunks, "test") if task.protocol == "holdout" else None  # type: ignore[arg-type]
    short = too_short(task, train)  # type: ignore[arg-type]
    if short:
        train = replace(train, df=train.df[~train.df["unique_id"].astype(str).isin(short)].reset_index(drop=True))
        if not_forecastable is not None:
            not_forecastable.update(short)
    if not len(train.df):  # every series too short: windows without series, each scored as undefined rows
        n = 1 if task.protocol == "holdout" else task.n_windows  # type: ignore[attr-defined]
        return [Window(i, train, train) for i in range(n) if unit.window is None or i == unit.window]
    return [w for w in task.windows_of(train, test) if unit.window is None or w.index == unit.window]


def _not_forecastable_facts(not_forecastable: Mapping[str, str]) -> dict[str, Any]:
    """What a unit's record says of its series left unforecast (nothing when there is none)."""
    if not not_forecastable:
        return {}
    return {"n_not_forecastable": len(not_forecastable), "not_forecastable": dict(not_forecastable)}


def _worker_slots() -> int:
    """Task threads of the Dask workers running in this process (0 outside a Dask worker)."""
    try:
        from distributed.worker import Worker

        return sum(int(getattr(w.state, "nthreads", 1)) for w in list(Worker._instances) if w.status.name == "running")
    except Exception:  # no distributed here, or a worker that cannot say
        return 0


class CpuMeter:
    """The CPU seconds of a piece of work, from the clock that sees it and nothing else.

    - Outside a Dask worker (the in-process path, a unit's own child process): the process's clock
      (`cpu_seconds`: all its threads and its ended children), since only the unit runs there.
    - In a Dask worker: the calling thread's (`time.thread_time`), since the process's clock also
      counts the worker's own threads (event loop, heartbeats, profiler: as much as the work of a
      cheap model) and, where the process runs several units at once, the other units; except where
      torch computes on several intra-op threads in a process that runs one unit at a time, whose
      threads the calling thread's clock would miss: there, the process's clock.

    `name` says which clock measured (recorded as `cpu_clock`)."""

    def __init__(self) -> None:
        self.name = ""
        self._process = self._thread = 0.0
        self._slots = _worker_slots()  # once per unit: a worker's threads do not change under it

    def start(self) -> None:
        self._process, self._thread = cpu_seconds(), time.thread_time()

    def stop(self) -> float:
        process, thread = cpu_seconds() - self._process, time.thread_time() - self._thread
        slots = self._slots
        torch = sys.modules.get("torch")
        torch_threads = torch.get_num_threads() if torch is not None else 1
        self.name = "process" if slots == 0 or (slots == 1 and torch_threads > 1) else "thread"
        return process if self.name == "process" else thread


def forecast_windows(unit: Unit, windows: list[Window], facts: dict | None = None) -> pd.DataFrame:
    """The model's forecasts over `windows` (fit on each past, predict the horizon), with a `window`
    column: the one fit/predict loop, of the engine's units and of `evaluate_sequential` alike.

    `facts`, when given, receives what the unit's record says of the computation: its runtime
    (`RuntimeLog`) and, for a model trained here, the hashed-window check of its training data
    against the test windows (`workbench.leakage.check_panels`). Whether a pretrained model's
    corpus holds the data is asked by `unit_record` (`workbench.leakage.record_facts`). The CPU
    seconds are those of fit and predict only, measured in the process that computes them (a
    unit's own child process, with a timeout), so reading the data and storing the results are not
    charged to the model."""
    from workbench import leakage

    task, spec = unit.task, unit.model
    forecasts = []
    meter = CpuMeter()
    runtime = RuntimeLog(first_in_process=first_in_process(spec.key()))
    checked: leakage.WindowCheck | None = None
    for window in windows:
        if not len(window.past.df):  # its series were all left out (`unit_windows`): nothing to fit
            continue
        started = time.perf_counter()
        meter.start()
        forecaster = make_forecaster(spec.name, seed=unit.seed, **dict(spec.params)).fit(window.past)
        fitted = time.perf_counter()
        forecast = forecaster.predict(task.h)
        cpu = meter.stop()
        runtime.add(forecaster, fitted - started, time.perf_counter() - fitted, cpu)
        runtime.cpu_clock = meter.name
        if leakage.trains_here(forecaster):
            check = leakage.check_panels(window.past, window.truth, task.h)
            checked = check if checked is None else checked + check
        forecasts.append(forecast.assign(window=window.index))
    if facts is not None:
        facts["runtime_log"] = runtime
        facts |= checked.record() if checked is not None else {}
    if not forecasts:
        empty = {"unique_id": "object", "ds": "object", "y_hat": "float64", "window": "int64"}
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in empty.items()})
    return pd.concat(forecasts, ignore_index=True)


def score_windows(
    task: Task,
    windows: list[Window],
    forecasts: pd.DataFrame,
    metrics: Sequence[str],
    model: str,
    not_forecastable: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per-series rows of `metrics` over `windows`, from `forecasts` (a `window` column beside each
    window's forecast rows; stored or just made): window by window, `score_window`'s rows.

    Each series of `not_forecastable` (from `unit_windows`) gets, in every window, one row per
    metric whose value is undefined (NaN: counted by the leaderboards as `n_undefined`, never
    averaged) and whose `not_forecastable` column says why; that column is absent when no series
    of the unit was left out."""
    frames = []
    for window in windows:
        if len(window.truth.df):
            forecast = forecasts[forecasts["window"] == window.index]
            scores = score_window(task, window.past, window.truth, forecast, model, metrics)
            scores.insert(0, "window", window.index)
            frames.append(scores)
        if not_forecastable:
            frames.append(_undefined_rows(window.index, not_forecastable, metrics))
    out = pd.concat(frames, ignore_index=True)
    if not_forecastable:
        out["not_forecastable"] = out["not_forecastable"].astype("string")
    return out


def _undefined_rows(window: int, not_forecastable: Mapping[str, str], metrics: Sequence[str]) -> pd.DataFrame:
    """One window's metric rows of the series left unforecast: `score_window`'s columns, value NaN."""
    ids = sorted(not_forecastable)
    names = [get_metric(name).name for name in metrics]
    n = len(ids) * len(names)
    return pd.DataFrame(
        {
            "window": window,
            "unique_id": [uid for _ in names for uid in ids],
            "metric": [name for name in names for _ in ids],
            "value": float("nan"),
            "quantiles": pd.Series([pd.NA] * n, dtype="string"),
            "point_as_quantiles": False,
            "numerator": float("nan"),
            "denominator": float("nan"),
            "not_forecastable": [not_forecastable[uid] for _ in names for uid in ids],
        }
    )


def compute_unit(unit: Unit, facts: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metric rows of every task metric, forecasts) of one forecast unit, computed in this process
    and not stored; the engine stores the forecasts and commits each metric as a score unit."""
    dropped: dict[str, str] = {}
    windows = unit_windows(unit, dropped)
    forecasts = forecast_windows(unit, windows, facts)
    if facts is not None:
        facts |= _not_forecastable_facts(dropped)
    metrics = score_windows(unit.task, windows, forecasts, unit.task.metrics, unit.model.label, dropped)  # type: ignore[attr-defined]
    _label(metrics, unit)
    _label(forecasts, unit)
    return metrics, forecasts


def _label(frame: pd.DataFrame, unit: Unit) -> None:
    """Every row says which task (key and readable description), model and unit made it; a score
    unit's rows also name the forecast unit they score. `task_key` is the task's key without its
    scoring fields (`workbench.keys`): what is forecast, the same for every metric any run scores,
    so a leaderboard grouped by it never splits one task because a later run asked for more metrics."""
    frame.insert(0, "seed", unit.seed)
    frame.insert(0, "model", unit.model.labelled(unit.seed))
    frame.insert(0, "subset", unit.task.subset)  # type: ignore[attr-defined]
    frame.insert(0, "dataset", unit.task.dataset)  # type: ignore[attr-defined]
    frame.insert(0, "task", unit.task.describe())
    frame.insert(0, "task_key", unit.task.key())
    frame.insert(0, "kind", unit.kind)
    if unit.kind == "score":
        frame["forecast_unit"] = unit.forecast
    frame["unit"] = unit.key


def _reset_peak_rss() -> None:
    """Reset this process's peak resident memory (Linux: VmHWM), so the next reading is a unit's own
    peak and not the largest of every unit the worker computed before it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    """The peak resident memory since the last `_reset_peak_rss` (Linux), else of the process's life."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# kinds computed by another package's function, looked up by name: the forecast units' code
# fingerprint (which covers this module's imports) must not depend on the detection code
_ELSEWHERE = {
    "detection": "workbench.anomaly.engine:run_detection_unit",
    "series": "workbench.engine.series:run_series_unit",
}


def run_unit(
    unit: Unit,
    scores: Sequence[Unit] = (),
    *,
    store_root: str,
    run_id: str,
    timeout_s: float | None = None,
    chunk_size: int | None = None,
    routed: str = "",
) -> dict:
    """The one worker entry point: compute one unit of any kind and commit it to the store; never
    raises for a model's, a metric's or a series' fault. Returns the committed record.

    Parameters
    ----------
    unit
        A `forecast`, `score` or `detection` unit (`workbench.engine.units`).
    scores
        For a forecast unit, its score units to compute right after it, in this same task, from the
        forecasts just made (a first run: no second round trip). For a score unit, the other
        missing score units of the same forecast unit, scored with it from one read of the stored
        forecasts. Their committed records are returned under the record's `scores` (not part of
        its commit).
    store_root, run_id
        Where to commit, and the run the record names.
    timeout_s
        Forecast units only: without it the unit is computed in this process. With it, the unit
        runs in a child process (`workbench.engine.isolation`; one that finished its previous unit
        in time takes the next) that is killed once it exceeds `timeout_s`, so a hung model frees
        the worker's core before the next unit starts: the unit is recorded as `timeout`, with the
        time its process was killed (`killed_at`).
    chunk_size
        The chunk size the units were planned with (recorded, so a store never mixes two).
    routed
        The Dask resources the runner submitted the unit with (e.g. `GPU`), recorded beside the
        device the model chose.
    """
    if unit.kind in _ELSEWHERE:
        module, name = _ELSEWHERE[unit.kind].split(":")
        return getattr(importlib.import_module(module), name)(unit, store_root, run_id)
    if unit.kind == "score":
        return _run_scores([unit, *scores], store_root, run_id, chunk_size)
    return _run_forecast(unit, store_root, run_id, timeout_s, chunk_size, routed, scores)


def _run_forecast(
    unit: Unit,
    store_root: str,
    run_id: str,
    timeout_s: float | None,
    chunk_size: int | None,
    routed: str,
    scores: Sequence[Unit],
) -> dict:
    """Forecast one unit, commit its forecasts, then compute and commit its score units."""
    _single_threaded_kernels()
    _reset_peak_rss()
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    result: dict = {}
    facts: dict = {}
    windows: list[Window] | None = None
    dropped: dict[str, str] = {}  # series too short for the windows: recorded, scored as undefined
    try:
        if timeout_s:
            args = (unit, dict(registered_forecasters.added))
            forecasts, result["peak_rss_mb"], facts = run_with_deadline(_forecast_in_child, args, timeout_s)
        else:
            windows = unit_windows(unit, dropped)
            facts |= _not_forecastable_facts(dropped)
            forecasts = forecast_windows(unit, windows, facts)
            _label(forecasts, unit)
        result["value"] = forecasts
    except UnitTimeout as exc:
        result["killed_at"] = datetime.fromtimestamp(exc.killed_at, UTC).isoformat()
    except BaseException as exc:  # a model's fault is recorded, not raised
        result["error"] = getattr(exc, "child_error", None) or f"{type(exc).__name__}: {exc}"
        result["trace"] = getattr(exc, "child_traceback", None) or traceback.format_exc(limit=6)
    record: dict = {"status": "ok"}
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
        forecasts = result["value"]
    runtime = facts.pop("runtime_log", None)
    record |= (runtime or RuntimeLog()).facts(routed) if record["status"] == "ok" else {"routed": routed}
    record |= facts
    committed = commit(
        unit,
        store_root,
        run_id,
        {"forecasts": forecasts},
        chunk_size,
        peak_rss_mb=round(result.get("peak_rss_mb") or _peak_rss_mb(), 1),
        started_at=started_at,
        duration_s=round(time.perf_counter() - start, 4),
        **record,
    )
    if forecasts is not None and scores:
        if windows is None:  # forecast in a child process: cut the windows here
            windows = unit_windows(unit, dropped)
        made = [_score(s, store_root, run_id, chunk_size, forecasts, windows, dropped) for s in scores]
        committed = {**committed, "scores": made}
    return committed


def _run_scores(units: Sequence[Unit], store_root: str, run_id: str, chunk_size: int | None) -> dict:
    """Score one forecast unit's stored forecasts with each of `units` (its score units: no model is
    built or fitted); the forecasts and the chunk's windows are read once for all of them. Returns
    the first unit's record, the others' under its `scores`, as a forecast unit's run does."""
    forecast = units[0].forecast or ""
    dropped: dict[str, str] = {}
    try:
        forecasts = ResultsStore(store_root).read_table("forecasts", [forecast])
        windows = unit_windows(units[0], dropped)
        if forecasts.empty and any(len(w.truth.df) for w in windows):
            raise FileNotFoundError(f"forecast unit {forecast} has no stored forecasts")
    except Exception as exc:  # data that cannot be read is the units' fault, recorded
        made = [commit(u, store_root, run_id, {}, chunk_size, **failure(exc)) for u in units]
    else:
        made = [_score(u, store_root, run_id, chunk_size, forecasts, windows, dropped) for u in units]
    return {**made[0], "scores": made[1:]} if len(made) > 1 else made[0]


def _score(
    unit: Unit,
    store_root: str,
    run_id: str,
    chunk_size: int | None,
    forecasts: pd.DataFrame,
    windows: list[Window],
    not_forecastable: Mapping[str, str] | None = None,
) -> dict:
    """Compute and commit one score unit; a metric that cannot be scored (e.g. `MissingQuantilesError`:
    a probabilistic metric of a forecast without quantiles) is a failed score unit with its message.
    The series left unforecast get undefined rows, and the record names them."""
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    rows, record = None, {"status": "ok", **_not_forecastable_facts(not_forecastable or {})}
    try:
        rows = score_windows(unit.task, windows, forecasts, [unit.metric_name], unit.model.label, not_forecastable)  # type: ignore[arg-type]
        _label(rows, unit)
    except Exception as exc:
        record = failure(exc)
    return commit(unit, store_root, run_id, {"metrics": rows}, chunk_size, started_at=started_at,
                   duration_s=round(time.perf_counter() - start, 4), **record)  # fmt: skip


def failure(exc: BaseException) -> dict[str, str]:
    """The record fields of a unit whose computation raised: its status, the message and the trace
    (called in the `except` block, so the trace is the exception's)."""
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=6)}


def commit(unit: Unit, store_root: str, run_id: str, tables: dict, chunk_size: int | None = None, **facts: Any) -> dict:
    """Commit a unit of any kind (`commit_unit`): its record says what it covered (chunks, series,
    data, and for chunked kinds the chunk size) and, for a score unit, which forecast unit and
    metric (with the metric's parameters) it scored."""
    if unit.kind == "score":
        facts = {"forecast_unit": unit.forecast, "metric": unit.metric_name, "metric_params": unit.metric, **facts}
    if unit.kind != "detection":  # a detection unit's items are cut by count, not by a chunk size
        facts = {"chunk_size": chunk_size, **facts}
    return commit_unit(
        ResultsStore(store_root),
        key=unit.key,
        kind=unit.kind,
        identity=unit.identity,
        code=unit.code,
        run_id=run_id,
        task=unit.task,
        model=unit.label,
        model_name=unit.model.name if unit.model is not None else "",
        params=unit.model.params if unit.model is not None else {},
        seed=unit.seed,
        tables=tables,
        chunks=[c.index for c in unit.chunks],
        n_series=sum(c.n_series for c in unit.chunks),
        window=unit.window,
        data_hash=sorted({c.data_hash for c in unit.chunks}),
        **facts,
    )


def _forecast_in_child(unit: Unit, added: dict[str, type]) -> tuple[pd.DataFrame, float, dict]:
    """A unit's forecasts in the unit's own process, which knows the models this worker registered
    at run time (a notebook's or a test's) and keeps numba single-threaded; also returns its peak
    memory and the unit's runtime and leakage facts."""
    for name, cls in added.items():
        registered_forecasters.added.setdefault(name, cls)
    _single_threaded_kernels()
    _reset_peak_rss()
    dropped: dict[str, str] = {}
    windows = unit_windows(unit, dropped)
    facts: dict = _not_forecastable_facts(dropped)
    forecasts = forecast_windows(unit, windows, facts)
    _label(forecasts, unit)
    return forecasts, _peak_rss_mb(), facts


def _single_threaded_kernels() -> None:
    """Dask parallelises over units; numba's own threads inside each worker would oversubscribe."""
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:
        pass
