"""Notebook sweeps: what one papermill execution costs, and how a sweep scales with workers.

Two measurements, each taken within one run (these machines are noisy):

1. per-notebook overhead: a notebook whose only work is `y = x + 1`, executed through the sweep's
   own `run_cell` (parameter injection, kernel start, execution, kernel shutdown, output notebook and
   completion record) several times in a row; the median is the overhead (target <= 3 s);
2. speed-up: the same 20-cell sweep of a CPU-bound notebook (each cell spins for `--work` seconds of
   CPU time) with 1 and with 2 workers of the local pool, each into a fresh output folder
   (target >= 1.7x on 2 workers).

Usage: python benchmarks/sweep_overhead.py [--repeats 5] [--cells 20] [--work 1.0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from workbench.sweeps import load_notebook_sweep, run_cell, run_notebook_sweep


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 0\nwork = 0.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def overhead(folder: Path, repeats: int) -> list[float]:
    """Wall seconds of `run_cell` on a trivial notebook, measured around the whole call."""
    source = _notebook(folder / "trivial.ipynb", "y = x + 1")
    times = []
    for i in range(repeats + 1):  # the first run warms the file cache; it is not counted
        cell = {"index": i, "key": f"trivial{i:04d}", "label": f"x={i}", "parameters": {"x": i}}
        start = time.perf_counter()
        record = run_cell(str(source), str(folder / "overhead"), cell)
        elapsed = time.perf_counter() - start
        assert record["status"] == "ok", record["error"]
        if i:
            times.append(elapsed)
    return times


def sweep_seconds(folder: Path, cells: int, work: float, workers: int) -> float:
    """Wall seconds of `run_notebook_sweep` over `cells` CPU-bound cells with `workers` workers."""
    source = _notebook(
        folder / "busy.ipynb",
        "import time\nstart = time.process_time()\nwhile time.process_time() - start < work:\n    pass",
    )
    spec = folder / f"sweep-{workers}.yaml"
    spec.write_text(
        json.dumps({"notebook": source.name, "output": str(folder / f"out-{workers}"),
                    "parameters": {"work": work}, "grid": {"x": list(range(cells))}})
    )  # fmt: skip
    sweep = load_notebook_sweep(spec)
    start = time.perf_counter()
    summary = run_notebook_sweep(sweep, workers=workers, executor="local", progress=False)
    elapsed = time.perf_counter() - start
    assert summary.ok and len(summary.results) == cells, summary.lines()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--work", type=float, default=1.0, help="CPU seconds per cell of the scaling sweep")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = overhead(folder, args.repeats)
        one = sweep_seconds(folder, args.cells, args.work, 1)
        two = sweep_seconds(folder, args.cells, args.work, 2)
    result = {
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "overhead_s": {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": times},
        "sweep": {
            "cells": args.cells,
            "work_s": args.work,
            "one_worker_s": one,
            "two_workers_s": two,
            "speedup": one / two,
        },
    }
    print(
        f"per-notebook overhead: median {result['overhead_s']['median']:.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs; target <= 3 s)"
    )
    load = os.getloadavg()[0]
    print(f"{args.cells}-cell sweep, {args.work} s CPU per cell: 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
          f"speed-up {one / two:.2f}x (target >= 1.7x); {os.cpu_count()} cores, load {load:.1f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
