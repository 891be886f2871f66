"""The Dask engine at scale, on seeded synthetic panels (lengths 100-1,000, seasonal + trend + noise).

Four measurements, each a ratio taken within one run (these machines are noisy):

1. strong scaling: the same grid on an embedded LocalCluster with 1 and with 2 single-threaded
   workers (target >= 1.8x on 2 workers);
2. client memory: peak RSS of the driving process at 10k and at 100k series, each in a fresh
   process (target flat, < 1.2x): chunks are generated and read on the workers, never on the client;
3. harness overhead: the engine on one worker against a plain loop that reads the same chunk files
   and calls the same kernels and metrics in one process (target <= 1.10x);
4. scoring: every point metric on 100k series x h = 48 (target < 0.5 s).

Usage: python benchmarks/engine_scaling.py [--series 10000] [--big 100000] [--models theta damped]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.data.chunks import ChunkRef
from workbench.data.synthetic import synthetic_chunk
from workbench.engine import evaluate
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task

CHUNK = 500
POINT_METRICS = ("smape", "mase", "mae", "mse", "rmse", "mape", "rmsse", "wape")


def synthetic_task(chunks: list[ChunkRef]) -> Task:
    """Synthetic panels have no catalog card: the task is built over their chunk files, stating its
    horizon and season length (its key covers the chunks' data hashes)."""
    return Task.for_chunks(chunks, horizon=48, season_length=24, name="synthetic")


def _write_chunk(folder: str, seed: int, k: int, size: int) -> ChunkRef:
    train, test = synthetic_chunk(seed, k, size, first_id=k * size)
    paths = [Path(folder) / f"{split}-{k:05d}.parquet" for split in ("train", "test")]
    train.to_parquet(paths[0])
    test.to_parquet(paths[1])
    ids = train.df["unique_id"]
    return ChunkRef(k, size, str(paths[0]), str(paths[1]), f"synthetic-{seed}-{size}", ids.min(), ids.max())


def synthetic_chunks(client, folder: Path, n_series: int, seed: int = 0) -> list[ChunkRef]:
    """Generate the panel chunk by chunk on the workers (the client never holds the series)."""
    folder.mkdir(parents=True, exist_ok=True)
    n_chunks = -(-n_series // CHUNK)
    futures = [client.submit(_write_chunk, str(folder), seed, k, CHUNK, pure=False) for k in range(n_chunks)]
    return client.gather(futures)


def _cluster(n_workers: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, Client(cluster)


def timed_run(client, chunks, models, store: Path) -> float:
    task = synthetic_task(chunks)
    start = time.perf_counter()
    summary = evaluate(task, models, client=client, store=store, chunks={task.key(): chunks}, progress=False)
    elapsed = time.perf_counter() - start
    assert summary.counts() == {"ok": summary.n_units}, summary.counts()
    return elapsed


def plain_loop(chunks, models) -> float:
    """The same work without the engine: read each chunk, call the kernel, score, in one process."""
    import numba

    from workbench.classic.benchmarks import METHODS, m4_benchmarks
    from workbench.data import Panel
    from workbench.metrics import mase, smape

    numba.set_num_threads(1)
    start = time.perf_counter()
    for ref in chunks:
        train, test = Panel.read_parquet(Path(ref.train)), Panel.read_parquet(Path(ref.test))
        values, lengths, _ = train.to_numpy(pad="left")
        truth, _, _ = test.to_numpy(pad="right")
        for model in models:
            out, _ = m4_benchmarks(values, lengths, 24, 48, methods=(model,))
            forecast = out[:, METHODS.index(model)]
            smape(truth, forecast)
            mase(truth, forecast, y_past=values, season_length=24)
    return time.perf_counter() - start


def client_rss(n_series: int, workdir: Path) -> float:
    """Peak RSS (MB) of a fresh driving process evaluating `naive` on n synthetic series."""
    code = (
        "import resource, sys, json; sys.path.insert(0, 'benchmarks');"
        "from pathlib import Path; import engine_scaling as b;"
        "cluster, client = b._cluster(2);"
        f"chunks = b.synthetic_chunks(client, Path({str(workdir)!r}) / 'data', {n_series});"
        f"b.timed_run(client, chunks, ['naive'], Path({str(workdir)!r}) / 'store');"
        "client.close(); cluster.close();"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def scoring_time(n_series: int = 100_000, h: int = 48, past: int = 200, reps: int = 3) -> float:
    from workbench.metrics import get_metric

    rng = np.random.default_rng(0)
    y = rng.uniform(1, 100, (n_series, h))
    f = y + rng.normal(0, 5, (n_series, h))
    y_past = rng.uniform(1, 100, (n_series, past))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for name in POINT_METRICS:
            get_metric(name).fn(y, f, y_past=y_past, season_length=24)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--models", nargs="+", default=["theta", "damped"])
    parser.add_argument("--output", type=Path, default=Path("results/bench/engine_scaling.json"))
    args = parser.parse_args()
    report: dict = {"cpus": os.cpu_count(), "series": args.series, "models": args.models}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster, client = _cluster(2)
        chunks = synthetic_chunks(client, work / "data", args.series)
        timed_run(client, chunks[:1], args.models, work / "warm")  # numba caches, imports on both workers
        two = timed_run(client, chunks, args.models, work / "two")
        client.close()
        cluster.close()
        cluster, client = _cluster(1)
        timed_run(client, chunks[:1], args.models, work / "warm1")
        one = timed_run(client, chunks, args.models, work / "one")
        client.close()
        cluster.close()
        plain = plain_loop(chunks, args.models)
        assert len(ResultsStore(work / "one").records()) == len(chunks) * len(args.models)
        report |= {
            "one_worker_s": round(one, 2),
            "two_workers_s": round(two, 2),
            "strong_scaling": round(one / two, 3),
            "plain_loop_s": round(plain, 2),
            "harness_overhead": round(one / plain, 3),
        }
        small = client_rss(args.series, work / "rss_small")
        big = client_rss(args.big, work / "rss_big")
        report |= {"client_rss_mb_small": round(small, 1), "client_rss_mb_big": round(big, 1),
                   "client_rss_ratio": round(big / small, 3), "big_series": args.big}  # fmt: skip
    report["scoring_100k_x48_s"] = round(scoring_time(), 3)
    report["client_peak_rss_mb_this_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    targets = {
        "strong_scaling": ">= 1.8",
        "client_rss_ratio": "< 1.2",
        "harness_overhead": "<= 1.10",
        "scoring_100k_x48_s": "< 0.5",
    }
    for key, target in targets.items():
        print(f"{key:22s} {report[key]:>10}   target {target}")
    print(json.dumps(report, indent=1))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.output.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(report, indent=1))
    tmp_out.replace(args.output)


if __name__ == "__main__":
    main()
