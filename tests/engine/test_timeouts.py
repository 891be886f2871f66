"""A unit over its timeout is killed and its CPU freed: real child processes, a real single-core Dask worker.

Nothing here waits a fixed time: tests wait for files and process states, each with a deadline.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import psutil
import pytest
import timeout_models
from distributed import Client, LocalCluster

from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel
from workbench.data.synthetic import synthetic_chunk
from workbench.engine import evaluate
from workbench.engine.isolation import IsolationError, UnitTimeout, run_with_deadline
from workbench.engine.runner import plan_units
from workbench.engine.worker import compute_unit
from workbench.models.spec import ModelSpec
from workbench.tasks import Task

TIMEOUT_S = 6.0  # the second unit, in a fresh child, must finish well within it on a loaded machine
HERE = Path(__file__).parent
ROW = ["unique_id", "metric"]


def _chunks(folder: Path, n_chunks: int, size: int) -> list[ChunkRef]:
    refs = []
    for k in range(n_chunks):
        train, test = synthetic_chunk(5, k, size, min_length=60, max_length=120, first_id=k * size)
        train.to_parquet(folder / f"train-{k}.parquet")
        test.to_parquet(folder / f"test-{k}.parquet")
        ids = train.df["unique_id"]
        paths = (str(folder / f"train-{k}.parquet"), str(folder / f"test-{k}.parquet"))
        refs.append(ChunkRef(k, size, *paths, "synthetic-5", ids.min(), ids.max()))
    return refs


def _task() -> Task:
    # a synthetic panel has no catalog card: the task states its horizon and season length itself
    return Task.model_construct(
        dataset="synthetic",
        subset="timeouts",
        protocol="holdout",
        horizon=48,
        season_length=24,
        n_windows=1,
        step=None,
        window="expanding",
        train_length=None,
        metrics=("smape", "mase"),
    )


def _wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s} s")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    """No such process, or a zombie whose reaper (here possibly a container's PID 1) has not collected it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def dask_client():
    """One single-threaded worker process: a hung unit would hold the only core."""
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        c.run(importlib.import_module, "timeout_models")  # the worker knows the test models by name
        yield c


def test_when_a_unit_hangs_past_its_timeout_then_its_process_is_killed_before_the_next_unit_starts(
    tmp_path, dask_client
):
    refs = _chunks(tmp_path, 2, 20)
    task = _task()
    pid_file = tmp_path / "spinner.pid"
    spec = {"name": "test_spin_once", "params": {"pid_file": str(pid_file)}}
    summary = evaluate(
        task,
        [spec],
        client=dask_client,
        store=tmp_path / "s",
        chunks={task.key(): refs},
        timeout_s=TIMEOUT_S,
        progress=False,
    )
    assert summary.counts() == {"timeout": 1, "ok": 1}
    by_status = summary.records.set_index("status")
    hung, done = by_status.loc["timeout"], by_status.loc["ok"]
    assert hung["error"] == f"exceeded {TIMEOUT_S:g} s (the unit's process was killed)"
    assert hung["duration_s"] >= TIMEOUT_S
    spinner = int(pid_file.read_text())
    assert spinner != int(hung["worker"].rsplit(":", 1)[1])  # it spun in a child of the worker, not in the worker
    with pytest.raises(ProcessLookupError):
        os.kill(spinner, 0)  # killed and reaped: its core is free
    assert datetime.fromisoformat(done["started_at"]) >= datetime.fromisoformat(hung["killed_at"])
    # the unit after the killed one computed the right numbers: naive's, on its chunk, in this process
    (reference,) = plan_units([(task, [refs[done["chunks"][0]]])], [ModelSpec(name="naive")])
    expected = compute_unit(reference)[0].sort_values(ROW, ignore_index=True)
    metrics = summary.metrics()
    got = metrics[metrics["forecast_unit"] == done["key"]].sort_values(ROW, ignore_index=True)
    assert len(got) == 20 * 2
    pd.testing.assert_frame_equal(got[[*ROW, "value"]], expected[[*ROW, "value"]])


def test_when_a_model_raises_inside_the_child_then_the_unit_is_an_error_with_its_message(tmp_path, dask_client):
    refs = _chunks(tmp_path, 1, 10)
    task = _task()
    summary = evaluate(
        task,
        "test_boom",
        client=dask_client,
        store=tmp_path / "s",
        chunks={task.key(): refs},
        timeout_s=120,
        progress=False,
    )
    (record,) = summary.records.to_dict("records")
    assert record["status"] == "error"
    assert record["error"] == "ValueError: boom: cannot forecast 10 series"
    assert "timeout_models.py" in record["trace"] and "in predict" in record["trace"]


def test_when_a_unit_finishes_under_its_timeout_then_its_results_equal_the_in_process_ones(tmp_path, dask_client):
    refs = _chunks(tmp_path, 2, 15)
    task = _task()
    runs = {
        timeout: evaluate(
            task,
            ["naive", "theta"],
            client=dask_client,
            store=tmp_path / f"store-{timeout}",
            chunks={task.key(): refs},
            timeout_s=timeout,
            save_forecasts=True,
            progress=False,
        )
        for timeout in (None, 120)
    }
    assert [run.counts() for run in runs.values()] == [{"ok": 4}, {"ok": 4}]
    key = ["unit", *ROW]
    in_process, isolated = (run.metrics().sort_values(key, ignore_index=True) for run in runs.values())
    pd.testing.assert_frame_equal(in_process, isolated)
    forecasts = [Panel.from_long(run.store.forecasts(task.key(), "theta")).df for run in runs.values()]
    pd.testing.assert_frame_equal(*forecasts)


def test_when_the_deadline_passes_then_the_child_is_gone_when_the_call_returns(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(UnitTimeout) as raised:
        run_with_deadline(timeout_models.spin_forever, (str(pid_file),), 1.0)
    assert raised.value.elapsed_s >= 1.0
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_when_the_function_returns_or_raises_then_the_caller_gets_its_value_or_its_exception():
    total, pid = run_with_deadline(timeout_models.add, (2, 3), 60)
    assert total == 5 and pid != os.getpid()
    with pytest.raises(KeyError, match="no such column") as raised:
        run_with_deadline(timeout_models.fail, ("no such column",), 60)
    assert raised.value.child_error == "KeyError: 'no such column'"
    assert "in fail" in raised.value.child_traceback


def test_when_calls_follow_each_other_then_a_child_is_reused_until_it_is_killed(tmp_path):
    first = run_with_deadline(timeout_models.add, (1, 1), 60)[1]
    assert run_with_deadline(timeout_models.add, (1, 2), 60)[1] == first  # warm: no new process per call
    with pytest.raises(UnitTimeout) as raised:
        run_with_deadline(timeout_models.spin_forever, (str(tmp_path / "pid"),), 0.5)
    assert raised.value.pid == first == int((tmp_path / "pid").read_text())
    assert run_with_deadline(timeout_models.add, (1, 3), 60)[1] != first


def test_when_the_child_dies_without_a_result_then_the_error_says_how():
    with pytest.raises(IsolationError, match="exit code 3"):
        run_with_deadline(timeout_models.die, (3,), 60)


def test_when_the_parent_is_killed_then_its_child_stops_computing(tmp_path):
    pid_file = tmp_path / "pid"
    code = (
        "import sys, timeout_models\n"
        "from workbench.engine.isolation import run_with_deadline\n"
        "run_with_deadline(timeout_models.spin_forever, (sys.argv[1],), 600)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", code, str(pid_file)], env=env)
    try:
        _wait_until(pid_file.exists, 120, "the child to start spinning")
        child = int(pid_file.read_text())
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
        _wait_until(lambda: _gone(child), 30, f"the orphaned child {child} to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=60)
