"""Run a validated notebook sweep in parallel: a local process pool or a Dask cluster.

Every cell is an independent papermill execution in its own kernel, so the pool only has to hand out
small descriptions and collect small records; the executed notebooks and whatever the notebooks write
(e.g. the results store, through `workbench.evaluate`) never travel through this process.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench import __version__
from workbench.engine.cluster import connect
from workbench.storage import atomic_write
from workbench.sweeps.execute import CellResult, cell_complete, run_cell
from workbench.sweeps.spec import NotebookSweep

__all__ = ["SweepSummary", "run_notebook_sweep"]


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep invocation did: cells skipped as complete, and the records of those it ran."""

    sweep: NotebookSweep
    skipped: list[str]
    results: list[CellResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[CellResult]:
        return sorted((r for r in self.results if r["status"] != "ok"), key=lambda r: r["index"])

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        """A plain-text summary: counts, then one line per failed cell with its notebook."""
        n_ok = sum(r["status"] == "ok" for r in self.results)
        out = [
            f"{len(self.sweep.cells)} cells: {len(self.skipped)} already complete, {n_ok} ran ok, "
            f"{len(self.failed)} failed in {self.seconds:.1f} s; notebooks in {self.sweep.output}"
        ]
        for r in self.failed:
            where = f" in cell [{r['failed_cell']}]" if r.get("failed_cell") is not None else ""
            out.append(f"FAILED cell {r['index']} ({r['label']}){where}: {r['error']} -> {r['notebook']}")
        return out


def _cell_args(sweep: NotebookSweep, cell) -> dict[str, Any]:
    return {
        "notebook": str(sweep.notebook),
        "output": str(sweep.output),
        "cell": cell.model_dump(),
        "notebook_sha256": sweep.notebook_sha256,
        "timeout_s": sweep.timeout_s,
    }


def _run_local(sweep: NotebookSweep, todo, workers: int) -> Iterator[CellResult]:
    if workers == 1:  # no pool: spares a process start per sweep, and keeps tracebacks simple
        for cell in todo:
            yield run_cell(**_cell_args(sweep, cell))
        return
    # spawn, not fork: the caller may hold threads (tqdm, a Dask client) that fork would copy mid-state
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_cell, **_cell_args(sweep, cell)) for cell in todo]
        for future in as_completed(futures):
            yield future.result()


def _run_dask(sweep: NotebookSweep, todo, workers: int, scheduler: str | None) -> Iterator[CellResult]:
    from distributed import as_completed as dask_completed

    with connect(scheduler=scheduler, n_workers=workers) as client:
        futures = [
            client.submit(run_cell, **_cell_args(sweep, cell), key=f"notebook-{cell.key}-{time.time_ns()}", pure=False)
            for cell in todo
        ]
        for future in dask_completed(futures):
            yield future.result()


def run_notebook_sweep(
    sweep: NotebookSweep,
    *,
    workers: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Execute every cell not yet complete; failures are recorded and the others go on."""
    workers = workers or sweep.workers
    executor = executor or sweep.executor
    scheduler = scheduler or sweep.scheduler
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    skipped = [c.key for c in sweep.cells if cell_complete(sweep.output, c.key)]
    todo = [c for c in sweep.cells if c.key not in set(skipped)]
    results: list[CellResult] = []
    if todo:
        runs = _run_dask(sweep, todo, workers, scheduler) if executor == "dask" else _run_local(sweep, todo, workers)
        with tqdm(total=len(todo), desc="notebooks", unit="nb", disable=not progress) as bar:
            for record in runs:
                results.append(record)
                bar.update()
                n_failed = sum(r["status"] != "ok" for r in results)
                if n_failed:
                    bar.set_postfix_str(f"{n_failed} failed")
    summary = SweepSummary(sweep, skipped, sorted(results, key=lambda r: r["index"]), time.perf_counter() - start)
    _write_summary(summary, started_at, executor, workers)
    return summary


_SUMMARY_FIELDS = ("index", "key", "label", "status", "error", "duration_s")


def _write_summary(summary: SweepSummary, started_at: str, executor: str, workers: int) -> Path:
    """`sweep.json` beside the notebooks: the last invocation's provenance and per-cell status."""
    sweep = summary.sweep
    record = {
        "source": sweep.source,
        "notebook": str(sweep.notebook),
        "notebook_sha256": sweep.notebook_sha256,
        "workbench_version": __version__,
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(summary.seconds, 3),
        "executor": executor,
        "workers": workers,
        "cells": len(sweep.cells),
        "skipped": summary.skipped,
        "ran": [{k: r.get(k) for k in _SUMMARY_FIELDS} for r in summary.results],
    }
    path = sweep.output / "sweep.json"
    text = json.dumps(record, indent=1, default=str)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
