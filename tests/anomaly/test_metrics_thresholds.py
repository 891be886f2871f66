"""Point-wise and event-wise metrics on hand-checked cases; threshold strategies and their flags."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.anomaly.errors import ThresholdError
from workbench.anomaly.metrics import auc_pr, auc_roc, event_f1, point_adjusted_f1, point_f1, point_prf
from workbench.anomaly.thresholds import ThresholdStrategy, choose_threshold

# two labelled events (rows 2-5 and 10-11); one detection inside the first, one false alarm at 8
Y = np.array([0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0])
P = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])


def test_when_one_row_of_an_event_is_found_then_point_f1_counts_one_row():
    assert point_prf(Y, P) == pytest.approx((0.5, 1 / 6, 0.25))
    assert point_f1(Y, P) == pytest.approx(0.25)


def test_when_points_are_adjusted_then_the_whole_event_counts_and_the_score_is_higher():
    # adjusted: rows 2-5 detected -> tp 4, fp 1, fn 2
    assert point_adjusted_f1(Y, P) == pytest.approx(2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6))
    assert point_adjusted_f1(Y, P) > point_f1(Y, P)


def test_when_events_are_counted_then_recall_is_per_event_and_precision_per_row():
    # 1 of 2 events found; 1 of 2 detected rows is inside an event
    assert event_f1(Y, P) == pytest.approx(0.5)
    p = P.copy()
    p[2:6] = 1  # the whole first event: same event recall, better precision
    assert event_f1(Y, p) == pytest.approx(2 * (4 / 5) * 0.5 / (4 / 5 + 0.5))


def test_when_everything_is_flagged_then_event_f1_is_held_down_by_precision():
    everything = np.ones_like(Y)
    assert event_f1(Y, everything) == pytest.approx(2 * Y.mean() / (Y.mean() + 1))


def test_when_an_event_spans_two_series_then_groups_split_it():
    y, p = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert point_adjusted_f1(y, p) == pytest.approx(1.0)
    assert point_adjusted_f1(y, p, groups=np.array([0, 0, 1, 1])) < 1.0


def test_when_scores_rank_labels_perfectly_then_both_aucs_are_one():
    assert auc_roc(Y, Y * 0.9 + 0.05) == 1.0 and auc_pr(Y, Y * 0.9 + 0.05) == pytest.approx(1.0)
    assert np.isnan(auc_roc(np.zeros(5), np.arange(5) / 5))


def test_when_a_threshold_is_fixed_or_a_quantile_then_labels_are_not_needed():
    scores = np.linspace(0, 1, 101)
    calib = np.arange(101) < 50
    assert choose_threshold(ThresholdStrategy(kind="fixed", value=0.7), scores).value == 0.7
    q = choose_threshold(ThresholdStrategy(kind="quantile", q=0.5), scores, calibration=calib)
    assert q.value == pytest.approx(np.quantile(scores[:50], 0.5)) and not q.tuned_on_test


def test_when_tuned_on_calibration_then_only_calibration_labels_are_read():
    scores = np.r_[np.linspace(0, 1, 50), np.linspace(0, 1, 50)]
    labels = np.r_[np.linspace(0, 1, 50) > 0.8, np.linspace(0, 1, 50) > 0.3]
    calib = np.arange(100) < 50
    chosen = choose_threshold(ThresholdStrategy(), scores, labels, calib)
    assert 0.78 < chosen.value < 0.84 and not chosen.tuned_on_test
    assert "calibration" in chosen.strategy


def test_when_tuning_on_test_labels_is_not_allowed_then_it_is_refused_else_flagged():
    scores, labels = np.linspace(0, 1, 20), np.linspace(0, 1, 20) > 0.5
    with pytest.raises(ThresholdError, match="allow_test_labels"):
        choose_threshold(ThresholdStrategy(split="test"), scores, labels)
    chosen = choose_threshold(ThresholdStrategy(split="test", allow_test_labels=True), scores, labels)
    assert chosen.tuned_on_test and chosen.value == pytest.approx(scores[labels].min())


def test_when_a_strategy_is_incomplete_then_it_is_refused():
    with pytest.raises(ValueError, match="value"):
        ThresholdStrategy(kind="fixed")
    with pytest.raises(ValueError, match="cannot tune"):
        ThresholdStrategy(metric="auc_pr")
    with pytest.raises(ThresholdError, match="calibration split"):
        choose_threshold(ThresholdStrategy(), np.zeros(3), np.zeros(3), np.zeros(3, bool))


def test_when_metrics_are_looked_up_by_name_then_every_new_one_is_registered_and_pa_f1_is_marked_optimistic():
    from workbench.anomaly.metrics import (
        DESCRIPTIONS,
        OPTIMISTIC_METRICS,
        THRESHOLD_FREE,
        THRESHOLDED,
        describe_detection_metric,
        get_detection_metric,
    )
    from workbench.errors import UnknownNameError

    for name in ("range_precision", "range_recall", "range_f1"):
        assert get_detection_metric(name)[1] is True
    for name in ("vus_pr", "vus_roc"):
        assert get_detection_metric(name)[1] is False
    assert set(DESCRIPTIONS) == set(THRESHOLDED) | set(THRESHOLD_FREE)
    assert "point_adjusted_f1" in OPTIMISTIC_METRICS and "event_f1" not in OPTIMISTIC_METRICS
    assert describe_detection_metric("point_adjusted_f1").startswith("(optimistic)")
    assert not describe_detection_metric("event_f1").startswith("(optimistic)")
    with pytest.raises(UnknownNameError, match="vus_pr"):
        get_detection_metric("vus-pr")


def test_when_a_detection_task_names_the_new_metrics_then_it_validates_and_an_unknown_one_is_refused():
    from workbench.anomaly.task import DetectionTask
    from workbench.errors import UnknownNameError

    task = DetectionTask(dataset="nab", subsets=("all",), metrics=("vus_pr", "vus_roc", "range_f1"))
    assert task.metrics == ("vus_pr", "vus_roc", "range_f1")
    with pytest.raises(UnknownNameError, match=r"range_f2.*Did you mean 'range_f1'"):
        DetectionTask(dataset="nab", subsets=("all",), metrics=("range_f2",))
