"""Leaderboards and SQL over the results store: one row per task, undefined values counted, duplicated
rows refused, a missing or empty store an error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import WorkbenchError
from workbench.store.results_store import ResultsStore
from workbench.store.sql import SCHEMAS, connect, detection_leaderboard, leaderboard, sql

runner = CliRunner()


def _metric_rows(task_key, task, model, ids, windows=(0,), value=1.0, metric="smape"):
    rows = [
        {"task_key": task_key, "model": model, "window": w, "unique_id": uid, "metric": metric, "value": value}
        for w in windows
        for uid in ids
    ]
    frame = pd.DataFrame(rows)
    if task is not None:
        frame.insert(1, "task", task)
    return frame


def _write(store, key, frame, kind="forecast", table="metrics"):
    store.write_unit(key, {table: frame}, {"kind": kind, "model": str(frame["model"].iloc[0])})


def test_when_a_holdout_and_a_rolling_run_share_a_subset_then_they_are_two_rows(tmp_path):
    store = ResultsStore(tmp_path)
    ids = [f"H{i}" for i in range(4)]
    _write(store, "holdout", _metric_rows("k-holdout", "m4/Hourly holdout h=48", "theta", ids, value=1.0))
    _write(store, "rolling", _metric_rows("k-rolling", "m4/Hourly rolling 3x h=48", "theta", ids, (0, 1, 2), 3.0))
    board = leaderboard(store).set_index("task")
    assert len(board) == 2
    assert board.loc["m4/Hourly holdout h=48", "value"] == 1.0 and board.loc["m4/Hourly holdout h=48", "n_windows"] == 1
    rolling = board.loc["m4/Hourly rolling 3x h=48"]
    assert (rolling["value"], rolling["n_windows"], rolling["n_series"], rolling["task_key"]) == (
        3.0,
        3,
        4,
        "k-rolling",
    )
    assert list(leaderboard(store).columns) == [
        *("task_key", "task", "model", "metric", "value", "n_series", "n_windows", "n_undefined", "aggregation"),
        *("point_as_quantiles", "n_failed_units", "n_series_failed", "first_error"),
        *("cpu_s_per_1k", "cpu_s_per_1k_lo", "cpu_s_per_1k_hi", "throughput_per_s", "cost_basis", "rank"),
    ]


def test_when_rows_carry_no_task_description_then_the_task_key_stands_for_it(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "u", _metric_rows("k1", None, "naive", ["a", "b"]))
    board = leaderboard(store)
    assert board["task"].tolist() == ["k1"]


def test_when_values_are_undefined_then_they_are_counted_not_silently_dropped(tmp_path):
    store = ResultsStore(tmp_path)
    frame = _metric_rows("k", "t", "theta", ["a", "b", "c", "d"])
    frame["value"] = [1.0, np.nan, np.inf, 3.0]
    _write(store, "u", frame)
    row = leaderboard(store).iloc[0]
    assert row["value"] == 2.0 and row["n_undefined"] == 2 and row["n_series"] == 4
    result = runner.invoke(app, ["results", "leaderboard", "--store", str(tmp_path), "--csv"])
    assert result.exit_code == 0, result.output
    assert "n_undefined" in result.output.splitlines()[0] and ",2,mean of per-series" in result.output


def test_when_the_same_series_is_stored_under_two_chunk_sizes_then_the_leaderboard_refuses(tmp_path):
    store = ResultsStore(tmp_path)
    ids = [f"s{i}" for i in range(6)]
    _write(store, "chunk-6", _metric_rows("k", "m4/Weekly holdout h=13", "theta", ids, value=1.0))
    _write(store, "chunk-3a", _metric_rows("k", "m4/Weekly holdout h=13", "theta", ids[:3], value=2.0))
    _write(store, "chunk-3b", _metric_rows("k", "m4/Weekly holdout h=13", "theta", ids[3:], value=2.0))
    _write(store, "other", _metric_rows("k", "m4/Weekly holdout h=13", "naive", ids, value=5.0))
    with pytest.raises(WorkbenchError, match=r"'m4/Weekly holdout h=13'.*'theta': 6 duplicated rows") as info:
        leaderboard(store)
    assert "naive" not in str(info.value)
    board = leaderboard(store, allow_duplicates=True).set_index("model")
    assert board.loc["theta", "n_duplicates"] == 6 and board.loc["naive", "n_duplicates"] == 0
    assert board.loc["theta", "value"] == 1.5 and board.loc["theta", "n_series"] == 6  # each series counted once
    result = runner.invoke(app, ["results", "leaderboard", "--store", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "duplicated rows" in result.output
    flagged = runner.invoke(app, ["results", "leaderboard", "--store", str(tmp_path), "--allow-duplicates", "--csv"])
    assert flagged.exit_code == 0 and "n_duplicates" in flagged.output


def test_when_the_store_is_missing_or_empty_then_queries_fail_naming_it(tmp_path):
    for root in (tmp_path / "missing", tmp_path):
        with pytest.raises(WorkbenchError, match=str(root)):
            leaderboard(root)
        with pytest.raises(WorkbenchError, match=str(root)):
            sql("SELECT 1", root)
        for args in (["results", "leaderboard"], ["results", "sql", "SELECT 1"]):
            result = runner.invoke(app, [*args, "--store", str(root)], env={"COLUMNS": "300"})
            assert result.exit_code == 2 and "results store" in result.output, result.output


def test_when_a_table_has_no_rows_anywhere_then_its_view_is_empty_and_typed(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "u", _metric_rows("k", "t", "theta", ["a"]))
    con = connect(store)
    try:
        for name, columns in SCHEMAS.items():
            if name == "metrics":  # the one table this store has
                continue
            described = {row[0]: row[1] for row in con.execute(f"DESCRIBE {name}").fetchall()}
            if "window" in columns:  # `window` needs quotes in DuckDB: the views also name it window_index
                columns = {**columns, "window_index": columns["window"]}
            assert described == columns and con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == 0
        assert con.execute("SELECT key, kind, status, tables FROM units").fetchall() == [
            ("u", "forecast", "ok", "metrics")
        ]
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    finally:
        con.close()


def test_when_a_metric_filter_is_given_then_only_those_metrics_show(tmp_path):
    store = ResultsStore(tmp_path)
    frame = pd.concat([_metric_rows("k", "t", "m", ["a"], metric=x) for x in ("smape", "mase", "o'neil")])
    _write(store, "u", frame)
    assert leaderboard(store, ["mase", "o'neil"])["metric"].tolist() == ["mase", "o'neil"]


def test_when_detection_metrics_are_stored_then_the_board_ranks_higher_first(tmp_path):
    store = ResultsStore(tmp_path)
    for model, score, f1 in (("a", 10.0, 0.2), ("b", 70.0, 0.8)):
        frame = pd.DataFrame(
            {"task_key": "nab", "task": "NAB all", "model": model, "unique_id": [None, "x", "y"]}
            | {"metric": ["nab_standard", "f1", "f1"], "value": [score, f1, np.nan], "higher_is_better": True}
        )
        _write(store, f"d-{model}", frame, kind="detection", table="detection_metrics")
    board = detection_leaderboard(store)
    corpus = board[board["metric"] == "nab_standard"]
    assert corpus["model"].tolist() == ["b", "a"] and set(corpus["aggregation"]) == {"corpus"}
    per_item = board[board["metric"] == "f1"]
    assert per_item["model"].tolist() == ["b", "a"] and set(per_item["aggregation"]) == {"mean of per-item"}
    assert per_item["n_items"].tolist() == [2, 2] and per_item["n_undefined"].tolist() == [1, 1]
    assert board["higher_is_better"].all()
    result = runner.invoke(app, ["results", "leaderboard", "--detection", "--store", str(tmp_path), "--csv"])
    assert result.exit_code == 0 and "nab_standard" in result.output
    assert leaderboard(store).empty  # no forecast rows in this store: an empty board, not an error


def test_when_one_metric_mixes_higher_and_lower_is_better_then_the_detection_board_refuses(tmp_path):
    store = ResultsStore(tmp_path)
    frame = pd.DataFrame(
        {"task_key": "nab", "model": "a", "unique_id": ["x", "y"], "metric": "f1"}
        | {"value": [0.1, 0.2], "higher_is_better": [True, False]}
    )
    _write(store, "d", frame, kind="detection", table="detection_metrics")
    with pytest.raises(WorkbenchError, match="higher_is_better"):
        detection_leaderboard(store)


def test_when_a_rolling_task_has_a_duplicated_window_row_then_it_is_found_and_counted_once(tmp_path):
    store = ResultsStore(tmp_path)
    rows = _metric_rows("k", "rolling", "theta", ["a", "b", "c"], windows=(0, 1), value=1.0)
    _write(store, "u1", rows)
    extra = _metric_rows("k", "rolling", "theta", ["c", "d"], windows=(1,), value=4.0)  # c/window 1 twice, d new
    _write(store, "u2", extra)
    with pytest.raises(WorkbenchError, match=r"1 duplicated rows \(1 keys stored in more than one committed unit\)"):
        leaderboard(store)
    row = leaderboard(store, allow_duplicates=True).iloc[0]
    assert (row["n_series"], row["n_windows"], row["n_duplicates"]) == (4, 2, 1)
    assert row["value"] == pytest.approx((5 * 1.0 + 2.5 + 4.0) / 7)  # c/window 1 is the mean of its copies


def test_when_one_unit_holds_the_same_row_twice_then_the_leaderboard_refuses_it_too(tmp_path):
    store = ResultsStore(tmp_path)
    rows = _metric_rows("k", "t", "theta", ["a", "b"])
    _write(store, "u", pd.concat([rows, rows.iloc[:1]]))
    with pytest.raises(WorkbenchError, match="'theta': 1 duplicated rows"):
        leaderboard(store)


def test_when_newer_units_add_a_column_then_old_and_new_rows_read_together(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, "old", _metric_rows("k", None, "theta", ["a", "b"], value=1.0))
    _write(store, "new", _metric_rows("k", "m4/Hourly holdout h=48", "theta", ["c"], value=4.0))
    board = leaderboard(store)
    assert len(board) == 1 and board["n_series"].item() == 3 and board["value"].item() == 2.0
    assert board["task"].item() == "m4/Hourly holdout h=48"
    assert sql("SELECT count(*) FILTER (WHERE task IS NULL) AS n FROM metrics", store)["n"].item() == 2
