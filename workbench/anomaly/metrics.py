"""Point-wise and event-wise detection metrics, beside the NAB score.

One signature for all: `(y_true, y_pred_or_score, groups=None)`, arrays over the rows of one series
or of a whole corpus; `groups` (a series index per row) keeps events from running across the end of
one series into the next. Labels are 0/1 per row; predictions are 0/1 (detections at a threshold),
scores are in [0, 1] (the threshold-free AUCs).

`event_f1` is the composite F1 of Garg et al. (2021): event-wise recall, row-wise precision.
`point_adjusted_f1` credits a whole labelled event as detected when any one of its rows is: it is
the convention of many deep-learning papers and it is optimistic (a random detector scores well on
long events), so it is named as such wherever it is reported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workbench.errors import UnknownNameError


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
# metrics over 0/1 detections (need a threshold) and over raw scores (threshold-free)
THRESHOLDED: dict[str, Metric] = {"point_f1": point_f1, "point_adjusted_f1": point_adjusted_f1, "event_f1": event_f1}
THRESHOLD_FREE: dict[str, Metric] = {"auc_pr": auc_pr, "auc_roc": auc_roc}


def get_detection_metric(name: str) -> tuple[Metric, bool]:
    """(function, needs_threshold) for a metric name."""
    if name in THRESHOLDED:
        return THRESHOLDED[name], True
    if name in THRESHOLD_FREE:
        return THRESHOLD_FREE[name], False
    raise UnknownNameError("detection metric", name, [*THRESHOLDED, *THRESHOLD_FREE])
