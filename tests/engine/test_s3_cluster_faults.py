"""Object storage end to end: a user dataset on S3, the results store on S3, a real cluster, a killed worker.

moto's standalone S3 server (tests/s3_server.py) runs in a process of its own on 127.0.0.1; the
`dask scheduler` and two `dask worker` processes (`fresh_cluster`, tests/conftest.py) inherit its endpoint and
the user catalog from the environment, read their own partitions from `s3://` and commit their units
to `s3://`. The test waits on the store's state, never on sleeps.
"""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client

from workbench.engine import evaluate
from workbench.sequential import evaluate_sequential
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task

NAME = "s3_metrics"
MODELS = ["theta", "naive"]
KEY = ["task_key", "model", "window", "unique_id", "metric"]
N_FILES, PER_FILE = 8, 24


@pytest.fixture
def s3_dataset(s3_url, tmp_path, monkeypatch):
    """A hive-partitioned parquet dataset of hourly series on S3 and a user card over it."""
    import s3fs

    fs = s3fs.S3FileSystem(use_listings_cache=False)
    rng = np.random.default_rng(7)
    for part in range(N_FILES):
        frames = []
        n = 120 + 10 * part  # one length per file, so row groups of 6 series align with series boundaries
        for i in range(PER_FILE):
            t = np.arange(n)
            y = 100 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 3, n) + 0.05 * t
            ds = pd.date_range("2025-01-01", periods=n, freq="h")
            frames.append(pd.DataFrame({"unique_id": f"host{part:02d}-{i:03d}", "ds": ds, "y": y}))
        path = f"{s3_url}/data/bucket={part % 4}/part-{part:02d}.parquet"
        with fs.open(path, "wb") as fh:  # row groups of 6 series: units read their own row groups
            pd.concat(frames, ignore_index=True).to_parquet(fh, index=False, row_group_size=6 * n)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    card = {"name": NAME, "source": {"path": f"{s3_url}/data"}, "freq": "h", "season_length": 24, "horizon": 24}
    (catalog / f"{NAME}.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("WORKBENCH_CATALOG", str(catalog))  # before the cluster starts: its workers inherit it
    return f"{s3_url}/store"


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_when_a_worker_dies_mid_run_on_s3_then_the_run_completes_identically_and_a_rerun_computes_nothing(
    s3_dataset, fresh_cluster
):
    store = s3_dataset
    task = Task(dataset=NAME, subset="all", protocol="rolling", n_windows=2)
    outcome: dict = {}

    def drive() -> None:
        with Client(fresh_cluster.address) as client:
            outcome["summary"] = evaluate(task, MODELS, client=client, store=store, chunk_size=6, progress=False)

    driver = threading.Thread(target=drive)
    driver.start()
    _wait(lambda: len(ResultsStore(store).committed()) >= 6 or not driver.is_alive(), 300, "6 committed units")
    committed_before_kill = len(ResultsStore(store).committed())
    victim = fresh_cluster.workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    driver.join(timeout=600)
    summary = outcome["summary"]
    n_units = len(MODELS) * N_FILES * PER_FILE // 6
    assert (summary.n_units, summary.n_computed) == (n_units, n_units)
    assert summary.counts() == {"ok": n_units}
    assert committed_before_kill < n_units, "the run ended before the worker was killed"
    assert str(ResultsStore(store).root).startswith("s3://")

    metrics = ResultsStore(store).read_table("metrics")
    sequential = pd.concat([evaluate_sequential(task, m) for m in MODELS], ignore_index=True)
    assert not metrics.duplicated(KEY).any()
    merged = sequential.merge(metrics, on=KEY, how="outer", suffixes=("_seq", "_dask"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    assert merged["unique_id"].nunique() == N_FILES * PER_FILE
    np.testing.assert_array_equal(merged["value_seq"].to_numpy(), merged["value_dask"].to_numpy())

    with Client(fresh_cluster.address) as client:
        again = evaluate(task, MODELS, client=client, store=store, chunk_size=6, progress=False)
    assert (again.n_computed, again.n_skipped) == (0, n_units)
