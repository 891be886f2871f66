"""The engine on a real cluster: distribution, a killed worker, a killed client, corrupted units."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client

from workbench.engine import evaluate
from workbench.sequential import evaluate_sequential
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task

pytestmark = pytest.mark.usefixtures("mirror")
TASKS = [Task(dataset="m4", subset="Hourly"), Task(dataset="m4", subset="Weekly")]
MODELS = ["theta", "damped", "comb"]
KEY = ["task_key", "model", "window", "unique_id", "metric"]


def _n_forecast_records(store: Path) -> int:
    if not (store / "units").exists():
        return 0
    held = ResultsStore(store).records()
    return int((held["kind"] == "forecast").sum()) if len(held) else 0


def _n_workers_committed(store: Path) -> int:
    if not (store / "units").exists():
        return 0
    held = ResultsStore(store).records()
    return int(held["worker"].nunique()) if len(held) else 0


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sequential() -> pd.DataFrame:
    """The single-process reference: the harness's sequential path, no Dask at all."""
    frames = [evaluate_sequential(task, model).assign(subset=task.subset) for task in TASKS for model in MODELS]
    return pd.concat(frames, ignore_index=True)


def _compare_with_sequential(metrics: pd.DataFrame, sequential: pd.DataFrame) -> None:
    assert not metrics.duplicated(KEY).any()
    merged = sequential.merge(metrics, on=KEY, how="outer", suffixes=("_seq", "_dask"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    np.testing.assert_array_equal(merged["value_seq"].to_numpy(), merged["value_dask"].to_numpy())


def test_when_a_worker_is_killed_mid_run_then_the_run_completes_with_identical_results(
    fresh_cluster, tmp_path, sequential
):
    store = tmp_path / "store"
    outcome: dict = {}

    def drive() -> None:
        with Client(fresh_cluster.address) as client:
            outcome["summary"] = evaluate(TASKS, MODELS, client=client, store=store, chunk_size=10, progress=False)

    driver = threading.Thread(target=drive)
    driver.start()
    # kill once both workers have committed units and forecasting is under way
    _wait(lambda: _n_forecast_records(store) >= 5 and _n_workers_committed(store) == 2, timeout=180)
    # who had committed units when the kill came, read from the store then: the records a run hands back
    # cannot say it, since Dask recomputes the lost worker's results on the survivor, whose records replace them
    before_kill = set(ResultsStore(store).records()["worker"])
    victim = fresh_cluster.workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    driver.join(timeout=300)
    summary = outcome["summary"]
    assert summary.n_units == (42 + 36) * 3 and summary.n_computed == summary.n_units
    assert summary.counts() == {"ok": summary.n_units}
    # both workers took part before the kill
    assert len(before_kill) == 2, before_kill
    _compare_with_sequential(summary.metrics(), sequential)


def _run_cli(sweep: Path, address: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "run", str(sweep), "--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_when_the_client_is_killed_then_a_rerun_recomputes_only_what_was_missing(fresh_cluster, tmp_path, sequential):
    store = tmp_path / "store"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "tasks": [t.model_dump(exclude_defaults=True) for t in TASKS],
                "models": MODELS,
                "chunk_size": 10,
                "store": str(store),
            }
        )
    )
    first = _run_cli(sweep, fresh_cluster.address)
    # stop the client once 30 forecast units are committed (series and score units commit beside them)
    _wait(lambda: _n_forecast_records(store) >= 30, timeout=240)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    time.sleep(3)  # tasks already running on the workers finish (their results are committed)
    held = ResultsStore(store).records()
    before = set(held.loc[held["kind"] == "forecast", "key"])
    assert 30 <= len(before) < 234
    second = _run_cli(sweep, fresh_cluster.address)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    records = ResultsStore(store).records()
    records = records[records["kind"] == "forecast"]
    (rerun,) = [r for r in ResultsStore(store).runs().to_dict("records") if r["computed"] > 0 or r["skipped"] > 0]
    recomputed = set(records.loc[records["run_id"] == rerun["run_id"], "key"])
    assert rerun["skipped"] == len(before) and rerun["computed"] == 234 - len(before)
    assert recomputed.isdisjoint(before) and len(recomputed) == rerun["computed"]
    assert len(records) == 234 and set(records["status"]) == {"ok"}
    _compare_with_sequential(ResultsStore(store).metrics(), sequential)


def test_when_a_unit_file_is_corrupt_or_half_written_then_it_is_recomputed(tmp_path):
    store = ResultsStore(tmp_path / "store")
    task = Task(dataset="m4", subset="Weekly")
    first = evaluate(task, "naive2", store=store, chunk_size=100, n_workers=2, progress=False)
    assert first.n_computed == 4
    keys = sorted(first.records["key"])
    corrupted = store.table_path(keys[0], "forecasts")
    corrupted.write_bytes(corrupted.read_bytes()[:-40])  # truncated parquet
    (store.root / "metrics" / f".{keys[1]}.parquet.abc.tmp").write_bytes(b"half")  # a write that never finished
    store.record_path(keys[2]).write_text('{"status": "ok", "key": ')  # a record cut short
    assert store.complete(keys) == {keys[1], keys[3]}  # neither damaged unit is reused
    assert set(store.verify().damaged) == {keys[0], keys[2]}
    second = evaluate(task, "naive2", store=store, chunk_size=100, n_workers=2, progress=False)
    assert sorted(second.records["key"]) == sorted([keys[0], keys[2]])
    assert second.n_skipped == 2
    assert len(store.metrics()) == 359 * 2


def test_when_scheduler_address_comes_from_the_environment_then_the_job_runs_there(shared_cluster, tmp_path):
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": shared_cluster.address}
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"tasks": [{"dataset": "m4", "subset": "Weekly"}], "models": ["naive"]}))
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", str(sweep), "--store", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    pids = ResultsStore(tmp_path / "s").records()["worker"].str.rsplit(":", n=1).str[1].astype(int)
    assert set(pids) <= {w.pid for w in shared_cluster.workers}
