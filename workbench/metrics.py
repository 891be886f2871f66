"""Forecast accuracy metrics: one signature, per-series values, aggregation named explicitly.

Every metric is called the same way, with named arguments only and nothing else accepted (a misspelt
keyword is a TypeError, not a silently ignored option):

    fn(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> ndarray[n_series]

over arrays shaped (n_series, horizon); NaN cells (ragged horizons) are ignored. Interval metrics
(`msis`, `coverage`) also take `level` (default 0.95). Scales that need history (MASE, RMSSE, MSIS,
scaled QL) are computed on `y_past`, the training part of each window only, given as a left- or
right-padded 2-D array or a list of 1-D arrays. Aggregation across series is a separate, named step
(`aggregate`) whose name is stored next to every value, because "the sMAPE of M4" (mean of
per-series means) and a pooled sMAPE differ whenever horizons differ.

sMAPE and MASE follow the M4 organisers' `smape_cal` / `mase_cal` exactly (sMAPE in percent, MASE
scaled by the in-sample seasonal naive MAE with lag m = the series frequency).

Probabilistic metrics read `q_pred` (n_series, horizon, n_quantiles) at the levels `quantiles`;
`Metric.probabilistic` marks them and the scorer (`workbench.scoring`) stores the levels each value
used in a `quantiles` column. A forecaster gives quantiles when asked: `quantiles=[0.1, ..., 0.9]`
among its parameters. "QL" below is the quantile loss as gluonts and fev define it, twice the pinball
loss: QL_q(y, x) = 2 |(y - x) (1{y <= x} - q)|, so that the mean over levels approximates CRPS.

- `crps`: GIFT-Eval's and BOOM's CRPS, gluonts' `MeanWeightedSumQuantileLoss`: for each level q,
  sum_t QL_q / sum_t |y|, then the mean over levels. Per series here; GIFT-Eval and BOOM pool it over
  every series of a task (sums over the whole dataset), which `pooled_ratio` of the `numerator` /
  `denominator` stored beside each value gives exactly (`crps_parts`).
- `wql`: fev's WQL, mean(QL) / mean(|y|) over the cells evaluated. This equals `crps` per series and
  equally when pooled over series (the denominator does not depend on q, so the mean over levels and
  the ratio commute), also with NaN cells; it is kept under fev's name so that tables quoting either
  benchmark read the same name.
- `scaled_ql`: fev's SQL, mean over horizon and levels of QL divided by the in-sample seasonal naive
  MAE (lag `season_length`). fev's QL carries the factor 2, so this is twice utilsforecast's
  `scaled_mqloss` (M5's scaled pinball loss).
- `quantile_loss`: the plain mean pinball loss over horizon and levels (utilsforecast's `mqloss`).
- `msis`: M4's mean scaled interval score of the central `level` interval (quantiles (1-level)/2
  and (1+level)/2 must be among the levels; gluonts' `MSIS(alpha=1-level)`).
- `coverage`: share of actuals inside the central `level` interval, both ends included
  (utilsforecast's `coverage`).
Interval metrics at another level are named `msis@80`, `coverage@50` (level in percent).

What is better is declared by each metric, never assumed by whoever ranks it: `Metric.direction` is
`lower` (every error and loss above), `higher` (a score) or `target` with `Metric.target` the ideal
value (`coverage`: its level, 0.95 for `coverage`, 0.80 for `coverage@80`; a coverage of 0.99 is as
badly calibrated as one of 0.91). `Metric.loss` (or `metric_loss` by name) maps values to "smaller is
better" (lower: v, higher: -v, target: |v - target|): it is the one place a direction is read, so that
ranks, win rates, skill scores and tests over any metric order models alike. `metric_direction` also
resolves names that are not registered (detection scores) from an explicit `higher_is_better`, and
refuses one that contradicts a registered metric's direction.

Undefined values are NaN, never dropped and never an infinity: crps / wql of a series whose absolute
actuals sum to 0 (its numerator is still stored, so the pooled value counts its loss, as GIFT-Eval's does);
scaled_ql / msis where the seasonal naive scale is 0 (a constant history) or undefined (history not
longer than the season); any probabilistic value of a series with a missing quantile at an observed
step (a series forecast by a fallback model without quantiles). gluonts gives inf there, fev inf
(dropped from its mean) or a scale of 1 for too short histories, utilsforecast divides by |y| + eps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal, get_args

import numpy as np
from numba import njit

from workbench.errors import UnknownNameError

__all__ = [
    "METRICS",
    "Aggregation",
    "ArrayLike",
    "Direction",
    "Metric",
    "aggregate",
    "coverage",
    "crps",
    "crps_parts",
    "get_metric",
    "interval_levels",
    "mae",
    "mape",
    "mase",
    "mase_fev",
    "mase_fev_parts",
    "mase_monash",
    "metric_direction",
    "metric_loss",
    "mse",
    "msis",
    "owa",
    "pooled_ratio",
    "quantile_loss",
    "rmse",
    "rmsse",
    "scaled_ql",
    "seasonal_naive_scale",
    "smape",
    "wape",
    "wql",
]

ArrayLike = np.ndarray | Sequence[np.ndarray]
Direction = Literal["lower", "higher", "target"]


def _as_2d(a: ArrayLike) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    return arr[None, :] if arr.ndim == 1 else arr


def _past_rows(y_past: ArrayLike | None, n: int, keep_gaps: bool = False) -> list[np.ndarray]:
    """Each series' history as a 1-D array; padding and gaps (NaN) dropped from array input, or kept
    where they sit with `keep_gaps` (a scale that differences the series as stored)."""
    if y_past is None:
        raise ValueError("this metric needs y_past (the training part of each series)")
    if isinstance(y_past, np.ndarray) and y_past.ndim == 2:
        rows = [np.asarray(r, dtype=float) if keep_gaps else r[~np.isnan(r)] for r in y_past]
    elif isinstance(y_past, np.ndarray) and y_past.ndim == 1 and n == 1:
        rows = [np.asarray(y_past, dtype=float) if keep_gaps else y_past[~np.isnan(y_past)]]
    else:
        rows = [np.asarray(r, dtype=float) for r in y_past]
    if len(rows) != n:
        raise ValueError(f"y_past has {len(rows)} series, y_true has {n}")
    return rows


def seasonal_naive_scale(y_past: ArrayLike | None, n: int, season_length: int, power: int = 1) -> np.ndarray:
    """mean_{j=m+1..T} |x_j - x_{j-m}|**power per series (NaN when T <= m).

    Parameters
    ----------
    y_past
        Each series' history: a padded 2-D array or a list of 1-D arrays (None: a `ValueError`).
    n
        The number of series.
    season_length
        The lag m.
    power
        1: the mean absolute difference (MASE's scale); 2: the mean squared one (RMSSE's).
    """
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
# Every metric declares the whole shared signature, so any misspelt keyword is a TypeError.
def mae(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Mean absolute error per series.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    return _mean(np.abs(_as_2d(y_true) - _as_2d(y_pred)))


def mse(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Mean squared error per series.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    return _mean((_as_2d(y_true) - _as_2d(y_pred)) ** 2)


def rmse(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Root mean squared error per series.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    return np.sqrt(mse(y_true, y_pred))


def mape(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Percent; infinite where an actual is 0 and the forecast is not (left visible on purpose).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * _mean(np.abs(yt - yp) / np.abs(yt))


def smape(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """M4's sMAPE: 200 |y - f| / (|y| + |f|), in percent; 0 when both are 0.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    denom = np.abs(yt) + np.abs(yp)
    num = 200 * np.abs(yt - yp)
    # 0/0 (both zero) counts as 0; a NaN input keeps a NaN denominator, so the term stays NaN
    terms = np.divide(num, denom, out=np.zeros_like(num), where=denom != 0)
    return _mean(terms)


def mase(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """M4's MASE per series: the MAE over the in-sample seasonal naive MAE (lag `season_length`).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt = _as_2d(y_true)
    return mae(yt, y_pred) / seasonal_naive_scale(y_past, len(yt), season_length)


def mase_monash(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """MASE as the Monash archive computes it (`utils/error_calculator.R`): the seasonal lag falls back
    to 1 when the history is not longer than it, and series with an infinite or undefined value are
    NaN (the archive drops them from its mean).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt = _as_2d(y_true)
    scale = seasonal_naive_scale(y_past, len(yt), season_length)
    if season_length > 1 and np.isnan(scale).any():
        scale = np.where(np.isnan(scale), seasonal_naive_scale(y_past, len(yt), 1), scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mae(yt, y_pred) / scale
    out[~np.isfinite(out)] = np.nan
    return out


def _fev_scale(y_past: ArrayLike | None, n: int, season_length: int) -> np.ndarray:
    """fev 0.6.0's in-sample scale per series: mean of |x_t - x_{t-m}| over the pairs where both are
    observed, differences taken on the series as stored (a missing value makes its pairs missing, it is
    not dropped first); 1.0 where that is undefined (history not longer than m, or no observed pair)."""
    rows = _past_rows(y_past, n, keep_gaps=True)
    m = season_length
    out = np.ones(n)
    for i, x in enumerate(rows):
        d = np.abs(x[m:] - x[:-m]) if len(x) > m else np.empty(0)
        d = d[~np.isnan(d)]
        if len(d):
            out[i] = d.mean()
    return out


def mase_fev_parts(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None):
    """Per-series (sum of the finite scaled errors, number of them): fev pools its MASE over every
    (series, step) cell of a task, so sum(numerator) / sum(denominator) over a task's rows is fev's value.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt = _as_2d(y_true)
    scale = _fev_scale(y_past, len(yt), season_length)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.abs(yt - _as_2d(y_pred)) / scale[:, None]
    finite = np.isfinite(scaled)
    return np.where(finite, scaled, 0.0).sum(axis=1), finite.sum(axis=1).astype(float)


def mase_fev(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """MASE as fev 0.6.0 computes it (`fev.metrics.MASE`, the Chronos benchmarks' metric): each step's
    absolute error over the series' in-sample seasonal naive MAE, that scale taken on the history as
    stored (pairs with a missing value skipped) and 1.0 where undefined; steps whose scaled error is not
    finite (a missing actual, a zero scale) are left out. Per series: the mean of its finite steps (NaN
    when there is none); fev's task value is the pooled mean, `pooled_ratio` of the parts
    (`mase_fev_parts`), which equals the mean over series when every step is defined.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles, q_pred
        Not read (the shared metric signature).
    """
    num, den = mase_fev_parts(y_true, y_pred, y_past=y_past, season_length=season_length)
    return _divide(num, den)


def rmsse(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Root mean squared scaled error per series: the MSE over the in-sample seasonal naive MSE
    (lag `season_length`), square-rooted (M5's RMSSE).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt = _as_2d(y_true)
    return np.sqrt(mse(yt, y_pred) / seasonal_naive_scale(y_past, len(yt), season_length, power=2))


def wape(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """sum |y - f| / sum |y| per series (pool with `aggregate(..., "pooled", weights=sum|y|)`).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_pred
        Point forecasts, the shape of `y_true`.
    y_past, season_length, quantiles, q_pred
        Not read (the shared metric signature).
    """
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nansum(np.abs(yt - yp), axis=1) / np.nansum(np.abs(yt), axis=1)


# ---- probabilistic metrics: q_pred has shape (n_series, horizon, n_quantiles) -------------------
def _q(y_true, q_pred, quantiles, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, q_pred, levels) checked against each other."""
    if q_pred is None or quantiles is None:
        raise ValueError(f"{metric} needs quantile forecasts: pass q_pred and quantiles")
    yt = _as_2d(y_true)
    qp = np.asarray(q_pred, dtype=float)
    qs = np.asarray(quantiles, dtype=float).ravel()
    if qp.ndim == 2:
        qp = qp[None]
    if qp.ndim != 3 or qp.shape[:2] != yt.shape:
        raise ValueError(f"{metric}: q_pred has shape {qp.shape}; expected {(*yt.shape, len(qs))}")
    if qp.shape[-1] != len(qs) or not len(qs):
        raise ValueError(f"{metric}: q_pred has {qp.shape[-1]} quantile columns, quantiles lists {len(qs)}")
    if np.any((qs <= 0) | (qs >= 1)):
        raise ValueError(f"{metric}: quantile levels must lie strictly between 0 and 1; got {list(qs)}")
    return yt, qp, qs


def _missing_quantile(yt: np.ndarray, qp: np.ndarray) -> np.ndarray:
    """Series with a quantile missing at an observed step: their value is undefined (NaN)."""
    return (np.isnan(qp).any(axis=2) & ~np.isnan(yt)).any(axis=1)


def _ql_sum(yt: np.ndarray, qp: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """sum over the observed steps of QL_q (twice the pinball loss), per series and level: (n, Q)."""
    diff = yt[..., None] - qp
    ql = 2 * np.maximum(qs * diff, (qs - 1) * diff)
    return np.nansum(ql, axis=1)


def _observed(yt: np.ndarray) -> np.ndarray:
    return (~np.isnan(yt)).sum(axis=1)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 or NaN (never an infinity)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def crps_parts(y_true, q_pred, quantiles) -> tuple[np.ndarray, np.ndarray]:
    """Per-series (numerator, denominator) of `crps`: mean over levels of sum_t QL_q, and sum_t |y|.
    Pooled over any set of series, sum(numerator) / sum(denominator) is GIFT-Eval's dataset CRPS.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon); NaN cells are ignored.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles).
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1.
    """
    yt, qp, qs = _q(y_true, q_pred, quantiles, "crps")
    num = _ql_sum(yt, qp, qs).mean(axis=1)  # 0 for a series without observed steps (an empty sum)
    num[_missing_quantile(yt, qp)] = np.nan
    return num, np.nansum(np.abs(yt), axis=1)


def _crps_parts_of(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None):
    """`crps_parts` in the shared metric signature (what `Metric.parts` is called with)."""
    return crps_parts(y_true, q_pred, quantiles)


def crps(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Quantile-weighted CRPS (GIFT-Eval / BOOM `mean_weighted_sum_quantile_loss`, gluonts'
    `MeanWeightedSumQuantileLoss`): mean over levels q of sum_t QL_q / sum_t |y|, per series.
    NaN where sum |y| is 0 (gluonts: inf); the module docstring gives the pooled form.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    y_pred, y_past, season_length
        Not read (the shared metric signature).
    """
    num, den = crps_parts(y_true, q_pred, quantiles)
    return _divide(num, den)


def wql(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """fev's weighted quantile loss, mean(QL) / mean(|y|) over the observed cells. Identical to
    `crps` per series and pooled (sum(numerator) / sum(denominator) with `crps_parts`): the
    denominator is the same for every level, so averaging over levels commutes with the ratio.
    Both names are kept because fev / Chronos tables say WQL and GIFT-Eval / BOOM tables say CRPS.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    y_pred, y_past, season_length
        Not read (the shared metric signature).
    """
    return crps(y_true, y_pred, quantiles=quantiles, q_pred=q_pred)


def scaled_ql(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """fev's scaled quantile loss (SQL): mean over horizon and levels of QL (twice the pinball loss)
    divided by the in-sample seasonal naive MAE of the window's past (lag `season_length`).
    NaN where that scale is 0 or undefined (fev: inf, dropped; or a scale of 1).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    y_pred
        Not read (the shared metric signature).
    """
    yt, qp, qs = _q(y_true, q_pred, quantiles, "scaled_ql")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_ql = _ql_sum(yt, qp, qs).mean(axis=1) / _observed(yt)
    mean_ql[_missing_quantile(yt, qp)] = np.nan
    return _divide(mean_ql, seasonal_naive_scale(y_past, len(yt), season_length))


def quantile_loss(y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None) -> np.ndarray:
    """Mean pinball loss over horizon and levels, per series (utilsforecast's `mqloss`; half of QL).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    y_pred, y_past, season_length
        Not read (the shared metric signature).
    """
    yt, qp, qs = _q(y_true, q_pred, quantiles, "quantile_loss")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = _ql_sum(yt, qp, qs).mean(axis=1) / (2 * _observed(yt))
    out[_missing_quantile(yt, qp)] = np.nan
    return out


def interval_levels(level: float) -> tuple[float, float]:
    """The quantile levels bounding the central `level` interval: 0.95 -> (0.025, 0.975).

    Parameters
    ----------
    level
        The interval's coverage, strictly between 0 and 1 (else a `ValueError`).
    """
    if not 0 < level < 1:
        raise ValueError(f"an interval level lies strictly between 0 and 1; got {level}")
    lo = round((1 - level) / 2, 12)
    return lo, round(1 - lo, 12)


def _interval(y_true, q_pred, quantiles, level: float, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yt, qp, qs = _q(y_true, q_pred, quantiles, metric)
    lo_q, hi_q = interval_levels(level)
    lo, hi = np.flatnonzero(np.isclose(qs, lo_q)), np.flatnonzero(np.isclose(qs, hi_q))
    if not len(lo) or not len(hi):
        raise ValueError(
            f"{metric}: its {level:.0%} interval needs quantiles {lo_q:g} and {hi_q:g}; "
            f"got {', '.join(f'{q:g}' for q in qs)}"
        )
    return yt, qp[..., lo[0]], qp[..., hi[0]]


def msis(
    y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None, level: float = 0.95
) -> np.ndarray:
    """M4's mean scaled interval score of the central `level` interval [lo, hi]:
    mean_t (hi - lo) + 2/a (lo - y) 1{y < lo} + 2/a (y - hi) 1{y > hi}, a = 1 - level, divided by the
    in-sample seasonal naive MAE. NaN where that scale is 0 or undefined (gluonts: inf).

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    y_past
        Each series' history (the window's past): a left- or right-padded 2-D array or a list of
        1-D arrays; required.
    season_length
        The lag m of the in-sample seasonal naive scale.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    level
        The central interval scored; its bounds ((1 - level) / 2, (1 + level) / 2) must be among
        `quantiles`.
    y_pred
        Not read (the shared metric signature).
    """
    yt, lo, hi = _interval(y_true, q_pred, quantiles, level, "msis")
    a = 1 - level
    with np.errstate(invalid="ignore"):
        score = (hi - lo) + (2 / a) * (lo - yt) * (yt < lo) + (2 / a) * (yt - hi) * (yt > hi)
    value = _mean(score)
    value[_missing_quantile(yt, np.stack([lo, hi], axis=-1))] = np.nan
    return _divide(value, seasonal_naive_scale(y_past, len(yt), season_length))


def coverage(
    y_true, y_pred, *, y_past=None, season_length=1, quantiles=None, q_pred=None, level: float = 0.95
) -> np.ndarray:
    """Share of the observed actuals inside the central `level` interval, both ends included.

    Parameters
    ----------
    y_true
        Actuals, shape (n_series, horizon) (1-D: one series); NaN cells are ignored.
    quantiles
        The levels of `q_pred`'s last axis, strictly between 0 and 1; required.
    q_pred
        Quantile forecasts, shape (n_series, horizon, n_quantiles); required.
    level
        The central interval scored; its bounds ((1 - level) / 2, (1 + level) / 2) must be among
        `quantiles`.
    y_pred, y_past, season_length
        Not read (the shared metric signature).
    """
    yt, lo, hi = _interval(y_true, q_pred, quantiles, level, "coverage")
    inside = ((yt >= lo) & (yt <= hi)).astype(float)
    inside[np.isnan(yt)] = np.nan
    value = _mean(inside)
    value[_missing_quantile(yt, np.stack([lo, hi], axis=-1))] = np.nan
    return value


# ---- registry and aggregation ------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A metric function plus what the scorer and the comparisons must know about it: whether it reads
    quantile forecasts, whether it needs the window's past, the interval `level` it scores (interval
    metrics: it uses only the two bounding quantiles), where a pooled value is the peers' aggregate, the
    per-series (numerator, denominator) function (called like `fn`; for a metric whose peers pool it over
    a task's cells), and what is better (`direction`, and the ideal value
    `target` of a `target` metric), which `loss` turns into "smaller is better".

    Parameters
    ----------
    name
        The registered name (`msis@80` for an interval metric at another level).
    fn
        The metric function (the shared signature), returning one value per series.
    probabilistic
        It reads quantile forecasts (`q_pred` at `quantiles`).
    needs_past
        It needs each window's past (`y_past`) for its scale.
    level
        The central interval an interval metric scores; None for the others.
    parts
        The per-series (numerator, denominator) function, called like `fn`, for a metric its peers pool
        over a task's cells; None: none.
    direction
        `lower`, `higher` or `target` is better.
    target
        The ideal value of a `target` metric; given exactly when `direction` is `target`.
    """

    name: str
    fn: Callable[..., np.ndarray]
    probabilistic: bool = False
    needs_past: bool = False
    level: float | None = None
    parts: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    direction: Direction = "lower"
    target: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in get_args(Direction):
            raise ValueError(
                f"metric {self.name!r}: direction {self.direction!r} is not one of {', '.join(get_args(Direction))}"
            )
        if (self.direction == "target") != (self.target is not None):
            raise ValueError(
                f"metric {self.name!r}: a target is given exactly when the direction is 'target' "
                f"(direction {self.direction!r}, target {self.target!r})"
            )

    def levels_used(self, quantiles: Sequence[float]) -> tuple[float, ...]:
        """The quantile levels this metric reads from those a forecast has.

        Parameters
        ----------
        quantiles
            The levels a forecast has.
        """
        if not self.probabilistic:
            return ()
        if self.level is None:
            return tuple(float(q) for q in quantiles)
        return interval_levels(self.level)

    def loss(self, values: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """`values` mapped so that smaller is better: lower v, higher -v, target |v - target|.

        Order-preserving for `lower` and `higher`; for `target` only the distance to the target counts
        (both sides alike, rounded to 12 decimals so that equal distances tie). NaN stays NaN, so
        undefined values stay visible to whoever counts them.

        Parameters
        ----------
        values
            The metric's values, any shape.
        """
        return _loss(np.asarray(values, dtype=float), self.direction, self.target)


def _loss(values: np.ndarray, direction: Direction, target: float | None) -> np.ndarray:
    if direction == "higher":
        return -values
    if direction == "target":
        # rounded so that equal distances on either side tie (|0.90 - 0.95| and |1.00 - 0.95| differ in
        # the last bits otherwise, and a rank or a win would turn on float noise)
        return np.round(np.abs(values - target), 12)
    return values


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("smape", smape),
        Metric("mase", mase, needs_past=True),
        Metric("mase_monash", mase_monash, needs_past=True),
        Metric("mase_fev", mase_fev, needs_past=True, parts=mase_fev_parts),
        Metric("mae", mae),
        Metric("mse", mse),
        Metric("rmse", rmse),
        Metric("mape", mape),
        Metric("rmsse", rmsse, needs_past=True),
        Metric("wape", wape),
        Metric("crps", crps, probabilistic=True, parts=_crps_parts_of),
        Metric("wql", wql, probabilistic=True, parts=_crps_parts_of),
        Metric("scaled_ql", scaled_ql, probabilistic=True, needs_past=True),
        Metric("quantile_loss", quantile_loss, probabilistic=True),
        Metric("msis", msis, probabilistic=True, needs_past=True, level=0.95),
        Metric("coverage", coverage, probabilistic=True, level=0.95, direction="target", target=0.95),
    )
}


def get_metric(name: str) -> Metric:
    """A registered metric; interval metrics also at another level as `msis@80`, `coverage@50`. A
    `target` metric whose target is its level (`coverage`) aims at the new level (`coverage@80`: 0.80).

    Parameters
    ----------
    name
        A key of `METRICS`, or an interval metric with its level in percent after `@`.

    Raises
    ------
    UnknownNameError
        The name is not registered.
    ValueError
        The level after `@` is not a percentage strictly between 0 and 100.
    """
    if name in METRICS:
        return METRICS[name]
    base, sep, pct = name.partition("@")
    if sep and base in METRICS and METRICS[base].level is not None:
        try:
            level = float(pct) / 100
            interval_levels(level)
        except ValueError:
            raise ValueError(f"metric {name!r}: the level after '@' is a percentage between 0 and 100") from None
        metric = METRICS[base]
        target = level if metric.direction == "target" and metric.target == metric.level else metric.target
        return replace(metric, name=name, fn=partial(metric.fn, level=level), level=level, target=target)
    raise UnknownNameError("metric", name, list(METRICS))


def metric_direction(name: str | None, higher_is_better: bool | None = None) -> tuple[Direction, float | None]:
    """(direction, target) of the metric `name`, as `Metric.direction` and `Metric.target` declare it.

    A registered name (`get_metric`, `coverage@80` included) needs no `higher_is_better`; passing one
    that contradicts its direction is an error (True for a `lower` or `target` metric, False for a
    `higher` one), so that a caller cannot silently rank a metric upside down. A name that is not
    registered (a detection score, or None where the caller has no name) is `higher` when
    `higher_is_better` is True and `lower` otherwise.

    Parameters
    ----------
    name:
        The metric's name as stored in the `metric` column of result rows, or None.
    higher_is_better:
        For metrics that are not registered: whether a larger value is better. None: as registered
        (lower for an unregistered name).
    """
    try:
        metric = get_metric(name) if name is not None else None
    except UnknownNameError:
        metric = None
    if metric is None:
        return ("higher" if higher_is_better else "lower"), None
    if higher_is_better is not None and higher_is_better != (metric.direction == "higher"):
        raise ValueError(
            f"metric {name!r} is registered with direction {metric.direction!r}"
            + (f" (target {metric.target:g})" if metric.target is not None else "")
            + f", which higher_is_better={higher_is_better} contradicts; leave higher_is_better out for "
            "registered metrics (it is for scores that workbench.metrics does not know)"
        )
    return metric.direction, metric.target


def metric_loss(
    name: str | None, values: np.ndarray | Sequence[float] | float, higher_is_better: bool | None = None
) -> np.ndarray:
    """`values` of the metric `name` mapped so that smaller is better (`Metric.loss`), the direction
    resolved by `metric_direction` (so `higher_is_better` only for names that are not registered).

    Parameters
    ----------
    name:
        The metric's name (`mase`, `coverage@80`, or an unregistered score's name), or None.
    values:
        The metric's values, any shape.
    higher_is_better:
        As in `metric_direction`.
    """
    direction, target = metric_direction(name, higher_is_better)
    return _loss(np.asarray(values, dtype=float), direction, target)


Aggregation = Literal["mean", "pooled", "gmean_rel"]


def aggregate(
    values: np.ndarray,
    how: Aggregation = "mean",
    *,
    weights: np.ndarray | None = None,
    baseline: np.ndarray | None = None,
) -> float:
    """Combine per-series values: `mean` of series, `pooled` (weighted by e.g. points or sum|y|),
    or `gmean_rel`, the geometric mean of value / baseline value (a relative skill). For `crps` and
    `wql`, `pooled_ratio` of the stored numerator and denominator is the exact pooled value.

    Parameters
    ----------
    values
        Per-series values; NaN values are left out.
    how
        `mean`, `pooled` or `gmean_rel`.
    weights
        Per-series weights of `pooled` (required there).
    baseline
        The baseline's per-series values for `gmean_rel` (required there); ratios that are not finite
        and positive are left out.

    Raises
    ------
    ValueError
        `pooled` without `weights`, or `gmean_rel` without `baseline`.
    UnknownNameError
        `how` is none of the three.
    """
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


def pooled_ratio(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """sum(numerator) / sum(denominator) over series: GIFT-Eval's and BOOM's CRPS of a whole task from
    the per-series parts (`crps_parts`, the `numerator` / `denominator` columns of stored rows).
    NaN when any numerator is NaN (a series without quantiles is not silently left out) or the
    denominator sums to 0.

    Parameters
    ----------
    numerator, denominator
        Per-series parts (`crps_parts`, `mase_fev_parts`, or the stored columns of those names).
    """
    num = np.asarray(numerator, dtype=float)
    den = float(np.sum(np.asarray(denominator, dtype=float)))
    if np.isnan(num).any() or not den:
        return float("nan")
    return float(np.sum(num) / den)


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average, from aggregated sMAPE and MASE relative to Naive2.

    Parameters
    ----------
    smape_value, mase_value
        The model's aggregated sMAPE and MASE.
    smape_naive2, mase_naive2
        Naive2's, over the same series.
    """
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)
