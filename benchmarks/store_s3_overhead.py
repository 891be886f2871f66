"""What the results store costs on object storage: one grid run into a local folder and into S3
(moto's standalone server on 127.0.0.1, a real HTTP endpoint), in one process, rounds interleaved.

The grid (default M4 Hourly + Weekly through the offline mirror, or --synthetic N series in chunks)
x --models runs on one embedded LocalCluster of worker processes, once per round into a fresh local
folder and once into a fresh S3 prefix. Timed, per store:

    run          evaluate(): plan, resume check, units computed on the workers and committed
    rerun        evaluate() again: every unit found complete (records read, every file hashed)
    leaderboard  results.leaderboard(store) (median of --reps, fresh connection each)
    sql          results.sql(count of metric rows per model)
    records      ResultsStore.committed() again (the manifest: every unit record; at a URL one
                 listing, records unchanged since the last read are not fetched again)
    records_cold the same with nothing read before (at a URL, one GET per record)
    verify       ResultsStore.verify() (every data file re-hashed)

and the S3/local ratio of each. The endpoint is local, so the ratios show the cost of going through
HTTP and fsspec, not of a network; against a real bucket, latency adds to every request.

Usage: WORKBENCH_DATA_MIRROR=../shared/datasets python benchmarks/store_s3_overhead.py [--rounds 2]
       python benchmarks/store_s3_overhead.py --synthetic 10000 --chunk 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from s3_server import BUCKET, point_clients_at, start_moto, stop  # noqa: E402

from workbench import storage  # noqa: E402
from workbench.data.chunks import ChunkRef  # noqa: E402
from workbench.engine import evaluate  # noqa: E402
from workbench.store.results_store import ResultsStore  # noqa: E402
from workbench.store.sql import leaderboard, sql  # noqa: E402
from workbench.tasks import Task  # noqa: E402


def synthetic_grid(folder: Path, n_series: int, chunk: int) -> tuple[list[Task], dict[str, list[ChunkRef]]]:
    from workbench.data.synthetic import synthetic_chunk

    refs = []
    for k in range(-(-n_series // chunk)):
        size = min(chunk, n_series - k * chunk)
        train, test = synthetic_chunk(11, k, size, min_length=100, max_length=300, first_id=k * chunk)
        paths = [folder / f"{split}-{k}.parquet" for split in ("train", "test")]
        train.to_parquet(paths[0])
        test.to_parquet(paths[1])
        ids = train.df["unique_id"]
        refs.append(ChunkRef(k, size, str(paths[0]), str(paths[1]), "bench-s3", ids.min(), ids.max()))
    task = Task.model_construct(
        dataset="synthetic",
        subset=f"n{n_series}",
        protocol="holdout",
        horizon=48,
        season_length=24,
        n_windows=1,
        step=None,
        window="expanding",
        train_length=None,
        metrics=("smape", "mase"),
    )
    return [task], {task.key(): refs}


def timed(fn, reps: int = 1) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(store: ResultsStore, client, tasks, models, chunks, chunk: int, reps: int) -> dict[str, float]:
    kw = dict(client=client, store=store, chunks=chunks, chunk_size=chunk, progress=False)
    out = {"run": timed(lambda: evaluate(tasks, models, **kw))}
    out["rerun"] = timed(lambda: evaluate(tasks, models, **kw))
    leaderboard(store)  # warm-up (imports, first connection)
    out["leaderboard"] = timed(lambda: leaderboard(store), reps)
    out["sql"] = timed(lambda: sql("SELECT model, count(*) AS n FROM metrics GROUP BY model", store), reps)
    out["records"] = timed(store.committed, reps)
    out["records_cold"] = timed(lambda: (storage.forget(), store.committed()), reps)
    out["verify"] = timed(store.verify)
    out["units"] = len(store.committed())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", nargs="+", default=["Hourly", "Weekly"], help="M4 subsets (default grid)")
    parser.add_argument("--synthetic", type=int, default=0, help="N synthetic series instead of M4")
    parser.add_argument("--models", nargs="+", default=["naive", "seasonal_naive", "ses"])
    parser.add_argument("--chunk", type=int, default=100, help="series per unit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (local, s3, local, s3, ...)")
    parser.add_argument("--reps", type=int, default=5, help="repeats of each query (median)")
    parser.add_argument("--output", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    work = Path(tempfile.mkdtemp(prefix="store-s3-bench-"))
    proc, endpoint = start_moto(work / "moto.log")
    mp = pytest.MonkeyPatch()
    try:
        point_clients_at(endpoint, mp)  # before the cluster starts: its workers inherit the endpoint
        import s3fs

        s3fs.S3FileSystem(use_listings_cache=False).mkdir(BUCKET)
        if args.synthetic:
            (work / "chunks").mkdir()
            tasks, chunks = synthetic_grid(work / "chunks", args.synthetic, args.chunk)
        else:
            tasks, chunks = [Task(dataset="m4", subset=s) for s in args.subsets], None
        results: dict[str, list[dict]] = {"local": [], "s3": []}
        with (
            LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as c,
            Client(c) as client,
        ):
            # an untimed run first: workers import the models, M4 chunk files are cut once
            evaluate(tasks, args.models, client=client, store=work / "warm", chunks=chunks, chunk_size=args.chunk,
                     progress=False)  # fmt: skip
            for r in range(args.rounds):
                for kind in ("local", "s3"):
                    root = work / f"local-{r}" if kind == "local" else f"s3://{BUCKET}/bench-{uuid.uuid4().hex[:8]}"
                    store = ResultsStore(root)
                    results[kind].append(measure(store, client, tasks, args.models, chunks, args.chunk, args.reps))
                    print(kind, r, json.dumps({k: round(v, 4) for k, v in results[kind][-1].items()}), flush=True)
    finally:
        mp.undo()
        stop(proc)
    grid = f"synthetic {args.synthetic} series" if args.synthetic else "M4 " + "+".join(args.subsets)
    print(f"\n{grid} x {', '.join(args.models)}; chunks of {args.chunk}; {args.workers} worker processes; "
          f"{results['local'][0]['units']} units; median of {args.rounds} rounds")  # fmt: skip
    print(f"{'':12} {'local s':>10} {'s3 s':>10} {'s3/local':>9}")
    summary = {}
    for what in ("run", "rerun", "leaderboard", "sql", "records", "records_cold", "verify"):
        local = statistics.median(m[what] for m in results["local"])
        remote = statistics.median(m[what] for m in results["s3"])
        summary[what] = {"local_s": local, "s3_s": remote, "ratio": remote / local}
        print(f"{what:12} {local:10.3f} {remote:10.3f} {remote / local:9.2f}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"grid": grid, "models": args.models, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
