"""The results store on one process: every table kind round trips, commits are content-addressed and
checked, damage is found by verify and recomputed by resume, queries never hash a data file."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench import storage
from workbench.cli import app
from workbench.store.kinds import KINDS
from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard, sql

runner = CliRunner()


def _tables(key: str, n: int = 5) -> dict[str, pd.DataFrame]:
    ids = [f"{key}-s{i}" for i in range(n)]
    return {
        "metrics": pd.DataFrame(
            {"task_key": "t", "task": "toy holdout h=2", "model": "m", "window": 0, "unique_id": ids}
            | {"metric": "mase", "value": np.arange(n, dtype=float)}
        ),
        "forecasts": pd.DataFrame(
            {"task_key": "t", "model": "m", "window": 0, "unique_id": np.repeat(ids, 2)}
            | {"ds": pd.date_range("2020-01-01", periods=2 * n, freq="h"), "y_hat": np.linspace(0, 1, 2 * n)}
        ),
        "detection_scores": pd.DataFrame(
            {"task_key": "d", "model": "m", "unique_id": "item", "row": np.arange(n), "anomaly_score": np.ones(n)}
        ),
        "detection_metrics": pd.DataFrame(
            {"task_key": "d", "model": "m", "unique_id": [None, "item"], "metric": ["nab", "f1"]}
            | {"value": [42.0, 0.5], "higher_is_better": [True, True]}
        ),
        "claims": pd.DataFrame(
            {"paper": ["p"], "table": ["2"], "method": ["x"], "metric": ["mse"], "claimed": [0.3]}
            | {"reproduced": [0.31], "tolerance": [0.02], "status": ["match"], "note": [""]}
        ),
        "custom_rows": pd.DataFrame({"a": [1, 2, 3]}),
    }


def test_when_every_table_kind_is_written_then_each_reads_back_with_its_hash_and_row_count(tmp_path):
    store = ResultsStore(tmp_path / "s")
    tables = _tables("u1")
    record = store.write_unit("u1", tables, {"kind": "forecast", "model": "m", "run_id": "r"})
    assert record["status"] == "ok" and record["store_format"] == 3
    for name, frame in tables.items():
        entry = record["tables"][name]
        assert re.fullmatch(rf"{name}/u1-[0-9a-f]{{16}}\.parquet", entry["path"])
        data = (store.root / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and entry["sha256"][:16] in entry["path"]
        assert entry["n_rows"] == len(frame) and entry["bytes"] == len(data)
        back = store.read_table(name)
        assert (back["unit"] == "u1").all()
        pd.testing.assert_frame_equal(back.drop(columns="unit"), frame, check_dtype=False)
    assert store.record("u1") == record == json.loads(store.record_path("u1").read_text())
    assert not list(store.root.rglob("*.tmp"))
    assert store.complete(["u1", "nope"]) == {"u1"}
    assert store.verify().ok


def test_when_a_unit_ended_in_error_then_its_record_has_no_tables_and_retry_recomputes_it(tmp_path):
    store = ResultsStore(tmp_path)
    store.write_unit("bad", {"metrics": pd.DataFrame(), "forecasts": None}, {"kind": "forecast", "status": "error"})
    assert store.record("bad")["tables"] == {}
    assert store.complete(["bad"]) == {"bad"}
    assert store.complete(["bad"], retry_failed=True) == set()


@pytest.mark.parametrize(
    ("tables", "record", "message"),
    [
        ({}, {}, "kind"),
        ({}, {"kind": "forcast"}, "kind"),
        ({}, {"kind": "forecast", "status": "done"}, "status"),
        ({"Metrics": pd.DataFrame({"a": [1]})}, {"kind": "forecast"}, "table name"),
        ({"units": pd.DataFrame({"a": [1]})}, {"kind": "forecast"}, "table name"),
        ({}, {"kind": "forecast", "key": "other"}, "differs"),
        ({"metrics": pd.DataFrame({"unit": ["other"]})}, {"kind": "forecast"}, "unit"),
    ],
)
def test_when_a_unit_is_malformed_then_nothing_is_written(tmp_path, tables, record, message):
    store = ResultsStore(tmp_path / "s")
    with pytest.raises(ValueError, match=message):
        store.write_unit("u1", tables, record)
    assert not store.record_path("u1").exists()
    assert set(KINDS) == {"forecast", "score", "series", "ltsf", "detection", "paper", "published"}


def test_when_a_unit_key_is_not_a_file_name_then_it_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unit key"):
        ResultsStore(tmp_path).write_unit("../x", {}, {"kind": "paper"})


def _three_units(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "s")
    for key in ("a", "b", "c"):
        store.write_unit(key, _tables(key), {"kind": "forecast"})
    return store


def test_when_a_data_file_is_damaged_then_verify_names_the_unit_and_resume_excludes_it(tmp_path):
    store = _three_units(tmp_path)
    path = store.table_path("a", "metrics")
    path.write_bytes(path.read_bytes()[:-40])
    store.table_path("b", "forecasts").unlink()
    report = store.verify()
    assert set(report.damaged) == {"a", "b"}
    assert "does not match" in report.damaged["a"] and "missing" in report.damaged["b"]
    assert store.complete(["a", "b", "c"]) == {"c"}
    result = runner.invoke(app, ["results", "verify", "--store", str(store.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "damaged a: metrics" in result.output and "damaged b: forecasts" in result.output
    assert "damaged c" not in result.output


def test_when_a_record_is_edited_or_cut_short_then_it_is_not_committed(tmp_path):
    store = _three_units(tmp_path)
    record = json.loads(store.record_path("a").read_text())
    record["model"] = "a better model"
    store.record_path("a").write_text(json.dumps(record))
    store.record_path("b").write_text('{"status": "ok", "key": ')
    assert store.record("a") is None and store.record("b") is None
    assert list(store.records()["key"]) == ["c"]
    assert store.complete(["a", "b", "c"]) == {"c"}
    report = store.verify()
    assert "edited" in report.damaged["a"] and "unparseable" in report.damaged["b"]
    result = runner.invoke(app, ["results", "verify", "--store", str(store.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "damaged a" in result.output and "damaged b" in result.output


def test_when_the_store_is_intact_then_verify_exits_0_and_reports_throughput(tmp_path):
    store = _three_units(tmp_path)
    result = runner.invoke(app, ["results", "verify", "--store", str(store.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "3 units, 18 files" in result.output and "every unit intact" in result.output
    missing = runner.invoke(app, ["results", "verify", "--store", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such folder" in missing.output


def test_when_a_unit_is_rewritten_then_the_old_files_are_orphans_that_gc_removes(tmp_path):
    store = _three_units(tmp_path)
    old = store.table_path("a", "metrics")
    tables = _tables("a")
    tables["metrics"]["value"] += 1
    store.write_unit("a", tables, {"kind": "forecast"})
    assert store.table_path("a", "metrics") != old and old.exists()
    (store.root / "units" / ".a.json.1.x.tmp").write_text("half")
    report = store.verify()
    assert report.ok and sorted(report.orphans) == [f"metrics/{old.name}", "units/.a.json.1.x.tmp"]
    assert store.gc() == []  # too young: might be a commit under way
    assert sorted(p.name for p in store.gc(min_age_s=0, dry_run=True)) == [".a.json.1.x.tmp", old.name]
    result = runner.invoke(app, ["results", "gc", "--store", str(store.root), "--min-age", "0"])
    assert result.exit_code == 0 and "2 orphan file(s) removed" in result.output
    assert not old.exists() and store.verify().orphans == [] and store.complete(["a", "b", "c"]) == {"a", "b", "c"}
    assert (store.read_table("metrics", ["a"])["value"] == tables["metrics"]["value"]).all()


def test_when_identical_bytes_are_written_again_then_the_same_file_is_reused(tmp_path):
    store = ResultsStore(tmp_path)
    first = store.write_unit("a", _tables("a"), {"kind": "forecast"})
    second = store.write_unit("a", _tables("a"), {"kind": "forecast"})
    assert first["tables"] == second["tables"]
    assert store.verify().orphans == []


def test_when_queried_then_no_data_file_is_hashed_and_resume_hashes_only_what_it_reuses(tmp_path, monkeypatch):
    store = _three_units(tmp_path)
    hashed = []
    real = storage.sha256_file
    monkeypatch.setattr(storage, "sha256_file", lambda path, *a: hashed.append(path) or real(path, *a))
    assert len(store.records()) == 3
    assert sql("SELECT count(*) AS n FROM metrics", store)["n"].item() == 15
    assert len(leaderboard(store)) == 1
    assert hashed == []
    assert store.complete(["a", "zzz"]) == {"a"}
    files_of_a = [p for paths in store.tables([store.record("a")]).values() for p in paths]
    assert sorted(hashed) == sorted(files_of_a) and len(files_of_a) == 6


def test_when_a_store_of_the_first_format_is_read_then_its_units_stay_visible(tmp_path):
    root = tmp_path / "old"
    (root / "metrics").mkdir(parents=True)
    (root / "units").mkdir()
    _tables("k")["metrics"].assign(unit="k").to_parquet(root / "metrics" / "k.parquet", index=False)
    sha = hashlib.sha256((root / "metrics" / "k.parquet").read_bytes()).hexdigest()
    (root / "units" / "k.json").write_text(json.dumps({"key": "k", "status": "ok", "metrics_sha256": sha}))
    store = ResultsStore(root)
    assert store.record("k")["kind"] == "forecast" and store.complete(["k"]) == {"k"}
    assert sql("SELECT count(*) AS n FROM metrics", store)["n"].item() == 5
    assert store.verify().ok
