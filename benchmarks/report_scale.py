"""The report at scale: time and file size of `build_report` on synthetic stores of 10k and 100k series.

Each store is written unit by unit through `ResultsStore.write_unit` (as `results_query.py` fills
its store): N series × 8 models named like the M4 benchmarks (so the skill against Naive2 and
seasonal naive is computed), one unit per (model, chunk of 500 series), with per-series sMAPE and
MASE rows (a few undefined) and the forecasts (h steps per series). Then `build_report` runs on each
store (median of --reps after one untimed warm-up), and the ratios 100k / 10k are printed: the time
may grow with the rows DuckDB aggregates and the bootstrap resamples, the size must not grow with
the number of series (the drill-down is a sample, the unit list is bounded).

Usage: python benchmarks/report_scale.py [--root DIR] [--sizes 10000 100000] [--reps 1] [--h 24]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.report import build_report
from workbench.store.results_store import ResultsStore

MODELS = ("naive", "seasonal_naive", "naive2", "ses", "holt", "damped", "theta", "comb")
METRICS = ("smape", "mase")
CHUNK = 500


def build_store(root: Path, n_series: int, h: int) -> ResultsStore:
    """The synthetic store (reused when the folder already holds all its units)."""
    store = ResultsStore(root)
    n_chunks = -(-n_series // CHUNK)
    if len(store.committed()) == n_chunks * len(MODELS):
        return store
    if root.exists():
        shutil.rmtree(root)
    rng = np.random.default_rng(0)
    task_key, task = f"synthetic-{n_series}", f"synthetic/{n_series} holdout h={h}"
    started = time.perf_counter()
    difficulty = rng.gamma(2.0, 1.0, n_series)  # some series are hard for every model
    for c in range(n_chunks):
        lo, hi = c * CHUNK, min(n_series, (c + 1) * CHUNK)
        ids = np.array([f"S{i:07d}" for i in range(lo, hi)])
        for m, model in enumerate(MODELS):
            skill = 1.0 - 0.04 * m  # later models a little better, with noise
            values = np.concatenate(
                [difficulty[lo:hi] * skill * rng.lognormal(0, 0.3, len(ids)) * scale for scale in (10.0, 1.0)]
            )
            values[rng.random(values.size) < 0.001] = np.nan
            metrics = pd.DataFrame(
                {"task_key": task_key, "task": task, "dataset": "synthetic", "subset": "all", "model": model}
                | {"window": 0, "unique_id": np.tile(ids, len(METRICS)), "metric": np.repeat(METRICS, len(ids))}
                | {"value": values}
            )
            forecasts = pd.DataFrame(
                {"task_key": task_key, "model": model, "window": 0, "unique_id": np.repeat(ids, h)}
                | {"ds": np.tile(pd.date_range("2024-01-01", periods=h, freq="h"), len(ids))}
                | {"y_hat": rng.normal(size=len(ids) * h)}
            )
            record = {"kind": "forecast", "task_key": task_key, "model": model, "n_series": len(ids)}
            record |= {"dataset": "synthetic", "subset": "all", "status": "ok"}
            record |= {"task_description": task, "chunks": [c], "chunk_size": CHUNK, "run_id": "bench"}
            store.write_unit(f"u{c:05d}-{m:02d}", {"metrics": metrics, "forecasts": forecasts}, record)
    print(f"built {n_series:,} series x {len(MODELS)} models in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return store


def time_report(store: ResultsStore, out: Path, reps: int) -> tuple[float, float, int]:
    """(median seconds, min seconds, bytes) of build_report on the store; one untimed warm-up."""
    build_report(store.root, out, n_boot=1000)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        build_report(store.root, out, n_boot=1000)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="folder for the stores (kept; default temporary)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--h", type=int, default=24)
    args = parser.parse_args()
    tmp = None
    if args.root is None:
        tmp = tempfile.mkdtemp(prefix="report-scale-")
        args.root = Path(tmp)
    try:
        results = {}
        for n in args.sizes:
            store = build_store(args.root / f"store-{n}", n, args.h)
            median, best, size = time_report(store, args.root / f"report-{n}.html", args.reps)
            results[n] = (median, best, size)
            print(f"{n:>8,} series x {len(MODELS)} models: report {median:.1f} s (min {best:.1f}), {size / 1e6:.2f} MB")
        if len(results) > 1:
            small, large = min(results), max(results)
            t_ratio = results[large][0] / results[small][0]
            s_ratio = results[large][2] / results[small][2]
            print(f"ratios {large:,} / {small:,} series: time {t_ratio:.2f}x, size {s_ratio:.3f}x")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
