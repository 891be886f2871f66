"""`workbench results verify` throughput (MB/s) beside coreutils' sha256sum over the same files.

Uses (or builds, through `results_query.build_store`) the synthetic store of results_query.py.
Both read from the page cache (a warm-up pass reads every file first), so this compares hashing and
per-file overhead, not the disk. sha256sum runs once single-process (`xargs sha256sum`) and once
with as many processes as verify uses threads (`xargs -P`).

Usage: python benchmarks/verify_throughput.py [--store DIR] [--series 100000] [--models 8] [--chunk 500]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_query import build_store

from workbench.store import maintenance


def sha256sum(files: list[Path], processes: int) -> float:
    listing = "\0".join(str(f) for f in files).encode()
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-0", "-n", "200", "-P", str(processes), "sha256sum"],
        input=listing,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--h", type=int, default=24)
    parser.add_argument("--no-forecasts", action="store_true")
    args = parser.parse_args()
    tmp = None
    if args.store is None:
        tmp = tempfile.mkdtemp(prefix="verify-bench-")
        args.store = Path(tmp) / "store"
    try:
        store = build_store(args.store, args.series, args.models, args.chunk, args.h, not args.no_forecasts)
        files = [p for paths in store.tables().values() for p in paths]
        n_bytes = sum(f.stat().st_size for f in files)
        sha256sum(files, 1)  # warm-up: every file in the page cache
        t_sum = sha256sum(files, 1)
        threads = maintenance._HASH_THREADS
        t_sum_p = sha256sum(files, threads)
        started = time.perf_counter()
        report = store.verify()
        t_verify = time.perf_counter() - started
        assert report.ok and report.n_bytes == n_bytes, (report.damaged, report.n_bytes, n_bytes)
        mb = n_bytes / 1e6
        print(f"store {store.root}: {report.n_units} units, {len(files)} files, {mb:.0f} MB")
        print(f"{'hasher':<40}{'seconds':>9}{'MB/s':>8}{'÷ verify':>10}")
        for name, seconds in (
            (f"ResultsStore.verify ({threads} threads)", t_verify),
            ("sha256sum (1 process)", t_sum),
            (f"sha256sum ({threads} processes)", t_sum_p),
        ):
            print(f"{name:<40}{seconds:>9.3f}{mb / seconds:>8.0f}{seconds / t_verify:>9.2f}x")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
