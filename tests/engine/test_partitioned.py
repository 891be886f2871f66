"""Partitioned execution over your own data: no process reads more than its own partitions.

A user card over a partitioned parquet folder (hive `bucket=NN/`) runs on a real LocalCluster of
worker processes; a read spy on every worker and on the client records each read of the data files,
and the results equal the in-memory reference path. CSV cards, pandas and Dask frames go through
the same engine; a rerun computes nothing, and touching a file recomputes that file's units only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from typer.testing import CliRunner

import workbench
from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.sequential import evaluate_sequential
from workbench.sources import open_dataset
from workbench.store.results_store import ResultsStore
from workbench.tasks import Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the spy plugin travels to the workers
runner = CliRunner()
N_FILES, PER_FILE, LENGTH = 40, 4, 72


def _frame(ids: list[str], seed: int, n: int = LENGTH) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        t = np.arange(n)
        y = 100 + 5 * k + 20 * np.sin(2 * np.pi * t / 24 + k) + rng.normal(0, 2, n)
        if k % 3 == 1:  # a count: non-negative integers (the workbench checks them)
            y = np.round(y)
        parts.append(
            pd.DataFrame(
                {
                    "series": uid,
                    "ts": pd.date_range("2024-03-01", periods=n, freq="h"),
                    "value": y,
                    "metric_type": ["gauge", "count", "rate"][k % 3],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _hive(root: Path, n_files: int = N_FILES) -> int:
    """One file per bucket, one row group per series; returns the number of rows written."""
    rows = 0
    for b in range(n_files):
        frame = _frame([f"svc{b:02d}-{i}" for i in range(PER_FILE)], seed=b)
        (root / f"bucket={b:02d}").mkdir(parents=True, exist_ok=True)
        frame.to_parquet(root / f"bucket={b:02d}" / "part-0.parquet", index=False, row_group_size=LENGTH)
        rows += len(frame)
    return rows


def _card(folder: Path, name: str, path: Path, **source) -> None:
    card = {
        "name": name,
        "freq": "h",
        "season_length": 24,
        "horizon": 12,
        "source": {"path": str(path), "id_col": "series", "time_col": "ts", "target_col": "value", **source},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(card))


class ReadSpy(WorkerPlugin):
    """Wraps the one function that reads a user file's rows, in this process, logging each read."""

    def __init__(self, folder: str, data_root: str) -> None:
        self.folder, self.data_root = folder, data_root

    def setup(self, worker=None) -> None:
        import pyarrow.parquet as pq

        import workbench.sources.parquet as reader

        folder, data_root = self.folder, self.data_root
        original, original_table = reader.read_fragment, pq.read_table

        def log(entry: dict) -> None:
            with open(os.path.join(folder, f"{os.getpid()}.jsonl"), "a") as fh:
                fh.write(json.dumps(entry) + "\n")

        def read_fragment(url, storage_options, row_groups, columns):
            table, md = original(url, storage_options, row_groups, columns)
            log({"url": url, "row_groups": row_groups, "columns": columns, "rows": table.num_rows})
            return table, md

        def read_table(source, *args, **kwargs):
            if str(source).startswith(data_root):
                log({"url": str(source), "row_groups": None, "columns": None, "rows": -1})
            return original_table(source, *args, **kwargs)

        reader.read_fragment = read_fragment
        pq.read_table = read_table


def _reads(folder: Path) -> dict[int, list[dict]]:
    return {int(p.stem): [json.loads(line) for line in p.read_text().splitlines()] for p in folder.glob("*.jsonl")}


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "cards"))
    return tmp_path / "cards"


def ref_rows(refs: dict, entry: dict) -> int:
    """The rows of the row groups an id-column read names (a file's row groups are summed over its refs)."""
    wanted = set(entry["row_groups"])
    return sum(r.n_rows for (url, groups), r in refs.items() if url == entry["url"] and wanted & set(groups))


def test_when_a_partitioned_dataset_runs_on_two_workers_then_no_process_reads_more_than_its_partitions(
    tmp_path, catalog
):
    data = tmp_path / "data"
    total = _hive(data)
    _card(catalog, "fleet", data, metadata_cols=["metric_type", "bucket"])
    task = Task(dataset="fleet", protocol="rolling", n_windows=2)
    spy = tmp_path / "spy"
    spy.mkdir()
    ReadSpy(str(spy), str(data)).setup()  # the client too (restored below)
    import pyarrow.parquet as pq

    import workbench.sources.parquet as reader

    saved = reader.read_fragment, pq.read_table
    try:
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            client.register_plugin(ReadSpy(str(spy), str(data)))
            workers = set(client.run(os.getpid).values())
            summary = workbench.evaluate(
                task, ["seasonal_naive"], client=client, store=tmp_path / "store", chunk_size=2, progress=False
            )
    finally:
        reader.read_fragment, pq.read_table = saved
    assert summary.counts() == {"ok": N_FILES * 2}  # 2 units per file, of 2 series (2 row groups) each
    refs = {(r.train, r.row_groups): r for r in open_dataset("fleet").plan(chunk_size=2)}
    by_index = {r.index: r for r in refs.values()}
    reads = _reads(spy)
    assert os.getpid() not in reads, f"the client read the data: {reads.get(os.getpid())}"
    assert set(reads) <= workers
    records = summary.store.records()
    # a chunk's data is read by its forecast unit (its score units reuse those windows) and once by its
    # series unit (what the series are: metadata, counts); the preflight and the planning read id columns
    records = records[records["kind"].isin(["forecast", "series"])]
    data_rows = {}
    for pid, entries in reads.items():
        id_reads = [e for e in entries if e["columns"] == ["series"]]
        data_reads = [e for e in entries if e["columns"] != ["series"]]
        # planning and the preflight read a file's id column, of listed row groups only
        assert all(e["row_groups"] is not None and e["rows"] <= ref_rows(refs, e) for e in id_reads)
        for e in data_reads:  # each unit reads its own row groups, nothing more
            ref = refs[(e["url"], tuple(e["row_groups"]))]
            assert e["rows"] == ref.n_rows == 2 * LENGTH
        ran_here = records[records["worker"] == f"{socket.gethostname()}:{pid}"]
        assert sum(e["rows"] for e in data_reads) == sum(by_index[i].n_rows for c in ran_here["chunks"] for i in c)
        data_rows[pid] = sum(e["rows"] for e in data_reads)
    assert sum(data_rows.values()) == 2 * total  # every partition read twice (forecast, series), each by one unit
    assert len(data_rows) == 2 and max(data_rows.values()) < 2 * total, data_rows  # no process read it all
    engine = summary.metrics()
    reference = evaluate_sequential(task, "seasonal_naive")
    merged = reference.merge(engine, on=["unique_id", "window", "metric"], suffixes=("_ref", ""))
    assert len(merged) == len(reference) == N_FILES * PER_FILE * 2 * 2
    np.testing.assert_allclose(merged["value"], merged["value_ref"], rtol=1e-12)
    assert set(engine["task"]) == {"fleet/all rolling 2x12 step 12 expanding h=12 m=24"}


@pytest.fixture(scope="module")
def dask_client():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


def test_when_user_cards_run_through_workbench_run_then_the_report_shows_them_like_a_catalog_dataset(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    _hive(tmp_path / "data", n_files=6)
    pd.concat([_frame([f"csv-{i}" for i in range(5)], seed=99)]).to_csv(tmp_path / "fleet.csv", index=False)
    cards = tmp_path / "cards"
    _card(cards, "fleet", tmp_path / "data", metadata_cols=["metric_type"])
    _card(cards, "fleet_csv", tmp_path / "fleet.csv")
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {
                "tasks": [
                    {"dataset": "fleet", "protocol": "rolling", "n_windows": 2},
                    {"dataset": "fleet_csv", "protocol": "rolling"},
                ],
                "models": ["seasonal_naive", "naive", "theta"],
                "chunk_size": 3,
                "save_forecasts": True,
            }
        )
    )
    store = tmp_path / "store"
    args = ["run", str(grid), "--store", str(store), "--workers", "2", "--catalog", str(cards)]
    first = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert first.exit_code == 0, first.output
    # fleet: 6 files of 4 one-series row groups, units of 3 + 1 series; the CSV: one converted row group
    assert "39 units, 0 already complete, 39 computed" in first.output
    again = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert again.exit_code == 0 and "39 units, 39 already complete, 0 computed" in again.output
    report = runner.invoke(app, ["report", "--results", str(store), "-o", str(tmp_path / "r.html"), "--n-boot", "20"])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text()
    assert "fleet/all rolling 2x12" in html and "fleet_csv/all rolling 1x12" in html


def test_when_a_file_is_touched_then_only_its_units_are_recomputed(tmp_path, catalog, dask_client):
    data = tmp_path / "data"
    _hive(data, n_files=5)
    _card(catalog, "fleet", data)
    task = Task(dataset="fleet", protocol="rolling")

    def run():
        return workbench.evaluate(
            task, ["naive"], client=dask_client, store=tmp_path / "s", chunk_size=2, progress=False
        )

    assert run().n_computed == 10
    assert run().n_computed == 0
    touched = data / "bucket=03" / "part-0.parquet"
    frame = pd.read_parquet(touched)
    frame.loc[frame["series"] == "svc03-3", "value"] += 1.0  # new bytes (and mtime) in one file
    frame.to_parquet(touched, index=False, row_group_size=LENGTH)
    again = run()
    assert again.n_computed == 2 and again.n_skipped == 8
    assert {c.split("#")[0] for c in _units_of(again)} == {"bucket=03/part-0.parquet"}


def _units_of(summary) -> list[str]:
    refs = {r.index: r for r in open_dataset("fleet").plan(chunk_size=2)}
    return [refs[i].key for chunks in summary.records["chunks"] for i in chunks]


def test_when_a_pandas_or_dask_frame_is_evaluated_then_results_match_and_a_rerun_computes_nothing(
    tmp_path, dask_client
):
    import dask.dataframe as dd

    frame = pd.concat([_frame([f"s{b}-{i}" for i in range(3)], seed=b) for b in range(4)], ignore_index=True)
    canon = frame.rename(columns={"series": "unique_id", "ts": "ds", "value": "y"})
    store = tmp_path / "store"
    fields = {"horizon": 12, "season_length": 24, "protocol": "rolling", "n_windows": 2}
    first = workbench.evaluate(
        canon, ["seasonal_naive"], client=dask_client, store=store, freq="h", chunk_size=5, progress=False, **fields
    )
    assert first.counts() == {"ok": 3}  # 12 series in chunks of 5
    rerun = workbench.evaluate(
        canon, ["seasonal_naive"], client=dask_client, store=store, freq="h", chunk_size=5, progress=False, **fields
    )
    assert rerun.n_computed == 0 and rerun.n_skipped == 3
    task = Task.for_data(canon, freq="h", **fields)
    reference = evaluate_sequential(task, "seasonal_naive")
    ddf = dd.from_pandas(frame, npartitions=3)  # series cut across partitions: shuffled by series
    out = workbench.evaluate(
        ddf,
        ["seasonal_naive"],
        client=dask_client,
        store=store,
        freq="h",
        id_col="series",
        time_col="ts",
        target_col="value",
        metadata_cols=["metric_type"],
        progress=False,
        **fields,
    )
    assert out.counts().get("ok", 0) == out.n_units >= 1
    again = workbench.evaluate(
        ddf,
        ["seasonal_naive"],
        client=dask_client,
        store=store,
        freq="h",
        id_col="series",
        time_col="ts",
        target_col="value",
        metadata_cols=["metric_type"],
        progress=False,
        **fields,
    )
    assert again.n_computed == 0
    metrics = ResultsStore(store).metrics()
    for key in (task.key(), out.records["task_key"].iloc[0]):
        mine = metrics[metrics["task_key"] == key]
        merged = reference.merge(mine, on=["unique_id", "window", "metric"], suffixes=("_ref", ""))
        assert len(merged) == len(reference) == 12 * 2 * 2
        np.testing.assert_allclose(merged["value"], merged["value_ref"], rtol=1e-12)


def test_when_data_and_chunk_cache_are_on_object_storage_then_workers_read_them_there(tmp_path, s3_url, monkeypatch):
    import fsspec

    local = tmp_path / "local"
    _hive(local, n_files=3)
    _frame([f"csv-{i}" for i in range(3)], seed=7).to_csv(tmp_path / "extra.csv", index=False)
    fs = fsspec.filesystem("s3")
    fs.put(str(local) + "/", s3_url.removeprefix("s3://") + "/data/", recursive=True)
    fs.put(str(tmp_path / "extra.csv"), s3_url.removeprefix("s3://") + "/other/extra.csv")
    cards = tmp_path / "cards"
    _card(cards, "remote", f"{s3_url}/data/", metadata_cols=["bucket"])
    _card(cards, "remote_csv", f"{s3_url}/other/extra.csv")
    monkeypatch.setenv(CATALOG_ENV, str(cards))
    monkeypatch.setenv("WORKBENCH_CACHE", f"{s3_url}/cache")
    tasks = [Task(dataset="remote", protocol="rolling"), Task(dataset="remote_csv", protocol="rolling")]
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        run = workbench.evaluate(
            tasks, ["seasonal_naive"], client=c, store=tmp_path / "store", chunk_size=2, progress=False
        )
    assert run.counts() == {"ok": 3 * 2 + 1}
    cached = fs.find(s3_url.removeprefix("s3://") + "/cache")
    assert any("/plans/" in p for p in cached) and any("/converted/" in p for p in cached)
    assert not any(tmp_path.rglob("converted")), "the chunk cache is the URL, not a local folder"
    metrics = run.metrics()
    for task in tasks:
        reference = evaluate_sequential(task, "seasonal_naive")
        mine = metrics[metrics["task_key"] == task.key()]
        merged = reference.merge(mine, on=["unique_id", "window", "metric"], suffixes=("_ref", ""))
        assert len(merged) == len(reference) > 0
        np.testing.assert_allclose(merged["value"], merged["value_ref"], rtol=1e-12)
