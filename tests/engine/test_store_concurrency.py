"""Several OS processes writing into one results store at once: every unit ends whole (all of its files
and its record from one writer), none is lost or duplicated, and a writer killed mid-commit leaves
nothing half-visible."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import yaml

from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard, sql

N_UNITS = 60
N_SERIES = 25


def _unit_tables(key: str, writer: str) -> dict[str, pd.DataFrame]:
    ids = [f"{key}-{i}" for i in range(N_SERIES)]
    rng = np.random.default_rng()
    metrics = pd.DataFrame(
        {"task_key": "t", "task": "toy", "model": "m", "window": 0, "unique_id": ids, "metric": "mase"}
        | {"value": rng.random(N_SERIES), "writer": writer}
    )
    forecasts = pd.DataFrame({"task_key": "t", "model": "m", "unique_id": np.repeat(ids, 4), "writer": writer})
    forecasts["y_hat"] = rng.random(len(forecasts))
    scores = pd.DataFrame({"unique_id": ids, "row": 0, "anomaly_score": rng.random(N_SERIES), "writer": writer})
    return {"metrics": metrics, "forecasts": forecasts, "detection_scores": scores}


def _write_all(root: str, writer: str, keys: list[str], start) -> None:
    store = ResultsStore(root)
    start.wait()  # every writer begins at once
    for key in keys:
        store.write_unit(key, _unit_tables(key, writer), {"kind": "forecast", "writer": writer})


def _write_until_killed(root: str, committed) -> None:
    store = ResultsStore(root)
    for i in range(1_000_000):
        key = f"k{i:06d}"
        store.write_unit(key, _unit_tables(key, "solo"), {"kind": "forecast", "writer": "solo"})
        committed.put(key)


def test_when_processes_write_the_same_units_at_once_then_every_unit_is_whole_and_counted_once(tmp_path):
    ctx = mp.get_context("spawn")
    root = str(tmp_path / "store")
    keys = [f"u{i:03d}" for i in range(N_UNITS)]
    orders = {"w0": keys, "w1": keys, "w2": keys[::-1]}
    start = ctx.Barrier(len(orders))
    procs = [ctx.Process(target=_write_all, args=(root, w, order, start)) for w, order in orders.items()]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0]

    store = ResultsStore(root)
    report = store.verify()
    assert report.ok, report.damaged
    assert report.n_units == N_UNITS
    records = store.committed()
    assert sorted(r["key"] for r in records) == keys
    for record in records:  # all of a unit's tables come from the writer its record names
        for name in ("metrics", "forecasts", "detection_scores"):
            writers = set(pd.read_parquet(store.root / record["tables"][name]["path"])["writer"])
            assert writers == {record["writer"]}, (record["key"], name, writers)
    counts = sql("SELECT count(*) AS n, count(DISTINCT unique_id) AS ids FROM metrics", store).iloc[0]
    assert counts["n"] == counts["ids"] == N_UNITS * N_SERIES
    by_unit = sql("SELECT unit, count(DISTINCT writer) AS w FROM forecasts GROUP BY unit", store)
    assert len(by_unit) == N_UNITS and (by_unit["w"] == 1).all()
    assert leaderboard(store)["n_series"].item() == N_UNITS * N_SERIES  # no duplicate refused
    losers = len(report.orphans)
    assert losers == 2 * N_UNITS * 3  # each loser wrote its own three files per unit; no temporary left
    assert len(store.gc(min_age_s=0)) == losers and store.verify().ok


def test_when_a_writer_is_killed_mid_commit_then_every_committed_unit_is_intact(tmp_path):
    ctx = mp.get_context("spawn")
    root = str(tmp_path / "store")
    committed = ctx.Queue()
    proc = ctx.Process(target=_write_until_killed, args=(root, committed))
    proc.start()
    try:
        seen = [committed.get(timeout=120) for _ in range(15)]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    store = ResultsStore(root)
    report = store.verify()
    assert report.ok, report.damaged
    keys = {r["key"] for r in store.committed()}
    assert set(seen) <= keys
    assert store.complete(sorted(keys)) == keys
    assert sql("SELECT count(*) AS n FROM metrics", store)["n"].item() == len(keys) * N_SERIES
    assert all(path.endswith(".tmp") or path.startswith(("metrics/", "forecasts/", "detection_scores/"))
               for path in report.orphans)  # fmt: skip


def test_when_two_runs_of_one_grid_share_a_store_at_once_then_each_unit_is_committed_whole_once(tmp_path, mirror):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {"tasks": [{"dataset": "m4", "subset": "Weekly"}], "models": ["naive", "seasonal_naive"], "chunk_size": 90}
        )
    )
    store_dir = tmp_path / "store"
    command = [sys.executable, "-m", "workbench.cli", "run", str(grid), "--store", str(store_dir), "--workers", "1"]
    env = {**os.environ, "COLUMNS": "200"}
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    store = ResultsStore(store_dir)
    report = store.verify()
    assert report.ok, report.damaged
    records = [r for r in store.committed() if r["kind"] == "forecast"]
    # 359 series in chunks of 90, two models; each forecast unit with a score unit per metric (smape, mase),
    # and one series unit per chunk (whatever the models)
    assert len(records) == 2 * 4 and report.n_units == 2 * 4 * 3 + 4
    assert len(store.runs()) == 2
    counts = sql(
        "SELECT model, metric, count(*) AS n, count(DISTINCT unique_id) AS ids FROM metrics GROUP BY ALL", store
    )
    assert (counts["n"] == 359).all() and (counts["ids"] == 359).all()
    board = leaderboard(store)  # no duplicated row: this would raise
    assert set(board["model"]) == {"naive", "seasonal_naive"} and (board["n_series"] == 359).all()
