"""The results store on object storage: a real S3 endpoint (moto's server on 127.0.0.1, see
tests/s3_server.py) and fsspec's memory filesystem hold the same layout, commit the same way, and
answer the same queries as a local folder; the engine writes to it from Dask worker processes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import storage
from workbench.cli import app
from workbench.data.chunks import ChunkRef
from workbench.data.synthetic import synthetic_chunk
from workbench.engine import evaluate
from workbench.errors import WorkbenchError
from workbench.store.kinds import KINDS
from workbench.store.results_store import ResultsStore
from workbench.store.sql import detection_leaderboard, leaderboard, sql
from workbench.tasks import Task

runner = CliRunner()
WORKBENCH = str(Path(sys.executable).parent / "workbench")


def _tables(key: str, n: int = 4, shift: float = 0.0) -> dict[str, pd.DataFrame]:
    ids = [f"{key}-s{i}" for i in range(n)]
    return {
        "metrics": pd.DataFrame(
            {"task_key": "t", "task": "toy holdout h=2", "model": f"m{int(shift)}", "window": 0, "unique_id": ids}
            | {"metric": "mase", "value": np.arange(n, dtype=float) + shift}
        ),
        "forecasts": pd.DataFrame(
            {"task_key": "t", "model": "m", "window": 0, "unique_id": np.repeat(ids, 2)}
            | {"ds": pd.date_range("2020-01-01", periods=2 * n, freq="h"), "y_hat": np.linspace(0, 1, 2 * n)}
        ),
        "detection_scores": pd.DataFrame(
            {"task_key": "d", "model": "m", "unique_id": "item", "row": np.arange(n), "anomaly_score": np.ones(n)}
        ),
        "detection_metrics": pd.DataFrame(
            {"task_key": "d", "model": f"m{int(shift)}", "unique_id": [None, None], "metric": ["nab", "f1"]}
            | {"value": [42.0 + shift, 0.5], "higher_is_better": [True, True]}
        ),
        "claims": pd.DataFrame(
            {"paper": ["p"], "table": ["2"], "method": ["x"], "metric": ["mse"], "claimed": [0.3]}
            | {"reproduced": [0.31], "tolerance": [0.02], "status": ["match"], "note": [""]}
        ),
        "custom_rows": pd.DataFrame({"a": [1, 2, 3]}),
    }


def _fill(store: ResultsStore) -> dict[str, dict]:
    """Three units of every table kind (a, b, c: models m0, m1, m2), one per record kind."""
    return {
        key: store.write_unit(key, _tables(key, shift=float(i)), {"kind": KINDS[i % len(KINDS)], "run_id": "r1"})
        for i, key in enumerate("abc")
    }


def _s3fs():
    import s3fs

    return s3fs.S3FileSystem(use_listings_cache=False)


@pytest.fixture
def memory_url():
    from fsspec.implementations.memory import MemoryFileSystem

    url = f"memory://workbench-{os.urandom(6).hex()}"
    yield url
    fs = MemoryFileSystem()
    if fs.exists(url):
        fs.rm(url, recursive=True)


# ---- URLs and where a store lives ---------------------------------------------------------------------
def test_when_a_root_is_named_then_paths_and_file_urls_stay_local_and_others_are_urls(tmp_path):
    assert storage.location(str(tmp_path)) == tmp_path
    assert storage.location(f"file://{tmp_path}") == tmp_path
    assert storage.location("s3://bucket/results/") == "s3://bucket/results"
    assert storage.is_url("s3://b/x") and storage.is_url("memory://x") and not storage.is_url(tmp_path)
    store = ResultsStore("s3://bucket/results")
    assert store.remote and store.path("units/k.json") == "s3://bucket/results/units/k.json"
    assert store.relative("s3://bucket/results/metrics/x.parquet") == "metrics/x.parquet"
    assert not ResultsStore(tmp_path).remote


def test_when_workbench_storage_options_is_not_json_then_the_error_names_it(monkeypatch):
    monkeypatch.setenv(storage.OPTIONS_ENV, "{endpoint")
    with pytest.raises(ValueError, match=storage.OPTIONS_ENV):
        ResultsStore("memory://x").committed()


# ---- fsspec's memory filesystem: the remote code path without a server ------------------------------
def test_when_every_table_kind_is_written_to_memory_then_it_reads_back_and_queries_match_local(memory_url, tmp_path):
    remote, local = ResultsStore(memory_url), ResultsStore(tmp_path / "s")
    written = _fill(remote)
    _fill(local)
    assert [r["key"] for r in remote.committed()] == ["a", "b", "c"]
    assert remote.complete("abc") == {"a", "b", "c"} and remote.verify().ok
    for name, frame in _tables("a").items():
        back = remote.read_table(name, ["a"])
        assert len(back) == len(frame) == written["a"]["tables"][name]["n_rows"]
    pd.testing.assert_frame_equal(leaderboard(remote), leaderboard(local))
    query = "SELECT model, sum(value) AS s FROM metrics GROUP BY model ORDER BY model"
    pd.testing.assert_frame_equal(sql(query, remote), sql(query, local))


# ---- a real S3 endpoint ------------------------------------------------------------------------------
def test_when_every_table_kind_is_written_to_s3_then_each_object_reads_back_with_its_hash(s3_url):
    store = ResultsStore(s3_url)
    written = _fill(store)
    fs = _s3fs()
    for key, record in written.items():
        assert store.record(key) == record
        for name, entry in record["tables"].items():
            url = f"{s3_url}/{entry['path']}"
            data = fs.cat_file(url)
            assert storage.sha256_file(url) == entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["path"].startswith(f"{name}/{key}-")
            assert len(pd.read_parquet(io.BytesIO(data))) == entry["n_rows"]
    assert store.read_table("claims")["unit"].tolist() == ["a", "b", "c"]
    assert set(store.records()["kind"]) == set(KINDS[:3])
    assert store.complete(["a", "b", "c", "nope"]) == {"a", "b", "c"}
    report = store.verify()
    assert report.ok and report.n_units == 3 and report.n_files == 18 and report.orphans == []


def test_when_the_store_is_named_by_workbench_results_then_the_url_is_used(s3_url, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RESULTS", s3_url)
    ResultsStore().write_unit("a", _tables("a"), {"kind": "forecast"})
    assert ResultsStore().root == s3_url and [r["key"] for r in ResultsStore(s3_url).committed()] == ["a"]


def test_when_the_endpoint_comes_only_from_workbench_storage_options_then_the_store_reaches_it(
    s3_server, s3_url, monkeypatch
):
    import fsspec.config

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setitem(fsspec.config.conf, "s3", {})
    monkeypatch.setenv(storage.OPTIONS_ENV, json.dumps({"endpoint_url": s3_server.endpoint}))
    store = ResultsStore(s3_url)
    store.write_unit("a", _tables("a"), {"kind": "forecast"})
    assert store.complete(["a"]) == {"a"} and len(leaderboard(store)) == 1


def test_when_a_data_object_is_missing_then_the_unit_is_not_complete_and_verify_names_it(s3_url):
    store = ResultsStore(s3_url)
    written = _fill(store)
    gone = written["b"]["tables"]["forecasts"]["path"]
    _s3fs().rm_file(f"{s3_url}/{gone}")
    assert store.complete(["a", "b", "c"]) == {"a", "c"}
    assert store.record("b", verify=True) is None and store.record("b") is not None
    report = store.verify()
    assert report.damaged == {"b": f"forecasts: file {gone} missing"}


def test_when_an_object_is_damaged_then_verify_names_it_and_the_cli_exits_1(s3_url):
    store = ResultsStore(s3_url)
    written = _fill(store)
    damaged = written["c"]["tables"]["metrics"]["path"]
    fs = _s3fs()
    data = bytearray(fs.cat_file(f"{s3_url}/{damaged}"))
    data[len(data) // 2] ^= 0xFF
    fs.pipe_file(f"{s3_url}/{damaged}", bytes(data))
    report = store.verify()
    assert report.damaged == {"c": f"metrics: file {damaged} does not match its recorded sha256"}
    assert store.complete("abc") == {"a", "b"}
    result = runner.invoke(app, ["results", "verify", "--store", s3_url], env={"COLUMNS": "300"})
    assert result.exit_code == 1 and "damaged c" in result.output and damaged in result.output


def test_when_records_are_read_again_then_only_changed_ones_are_fetched_and_rewrites_and_edits_are_seen(
    s3_url, monkeypatch
):
    import s3fs

    store = ResultsStore(s3_url)
    _fill(store)
    assert [r["key"] for r in store.committed()] == ["a", "b", "c"]
    fetched = []
    real = s3fs.S3FileSystem._cat_file

    async def counting(self, path, *args, **kwargs):
        fetched.append(path.rsplit("/", 1)[-1])
        return await real(self, path, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_cat_file", counting)
    assert [r["key"] for r in store.committed()] == ["a", "b", "c"] and fetched == []
    assert store.complete(["a", "zzz"]) == {"a"} and not any(name.endswith(".json") for name in fetched)
    rewritten = store.write_unit("b", _tables("b", shift=7.0), {"kind": "forecast"})
    fetched.clear()
    assert {r["key"]: r for r in store.committed()}["b"] == rewritten and fetched == ["b.json"]
    record = f"{s3_url}/units/c.json"
    text = _s3fs().cat_file(record).replace(b'"run_id": "r1"', b'"run_id": "r2"')
    _s3fs().pipe_file(record, text)
    assert [r["key"] for r in store.committed()] == ["a", "b"]
    assert store.verify().damaged == {"c": "record edited after commit (record_sha256 mismatch)"}


def test_when_a_unit_is_cut_short_before_its_record_then_it_stays_invisible_and_gc_removes_its_objects(
    s3_url, monkeypatch
):
    store = ResultsStore(s3_url)
    puts = []
    real_put = storage.put

    def put(url, data):
        puts.append(url)
        if "/units/" in url:
            raise ConnectionError("the writer died before its record")
        real_put(url, data)

    monkeypatch.setattr(storage, "put", put)
    with pytest.raises(ConnectionError):
        store.write_unit("b", _tables("b"), {"kind": "forecast"})
    monkeypatch.undo()
    assert puts[-1] == f"{s3_url}/units/b.json" and len(puts) == 7  # six data objects, each before the record
    assert store.exists() and store.committed() == [] and store.complete(["b"]) == set()
    with pytest.raises(WorkbenchError, match="no committed unit"):
        sql("SELECT 1", store)
    store.write_unit("a", _tables("a"), {"kind": "forecast"})
    assert [r["key"] for r in store.committed()] == ["a"] and store.complete(["a", "b"]) == {"a"}
    report = store.verify()
    assert report.ok and len(report.orphans) == 6 and all(o.startswith(tuple(_tables("b"))) for o in report.orphans)
    assert store.gc(min_age_s=3600) == []
    removed = store.gc(min_age_s=0)
    assert sorted(store.relative(p) for p in removed) == sorted(report.orphans)
    assert store.verify().orphans == [] and store.complete(["a"]) == {"a"}


def test_when_the_leaderboards_are_asked_over_s3_then_they_equal_the_same_store_written_locally(s3_url, tmp_path):
    remote, local = ResultsStore(s3_url), ResultsStore(tmp_path / "s")
    _fill(remote)
    _fill(local)
    for table in ("metrics", "forecasts", "detection_scores", "detection_metrics", "claims", "custom_rows"):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        pd.testing.assert_frame_equal(sql(query, remote), sql(query, local))
    pd.testing.assert_frame_equal(leaderboard(remote), leaderboard(local))
    pd.testing.assert_frame_equal(detection_leaderboard(remote), detection_leaderboard(local))
    units = "SELECT key, kind, status, superseded FROM units ORDER BY key"
    pd.testing.assert_frame_equal(sql(units, remote), sql(units, local))
    with pytest.raises(WorkbenchError, match="no such folder"):
        leaderboard(ResultsStore(f"{s3_url}-nothing-here"))


def test_when_the_cli_is_pointed_at_s3_in_a_subprocess_then_leaderboard_sql_and_gc_answer(s3_url, tmp_path):
    remote, local = ResultsStore(s3_url), ResultsStore(tmp_path / "s")
    _fill(remote)
    _fill(local)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [WORKBENCH, "results", *args, "--store", s3_url], capture_output=True, text=True, timeout=120
        )

    board = cli("leaderboard", "--csv")
    assert board.returncode == 0, board.stderr + board.stdout
    expected = leaderboard(local)
    got = pd.read_csv(io.StringIO(board.stdout))
    pd.testing.assert_frame_equal(got[["task_key", "model", "metric", "value"]], expected[got.columns[[0, 2, 3, 4]]])
    counted = cli("sql", "SELECT count(*) AS n FROM metrics", "--csv")
    assert counted.returncode == 0 and counted.stdout.split() == ["n", "12"]
    gc = cli("gc", "--min-age", "0", "--dry-run")
    assert gc.returncode == 0 and "0 orphan file(s) would be removed" in gc.stdout


# ---- the engine, on worker processes, into S3 -------------------------------------------------------------
def _synthetic(folder: Path, n_chunks: int = 2, size: int = 8) -> tuple[Task, list[ChunkRef]]:
    refs = []
    for k in range(n_chunks):
        train, test = synthetic_chunk(5, k, size, min_length=60, max_length=100, first_id=k * size)
        train.to_parquet(folder / f"train-{k}.parquet")
        test.to_parquet(folder / f"test-{k}.parquet")
        ids = train.df["unique_id"]
        paths = [str(folder / f"{split}-{k}.parquet") for split in ("train", "test")]
        refs.append(ChunkRef(k, size, *paths, "s3-test", ids.min(), ids.max()))
    task = Task.model_construct(
        dataset="synthetic",
        subset="s3",
        protocol="holdout",
        horizon=48,
        season_length=24,
        n_windows=1,
        step=None,
        window="expanding",
        train_length=None,
        metrics=("smape", "mase"),
    )
    return task, refs


def test_when_the_engine_runs_into_s3_on_worker_processes_then_a_rerun_computes_nothing(s3_url, tmp_path):
    from distributed import Client, LocalCluster

    task, refs = _synthetic(tmp_path)
    models = ["naive", "seasonal_naive"]
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        first = evaluate(task, models, client=client, store=s3_url, chunks={task.key(): refs}, progress=False)
        again = evaluate(task, models, client=client, store=s3_url, chunks={task.key(): refs}, progress=False)
        local = evaluate(task, models, client=client, store=tmp_path / "s", chunks={task.key(): refs}, progress=False)
    assert first.counts() == {"ok": 4}
    assert again.n_computed == 0 and again.n_skipped == 4
    store = ResultsStore(s3_url)
    assert len(store.runs()) == 2 and store.verify().ok
    committed_by = {r["committed_by"].split(":")[1] for r in store.committed()}
    assert str(os.getpid()) not in committed_by  # the workers, not the client, wrote the units
    cols = ["task_key", "model", "metric", "value", "n_series", "n_undefined"]
    pd.testing.assert_frame_equal(leaderboard(store)[cols], leaderboard(local.store)[cols])
    assert leaderboard(store).set_index(["model", "metric"]).loc[("naive", "smape"), "n_series"] == 16
