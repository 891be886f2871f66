"""What a forecast costs per series: seasonal naive, theta, AutoETS and TTM on M4 Hourly, through the engine.

The models run through the engine (`workbench.engine.evaluate`, `--workers` single-threaded worker
processes, `--chunk-size` series per unit) on M4 Hourly (horizon 48, season 24, metrics MASE and
sMAPE, the holdout window: each series' train split is the past). Every unit records the CPU seconds
of its model's fit and predict; from them the store's `cost_board` gives, per model, the CPU seconds
per 1,000 series forecasts with a bootstrap interval over units, per horizon step, the throughput
(series forecasts per wall second of model calls, per core) and the basis (`warm units`: units that
were not their model's first in their process), weights loading (TTM) set apart; `project` turns it
into core-hours per day (and cores busy around the clock) for `--series` series forecast every
`--every` (default a million series, hourly).

Check: each model is timed directly in this process, on the same pasts grouped as the engine's units
grouped them (read back from the stored forecasts), after a warm-up fit and predict: `cpu_seconds()`
around fit + predict of each group, summed. `projection / direct` is the projection for those series
once a day over that sum: 1.0 when the engine's accounting charges what the model costs.

AutoETS costs about 2 CPU seconds per M4 Hourly series through the engine (about 0.6 in a plain
process: see below) and is timed twice (engine and direct), so by default the first `--limit` series
by id (100) are evaluated, through an in-memory task (`Task.for_data` over their train split followed
by their test split, so the pasts are the catalog task's); `--limit 0` runs the catalog task
`Task(dataset="m4", subset="Hourly")`, all 414 series (about 15 minutes on 2 idle cores). TTM uses
the local checkpoint `../shared/models/granite-ttm-r2-512-96` (context 512, head 96: horizon 48
takes the head's first 48 steps; every M4 Hourly past has at least 700 points, so no series is
padded) when present, else the hub id; torch, numba and BLAS run one thread in this process, as in
the engine's workers.

The engine's local cluster starts its workers through Dask nannies, whose default environment sets
`MALLOC_TRIM_THRESHOLD_=65536` (`distributed.nanny.pre-spawn-environ`): glibc then hands freed memory
back to the kernel at once, and a model that allocates and frees large arrays on every call
(statsforecast's AutoETS) faults its pages back in every time, in system CPU seconds that its units
are charged and a plain process does not pay (setting the variable at all turns off glibc's dynamic
mmap threshold). The engine leaves it unset (`workbench.engine.cluster.MALLOC_TRIM`);
`--malloc-trim 65536` starts the workers with Dask's default, to measure the difference.

CPU seconds measured on a machine shared with other work (cache and memory-bandwidth contention,
frequency scaling) are inflated more than deflated: figures from a loaded 2-core machine are upper
bounds of what a model costs.

Usage: WORKBENCH_DATA_MIRROR=../shared/datasets python benchmarks/m4_hourly_cost.py
       [--limit 100] [--chunk-size 10] [--workers 2] [--models seasonal_naive theta statsforecast.AutoETS ttm]
       [--series 1000000] [--every 1h] [--store DIR] [--ttm-model DIR] [--no-direct] [--malloc-trim BYTES]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

# one BLAS / OpenMP thread in this process, as Dask's nannies give the engine's workers (numpy reads
# these when it loads): the direct timings then run the models as the units do
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import pandas as pd  # noqa: E402

MODELS = ("seasonal_naive", "theta", "statsforecast.AutoETS", "ttm")
METRICS = ("mase", "smape")
H, SEASON = 48, 24
LOCAL_TTM = Path(__file__).resolve().parents[2] / "shared" / "models" / "granite-ttm-r2-512-96"


def m4_hourly(limit: int) -> Any:
    """The task: the catalog's M4 Hourly, or its first `limit` series by id as an in-memory task."""
    from workbench.data.catalog import load_panel
    from workbench.tasks import Task

    if not limit:
        return Task(dataset="m4", subset="Hourly", metrics=METRICS)
    train, test = load_panel("m4", "Hourly", "train").df, load_panel("m4", "Hourly", "test").df
    ids = sorted(train["unique_id"].unique())[:limit]
    train, test = train[train["unique_id"].isin(ids)], test[test["unique_id"].isin(ids)].copy()
    test["ds"] += test["unique_id"].map(train.groupby("unique_id")["ds"].max())  # the test split continues each series
    frame = pd.concat([train, test]).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    name = f"m4-hourly-first-{limit}"
    return Task.for_data(frame, horizon=H, season_length=SEASON, freq="h", name=name, metrics=METRICS)


def specs(models: list[str], ttm_model: str | None) -> list[dict[str, Any]]:
    from workbench.foundation.ttm import DEFAULT_MODEL

    ttm = ttm_model or (str(LOCAL_TTM) if (LOCAL_TTM / "config.json").is_file() else DEFAULT_MODEL)
    return [{"name": m, "params": {"model": ttm} if m == "ttm" else {}} for m in models]


def engine_groups(store: str, task_key: str) -> dict[str, list[list[str]]]:
    """Per model, the series of each of its forecast units, as the engine grouped them."""
    from workbench.store.sql import sql

    rows = sql(f"SELECT DISTINCT model, unit, unique_id FROM forecasts WHERE task_key = '{task_key}'", store)
    out: dict[str, list[list[str]]] = {}
    for (model, _), part in rows.groupby(["model", "unit"], sort=True):
        out.setdefault(model, []).append(sorted(part["unique_id"].astype(str)))
    return out


def direct(task: Any, spec: dict[str, Any], groups: list[list[str]]) -> dict[str, float]:
    """CPU seconds of fit + predict of the model on each group's past, here, after a warm-up."""
    from workbench.forecasters import make_forecaster
    from workbench.store.records import cpu_seconds

    (window,) = list(task.windows())
    pasts = [window.past.select(ids) for ids in groups]
    make_forecaster(spec["name"], seed=0, **spec["params"]).fit(pasts[0]).predict(task.h)  # warm-up
    cpu, wall = 0.0, 0.0
    for past in pasts:
        start, started = cpu_seconds(), time.perf_counter()
        make_forecaster(spec["name"], seed=0, **spec["params"]).fit(past).predict(task.h)
        cpu += cpu_seconds() - start
        wall += time.perf_counter() - started
    return {"n_series": sum(len(g) for g in groups), "cpu_s": cpu, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="first N series by id (0: all 414, the catalog task)")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--chunk-size", type=int, default=10, help="series per unit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--series", type=int, default=1_000_000, help="series of the projection")
    parser.add_argument("--every", default="1h", help="cadence of the projection")
    parser.add_argument("--store", default=None, help="results store (default: a temporary folder)")
    parser.add_argument("--ttm-model", default=None, help="TTM checkpoint folder or hub id")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct timings")
    parser.add_argument(
        "--malloc-trim",
        default=None,
        help="the workers' MALLOC_TRIM_THRESHOLD_ (default: the engine's, unset; Dask's own is 65536)",
    )
    args = parser.parse_args()

    import distributed  # noqa: F401  (its configuration defaults)
    import torch

    from workbench.engine import cluster, evaluate
    from workbench.engine.worker import _single_threaded_kernels
    from workbench.models.spec import ModelSpec
    from workbench.store.cost import cost_board, project
    from workbench.store.sql import sql

    if args.malloc_trim is not None:
        cluster.MALLOC_TRIM = str(args.malloc_trim)
    torch.set_num_threads(1)  # as in the engine's workers (Dask sets OMP_NUM_THREADS=1 for them)
    _single_threaded_kernels()
    task, models = m4_hourly(args.limit), specs(args.models, args.ttm_model)
    short = {ModelSpec.of(spec).label: spec["name"] for spec in models}  # the stored label: name(params)
    with tempfile.TemporaryDirectory(prefix="m4-hourly-cost-") as tmp:
        store = args.store or str(Path(tmp) / "store")
        start = time.perf_counter()
        summary = evaluate(task, models, store=store, chunk_size=args.chunk_size, n_workers=args.workers,
                           progress=False)  # fmt: skip
        engine_s = time.perf_counter() - start
        counts = summary.counts()
        board = cost_board(store)
        board = board[board["task_key"] == task.key()].set_index("model")
        board.index = board.index.map(short)
        units = sql(f"SELECT model, runtime FROM units WHERE kind = 'forecast' AND task_key = '{task.key()}'", store)
        groups = {short[m]: g for m, g in engine_groups(store, task.key()).items()}

    n = max(sum(map(len, g)) for g in groups.values())
    what = f"{task.describe()}: {n} series, horizon {task.h}"
    print(
        f"\n{what}; engine: {args.workers} workers, chunks of {args.chunk_size}, {engine_s:.0f} s wall, units {counts}"
    )
    threads = {
        m: sorted({json.loads(r).get("hardware", {}).get("torch_threads") for r in part["runtime"]} - {None})
        for m, part in units.groupby(units["model"].map(short))
    }
    print(f"torch threads in the workers' units: {threads.get('ttm') or '(torch not loaded)'}", end="; ")
    print(f"MALLOC_TRIM_THRESHOLD_ of the workers: {cluster.MALLOC_TRIM or 'unset'}")

    cols = ["cost_basis", "n_units", "n_basis_units", "work", "cpu_s_per_1k", "cpu_s_per_1k_lo", "cpu_s_per_1k_hi"]
    cols += ["cpu_s_per_1k_step", "throughput_per_s", "load_s", "load_cpu_s", "n_loads", "peak_rss_mb"]
    shown = board[cols].copy()
    shown["cost_basis"] = shown["cost_basis"].str.slice(0, 10)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print("\ncost_board (CPU seconds per 1,000 series forecasts, 95% bootstrap interval over units):")
        print(shown.round(3).to_string())
        projected = project(board.reset_index(), args.series, args.every).set_index("model")
        print(f"\nproject(board, {args.series:,}, {args.every!r}): core-hours per day (95% interval), cores busy 24 h")
        cols = ["core_hours_per_day", "core_hours_per_day_lo", "core_hours_per_day_hi", "cores"]
        print(projected[cols].round(1).to_string())

    if args.no_direct:
        return
    rows = []
    for spec in models:
        label = spec["name"]
        timing = direct(task, spec, groups[label])
        once = project(board.loc[[label]].reset_index(), timing["n_series"], "1D").iloc[0]
        projected_s = once["core_hours_per_day"] * 3600
        rows.append(
            {
                "model": label,
                "n_series": timing["n_series"],
                "direct_cpu_s": timing["cpu_s"],
                "direct_cpu_s_per_1k": 1000 * timing["cpu_s"] / timing["n_series"],
                "engine_cpu_s_per_1k": board.loc[label, "cpu_s_per_1k"],
                "projection_s": projected_s,
                "projection/direct": projected_s / timing["cpu_s"],
                "direct_wall/cpu": timing["wall_s"] / timing["cpu_s"] if timing["cpu_s"] else float("nan"),
            }
        )
    print("\ndirect timing here (same pasts, grouped as the units, warm) vs the projection for them once a day:")
    print(pd.DataFrame(rows).set_index("model").round(3).to_string())


if __name__ == "__main__":
    main()
