"""Queries over a large results store, beside DuckDB reading the same parquet files straight from a glob.

Builds (once; reused when the folder already holds it) a synthetic store through the store's own
`write_unit`: N series x M models, one unit per (model, chunk of series), each unit with its metric
rows (3 metrics per series, a few undefined values) and, unless --no-forecasts, its forecasts
(h steps per series). Default: 100,000 series x 8 models, chunks of 500 -> 1,600 units,
2.4 M metric rows, 38 M forecast rows.

Then times, each on a fresh connection, median of --reps after one untimed warm-up:

    sql          results.sql(LEADERBOARD, store): manifest read + views + the query
    leaderboard  results.leaderboard(store): per-task board with undefined and duplicate counts
    glob         duckdb over read_parquet('<store>/metrics/*.parquet'): the floor (no manifest)
    records      ResultsStore.committed(): reading the manifest (the unit records) alone
    old          what the first store's records() paid before every query: sha256 of every data
                 file of every unit, one after the other (added to the glob time)

Usage: python benchmarks/results_query.py [--store DIR] [--series 100000] [--models 8] [--chunk 500]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from workbench.engine.store import ResultsStore, _sha256_file
from workbench.results import leaderboard, sql

LEADERBOARD = """
    SELECT task_key, model, metric, avg(value) AS value, count(DISTINCT unique_id) AS n_series,
           count(DISTINCT "window") AS n_windows
    FROM {source}
    GROUP BY ALL
    ORDER BY task_key, metric, value
"""
METRICS = ("smape", "mase", "msis")


def build_store(root: Path, n_series: int, n_models: int, chunk: int, h: int, forecasts: bool) -> ResultsStore:
    """The synthetic store, written unit by unit through write_unit (reused if already complete)."""
    store = ResultsStore(root)
    n_chunks = -(-n_series // chunk)
    expected = n_chunks * n_models
    if len(store.committed()) == expected:
        return store
    if root.exists():
        shutil.rmtree(root)
    rng = np.random.default_rng(0)
    task_key, task = "synthetic-task-key", f"synthetic/{n_series} holdout h={h}"
    started = time.perf_counter()
    for c in range(n_chunks):
        ids = np.array([f"S{i:07d}" for i in range(c * chunk, min(n_series, (c + 1) * chunk))])
        for m in range(n_models):
            model = f"model_{m}"
            key = f"u{c:05d}-{m:02d}"
            values = rng.gamma(2.0, 1.0, size=len(ids) * len(METRICS))
            values[rng.random(values.size) < 0.001] = np.nan
            metrics = pd.DataFrame(
                {"task_key": task_key, "task": task, "dataset": "synthetic", "subset": "all", "model": model}
                | {"window": 0, "unique_id": np.tile(ids, len(METRICS)), "metric": np.repeat(METRICS, len(ids))}
                | {"value": values}
            )
            tables = {"metrics": metrics}
            if forecasts:
                tables["forecasts"] = pd.DataFrame(
                    {"task_key": task_key, "model": model, "window": 0, "unique_id": np.repeat(ids, h)}
                    | {"ds": np.tile(pd.date_range("2024-01-01", periods=h, freq="h"), len(ids))}
                    | {"y_hat": rng.normal(size=len(ids) * h)}
                )
            record = {"kind": "forecast", "task_key": task_key, "model": model, "n_series": len(ids)}
            store.write_unit(key, tables, record | {"chunks": [c], "run_id": "bench"})
        if c % 20 == 0:
            done = (c + 1) * n_models
            print(f"  built {done}/{expected} units in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(f"built {expected} units in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return store


def timed(fn, reps: int) -> tuple[float, object]:
    result = fn()  # warm-up: page cache and DuckDB's first-use costs out of the timing
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="store folder (kept; default: a temporary one)")
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--h", type=int, default=24)
    parser.add_argument("--no-forecasts", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    tmp = None
    if args.store is None:
        tmp = tempfile.mkdtemp(prefix="results-bench-")
        args.store = Path(tmp) / "store"
    try:
        store = build_store(args.store, args.series, args.models, args.chunk, args.h, not args.no_forecasts)
        run(store, args.reps)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(store: ResultsStore, reps: int) -> None:
    glob = str(store.root / "metrics" / "*.parquet").replace("'", "''")

    def direct(source: str):
        con = duckdb.connect()
        try:
            return con.execute(LEADERBOARD.format(source=source)).df()
        finally:
            con.close()

    t_sql, via_sql = timed(lambda: sql(LEADERBOARD.format(source="metrics"), store), reps)
    t_board, board = timed(lambda: leaderboard(store), reps)
    t_glob, via_glob = timed(lambda: direct(f"read_parquet('{glob}')"), reps)
    t_glob_union, _ = timed(lambda: direct(f"read_parquet('{glob}', union_by_name = true)"), reps)
    t_records, records = timed(store.committed, reps)
    pd.testing.assert_frame_equal(via_sql, via_glob)
    files = [p for paths in store.tables(records).values() for p in paths]
    started = time.perf_counter()
    for path in files:
        _sha256_file(path)
    t_hash = time.perf_counter() - started
    n_rows = int(board["n_series"].sum())
    n_metric_rows = sum(r["tables"]["metrics"]["n_rows"] for r in records)
    n_bytes = sum(r["tables"][t]["bytes"] for r in records for t in r["tables"])

    print(f"store {store.root}: {len(records)} units, {n_metric_rows:,} metric rows, {len(files)} files, "
          f"{n_bytes / 1e6:.0f} MB; leaderboard {len(board)} rows over {n_rows:,} series-metric cells")  # fmt: skip
    print(f"{'query':<44}{'seconds':>9}{'vs glob':>9}")
    rows = [
        ("results.sql(leaderboard query)", t_sql),
        ("results.leaderboard(store)", t_board),
        ("duckdb read_parquet(glob)", t_glob),
        ("duckdb read_parquet(glob, union_by_name)", t_glob_union),
        ("ResultsStore.committed() (manifest alone)", t_records),
        ("old: sha256 of every file before a query", t_hash),
        ("old: hashing + the glob query", t_hash + t_glob),
    ]
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>9.3f}{seconds / t_glob:>8.2f}x")


if __name__ == "__main__":
    main()
