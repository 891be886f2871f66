"""Range-based precision and recall (Tatbul et al., NeurIPS 2018), as TSB-AD v1.5 computes them.

Point-wise precision and recall count rows; an anomaly is a *range* of rows, and a detector that
flags a few rows of every labelled range is more useful than one that flags all rows of one range.
Tatbul et al. score each range instead:

    reward(R) = alpha * existence(R) + (1 - alpha) * overlap(R) * cardinality(R)

- existence: 1 when any row of the range is matched by the other side;
- overlap (bias "flat"): the fraction of the range's rows the other side covers;
- cardinality: 1 / (number of ranges of the other side that intersect it), 0 when none does
  ("reciprocal", what TSB-AD's `Cardinality_factor` does), or 1 ("one", Tatbul's other option).

Recall averages the reward over labelled ranges (TSB-AD: alpha = 0.2); precision averages it over
predicted ranges against the labels (alpha = 0, no existence term). Both are 0 when there is no
range to average over, as in TSB-AD. `range_f1` is their harmonic mean (TSB-AD's `R-based-F1`).

Everything is computed from the ranges' start and end rows with cumulative sums and binary searches,
no loop over rows or ranges. One knowing difference from TSB-AD: its `range_convers_new` finds no
range in an array that is 1 on every row; here that array is one range.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from workbench.anomaly.errors import DetectionInputError

__all__ = ["RECALL_ALPHA", "Cardinality", "range_f1", "range_precision", "range_recall", "ranges"]

Cardinality = Literal["reciprocal", "one"]
RECALL_ALPHA = 0.2  # TSB-AD's metric_RF1 / metric_new: range_recall_new(label, preds, alpha=0.2)


def ranges(mask: np.ndarray, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) rows, ends inclusive, of the runs of True in `mask`; a run is cut where
    `groups` changes value, so that no range runs from the end of one series into the next."""
    mask = np.asarray(mask).astype(bool)
    if mask.ndim != 1:
        raise DetectionInputError(f"labels/predictions must be one-dimensional, got shape {mask.shape}")
    begin = mask.copy()
    begin[1:] &= ~mask[:-1]
    finish = mask.copy()
    finish[:-1] &= ~mask[1:]
    if groups is not None and len(mask) > 1:
        g = np.asarray(groups)
        if g.shape != mask.shape:
            raise DetectionInputError(f"groups has shape {g.shape}, the labels {mask.shape}")
        change = g[1:] != g[:-1]
        begin[1:] |= mask[1:] & change
        finish[:-1] |= mask[:-1] & change
    return np.flatnonzero(begin), np.flatnonzero(finish)


def _rewards(
    own: tuple[np.ndarray, np.ndarray],
    other_mask: np.ndarray,
    other: tuple[np.ndarray, np.ndarray],
    alpha: float,
    cardinality: Cardinality,
) -> np.ndarray:
    """Tatbul's reward of each range of `own` against the rows and ranges of the other side."""
    starts, ends = own
    covered = np.concatenate([[0], np.cumsum(other_mask, dtype=np.int64)])
    hits = covered[ends + 1] - covered[starts]  # rows of the range the other side flags
    overlap = hits / (ends - starts + 1)  # flat bias: every row of a range weighs the same
    existence = (hits > 0).astype(float)
    if cardinality == "one":
        factor = existence
    else:
        # ranges of each side are disjoint and sorted: those intersecting [s, e] start at or before e
        # and are not among those that end before s
        n_meet = np.searchsorted(other[0], ends, side="right") - np.searchsorted(other[1], starts, side="left")
        factor = np.where(n_meet > 0, 1.0 / np.maximum(n_meet, 1), 0.0)
    return alpha * existence + (1 - alpha) * overlap * factor


def _checked(y_true: np.ndarray, y_pred: np.ndarray, alpha: float, cardinality: str, bias: str):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape:
        raise DetectionInputError(f"labels have shape {t.shape}, predictions {p.shape}")
    if not 0 <= alpha <= 1:
        raise DetectionInputError(f"range metric alpha must lie in [0, 1], got {alpha}")
    if cardinality not in ("reciprocal", "one"):
        raise DetectionInputError(f"range metric cardinality must be 'reciprocal' or 'one', got {cardinality!r}")
    if bias != "flat":
        raise DetectionInputError(f"range metric bias {bias!r} is not implemented; only 'flat' (TSB-AD's default)")
    return t.astype(bool), p.astype(bool)


def range_recall(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    alpha: float = RECALL_ALPHA,
    cardinality: Cardinality = "reciprocal",
    bias: str = "flat",
) -> float:
    """Mean reward of the labelled ranges (TSB-AD's `Rrecall`); 0 without a labelled range."""
    t, p = _checked(y_true, y_pred, alpha, cardinality, bias)
    real = ranges(t, groups)
    if not len(real[0]):
        return 0.0
    return float(_rewards(real, p, ranges(p, groups), alpha, cardinality).mean())


def range_precision(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    alpha: float = 0.0,
    cardinality: Cardinality = "reciprocal",
    bias: str = "flat",
) -> float:
    """Mean reward of the predicted ranges against the labels (TSB-AD's `Rprecision`); 0 without a
    predicted range."""
    t, p = _checked(y_true, y_pred, alpha, cardinality, bias)
    predicted = ranges(p, groups)
    if not len(predicted[0]):
        return 0.0
    return float(_rewards(predicted, t, ranges(t, groups), alpha, cardinality).mean())


def range_f1(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Harmonic mean of range precision and recall at TSB-AD's defaults (its `R-based-F1` at a
    given prediction)."""
    precision = range_precision(y_true, y_pred, groups)
    recall = range_recall(y_true, y_pred, groups)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
