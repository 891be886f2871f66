"""What a model costs to run, derived from the units it was measured on, and what it would cost at scale.

Every forecast unit records the CPU seconds of its fit and predict calls (`cpu_s`: its process's
threads and ended child processes, `workbench.store.records.cpu_seconds`), their wall seconds, the
weights it loaded (`load_s`, `load_cpu_s`: a foundation model's first unit in a process) and whether
it was the first unit of its model in its process (`first_in_process`: one-off work such as numba's
compilation lands there). A detection unit records the CPU seconds of its detector over its items
and the rows it scored. From those:

- **work CPU** of a unit = `cpu_s - load_cpu_s`: what the per-series work cost, loading set apart;
- **per 1,000**: 1000 * sum(work CPU) / sum(work done) over a model's units on a task, where the
  work done is series forecasts for a forecaster (a unit's forecastable series times its windows:
  each is one call of the model on one series' past for one horizon) and scored points (rows) for
  a detector. The ratio of sums is the estimate (a big unit weighs as much as its work); its
  interval is a percentile bootstrap over units (`N_BOOT` resamples, seeded, so a board is
  reproducible), undefined from a single unit;
- the **basis** is the units that were not their model's first in their process when there are
  any ("warm units"); otherwise every unit, and the board says so: the figure then includes one-off
  work and is an upper bound;
- **per horizon step** (forecasters): per 1,000 divided by the task's horizon;
- **throughput**: work done per wall second of the basis units' model calls (fit + predict minus
  loading; a detector's scoring), in one process: per core on the engine's single-threaded workers;
- the **projection** (`project`): the core-hours per day of running a model over N series at a
  cadence (`every`), = per-1,000 CPU / 1000 * N * (one day / every) / 3600, with the bootstrap
  interval carried through; loading is paid once per process, not per day, and is shown apart.

CPU seconds measured on a machine shared with other work are inflated (cache and memory contention,
frequency scaling) more than they are deflated, so figures from a loaded machine are upper bounds.
Units without CPU seconds (stored before they were recorded) are counted as `n_unmeasured`, never
averaged in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError
from workbench.store.results_store import ResultsStore, superseded

__all__ = ["COST_COLUMNS", "N_BOOT", "cost_board", "parse_every", "project", "unit_costs"]

N_BOOT = 2000  # bootstrap resamples of units per (task, model)
LEVEL = 0.95
# what `workbench.store.sql.leaderboard` carries of a cost board, per (task_key, model)
COST_COLUMNS = ("cpu_s_per_1k", "cpu_s_per_1k_lo", "cpu_s_per_1k_hi", "throughput_per_s", "cost_basis")
_DAY_S = 86_400.0


def _runtime(record: dict[str, Any]) -> dict[str, Any]:
    runtime = record.get("runtime")
    return runtime if isinstance(runtime, dict) else {}


def _forecast_row(record: dict[str, Any]) -> dict[str, Any]:
    runtime = _runtime(record)
    windows = int(runtime.get("windows") or 0)
    forecastable = int(record.get("n_series") or 0) - int(record.get("n_not_forecastable") or 0)
    load_s = float(record.get("load_s") or 0.0)
    wall = float(record.get("fit_s") or 0.0) + float(record.get("predict_s") or 0.0) - load_s
    cpu = record.get("cpu_s")
    return {
        "per": "series forecast",
        "work": forecastable * windows,
        "h": int((record.get("task") or {}).get("horizon") or 0) or None,
        "cpu_s": None if cpu is None else float(cpu),
        "load_s": load_s,
        "load_cpu_s": float(record.get("load_cpu_s") or 0.0),
        "work_wall_s": max(wall, 0.0),
        "first_in_process": bool(record.get("first_in_process")),
        "device": record.get("device") or runtime.get("device") or "cpu",
        "batch_size": record.get("batch_size"),
    }


def _detection_row(record: dict[str, Any]) -> dict[str, Any]:
    tables = record.get("tables") or {}
    rows = int((tables.get("detection_scores") or {}).get("n_rows") or 0)
    cpu = record.get("cpu_s")
    return {
        "per": "point scored",
        "work": rows,
        "h": None,
        "cpu_s": None if cpu is None else float(cpu),
        "load_s": 0.0,
        "load_cpu_s": 0.0,
        # a batch unit times each item; a replay unit feeds its items interleaved and times the whole feed
        "work_wall_s": float(sum((record.get("item_seconds") or {}).values()))
        or float((record.get("replay") or {}).get("wall_s") or 0.0),
        "first_in_process": bool(record.get("first_in_process")),
        "device": "cpu",
        "batch_size": None,
    }


def unit_costs(
    store: ResultsStore | str | None = None,
    kinds: Iterable[str] = ("forecast", "detection"),
    records: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """One row per committed, successful, current forecast or detection unit, with what its cost
    is derived from: task_key, task, model, key, kind, per (what one piece of work is), work (series
    forecasts or scored points), h, cpu_s (None where not recorded), load_s, load_cpu_s, work_cpu_s
    (cpu_s - load_cpu_s), work_wall_s, first_in_process, device, batch_size, peak_rss_mb, cpu (the
    processor's model) and usable_cores. A detection scoreboard (a corpus unit with no scores) is
    not a unit of work and is left out.

    Parameters
    ----------
    store
        The results store (a `ResultsStore`, a folder or an fsspec URL; None: `WORKBENCH_RESULTS`).
    kinds
        The kinds of unit to read.
    records
        The store's committed records, where the caller has read them already (a leaderboard).
    """
    if records is None:
        store = store if isinstance(store, ResultsStore) else ResultsStore(store)
        records = store.committed()
    old = superseded(records)
    rows = []
    for r in records:
        if r["key"] in old or r.get("status", "ok") != "ok" or r.get("kind") not in tuple(kinds):
            continue
        if r["kind"] == "detection" and "detection_scores" not in (r.get("tables") or {}):
            continue
        facts = _forecast_row(r) if r["kind"] == "forecast" else _detection_row(r)
        hw = r.get("hardware") if isinstance(r.get("hardware"), dict) else {}
        hw = _runtime(r).get("hardware") or hw
        rows.append(
            {
                "task_key": r.get("task_key"),
                "task": r.get("task_description") or r.get("task_key"),
                "model": r.get("model"),
                "key": r["key"],
                "kind": r["kind"],
                **facts,
                "peak_rss_mb": r.get("peak_rss_mb"),
                "cpu": hw.get("cpu"),
                "usable_cores": hw.get("usable_cores"),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["work_cpu_s"] = frame["cpu_s"] - frame["load_cpu_s"]
    return frame


def _interval(cpu: np.ndarray, work: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap over units of 1000 * sum(cpu) / sum(work); undefined (NaN) from a single
    unit, where resampling units says nothing of their spread. Resamples are drawn in blocks, so the
    memory stays bounded whatever the number of units."""
    if len(cpu) < 2:
        return float("nan"), float("nan")
    block = max(1, min(N_BOOT, 2_000_000 // len(cpu)))
    ratios = []
    for start in range(0, N_BOOT, block):
        picks = rng.integers(0, len(cpu), size=(min(block, N_BOOT - start), len(cpu)))
        cpu_sum, work_sum = cpu[picks].sum(axis=1), work[picks].sum(axis=1)
        ratios.append(1000.0 * cpu_sum[work_sum > 0] / work_sum[work_sum > 0])
    ratios = np.concatenate(ratios)
    tail = (1 - LEVEL) / 2 * 100
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))


def cost_board(
    store: ResultsStore | str | None = None,
    units: pd.DataFrame | None = None,
    seed: int = 0,
    records: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """One row per (task_key, model): what running the model cost on that task (see the module).

    Columns: task_key, task, model, kind, per, n_units, n_unmeasured (units without CPU seconds),
    n_basis_units, cost_basis (`warm units`, `all units (each the first of its model in its
    process)`, or `not measured`), work (series forecasts or points, over the basis units), cpu_s_per_1k with its
    bootstrap interval (cpu_s_per_1k_lo, cpu_s_per_1k_hi), cpu_s_per_1k_step (per 1,000 series
    forecasts and horizon step), throughput_per_s (work per wall second of model calls), load_s and
    load_cpu_s (summed over all units: weights loaded), n_loads, peak_rss_mb (the largest), device,
    batch_size, cpu (the processor) and usable_cores.

    Parameters
    ----------
    store
        The results store (ignored when `units` is given).
    units
        `unit_costs` rows to derive from (default: read from `store`).
    seed
        The bootstrap's seed.
    records
        The store's committed records, where the caller has read them already.
    """
    units = unit_costs(store, records=records) if units is None else units
    rng = np.random.default_rng(seed)
    rows = []
    if units.empty:
        return pd.DataFrame(columns=["task_key", "task", "model", *COST_COLUMNS])
    for (task_key, model), group in units.groupby(["task_key", "model"], sort=True):
        measured = group[group["cpu_s"].notna() & (group["work"] > 0)]
        warm = measured[~measured["first_in_process"]]
        basis = warm if len(warm) else measured
        row: dict[str, Any] = {
            "task_key": task_key,
            "task": group["task"].iloc[0],
            "model": model,
            "kind": group["kind"].iloc[0],
            "per": group["per"].iloc[0],
            "n_units": len(group),
            "n_unmeasured": int(group["cpu_s"].isna().sum()),
            "n_basis_units": len(basis),
            "cost_basis": "warm units"
            if len(warm)
            else "all units (each the first of its model in its process)"
            if len(measured)
            else "not measured (no unit recorded CPU seconds)",
            "work": int(basis["work"].sum()),
            "load_s": float(group["load_s"].sum()),
            "load_cpu_s": float(group["load_cpu_s"].sum()),
            "n_loads": int((group["load_s"] > 0).sum()),
            "peak_rss_mb": float(group["peak_rss_mb"].max()) if group["peak_rss_mb"].notna().any() else np.nan,
            "device": ",".join(sorted(set(map(str, group["device"])))),
            "batch_size": group["batch_size"].dropna().max() if group["batch_size"].notna().any() else np.nan,
            "cpu": group["cpu"].dropna().iloc[0] if group["cpu"].notna().any() else "",
            "usable_cores": group["usable_cores"].dropna().max() if group["usable_cores"].notna().any() else np.nan,
        }
        if len(basis):
            cpu, work = basis["work_cpu_s"].to_numpy(float), basis["work"].to_numpy(float)
            row["cpu_s_per_1k"] = 1000.0 * cpu.sum() / work.sum()
            row["cpu_s_per_1k_lo"], row["cpu_s_per_1k_hi"] = _interval(cpu, work, rng)
            wall = basis["work_wall_s"].sum()
            row["throughput_per_s"] = work.sum() / wall if wall > 0 else np.nan
        else:
            row |= {"cpu_s_per_1k": np.nan, "cpu_s_per_1k_lo": np.nan, "cpu_s_per_1k_hi": np.nan}
            row["throughput_per_s"] = np.nan
        h = group["h"].dropna()
        row["cpu_s_per_1k_step"] = row["cpu_s_per_1k"] / float(h.iloc[0]) if len(h) else np.nan
        rows.append(row)
    if not rows:  # units that name no task or model (hand-written records) cost nothing measurable
        return pd.DataFrame(columns=["task_key", "task", "model", *COST_COLUMNS])
    return pd.DataFrame(rows)


def parse_every(every: str | float | pd.Timedelta) -> float:
    """Seconds between two runs of a model on one series: a pandas offset or timedelta ("1h",
    "15min", "10s") or a number of seconds.

    Parameters
    ----------
    every
        The cadence.
    """
    if isinstance(every, int | float):
        seconds = float(every)
    else:
        try:
            seconds = pd.Timedelta(every).total_seconds()
        except (ValueError, TypeError):
            try:
                seconds = pd.Timedelta(pd.tseries.frequencies.to_offset(str(every))).total_seconds()
            except (ValueError, TypeError) as exc:
                raise WorkbenchError(
                    f"cadence {every!r} is not a duration; give one such as 1h, 15min, 10s or a number of seconds"
                ) from exc
    if not seconds > 0:
        raise WorkbenchError(f"cadence {every!r} must be a positive duration (1h, 15min, 10s)")
    return seconds


def project(board: pd.DataFrame, n_series: int, every: str | float | pd.Timedelta) -> pd.DataFrame:
    """The core-hours per day of running each model of `board` over `n_series` series, a forecast
    (or a scored point) per series every `every`, from its measured cost per 1,000 and its interval.

    Columns added: n_series, every_s, runs_per_day, core_hours_per_day (with _lo and _hi), cores
    (core-hours per day / 24: cores kept busy around the clock).

    Parameters
    ----------
    board
        A `cost_board`.
    n_series
        How many series the model would run on.
    every
        The cadence: a forecast (forecasters) or a new point (detectors) per series this often.
    """
    if int(n_series) < 1:
        raise WorkbenchError(f"--series must be at least 1, got {n_series}")
    seconds = parse_every(every)
    runs = _DAY_S / seconds
    out = board.copy()
    out["n_series"] = int(n_series)
    out["every_s"] = seconds
    out["runs_per_day"] = runs
    for suffix in ("", "_lo", "_hi"):
        out[f"core_hours_per_day{suffix}"] = out[f"cpu_s_per_1k{suffix}"] / 1000.0 * int(n_series) * runs / 3600.0
    out["cores"] = out["core_hours_per_day"] / 24.0
    return out
