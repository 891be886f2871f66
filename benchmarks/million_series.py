"""A million series as a user dataset: partitioned parquet, evaluated end to end on 2 workers.

What it measures, in one run (these machines are noisy: compare the ratios):

1. throughput: seasonal naive + theta on N synthetic series (lengths 100-300, hourly, written as
   a hive-partitioned parquet dataset by the workers themselves), read through a user card, one
   rolling window of 24, scored (sMAPE, MASE) into the results store: series per second;
2. memory: peak RSS of the driving process at 10k and at N series (each in a fresh process, with
   the scheduler and workers in processes of their own; target <= 1.2x), and the workers' peak RSS
   (from the unit records) at 100k and at N (target <= 1.2x);
3. the leaderboard SQL over the N-series store (target < 5 s);
4. the peer doing the same job: statsforecast on its own Dask backend (`StatsForecast(...).forecast(
   df=dask_dataframe)`, through fugue) with SeasonalNaive + Theta on the same 100k-series dataset and
   2 workers, against the workbench's throughput on that dataset (target: the workbench >= 3x, with
   the forecasts scored; the peer's time is forecasting only).

Usage: python benchmarks/million_series.py [--series 1000000] [--peer-series 100000] [--root /tmp/million]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SERIES_PER_FILE = 5_000
MODELS = ["seasonal_naive", "theta"]


def write_part(root: str, part: int, first: int, count: int, seed: int = 0) -> int:
    """One file of the dataset, written on a worker: `count` series from id `first`, sorted by (id, ds)."""
    rng = np.random.default_rng([seed, part])
    lengths = rng.integers(100, 301, count)
    ids = np.repeat([f"s{first + i:07d}" for i in range(count)], lengths)
    pos = np.concatenate([np.arange(n) for n in lengths])
    level = np.repeat(rng.uniform(50, 500, count), lengths)
    phase = np.repeat(rng.uniform(0, 2 * np.pi, count), lengths)
    y = level * (1 + 0.2 * np.sin(2 * np.pi * pos / 24 + phase)) + rng.normal(0, 5, len(pos))
    ds = np.datetime64("2024-01-01T00:00") + pos.astype("timedelta64[h]")
    folder = Path(root) / f"bucket={part // 20:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"unique_id": ids, "ds": ds, "y": y.astype(np.float64)})
    frame.to_parquet(folder / f"part-{part:05d}.parquet", index=False, row_group_size=100_000)
    return int(lengths.sum())


def write_dataset(root: Path, n_series: int, n_workers: int) -> float:
    """The dataset, written by the workers (the client never holds it); returns seconds."""
    from distributed import Client, LocalCluster

    if (root / "done.json").exists() and json.loads((root / "done.json").read_text())["series"] == n_series:
        return 0.0
    start = time.perf_counter()
    parts = [(p, p * SERIES_PER_FILE, min(SERIES_PER_FILE, n_series - p * SERIES_PER_FILE))
             for p in range(-(-n_series // SERIES_PER_FILE))]  # fmt: skip
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None) as c, Client(c) as client:
        rows = sum(client.gather([client.submit(write_part, str(root / "data"), *p, pure=False) for p in parts]))
    (root / "done.json").write_text(json.dumps({"series": n_series, "rows": rows}))
    return time.perf_counter() - start


def write_card(catalog: Path, name: str, data: Path) -> None:
    catalog.mkdir(parents=True, exist_ok=True)
    card = {
        "name": name,
        "title": f"synthetic hourly series ({name})",
        "source": {"path": str(data), "format": "parquet"},
        "freq": "h",
        "season_length": 24,
        "horizon": 24,
    }
    import yaml

    (catalog / f"{name}.yaml").write_text(yaml.safe_dump(card, sort_keys=False))


def run_workbench(catalog: Path, name: str, store: Path, n_workers: int, chunk_size: int) -> dict:
    """One `workbench.evaluate` in a fresh process: seconds, the client's peak RSS, the workers' peaks.

    The scheduler and the workers are processes of their own (`dask scheduler`, `dask worker`), as
    on a cluster, so the client's RSS is the workbench's driving process alone: with a LocalCluster
    the scheduler lives in the client and its bookkeeping grows with the run's duration."""
    code = f"""
import json, resource, sys, time, os
os.environ["WORKBENCH_CATALOG"] = {str(catalog)!r}
import workbench
from distributed import Client
from workbench.tasks import Task
address = sys.argv[1]
with Client(address) as c:
    c.wait_for_workers({n_workers}, timeout=120)
task = Task(dataset={name!r}, subset="all", protocol="rolling", n_windows=1)
start = time.perf_counter()
s = workbench.evaluate(task, {MODELS!r}, store={str(store)!r}, scheduler=address, chunk_size={chunk_size},
                       progress=False)
seconds = time.perf_counter() - start
assert s.counts() == {{"ok": s.n_computed}}, s.counts()
peaks = s.records.groupby("worker")["peak_rss_mb"].max().tolist() if s.n_computed else []
# this process's own peak: VmHWM is per address space, while ru_maxrss also counts the parent's image
# that the fork copied before exec (a parent grown by the previous size's leaderboard inflated it)
status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
hwm = [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
peak = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "client_rss_mb": peak,
                  "worker_rss_mb": peaks, "units": s.n_units, "computed": s.n_computed}}))
"""
    env = {**os.environ, "WORKBENCH_CATALOG": str(catalog)}
    with dask_cluster(store.parent, n_workers, env) as address:
        out = subprocess.run(
            [sys.executable, "-c", code, address], capture_output=True, text=True, env=env, check=False
        )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def dask_cluster(folder: Path, n_workers: int, env: dict[str, str]):
    """`dask scheduler` and `dask worker` (n single-threaded worker processes) on 127.0.0.1."""
    dask = str(Path(sys.executable).parent / "dask")
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    logs = open(folder / "cluster.log", "w")  # noqa: SIM115 - closed below
    common = ["--no-dashboard"]
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(scheduler_file)]
    procs = [subprocess.Popen([*scheduler, *common], stdout=logs, stderr=subprocess.STDOUT, env=env)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"the scheduler did not start: see {folder / 'cluster.log'}")
            time.sleep(0.2)
        procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers",
                                       str(n_workers), "--nthreads", "1", "--host", "127.0.0.1", *common],
                                      stdout=logs, stderr=subprocess.STDOUT, env=env))  # fmt: skip
        yield json.loads(scheduler_file.read_text())["address"]
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()


def leaderboard_seconds(store: Path) -> float:
    from workbench.store.sql import leaderboard

    start = time.perf_counter()
    board = leaderboard(store)
    seconds = time.perf_counter() - start
    assert len(board) == len(MODELS) * 2, board
    return seconds


def run_peer(data: Path, n_workers: int) -> dict:
    """statsforecast on Dask through fugue: SeasonalNaive(24) + Theta(24), the last 24 points held out."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive, Theta

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, dashboard_address=None) as c, Client(c):
        ddf = dd.read_parquet(str(data), columns=["unique_id", "ds", "y"])
        # the same window as the workbench's task: forecast the last 24 points of each series from the rest
        cut = ddf.map_partitions(lambda f: f[f.groupby("unique_id").cumcount(ascending=False) >= 24])
        start = time.perf_counter()
        sf = StatsForecast(models=[SeasonalNaive(season_length=24), Theta(season_length=24)], freq="h", n_jobs=1)
        result = sf.forecast(df=cut, h=24)
        n = len(result.compute() if hasattr(result, "compute") else result)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "forecast_rows": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--peer-series", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/million"))
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    sizes = sorted({args.small, args.peer_series, args.series})
    report: dict = {"workers": args.workers, "models": MODELS}
    for n in sizes:
        root = args.root / f"n{n}"
        written = write_dataset(root, n, args.workers)
        name = f"synthetic_{n}"
        write_card(root / "catalog", name, root / "data")
        store = root / "store"
        if store.exists():
            import shutil

            shutil.rmtree(store)
        run = run_workbench(root / "catalog", name, store, args.workers, args.chunk_size)
        run["series_per_s"] = n / run["seconds"]
        run["write_seconds"] = round(written, 1)
        run["leaderboard_s"] = leaderboard_seconds(store)
        report[n] = run
        print(f"{n:>9,} series: {run['seconds']:.1f} s ({run['series_per_s']:,.0f} series/s), client peak "
              f"{run['client_rss_mb']:.0f} MB, worker peaks {[round(x) for x in run['worker_rss_mb']]} MB, "
              f"leaderboard {run['leaderboard_s']:.2f} s", flush=True)  # fmt: skip
    big, small, mid = report[args.series], report[args.small], report[args.peer_series]
    print(f"client peak RSS {args.series:,} / {args.small:,}: {big['client_rss_mb'] / small['client_rss_mb']:.2f}x "
          "(target <= 1.2x)")  # fmt: skip
    print(f"worker peak RSS {args.series:,} / {args.peer_series:,}: "
          f"{max(big['worker_rss_mb']) / max(mid['worker_rss_mb']):.2f}x (target <= 1.2x)")  # fmt: skip
    print(f"leaderboard over {args.series:,} series: {big['leaderboard_s']:.2f} s (target < 5 s)")
    if not args.skip_peer:
        peer = run_peer(args.root / f"n{args.peer_series}" / "data", args.workers)
        peer["series_per_s"] = args.peer_series / peer["seconds"]
        report["statsforecast_dask"] = peer
        ratio = mid["series_per_s"] / peer["series_per_s"]
        print(f"statsforecast on Dask (fugue), {args.peer_series:,} series: {peer['seconds']:.1f} s "
              f"({peer['series_per_s']:,.0f} series/s); the workbench, scored: {mid['series_per_s']:,.0f} series/s "
              f"= {ratio:.2f}x (target >= 3x)")  # fmt: skip
    (args.root / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print(
        f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
        f"report {args.root / 'report.json'}"
    )


if __name__ == "__main__":
    main()
