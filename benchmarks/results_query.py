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

With --manifest-units N it instead writes N one-row units and times reading their records (the
store's manifest) beside one JSONL file holding the same records, and a whole small query.

Usage: python benchmarks/results_query.py [--store DIR] [--series 100000] [--models 8] [--chunk 500]
       python benchmarks/results_query.py --manifest-units 20000
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

from workbench.storage import sha256_file
from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard, sql

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
    records = store.committed()
    if len(records) == expected and all("columns" in e for r in records for e in r["tables"].values()):
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


def interleaved(fns: dict[str, object], reps: int) -> dict[str, tuple[float, float, object]]:
    """(median, min, result) per function; rounds call every function once, in a rotating order, so
    that other load on the machine falls on all of them alike. One untimed warm-up round first."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results = {name: fn() for name, fn in fns.items()}
    names = list(fns)
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = time.perf_counter()
            results[name] = fns[name]()
            times[name].append(time.perf_counter() - t)
    return {name: (statistics.median(t), min(t), results[name]) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="store folder (kept; default: a temporary one)")
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--h", type=int, default=24)
    parser.add_argument("--no-forecasts", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--manifest-units", type=int, default=0, help="instead: time the manifest alone on this many tiny units"
    )
    args = parser.parse_args()
    if args.manifest_units:
        with tempfile.TemporaryDirectory(prefix="manifest-bench-") as tmp:
            manifest_scaling(Path(tmp) / "store", args.manifest_units, args.reps)
        return
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


def manifest_scaling(root: Path, n_units: int, reps: int) -> None:
    """The manifest at many units: the record files (what the store reads) beside one JSONL file
    holding the same records (the alternative: an append-only log), and a query's full cost."""
    import json

    store = ResultsStore(root)
    started = time.perf_counter()
    for i in range(n_units):
        row = pd.DataFrame({"task_key": ["t"], "task": ["toy"], "model": [f"m{i % 8}"], "window": [0]})
        row = row.assign(unique_id=f"S{i:07d}", metric="mase", value=1.0)
        record = {"kind": "forecast", "task_key": "t", "model": f"m{i % 8}", "run_id": "bench", "chunks": [i]}
        record |= {"task": {"dataset": "synthetic", "subset": "all", "h": 24, "metrics": ["mase"]}, "n_series": 1}
        store.write_unit(f"u{i:07d}", {"metrics": row}, record)
    print(f"wrote {n_units} units in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    jsonl = root / "manifest.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in store.committed()))

    def read_jsonl():
        with open(jsonl) as f:
            return [json.loads(line) for line in f]

    timings = interleaved(
        {
            "records": store.committed,
            "jsonl": read_jsonl,
            "sql": lambda: sql("SELECT count(*) AS n FROM metrics", store),
        },
        reps,
    )
    size = sum(len(p.read_bytes()) for p in (root / "units").iterdir())
    print(f"{n_units} records, {size / 1e6:.1f} MB of JSON")
    print(f"{'read':<52}{'median s':>9}{'min s':>8}")
    for name, label in (
        ("records", "ResultsStore.committed(): every units/<key>.json"),
        ("jsonl", "one JSONL file of the same records"),
        ("sql", "results.sql('SELECT count(*) FROM metrics')"),
    ):
        print(f"{label:<52}{timings[name][0]:>9.3f}{timings[name][1]:>8.3f}")


def run(store: ResultsStore, reps: int) -> None:
    glob = str(store.root / "metrics" / "*.parquet").replace("'", "''")

    def direct(source: str):
        con = duckdb.connect()
        try:
            return con.execute(LEADERBOARD.format(source=source)).df()
        finally:
            con.close()

    timings = interleaved(
        {
            "sql": lambda: sql(LEADERBOARD.format(source="metrics"), store),
            "board": lambda: leaderboard(store),
            "glob": lambda: direct(f"read_parquet('{glob}')"),
            "glob_union": lambda: direct(f"read_parquet('{glob}', union_by_name = true)"),
            "records": store.committed,
        },
        reps,
    )
    via_sql, board, via_glob, records = (timings[k][2] for k in ("sql", "board", "glob", "records"))
    pd.testing.assert_frame_equal(via_sql, via_glob)
    files = [p for paths in store.tables(records).values() for p in paths]
    started = time.perf_counter()
    for path in files:
        sha256_file(path)
    t_hash = time.perf_counter() - started
    n_rows = int(board["n_series"].sum())
    n_metric_rows = sum(r["tables"]["metrics"]["n_rows"] for r in records)
    n_bytes = sum(r["tables"][t]["bytes"] for r in records for t in r["tables"])

    print(f"store {store.root}: {len(records)} units, {n_metric_rows:,} metric rows, {len(files)} files, "
          f"{n_bytes / 1e6:.0f} MB; leaderboard {len(board)} rows over {n_rows:,} series-metric cells")  # fmt: skip
    print(f"{'query':<44}{'median s':>9}{'min s':>8}{'median vs glob':>16}{'min vs glob':>13}")
    glob_med, glob_min = timings["glob"][:2]
    rows = [
        ("results.sql(leaderboard query)", *timings["sql"][:2]),
        ("results.leaderboard(store)", *timings["board"][:2]),
        ("duckdb read_parquet(glob)", glob_med, glob_min),
        ("duckdb read_parquet(glob, union_by_name)", *timings["glob_union"][:2]),
        ("ResultsStore.committed() (manifest alone)", *timings["records"][:2]),
        ("old: sha256 of every file before a query", t_hash, t_hash),
        ("old: hashing + the glob query", t_hash + glob_med, t_hash + glob_min),
    ]
    for name, med, low in rows:
        print(f"{name:<44}{med:>9.3f}{low:>8.3f}{med / glob_med:>15.2f}x{low / glob_min:>12.2f}x")


if __name__ == "__main__":
    main()
