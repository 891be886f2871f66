"""VUS-ROC and VUS-PR (Paparrizos et al., VLDB 2022), as TSB-AD v1.5 computes them (`version='opt'`).

Range-AUC softens the labels: each labelled range gets a ramp of `w // 2` rows on either side whose
weight falls as sqrt(1 - d / w) with the distance d from the range (ramps that meet add up, capped
at 1). At a threshold t (a detection is `score >= t`), with P labelled rows, n rows:

- TP = sum of the soft labels over detected rows; FP = detections - TP;
- recall = min(TP / P', 1) with P' = (P + P + soft weight of the detected ramp rows) / 2;
- TPR = recall x (fraction of the ranges, merged where their ramps meet, that hold a detection);
- FPR = FP / (n - P'); precision = TP / detections.

The thresholds are TSB-AD's: `thre` (250) scores picked from the scores sorted in decreasing order
at `linspace(0, n - 1, thre).astype(int)`; the ROC curve runs from (0, 0) through them to (1, 1)
(trapezoids), the PR area is sum((TPR_k - TPR_k-1) x precision_k) from TPR_0 = 0. VUS averages both
areas over the ramp widths w = 0, 1, ..., `sliding_window` (TSB-AD's `get_metrics` default: 100;
its benchmark scripts pass the period it estimates from each series, `find_length_rank`).

TSB-AD loops over widths, thresholds and ranges, each step over all n rows. Here the soft labels
are held only on the rows near a range (the ramps of the widest window), as a (width x row) matrix;
cumulative sums over those rows in decreasing score order give TP and the ramp weight at every
threshold at once, and a range's detection is its maximum score against the threshold. The ramp
weights are added in TSB-AD's order, so overlapping ramps round as they do there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from workbench.anomaly.errors import DetectionInputError
from workbench.anomaly.range_metrics import ranges

__all__ = ["N_THRESHOLDS", "SLIDING_WINDOW", "Vus", "vus", "vus_per_series", "vus_pr", "vus_roc"]

SLIDING_WINDOW = 100  # TSB_AD.evaluation.metrics.get_metrics(slidingWindow=100)
N_THRESHOLDS = 250  # get_metrics(thre=250)


class Vus(NamedTuple):
    roc: float
    pr: float


def _spans(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated `arange(lo_i, hi_i)` (empty where hi_i <= lo_i) and the i of each element."""
    length = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), length)
    offset = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    return lo[owner] + offset, owner


def _merged(starts: np.ndarray, ends: np.ndarray, half: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """TSB-AD's `new_sequence`: ranges widened by `half` rows each side, merged where they meet."""
    if not len(starts):
        return starts, ends
    new = np.r_[True, ends[:-1] + half < starts[1:] - half]
    first, last = np.flatnonzero(new), np.r_[np.flatnonzero(new)[1:] - 1, len(starts) - 1]
    return np.maximum(starts[first] - half, 0), np.minimum(ends[last] + half, n - 1)


def _ramps(starts: np.ndarray, ends: np.ndarray, w: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, weights) of the ramps at width w, in the order TSB-AD's `sequencing` adds them:
    range by range, the right ramp then the left one."""
    half = w // 2
    right, r_of = _spans(ends + 1, np.minimum(ends + half + 1, n))
    left, l_of = _spans(np.maximum(starts - half, 0), starts)
    rows = np.r_[right, left]
    if not len(rows):
        return rows, np.zeros(0)
    dist = np.r_[right - ends[r_of], starts[l_of] - left]
    weights = np.sqrt(1 - dist / w)
    order = np.argsort(np.r_[2 * r_of, 2 * l_of + 1], kind="stable")
    return rows[order], weights[order]


def vus(
    y_true: np.ndarray, score: np.ndarray, sliding_window: int = SLIDING_WINDOW, n_thresholds: int = N_THRESHOLDS
) -> Vus:
    """VUS-ROC and VUS-PR of one series; NaN for both when only one class is labelled (TSB-AD fails there)."""
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=float)
    if y.ndim != 1 or y.shape != s.shape:
        raise DetectionInputError(f"VUS needs one label per score: labels {y.shape}, scores {s.shape}")
    if not np.isfinite(s).all():
        raise DetectionInputError(f"VUS cannot rank {int((~np.isfinite(s)).sum())} NaN or infinite score(s)")
    if int(sliding_window) != sliding_window or sliding_window < 0 or n_thresholds < 1:
        raise DetectionInputError(f"VUS needs sliding_window >= 0 and n_thresholds >= 1, got "
                                  f"{sliding_window}, {n_thresholds}")  # fmt: skip
    y = y.astype(bool)
    n, big = len(s), int(sliding_window)
    if not y.any() or y.all():
        return Vus(float("nan"), float("nan"))
    starts, ends = ranges(y)
    n_labelled = float(y.sum())

    thresholds = np.sort(s)[::-1][np.linspace(0, n - 1, n_thresholds).astype(int)]
    ascending = np.sort(s)
    detected = n - np.searchsorted(ascending, thresholds, side="left")  # rows with score >= t

    # the rows the soft labels can reach: the ranges with the widest ramps
    lo, hi = _merged(starts, ends, big // 2, n)
    near, _ = _spans(lo, hi + 1)
    order = np.argsort(-s[near], kind="stable")
    near = near[order]
    k = len(near) - np.searchsorted(np.sort(s[near]), thresholds, side="left")  # detected near rows
    where = np.full(n, -1)
    where[near] = np.arange(len(near))
    labelled = y[near]

    widths = np.arange(big + 1)
    soft = np.zeros((len(widths), len(near)))
    existence = np.zeros((len(widths), n_thresholds))
    n_ranges = np.zeros(len(widths))
    for w in widths:
        rows, weights = _ramps(starts, ends, int(w), n)
        np.add.at(soft[w], where[rows], weights)
        a, b = _merged(starts, ends, int(w) // 2, n)
        peak = np.maximum.reduceat(np.r_[s, -np.inf], np.c_[a, b + 1].ravel())[::2]
        existence[w] = len(peak) - np.searchsorted(np.sort(peak), thresholds, side="left")
        n_ranges[w] = len(peak)
    soft = np.where(labelled, 1.0, np.minimum(soft, 1.0))
    ramp = np.where(labelled, 0.0, soft)

    def detected_sum(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((len(widths), 1)), np.cumsum(values, axis=1)], axis=1)[:, k]

    tp = detected_sum(soft)
    p_new = (2 * n_labelled + detected_sum(ramp)) / 2
    tpr = np.minimum(tp / p_new, 1) * existence / n_ranges[:, None]
    fpr = (detected - tp) / (n - p_new)
    precision = tp / detected

    ones, zeros = np.ones((len(widths), 1)), np.zeros((len(widths), 1))
    tpr_curve, fpr_curve = np.hstack([zeros, tpr, ones]), np.hstack([zeros, fpr, ones])
    auc = np.sum(np.diff(fpr_curve, axis=1) * (tpr_curve[:, 1:] + tpr_curve[:, :-1]) / 2, axis=1)
    ap = np.sum(np.diff(tpr_curve[:, :-1], axis=1) * precision, axis=1)
    return Vus(float(auc.mean()), float(ap.mean()))


def vus_per_series(
    y_true: np.ndarray,
    score: np.ndarray,
    groups: np.ndarray | None = None,
    sliding_window: int = SLIDING_WINDOW,
    n_thresholds: int = N_THRESHOLDS,
) -> list[Vus]:
    """VUS of each run of equal `groups` values (a series of a corpus), in row order."""
    y, s = np.asarray(y_true), np.asarray(score, dtype=float)
    if groups is None:
        return [vus(y, s, sliding_window, n_thresholds)]
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise DetectionInputError(f"groups has shape {g.shape}, the labels {y.shape}")
    cuts = np.flatnonzero(g[1:] != g[:-1]) + 1
    return [vus(a, b, sliding_window, n_thresholds) for a, b in zip(np.split(y, cuts), np.split(s, cuts), strict=True)]


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


def vus_pr(y_true: np.ndarray, score: np.ndarray, groups: np.ndarray | None = None) -> float:
    """VUS-PR at TSB-AD's defaults; over a corpus (`groups`), the mean over the series that have both
    labelled and unlabelled rows, as TSB-AD's benchmark tables average per-series values."""
    return _mean([v.pr for v in vus_per_series(y_true, score, groups)])


def vus_roc(y_true: np.ndarray, score: np.ndarray, groups: np.ndarray | None = None) -> float:
    """VUS-ROC at TSB-AD's defaults; per-series mean over a corpus, as `vus_pr`."""
    return _mean([v.roc for v in vus_per_series(y_true, score, groups)])
