"""The M4 organisers' seasonal adjustment: a 90% autocorrelation test, then classical decomposition.

`seasonality_test` is `SeasonalityTest()` of the M4 benchmark code over R's `acf()` (lag.max =
floor(10 log10 n), capped at n - 1; a season longer than lag.max has no autocorrelation, so the
series counts as not seasonal). `seasonal_indices` is `stats::decompose(x, "multiplicative")`: a
centred moving average (2 x m for even m), ratios averaged per position counted from the first
observation, normalised to mean 1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["TCRIT", "acf", "deseasonalise", "seasonal_indices", "seasonality_test"]

TCRIT = 1.645


@njit(cache=True)
def acf(x: np.ndarray, lag_max: int) -> np.ndarray:
    """R's `acf(x)$acf[-1]`: r_k = sum (x_t - xbar)(x_{t+k} - xbar) / sum (x_t - xbar)^2, k = 1..lag_max."""
    n = x.shape[0]
    xbar = x.mean()
    d = x - xbar
    c0 = 0.0
    for t in range(n):
        c0 += d[t] * d[t]
    out = np.empty(lag_max)
    for k in range(1, lag_max + 1):
        s = 0.0
        for t in range(n - k):
            s += d[t + k] * d[t]
        out[k - 1] = s / c0 if c0 > 0 else np.nan
    return out


@njit(cache=True)
def seasonality_test(x: np.ndarray, m: int) -> bool:
    """True when |r_m| exceeds the 90% one-sided Bartlett limit; False for m <= 1 or n < 3m."""
    n = x.shape[0]
    if m <= 1 or n < 3 * m:
        return False
    lag_max = min(int(10.0 * math.log10(n)), n - 1)  # floor: the log is positive
    if m > lag_max:
        return False
    r = acf(x, lag_max)
    acc = 1.0
    for k in range(m - 1):
        acc += 2.0 * r[k] * r[k]
    limit = TCRIT / math.sqrt(n) * math.sqrt(acc)
    value = abs(r[m - 1])
    if not np.isfinite(value):
        return False
    return value > limit


@njit(cache=True)
def seasonal_indices(x: np.ndarray, m: int) -> np.ndarray:
    """The m multiplicative seasonal indices of `decompose`, index 0 at the first observation."""
    n = x.shape[0]
    if m % 2 == 0:
        nf = m + 1
        weights = np.full(nf, 1.0 / m)
        weights[0] = 0.5 / m
        weights[nf - 1] = 0.5 / m
    else:
        nf = m
        weights = np.full(nf, 1.0 / m)
    shift = nf // 2
    sums = np.zeros(m)
    counts = np.zeros(m)
    for i in range(n):
        if i + shift - (nf - 1) < 0 or i + shift >= n:
            continue
        z = 0.0
        for j in range(nf):
            z += weights[j] * x[i + shift - j]
        sums[i % m] += x[i] / z
        counts[i % m] += 1.0
    figure = sums / counts
    return figure / figure.mean()


@njit(cache=True)
def deseasonalise(x: np.ndarray, m: int, h: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(seasonally adjusted x, the h out-of-sample indices, whether the series tested seasonal).

    A multiplicative decomposition is undefined for series with zeros or negatives (R would return
    Inf/NaN indices); those are left unadjusted. Every M4 series is positive, so this never applies there.
    """
    if not seasonality_test(x, m) or x.min() <= 0:
        return x.copy(), np.ones(h), False
    figure = seasonal_indices(x, m)
    n = x.shape[0]
    des = np.empty(n)
    for i in range(n):
        des[i] = x[i] / figure[i % m]
    out = np.empty(h)
    for k in range(h):
        out[k] = figure[(n + k) % m]
    return des, out, True
