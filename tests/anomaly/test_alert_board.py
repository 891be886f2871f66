"""Alert tables from the engine's stored scores (`workbench.anomaly.alert_board`): a planted detector's
delay and false-alarm rate come back exactly through real Dask worker processes and the results store;
on Cloud Monitoring and a NAB slice, two real detectors get calibration-split thresholds, and one
detector's row is re-derived by the plain loops below from the stored `detection_scores` read back with
pandas, and agrees exactly."""

from __future__ import annotations

import importlib
import math
import os
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planted_detector import EVENT_SCORES, PROBATIONARY_PERCENT, plant, write_card

from workbench.anomaly.alert_board import (
    ALERT_TABLE_COLUMNS,
    CURVES_COLUMNS,
    StoredScoresError,
    alert_board,
    alert_board_from_store,
    alert_rows,
    operating_curve_figure,
)
from workbench.anomaly.alerts import AlertBudget, alert_quality
from workbench.anomaly.engine import detect_on_engine
from workbench.anomaly.errors import ThresholdError
from workbench.anomaly.nab import probationary_length
from workbench.anomaly.task import DetectionTask
from workbench.store.results_store import ResultsStore

HERE = Path(__file__).resolve().parent
PLANTED = "test_planted_scores"
NAB_ITEMS = (
    "realTraffic/speed_7578.csv",
    "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "realAdExchange/exchange-4_cpm_results.csv",
    "realKnownCause/rogue_agent_key_hold.csv",
    "realTraffic/TravelTime_387.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv",
    "realKnownCause/nyc_taxi.csv",
    "artificialNoAnomaly/art_noisy.csv",  # no window: every episode of it is a false alarm
)


# ---- the planted detector through the engine --------------------------------------------------------------
@pytest.fixture
def planted_card(tmp_path, monkeypatch):
    """The planted corpus as a user card, and an environment in which the cluster's processes (started
    after this fixture: ask for it first) see the card and can import the planted detector."""
    planted = plant(delay=3)
    catalog = write_card(planted, tmp_path / "planted")
    monkeypatch.setenv("WORKBENCH_CATALOG", str(catalog))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    return planted


def test_when_the_planted_detector_runs_on_the_engine_then_its_delay_and_false_alarm_rate_come_back_from_the_store(
    planted_card, fresh_cluster, tmp_path
):
    from distributed import Client

    task = DetectionTask(dataset="planted", subsets=("all",), probationary_percent=PROBATIONARY_PERCENT)
    store = tmp_path / "store"
    with Client(fresh_cluster.address) as client:
        client.run(importlib.import_module, "planted_detector")  # the workers know the planted detector by name
        run = detect_on_engine(task, [PLANTED], client=client, store=store, chunk_size=1, progress=False)
    assert not run.failures and run.n_computed == 4
    (det,) = run.detections
    rows = alert_rows(run.data)

    # every planted alert (0.5 is below all of them): 3 hours late, one false alarm per series-day
    got = alert_quality(rows, det.scores, 0.5)
    assert got["ttd_steps_median"] == got["ttd_steps_p90"] == planted_card.delay == 3
    assert got["ttd_seconds_median"] == got["ttd_seconds_p90"] == 3 * 3600.0
    assert got["false_alarms_per_series_day"] == planted_card.false_alarms_per_day == 1.0
    assert got["series_days"] == 4 * planted_card.evaluated_days and got["share_detected"] == 1.0

    budget = AlertBudget.per_week(4)
    board = alert_board(run, budget)
    assert list(board.table.columns) == ALERT_TABLE_COLUMNS and list(board.curves.columns) == CURVES_COLUMNS
    row = board.table.set_index("detector").loc[PLANTED]
    # chosen on svc-0 and svc-2 (every other item), scored on svc-1 and svc-3
    assert (row["threshold"], row["budget_met"], row["tuned_on_test"]) == (EVENT_SCORES[1], True, False)
    assert row["calibration_false_alarms_per_series_day"] == 4 / 7
    assert (row["ttd_steps_median"], row["ttd_steps_p90"], row["ttd_median"], row["ttd_p90"]) == (3, 3, "3h", "3h")
    assert row["false_alarms_per_series_day"] == 1.0 and row["series_days"] == 2 * 7
    assert row["share_detected"] == 1.0 and row["event_precision"] == 4 / 18
    assert set(board.curves["part"]) == {"calibration", "scored"}

    # the same table from the store alone, without the run
    again = alert_board_from_store(store, task, [PLANTED], budget)
    pd.testing.assert_frame_equal(again.table, board.table)
    pd.testing.assert_frame_equal(again.curves, board.curves)
    by_time = alert_board_from_store(store, task, [PLANTED], budget, split="time", hold=2).table.iloc[0]
    assert by_time["split"] == "time" and by_time["fraction"] == 0.5 and by_time["hold"] == 2
    assert not by_time["tuned_on_test"]
    with pytest.raises(ThresholdError, match="allow_test_labels"):
        alert_board(run, budget, split="none")
    on_test = alert_board(run, budget, split="none", allow_test_labels=True).table.iloc[0]
    assert on_test["tuned_on_test"] and on_test["threshold"] == EVENT_SCORES[0]

    fig = board.figure()
    assert fig.layout.xaxis.type == "log" and "false alarms per series-day" in fig.layout.xaxis.title.text
    assert "share of labelled events detected" in fig.layout.yaxis.title.text
    assert [t.name for t in fig.data] == [PLANTED, f"{PLANTED}: threshold 0.7", f"budget: {budget.describe()}"]
    assert list(fig.data[-1].x) == [budget.max_false_alarms_per_series_day] * 2  # the budget, a vertical line

    # a unit that was never committed (a killed run): the missing item is named, with the call to run
    results = ResultsStore(store)
    key = run.records["key"].iloc[1]
    (lost,) = results.read_table("detection_scores", [key])["unique_id"].unique()
    Path(results.record_path(key)).unlink()
    with pytest.raises(StoredScoresError, match=rf"no detection scores of item\(s\) \['{lost}'\] of detector") as err:
        alert_board_from_store(store, task, [PLANTED], budget)
    assert "detect_on_engine(task, ['test_planted_scores']" in str(err.value)


def test_when_a_detectors_scores_are_not_stored_then_the_alert_table_refuses_naming_it_and_the_call(tmp_path):
    task = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS[:1])
    wanted = {"name": "windowedGaussian", "params": {"window_size": 64}}
    with pytest.raises(StoredScoresError) as err:
        alert_board_from_store(tmp_path / "empty", task, [wanted], AlertBudget.per_week(1))
    message = str(err.value)
    assert "windowedGaussian(window_size=64)" in message and task.key() in message
    assert f"detect_on_engine(task, [{wanted!r}], store='{tmp_path / 'empty'}', seed=0)" in message


# ---- real detectors on real corpora: re-derived by plain loops -----------------------------------------------
def _stored_scores(store: Path, task: DetectionTask, model: str) -> dict[str, np.ndarray]:
    """Item -> scores in row order, from the store's detection_scores parquet files read with pandas."""
    frames = [pd.read_parquet(p) for p in Path(store).rglob("*.parquet")]
    frames = [f for f in frames if {"anomaly_score", "row", "model", "task_key"} <= set(f.columns)]
    scores = pd.concat(frames, ignore_index=True)
    scores = scores[(scores["task_key"] == task.key()) & (scores["model"] == model)]
    return {item: g.sort_values("row")["anomaly_score"].to_numpy() for item, g in scores.groupby("unique_id")}


def _count(items: dict, rows_of: dict[str, list[int]], threshold: float, hold: int) -> dict:
    """Counted row by row, one item at a time (the module docstring's definitions, as loops)."""
    events, detected, ttd_steps, ttd_seconds, span_days = set(), set(), [], [], []
    n_episodes = n_true = n_alerting = n_rows = 0
    for item, rows in rows_of.items():
        stamps, scores, window = items[item]["ds"], items[item]["scores"], items[item]["window"]
        if not rows:
            continue
        steps = [int(stamps[i + 1] - stamps[i]) for i in range(len(stamps) - 1)]
        median_step = statistics.median(steps) if steps else 0
        span_days.append((int(stamps[rows[-1]] - stamps[rows[0]]) + median_step) / 86400e9)
        first_row = {}
        for i, w in enumerate(window):
            first_row.setdefault(w, i)
        is_open, quiet, episode_true = False, 0, False
        for i in rows:
            n_rows += 1
            w = window[i]
            if w >= 0:
                events.add(w)
            if scores[i] >= threshold:
                n_alerting += 1
                if not (is_open and quiet <= hold):
                    if is_open:
                        n_true += episode_true
                    n_episodes += 1
                    is_open, episode_true = True, False
                quiet = 0
                if w >= 0:
                    episode_true = True
                    if w not in detected:
                        detected.add(w)
                        ttd_steps.append(i - first_row[w])
                        ttd_seconds.append(int(stamps[i] - stamps[first_row[w]]) / 1e9)
            elif is_open:
                quiet += 1
        if is_open:
            n_true += episode_true
    days = math.fsum(span_days)
    false_alarms = n_episodes - n_true
    q = {}
    for name, values in (("steps", ttd_steps), ("seconds", ttd_seconds)):
        for label, level in (("median", 0.5), ("p90", 0.9)):
            q[f"ttd_{name}_{label}"] = float(np.quantile(values, level, method="linear")) if values else math.nan
    return {
        "items": sum(1 for r in rows_of.values() if r),
        "rows": n_rows,
        "alerting_rows": n_alerting,
        "events": len(events),
        "detected": len(detected),
        "share_detected": len(detected) / len(events) if events else math.nan,
        **q,
        "episodes": n_episodes,
        "true_episodes": n_true,
        "false_alarms": false_alarms,
        "series_days": days,
        "false_alarms_per_series_day": false_alarms / days if days else math.nan,
        "event_precision": n_true / n_episodes if n_episodes else math.nan,
    }


def _rederive(store, task, data, stored_as: str, budget: AlertBudget, split: str, hold: int, n_candidates: int) -> dict:
    """A detector's alert-table row from the stored scores: calibration rows, candidates, the walk down the
    candidates while within budget, then the scored rows' counts at the chosen threshold."""
    per_item = _stored_scores(store, task, stored_as)
    items, calibration, scored = {}, {}, {}
    calibration_items = sorted(data.items)[::2]
    offsets = np.r_[0, np.cumsum(data.corpus.lengths)]
    for k, item in enumerate(data.items):
        stamps = data.corpus.timestamps[item].astype(np.int64)
        window = data.corpus.window[offsets[k] : offsets[k + 1]].tolist()  # the labels: input, not counted here
        scores = per_item[item].tolist()
        assert len(scores) == len(stamps)
        items[item] = {"ds": stamps, "scores": scores, "window": window}
        start = probationary_length(len(stamps), task.probationary_percent)
        evaluated = [i for i in range(len(stamps)) if i >= start]
        if split == "items":
            calibration[item] = evaluated if item in calibration_items else []
            scored[item] = [] if item in calibration_items else evaluated
        else:
            cut = math.floor(0.5 * len(evaluated))
            calibration[item], scored[item] = evaluated[:cut], evaluated[cut:]
    pool = sorted({items[i]["scores"][r] for i, rows in calibration.items() for r in rows}, reverse=True)
    if len(pool) > n_candidates:
        values = [items[i]["scores"][r] for i, rows in calibration.items() for r in rows]
        pool = sorted(set(np.quantile(values, np.linspace(0, 1, n_candidates), method="inverted_cdf")), reverse=True)
    pool = pool[:-1]  # the lowest: every calibration row alerts there
    within, floor = [], math.nan
    for k, t in enumerate(pool):
        counted = _count(items, calibration, t, hold)
        rate = counted["false_alarms_per_series_day"]
        floor = rate if k == 0 else floor
        if not rate <= budget.max_false_alarms_per_series_day:
            break
        within.append((t, counted["detected"]))
    if within:
        most = max(d for _, d in within)
        threshold = max(t for t, d in within if d == most)
    else:
        threshold = math.inf
    on_calibration = _count(items, calibration, threshold, hold)
    return {
        "threshold": threshold,
        "budget_met": bool(within),
        "calibration_false_alarms_per_series_day": on_calibration["false_alarms_per_series_day"],
        "calibration_floor_false_alarms_per_series_day": floor,
        "calibration_share_detected": on_calibration["share_detected"],
        **_count(items, scored, threshold, hold),
    }


def _assert_same(row: pd.Series, expected: dict) -> None:
    for key, value in expected.items():
        got = row[key]
        both_nan = isinstance(value, float) and math.isnan(value) and math.isnan(got)
        same = both_nan or got == value
        assert same, f"{key}: alert table {got!r}, re-derived {value!r}"


def _check_board(board, run, store, task, budget, split, hold, n_candidates, rederived: str, stored_as: str) -> None:
    table = board.table.set_index("detector")
    assert sorted(table.index) == sorted(d.label for d in run.detections) and len(table) == 2
    assert not table["tuned_on_test"].any() and (table["split"] == split).all() and (table["hold"] == hold).all()
    assert set(board.curves["part"]) == {"calibration", "scored"}
    for detector, curve in board.curves.groupby(["detector", "part"]):
        assert curve["threshold"].is_monotonic_decreasing and len(curve) <= n_candidates, detector
    expected = _rederive(store, task, run.data, stored_as, budget, split, hold, n_candidates)
    _assert_same(table.loc[rederived], expected)
    fig = operating_curve_figure(board)
    assert fig.layout.xaxis.type == "log" and len(fig.data) == 2 * 2 + 1  # curves, chosen points, budget


def test_when_cloud_monitoring_alerts_are_tabled_then_one_detectors_row_is_rederived_exactly_from_the_store(
    shared_cluster, tmp_path
):
    task = DetectionTask(dataset="cloud_monitoring", subsets=("all",), labels="points", labels_table="labels")
    detectors = [{"name": "rolling_robust_z", "params": {"window": 100}}, "relativeEntropy"]
    store = tmp_path / "store"
    run = detect_on_engine(task, detectors, scheduler=shared_cluster.address, store=store, chunk_size=15,
                           progress=False)  # fmt: skip
    assert not run.failures and len(run.data.items) == 60
    budget, split, hold, n_candidates = AlertBudget.per_day(1), "items", 3, 40
    board = alert_board_from_store(store, task, detectors, budget, data=run.data, split=split, hold=hold,
                                   n_candidates=n_candidates)  # fmt: skip
    _check_board(board, run, store, task, budget, split, hold, n_candidates, "rolling_robust_z",
                 "rolling_robust_z(window=100)")  # fmt: skip
    row = board.table.set_index("detector").loc["rolling_robust_z"]
    assert row["budget_met"] and row["events"] > 100 and 0 < row["share_detected"] <= 1


def test_when_a_nab_slice_is_tabled_with_a_time_split_then_one_detectors_row_is_rederived_exactly_from_the_store(
    shared_cluster, tmp_path
):
    task = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS)
    detectors = [{"name": "windowedGaussian", "params": {"window_size": 64, "step_size": 8}}, "rolling_robust_z"]
    store = tmp_path / "store"
    run = detect_on_engine(task, detectors, scheduler=shared_cluster.address, store=store, chunk_size=5,
                           progress=False)  # fmt: skip
    assert not run.failures
    budget, split, hold, n_candidates = AlertBudget.per_week(7), "time", 0, 60
    board = alert_board_from_store(store, task, detectors, budget, split=split, hold=hold, n_candidates=n_candidates)
    _check_board(board, run, store, task, budget, split, hold, n_candidates, "windowedGaussian",
                 "windowedGaussian(step_size=8, window_size=64)")  # fmt: skip
    assert (board.table["fraction"] == 0.5).all()


def test_when_robot_shop_alerts_are_tabled_then_one_detectors_row_is_rederived_exactly_from_the_store(
    shared_cluster, tmp_path
):
    # Instana's "Calls are slower than usual" alerts on the application's KPIs (10 s steps, one day)
    task = DetectionTask(dataset="robot_shop", subsets=("application",), labels="points", labels_table="labels",
                         label_column="Calls are slower than usual")  # fmt: skip
    detectors = [{"name": "rolling_robust_z", "params": {"window": 360}}, "windowedGaussian"]
    store = tmp_path / "store"
    run = detect_on_engine(task, detectors, scheduler=shared_cluster.address, store=store, chunk_size=1,
                           progress=False)  # fmt: skip
    assert not run.failures and run.data.items == ["RobotShop/Application"]
    budget, split, hold, n_candidates = AlertBudget.per_day(4), "time", 6, 50
    board = alert_board_from_store(store, task, detectors, budget, split=split, hold=hold, n_candidates=n_candidates)
    _check_board(board, run, store, task, budget, split, hold, n_candidates, "rolling_robust_z",
                 "rolling_robust_z(window=360)")  # fmt: skip
    assert not board.table["tuned_on_test"].any() and (board.table["events"] > 0).all()
