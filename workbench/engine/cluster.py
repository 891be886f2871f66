"""The one way the workbench gets a Dask client: forecasting, detection and notebook sweeps alike.

An existing client is used as is; else a scheduler address (argument, dask's `scheduler-address`
config or DASK_SCHEDULER_ADDRESS); else an embedded LocalCluster of single-threaded worker
processes, one per core unless told otherwise (each unit or notebook is single-threaded, so one
per core keeps the machine busy without oversubscribing it).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import dask

__all__ = ["connect"]


MALLOC_TRIM: str | None = None  # the engine's workers' MALLOC_TRIM_THRESHOLD_, None: glibc's default (see `connect`)


@contextlib.contextmanager
def connect(client: Any = None, scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Any]:
    """A Dask client for the duration of the block (closing only what it opened)."""
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    address = scheduler or dask.config.get("scheduler-address", None)
    if address:
        with Client(address, timeout="30s") as c:
            yield c
        return
    workers = n_workers or os.cpu_count() or 1
    # Dask's nannies give their workers MALLOC_TRIM_THRESHOLD_=65536. Setting it at all turns off glibc's
    # dynamic mmap threshold, so every array over 128 KiB is mapped on allocation and unmapped on free:
    # a model that allocates and frees large arrays on every call (statsforecast's AutoETS) then faults
    # its pages back in every time, in system CPU seconds that tripled its cost per series and that a
    # plain process never pays (benchmarks/m4_hourly_cost.py --malloc-trim 65536). The engine's workers
    # keep glibc's defaults (`MALLOC_TRIM`: None), which still return freed memory to the system.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    if MALLOC_TRIM is not None:
        environ["MALLOC_TRIM_THRESHOLD_"] = MALLOC_TRIM
    # distributed's own loggers at ERROR: its shutdown notices ("Worker process still alive after 4.0
    # seconds, killing" on a loaded machine) are not the run's and would land in executed notebooks
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c
