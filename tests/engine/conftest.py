"""A real Dask cluster for engine tests: `dask scheduler` and two `dask worker` processes on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"gave up waiting for {what} after {timeout} s")


@pytest.fixture
def cluster(tmp_path: Path, mirror: Path):
    """Scheduler + 2 single-threaded workers, separate processes, torn down after the test."""
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed in teardown
    scheduler = subprocess.Popen(
        [
            DASK,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        ],
        stdout=logs,
        stderr=subprocess.STDOUT,
        env=env,
    )
    procs = [scheduler]
    try:
        _wait_for(scheduler_file.exists, 60, "the scheduler file")
        workers = [
            subprocess.Popen(
                [
                    DASK,
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{i}",
                    "--no-nanny",
                ],
                stdout=logs,
                stderr=subprocess.STDOUT,
                env=env,
            )
            for i in range(2)
        ]
        procs += workers
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            address = client.scheduler.address
        yield Cluster(address, scheduler, workers)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        logs.close()
