"""Forecast accuracy metrics: one signature, per-series values, aggregation named explicitly.

Every metric is `fn(y_true, y_pred, *, y_past, season_length, quantiles, q_pred) -> ndarray[n_series]`
over arrays shaped (n_series, horizon); NaN cells (ragged horizons) are ignored. Scales that need
history (MASE, RMSSE, MSIS) are computed on `y_past`, the training part of each window only, given as
a left- or right-padded 2-D array or a list of 1-D arrays. Aggregation across series is a separate,
named step (`aggregate`) whose name is stored next to every value, because "the sMAPE of M4" (mean of
per-series means) and a pooled sMAPE differ whenever horizons differ.

sMAPE and MASE follow the M4 organisers' `smape_cal` / `mase_cal` exactly (sMAPE in percent, MASE
scaled by the in-sample seasonal naive MAE with lag m = the series frequency).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit

from workbench.errors import UnknownNameError

ArrayLike = np.ndarray | Sequence[np.ndarray]


def _as_2d(a: ArrayLike) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    return arr[None, :] if arr.ndim == 1 else arr


def _past_rows(y_past: ArrayLike | None, n: int) -> list[np.ndarray]:
    if y_past is None:
        raise ValueError("this metric needs y_past (the training part of each series)")
    if isinstance(y_past, np.ndarray) and y_past.ndim == 2:
        rows = [r[~np.isnan(r)] for r in y_past]
    elif isinstance(y_past, np.ndarray) and y_past.ndim == 1 and n == 1:
        rows = [y_past[~np.isnan(y_past)]]
    else:
        rows = [np.asarray(r, dtype=float) for r in y_past]
    if len(rows) != n:
        raise ValueError(f"y_past has {len(rows)} series, y_true has {n}")
    return rows


def seasonal_naive_scale(y_past: ArrayLike | None, n: int, season_length: int, power: int = 1) -> np.ndarray:
    """mean_{j=m+1..T} |x_j - x_{j-m}|**power per series (NaN when T <= m)."""
    if isinstance(y_past, np.ndarray) and y_past.ndim == 2 and len(y_past) == n:
        scales, gapped = _padded_scales(np.ascontiguousarray(y_past, dtype=np.float64), season_length, power)
        rows = np.flatnonzero(gapped)
    else:
        scales, rows = np.full(n, np.nan), np.arange(n)
    if len(rows):
        # series with missing values inside: drop them first, then difference (as before any padding)
        past = _past_rows(y_past, n)
        for i in rows:
            x = past[i]
            scales[i] = (
                np.mean(np.abs(x[season_length:] - x[:-season_length]) ** power) if len(x) > season_length else np.nan
            )
    return scales


@njit(cache=True)
def _padded_scales(a: np.ndarray, m: int, power: int) -> tuple[np.ndarray, np.ndarray]:
    """One pass per row of a padded array; flags rows whose values are not contiguous."""
    n, width = a.shape
    out = np.full(n, np.nan)
    gapped = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        first, last, count = -1, -1, 0
        for j in range(width):
            if not np.isnan(a[i, j]):
                if first < 0:
                    first = j
                last = j
                count += 1
        if count and last - first + 1 != count:
            gapped[i] = True
            continue
        total = 0.0
        pairs = 0
        for j in range(max(first, 0) + m, last + 1):
            d = abs(a[i, j] - a[i, j - m])
            total += d if power == 1 else d**power
            pairs += 1
        if pairs:
            out[i] = total / pairs
    return out, gapped


def _mean(a: np.ndarray) -> np.ndarray:
    nan = np.isnan(a)
    if not nan.any():
        return a.mean(axis=1)
    with np.errstate(invalid="ignore"):
        valid = ~nan
        return np.where(valid.any(axis=1), np.nansum(a, axis=1) / np.maximum(valid.sum(axis=1), 1), np.nan)


# ---- point metrics ---------------------------------------------------------------------------
def mae(y_true, y_pred, **_) -> np.ndarray:
    return _mean(np.abs(_as_2d(y_true) - _as_2d(y_pred)))


def mse(y_true, y_pred, **_) -> np.ndarray:
    return _mean((_as_2d(y_true) - _as_2d(y_pred)) ** 2)


def rmse(y_true, y_pred, **_) -> np.ndarray:
    return np.sqrt(mse(y_true, y_pred))


def mape(y_true, y_pred, **_) -> np.ndarray:
    """Percent; infinite where an actual is 0 and the forecast is not (left visible on purpose)."""
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * _mean(np.abs(yt - yp) / np.abs(yt))


def smape(y_true, y_pred, **_) -> np.ndarray:
    """M4's sMAPE: 200 |y - f| / (|y| + |f|), in percent; 0 when both are 0."""
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    denom = np.abs(yt) + np.abs(yp)
    num = 200 * np.abs(yt - yp)
    # 0/0 (both zero) counts as 0; a NaN input keeps a NaN denominator, so the term stays NaN
    terms = np.divide(num, denom, out=np.zeros_like(num), where=denom != 0)
    return _mean(terms)


def mase(y_true, y_pred, *, y_past=None, season_length: int = 1, **_) -> np.ndarray:
    yt = _as_2d(y_true)
    return mae(yt, y_pred) / seasonal_naive_scale(y_past, len(yt), season_length)


def mase_monash(y_true, y_pred, *, y_past=None, season_length: int = 1, **_) -> np.ndarray:
    """MASE as the Monash archive computes it (`utils/error_calculator.R`): the seasonal lag falls back
    to 1 when the history is not longer than it, and series with an infinite or undefined value are
    NaN (the archive drops them from its mean)."""
    yt = _as_2d(y_true)
    scale = seasonal_naive_scale(y_past, len(yt), season_length)
    if season_length > 1 and np.isnan(scale).any():
        scale = np.where(np.isnan(scale), seasonal_naive_scale(y_past, len(yt), 1), scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mae(yt, y_pred) / scale
    out[~np.isfinite(out)] = np.nan
    return out


def rmsse(y_true, y_pred, *, y_past=None, season_length: int = 1, **_) -> np.ndarray:
    yt = _as_2d(y_true)
    return np.sqrt(mse(yt, y_pred) / seasonal_naive_scale(y_past, len(yt), season_length, power=2))


def wape(y_true, y_pred, **_) -> np.ndarray:
    """sum |y - f| / sum |y| per series (pool with `aggregate(..., "pooled", weights=sum|y|)`)."""
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nansum(np.abs(yt - yp), axis=1) / np.nansum(np.abs(yt), axis=1)


# ---- probabilistic metrics: q_pred has shape (n_series, horizon, n_quantiles) -------------------
def _q(q_pred, quantiles) -> tuple[np.ndarray, np.ndarray]:
    if q_pred is None or quantiles is None:
        raise ValueError("this metric needs q_pred and quantiles")
    qp = np.asarray(q_pred, dtype=float)
    qs = np.asarray(quantiles, dtype=float)
    if qp.ndim == 2:
        qp = qp[None]
    if qp.shape[-1] != len(qs):
        raise ValueError(f"q_pred has {qp.shape[-1]} quantile columns, quantiles lists {len(qs)}")
    return qp, qs


def _pinball(y_true, q_pred, quantiles) -> np.ndarray:
    qp, qs = _q(q_pred, quantiles)
    diff = _as_2d(y_true)[..., None] - qp
    return np.maximum(qs * diff, (qs - 1) * diff)  # (n, h, Q)


def quantile_loss(y_true, y_pred=None, *, q_pred=None, quantiles=None, **_) -> np.ndarray:
    """Mean pinball loss over horizon and quantiles, per series."""
    loss = _pinball(y_true, q_pred, quantiles)
    return _mean(loss.mean(axis=2))


def weighted_quantile_loss(y_true, y_pred=None, *, q_pred=None, quantiles=None, **_) -> np.ndarray:
    """2 * sum pinball / sum |y|, averaged over quantiles: the usual CRPS approximation."""
    loss = _pinball(y_true, q_pred, quantiles)
    denom = np.nansum(np.abs(_as_2d(y_true)), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * np.nansum(loss, axis=1).mean(axis=1) / denom


def _interval(q_pred, quantiles, level: float) -> tuple[np.ndarray, np.ndarray]:
    qp, qs = _q(q_pred, quantiles)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    try:
        lo = int(np.flatnonzero(np.isclose(qs, lo_q))[0])
        hi = int(np.flatnonzero(np.isclose(qs, hi_q))[0])
    except IndexError:
        raise ValueError(f"a {level:.0%} interval needs quantiles {lo_q:g} and {hi_q:g}; got {list(qs)}") from None
    return qp[..., lo], qp[..., hi]


def msis(y_true, y_pred=None, *, q_pred=None, quantiles=None, y_past=None, season_length=1, level=0.95, **_):
    """M4's mean scaled interval score of the central `level` interval."""
    yt = _as_2d(y_true)
    lo, hi = _interval(q_pred, quantiles, level)
    a = 1 - level
    score = (hi - lo) + (2 / a) * (lo - yt) * (yt < lo) + (2 / a) * (yt - hi) * (yt > hi)
    return _mean(score) / seasonal_naive_scale(y_past, len(yt), season_length)


def coverage(y_true, y_pred=None, *, q_pred=None, quantiles=None, level=0.95, **_) -> np.ndarray:
    """Share of actuals inside the central `level` interval."""
    yt = _as_2d(y_true)
    lo, hi = _interval(q_pred, quantiles, level)
    inside = ((yt >= lo) & (yt <= hi)).astype(float)
    inside[np.isnan(yt)] = np.nan
    return _mean(inside)


# ---- registry and aggregation ------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[..., np.ndarray]
    probabilistic: bool = False
    needs_past: bool = False


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("smape", smape),
        Metric("mase", mase, needs_past=True),
        Metric("mase_monash", mase_monash, needs_past=True),
        Metric("mae", mae),
        Metric("mse", mse),
        Metric("rmse", rmse),
        Metric("mape", mape),
        Metric("rmsse", rmsse, needs_past=True),
        Metric("wape", wape),
        Metric("quantile_loss", quantile_loss, probabilistic=True),
        Metric("wql", weighted_quantile_loss, probabilistic=True),
        Metric("msis", msis, probabilistic=True, needs_past=True),
        Metric("coverage", coverage, probabilistic=True),
    )
}


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise UnknownNameError("metric", name, list(METRICS))
    return METRICS[name]


Aggregation = Literal["mean", "pooled", "gmean_rel"]


def aggregate(
    values: np.ndarray,
    how: Aggregation = "mean",
    *,
    weights: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
) -> float:
    """Combine per-series values: `mean` of series, `pooled` (weighted by e.g. points or sum|y|),
    or `gmean_rel`, the geometric mean of value / baseline value (a relative skill)."""
    v = np.asarray(values, dtype=float)
    if how == "mean":
        return float(np.nanmean(v))
    if how == "pooled":
        if weights is None:
            raise ValueError("pooled aggregation needs weights (points per series, or sum |y|)")
        w = np.asarray(weights, dtype=float)
        ok = ~np.isnan(v)
        return float(np.sum(v[ok] * w[ok]) / np.sum(w[ok]))
    if how == "gmean_rel":
        if baseline is None:
            raise ValueError("gmean_rel aggregation needs the baseline's per-series values")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = v / np.asarray(baseline, dtype=float)
        ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
        return float(np.exp(np.mean(np.log(ratio))))
    raise UnknownNameError("aggregation", str(how), ["mean", "pooled", "gmean_rel"])


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average, from aggregated sMAPE and MASE relative to Naive2."""
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)
