"""The Monash archive's SES and Theta (Godahewa et al. 2021, R forecast 8.12), compiled.

- SES is `ses(x, h)` on the raw series: ETS(A,N,N) by MSE, no seasonal adjustment, with forecast
  8.12's start value alpha0 = 0.2 (8.2 used 0.5; see `workbench.classic.ets`).
- Theta is `thetaf(x, h)`: a seasonality test with lag.max = m (not M4's 10 log10 n) on series longer
  than 2m, multiplicative decomposition (skipped when an index is below 1e-4), SES on the adjusted
  series, plus half the OLS slope as drift: f_k = l_n + b/2 (k + (1 - (1 - alpha)^n) / alpha).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from workbench.classic.ets import ALPHA0_NEW, ols_line, run_filter, start_parameters
from workbench.classic.nelder_mead import nmmin_ets
from workbench.classic.seasonality import acf, seasonal_indices

__all__ = ["QNORM_95", "monash_panel", "ses_fit", "thetaf", "thetaf_seasonal"]

QNORM_95 = 1.6448536269514722


@njit(cache=True)
def ses_fit(y: np.ndarray) -> tuple[float, float]:
    """(alpha, final level) of `ses()` in forecast 8.12; the last value with alpha 1 when too short."""
    n = y.shape[0]
    if n <= 6:  # n <= npars + 4: R hands the fit to HoltWinters; repeat the last value
        return 1.0, y[n - 1]
    par, _, _, fail = nmmin_ets(start_parameters(y, False, False, ALPHA0_NEW), y, False, False)
    if fail == 2:
        return 1.0, y[n - 1]
    _, level, _ = run_filter(par, y, False, False)
    return par[0], level


@njit(cache=True)
def thetaf_seasonal(x: np.ndarray, m: int) -> bool:
    n = x.shape[0]
    if m <= 1 or n <= 2 * m or x.max() == x.min():
        return False
    r = acf(x, m)
    acc = 1.0
    for k in range(m - 1):
        acc += 2.0 * r[k] * r[k]
    stat = math.sqrt(acc / n)
    return abs(r[m - 1]) / stat > QNORM_95


@njit(cache=True)
def thetaf(x: np.ndarray, m: int, h: int) -> np.ndarray:
    n = x.shape[0]
    adjusted = x
    indices = np.ones(h)
    if thetaf_seasonal(x, m) and x.min() > 0:
        figure = seasonal_indices(x, m)
        if np.abs(figure).min() >= 1e-4:
            adjusted = np.empty(n)
            for i in range(n):
                adjusted[i] = x[i] / figure[i % m]
            for k in range(h):
                indices[k] = figure[(n + k) % m]
    alpha, level = ses_fit(adjusted)
    alpha = max(1e-10, alpha)
    _, slope = ols_line(adjusted)
    drift = slope / 2.0
    out = np.empty(h)
    base = (1.0 - (1.0 - alpha) ** n) / alpha
    for k in range(h):
        out[k] = (level + drift * (k + base)) * indices[k]
    return out


@njit(cache=True, parallel=True)
def monash_panel(values: np.ndarray, lengths: np.ndarray, m: int, h: int, theta: bool) -> np.ndarray:
    """SES (theta=False) or Theta forecasts for a left-padded panel."""
    n_series, width = values.shape
    out = np.empty((n_series, h))
    for s in prange(n_series):
        x = values[s, width - lengths[s] :]
        if theta:
            out[s] = thetaf(x, m, h)
        else:
            _, level = ses_fit(x)
            out[s] = level
    return out
