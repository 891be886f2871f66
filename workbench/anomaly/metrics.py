"""Point-wise and event-wise detection metrics, beside the NAB score.

One signature for all: `(y_true, y_pred_or_score, groups=None)`, arrays over the rows of one series
or of a whole corpus; `groups` (a series index per row) keeps events from running across the end of
one series into the next. Labels are 0/1 per row; predictions are 0/1 (detections at a threshold),
scores are in [0, 1] (the threshold-free AUCs).

`event_f1` is the composite F1 of Garg et al. (2021): event-wise recall, row-wise precision.
`point_adjusted_f1` (PA-F1) credits a whole labelled event as detected when any one of its rows is:
it is the convention of many deep-learning papers and it is optimistic (a random detector scores
well on long events; Kim et al., AAAI 2022), so it is listed in `OPTIMISTIC_METRICS` and every
table that reports it can mark it.

The metrics the field reports now sit beside them: range-based precision, recall and F1 (Tatbul et
al. 2018, `workbench.anomaly.range_metrics`) over 0/1 detections, and VUS-ROC / VUS-PR (Paparrizos
et al. 2022, `workbench.anomaly.vus`) over raw scores, both as TSB-AD v1.5 computes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workbench.anomaly.range_metrics import range_f1, range_precision, range_recall
from workbench.anomaly.vus import vus_pr, vus_roc
from workbench.errors import UnknownNameError

__all__ = [
    "DESCRIPTIONS",
    "OPTIMISTIC_METRICS",
    "THRESHOLDED",
    "THRESHOLD_FREE",
    "Metric",
    "auc_pr",
    "auc_roc",
    "describe_detection_metric",
    "event_f1",
    "get_detection_metric",
    "point_adjust",
    "point_adjusted_f1",
    "point_f1",
    "point_prf",
]


def _segments(mask: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """A segment id per row of `mask` (-1 outside): runs of True that do not cross a group boundary."""
    mask = np.asarray(mask, dtype=bool)
    starts = mask.copy()
    starts[1:] &= ~mask[:-1]
    if groups is not None and len(mask) > 1:
        starts[1:] |= mask[1:] & (np.asarray(groups)[1:] != np.asarray(groups)[:-1])
    ids = np.cumsum(starts) - 1
    return np.where(mask, ids, -1)


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def point_prf(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float, float]:
    """Precision, recall and F1 over rows."""
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    return _prf(float((t & p).sum()), float((~t & p).sum()), float((t & ~p).sum()))


def point_f1(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> float:
    return point_prf(y_true, y_pred)[2]


def point_adjust(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Predictions with every labelled event filled in where any of its rows is detected (optimistic)."""
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool).copy()
    seg = _segments(t, groups)
    hit = np.unique(seg[t & p])
    p[np.isin(seg, hit) & (seg >= 0)] = True
    return p


def point_adjusted_f1(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> float:
    """F1 after point adjustment: OPTIMISTIC, reported for comparison with papers that use it."""
    return point_prf(y_true, point_adjust(y_true, y_pred, groups))[2]


def event_f1(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Composite F1 (Garg et al. 2021): recall over labelled events (found when any of its rows is
    detected), precision over rows. Counting recall per event keeps long events from dominating;
    keeping precision per row keeps a detector that flags everything from scoring 1."""
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    true_seg = _segments(t, groups)
    n_events = len(np.unique(true_seg[t]))
    recall = len(np.unique(true_seg[t & p])) / n_events if n_events else 0.0
    precision = point_prf(t, p)[0]
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def auc_pr(y_true: np.ndarray, score: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Area under the precision-recall curve (average precision); NaN without positive labels."""
    from sklearn.metrics import average_precision_score

    t = np.asarray(y_true, bool)
    return float(average_precision_score(t, score)) if t.any() else float("nan")


def auc_roc(y_true: np.ndarray, score: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    t = np.asarray(y_true, bool)
    return float(roc_auc_score(t, score)) if 0 < t.sum() < len(t) else float("nan")


Metric = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
# metrics over 0/1 detections (need a threshold) and over raw scores (threshold-free); all higher-is-better
THRESHOLDED: dict[str, Metric] = {
    "point_f1": point_f1,
    "point_adjusted_f1": point_adjusted_f1,
    "event_f1": event_f1,
    "range_precision": range_precision,
    "range_recall": range_recall,
    "range_f1": range_f1,
}
THRESHOLD_FREE: dict[str, Metric] = {"auc_pr": auc_pr, "auc_roc": auc_roc, "vus_pr": vus_pr, "vus_roc": vus_roc}

# metrics known to overstate a detector: reported for comparison with the papers that use them, and
# marked as such wherever they appear
OPTIMISTIC_METRICS: frozenset[str] = frozenset({"point_adjusted_f1"})

DESCRIPTIONS: dict[str, str] = {
    "point_f1": "F1 over rows",
    "point_adjusted_f1": "PA-F1: F1 after point adjustment (a whole event counts once one row is found); "
    "OPTIMISTIC, a random detector scores well on long events",
    "event_f1": "composite F1 (Garg et al. 2021): recall over events, precision over rows",
    "range_precision": "range-based precision (Tatbul et al. 2018; TSB-AD: alpha 0, reciprocal cardinality, flat bias)",
    "range_recall": "range-based recall (Tatbul et al. 2018; TSB-AD: alpha 0.2, reciprocal cardinality, flat bias)",
    "range_f1": "harmonic mean of range-based precision and recall (TSB-AD's R-based-F1)",
    "auc_pr": "area under the precision-recall curve (average precision), pooled over rows",
    "auc_roc": "area under the ROC curve, pooled over rows",
    "vus_pr": "VUS-PR (Paparrizos et al. 2022; TSB-AD: windows 0..100, 250 thresholds), mean over series",
    "vus_roc": "VUS-ROC (Paparrizos et al. 2022; TSB-AD: windows 0..100, 250 thresholds), mean over series",
}


def get_detection_metric(name: str) -> tuple[Metric, bool]:
    """(function, needs_threshold) for a metric name; every detection metric is higher-is-better."""
    if name in THRESHOLDED:
        return THRESHOLDED[name], True
    if name in THRESHOLD_FREE:
        return THRESHOLD_FREE[name], False
    raise UnknownNameError("detection metric", name, [*THRESHOLDED, *THRESHOLD_FREE])


def describe_detection_metric(name: str) -> str:
    """One line on what the metric measures, `(optimistic)` first when it is in `OPTIMISTIC_METRICS`."""
    get_detection_metric(name)
    return ("(optimistic) " if name in OPTIMISTIC_METRICS else "") + DESCRIPTIONS[name]
