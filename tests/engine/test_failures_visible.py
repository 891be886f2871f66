"""Failed units stay visible: listed by `failed_units`, counted by a rerun, and never hiding the
results of the units that did not fail.

The failure is a real one: statsforecast's ETS refuses a seasonal model when a series has more
observations than one season but too few for the model's parameters ("no model able to be
fitted"), so `AutoETS(model="AAA", season_length=24)` fails on the chunk of short series and fits
the chunk of long ones, while `naive` forecasts both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from workbench.engine import evaluate
from workbench.forecasters import Forecaster
from workbench.sequential import evaluate_sequential
from workbench.store.failures import FAILED_COLUMNS, failed_units, failure_lines
from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard
from workbench.tasks import Task, future_ds

ETS = {"name": "statsforecast.AutoETS", "params": {"model": "AAA", "season_length": 24}}
ETS_LABEL = "statsforecast.AutoETS(model=AAA, season_length=24)"
FIELDS = {"horizon": 12, "season_length": 24, "protocol": "rolling", "freq": "h"}
# two short series (a past of 26 and 28 hours: more than a season, too few for AAA's parameters)
# and two long ones; chunks of 2 series put the short ones in chunk 0 and the long ones in chunk 1
LENGTHS = {"a0": 38, "a1": 40, "b0": 110, "b1": 120}


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frames = []
    for uid, n in LENGTHS.items():
        t = np.arange(n)
        y = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n)
        frames.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def threads_client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as c, Client(c) as cl:
        yield cl


def _run(client, store, models, **kw):
    return evaluate(_frame(), models, client=client, store=store, chunk_size=2, progress=False, **FIELDS, **kw)


def test_when_one_model_fails_on_short_series_then_every_other_result_is_there_and_the_failure_is_listed(
    tmp_path, threads_client
):
    store = ResultsStore(tmp_path / "store")
    summary = _run(threads_client, store, [ETS, "naive"])
    by = summary.records.set_index(["model", summary.records["chunks"].str[0]])["status"]
    assert by.to_dict() == {(ETS_LABEL, 0): "error", (ETS_LABEL, 1): "ok", ("naive", 0): "ok", ("naive", 1): "ok"}
    assert summary.n_failed == 1 and summary.n_failed_before == 0

    # the other model's metric rows are all there, equal to the in-process reference
    task = Task.for_data(_frame(), **FIELDS)
    (task_key,) = set(summary.records["task_key"])
    assert task.key() == task_key
    metrics = store.metrics()
    naive = metrics[metrics["model"] == "naive"].sort_values(["unique_id", "metric"], ignore_index=True)
    reference = evaluate_sequential(task, "naive").sort_values(["unique_id", "metric"], ignore_index=True)
    assert set(naive["unique_id"]) == set(LENGTHS) and len(naive) == len(reference) == len(LENGTHS) * len(task.metrics)
    np.testing.assert_allclose(naive["value"].to_numpy(), reference["value"].to_numpy(), rtol=1e-12)
    # the failing model's ok chunk is there too, and only it
    assert set(metrics.loc[metrics["model"] == ETS_LABEL, "unique_id"]) == {"b0", "b1"}
    board = leaderboard(store)
    assert set(board.loc[board["model"] == "naive", "n_series"]) == {4}
    assert set(board.loc[board["model"] == ETS_LABEL, "n_series"]) == {2}

    failed = failed_units(store)
    assert list(failed.columns) == list(FAILED_COLUMNS)
    assert len(failed) == 1
    row = failed.iloc[0]
    assert (row["task_key"], row["model"], row["kind"], row["n_failed"]) == (task_key, ETS_LABEL, "forecast", 1)
    assert row["statuses"] == "1 error" and row["task"] == task.describe()
    assert row["first_error"] == "Exception: no model able to be fitted"
    pd.testing.assert_frame_equal(summary.failed(), failed)
    pd.testing.assert_frame_equal(failed_units(store.records()), failed)  # the records frame says the same
    assert failure_lines(failed) == [
        f"{task.describe()} · {ETS_LABEL} (forecast units): 1 error; first error: Exception: no model able to be fitted"
    ]


def test_when_a_grid_with_failed_units_is_rerun_then_they_are_counted_and_only_a_retry_recomputes_them(
    tmp_path, threads_client
):
    store = ResultsStore(tmp_path / "store")
    first = _run(threads_client, store, [ETS, "naive"])
    again = _run(threads_client, store, [ETS, "naive"])
    assert (again.n_computed, again.n_skipped, again.n_failed) == (0, 4, 0)
    assert again.n_failed_before == 1  # the failed forecast unit; it has no score units to count
    (failed_key,) = first.records.loc[first.records["status"] != "ok", "key"]
    assert list(again.failed_before["key"]) == [failed_key]
    pd.testing.assert_frame_equal(again.failed(), failed_units(store))
    retried = _run(threads_client, store, [ETS, "naive"], retry_failed=True)
    assert (retried.n_computed, retried.n_skipped, retried.n_failed_before, retried.n_failed) == (1, 3, 0, 1)
    assert list(retried.records["key"]) == [failed_key]
    assert retried.failed()["n_failed"].tolist() == [1]
    # a grid of the model that never failed: nothing failed before, nothing to list, whatever the store holds
    ok = _run(threads_client, store, ["naive"])
    assert (ok.n_computed, ok.n_failed_before, ok.n_failed) == (0, 0, 0) and ok.failed().empty


def _record(key: str, status: str, at: str, identity: str | None = None, error: str = "", model: str = "m") -> dict:
    return {
        "key": key,
        "kind": "forecast",
        "status": status,
        "task_key": "t1",
        "task_description": "demo/all rolling 1x12",
        "model": model,
        "error": error,
        "committed_at": at,
        "identity": identity or key,
    }


def test_when_failures_are_counted_then_statuses_are_tallied_and_the_earliest_error_is_named():
    records = [
        _record("k3", "error", "2024-01-01T00:00:03", error="ValueError: later one"),
        _record("k1", "timeout", "2024-01-01T00:00:01", error="exceeded 5 s (the unit's process was killed)"),
        _record("k2", "error", "2024-01-01T00:00:02", error="ValueError: first\n  Traceback line"),
        _record("k4", "error", "2024-01-01T00:00:04", error="ValueError: other model", model="n"),
        _record("k5", "ok", "2024-01-01T00:00:05"),
    ]
    failed = failed_units(records)
    assert failed["model"].tolist() == ["m", "n"] and failed["n_failed"].tolist() == [3, 1]
    assert failed["statuses"].tolist() == ["2 error, 1 timeout", "1 error"]
    assert failed["first_error"].tolist() == ["exceeded 5 s (the unit's process was killed)", "ValueError: other model"]
    assert failed["first_failed_at"].tolist() == ["2024-01-01T00:00:01", "2024-01-01T00:00:04"]
    records[1]["error"] = ""
    assert failed_units(records)["first_error"].iloc[0] == "(timeout, no message recorded)"
    assert failed_units(records[4:]).empty and list(failed_units(records[4:]).columns) == list(FAILED_COLUMNS)


def test_when_a_failure_was_redone_then_it_is_not_listed_but_a_later_failure_of_the_same_work_is():
    # the same work (identity) under new code: the later unit stands for it, as in every view
    redone = [_record("old", "error", "2024-01-01T00:00:01", "w1"), _record("new", "ok", "2024-01-01T00:00:02", "w1")]
    assert failed_units(redone).empty
    broke = [_record("old", "ok", "2024-01-01T00:00:01", "w1"), _record("new", "error", "2024-01-01T00:00:02", "w1")]
    assert failed_units(broke)["n_failed"].tolist() == [1]
    # one key failed, then retried with success (records of two runs handed over together)
    retried = [_record("k", "error", "2024-01-01T00:00:01"), _record("k", "ok", "2024-01-01T00:00:02")]
    assert failed_units(retried).empty and failed_units(retried[::-1]).empty
    # a records frame's own `superseded` flag (computed over the whole store) is honoured
    frame = pd.DataFrame([_record("k", "error", "2024-01-01T00:00:01")]).assign(superseded=True)
    assert failed_units(frame).empty and len(failed_units(frame.assign(superseded=False))) == 1


def test_when_failed_units_get_something_else_then_the_error_names_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['status'\]"):
        failed_units(pd.DataFrame({"key": ["k"]}))
    with pytest.raises(TypeError, match="not one record"):
        failed_units(_record("k", "error", "t"))
    with pytest.raises(ValueError, match="item 1 is not a unit record"):
        failed_units([_record("k", "error", "t"), {"key": "x"}])
    assert failed_units(ResultsStore(tmp_path / "empty")).empty


class _ForgetsOneStep(Forecaster):
    """The last value of each series, but no forecast for the last step of series b1: a forecast the
    scorer refuses (every metric of that chunk fails as a score unit), while its forecast unit is ok."""

    name = "test_forgets_one_step"

    def predict(self, h):
        out = future_ds(self.past_, h)
        out["y_hat"] = out["unique_id"].map(self.past_.df.groupby("unique_id")["y"].last())
        return out[~((out["unique_id"] == "b1") & (out["ds"] == out["ds"].max()))].reset_index(drop=True)


def test_when_a_forecast_cannot_be_scored_then_its_failed_score_units_are_counted_on_a_rerun(tmp_path, threads_client):
    store = ResultsStore(tmp_path / "store")
    first = _run(threads_client, store, ["test_forgets_one_step", "naive"])
    assert first.counts() == {"ok": 4}  # every forecast unit
    scores = first.score_records
    bad = scores[scores["status"] != "ok"]
    n_metrics = scores["metric"].nunique()
    assert len(bad) == n_metrics and set(bad["model"]) == {"test_forgets_one_step"}
    assert {tuple(c) for c in bad["chunks"]} == {(1,)} and first.n_failed == n_metrics
    failed = failed_units(store)
    assert failed[["model", "kind", "n_failed"]].values.tolist() == [["test_forgets_one_step", "score", n_metrics]]
    refused = "DataFormatError: test_forgets_one_step: no forecast for series 'b1'"
    assert failed["first_error"].iloc[0].startswith(refused)
    again = _run(threads_client, store, ["test_forgets_one_step", "naive"])
    assert (again.n_computed, again.n_failed, again.n_failed_before) == (0, 0, n_metrics)
    assert set(again.failed_before["kind"]) == {"score"}
    pd.testing.assert_frame_equal(again.failed(), failed)
    metrics = store.metrics()  # every other score unit's rows are there: naive's, and the forecaster's chunk 0
    assert len(metrics[metrics["model"] == "naive"]) == len(LENGTHS) * n_metrics
    assert set(metrics.loc[metrics["model"] == "test_forgets_one_step", "unique_id"]) == {"a0", "a1"}
