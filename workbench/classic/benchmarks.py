"""The eight M4 statistical benchmarks, compiled, one call for a whole panel.

`Benchmarks()` of the organisers' `Benchmarks and Evaluation.R`: seasonally adjust when the 90%
autocorrelation test says so, fit on the adjusted series, reseasonalise the forecasts with the
continued seasonal cycle. Theta is `Theta.classic`: SES on the theta line 2 * des - OLS line, averaged
with the extrapolated line, negatives clipped to 0 before reseasonalising. Comb is the mean of SES,
Holt and Damped.

Series are independent, so the panel loop runs in parallel threads (numba `prange`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from workbench.classic.ets import forecast_path, ols_line, run_filter, start_parameters
from workbench.classic.nelder_mead import nmmin_ets
from workbench.classic.seasonality import deseasonalise

__all__ = [
    "COMB",
    "DAMPED",
    "HOLT",
    "METHODS",
    "MIN_LENGTH",
    "NAIVE",
    "NAIVE2",
    "SES",
    "SNAIVE",
    "THETA",
    "ets_forecast",
    "m4_benchmarks",
    "theta_classic",
]

METHODS = ("naive", "seasonal_naive", "naive2", "ses", "holt", "damped", "theta", "comb")
NAIVE, SNAIVE, NAIVE2, SES, HOLT, DAMPED, THETA, COMB = range(8)

# fewer observations than this and forecast 8.2 hands the fit to HoltWinters (n <= npars + 4):
# ANN has 2 parameters, AAN 4, AAdN 5
MIN_LENGTH = {"ses": 7, "holt": 9, "damped": 10}


@njit(cache=True)
def ets_forecast(y: np.ndarray, h: int, trend: bool, damped: bool) -> np.ndarray:
    """Fit ETS(A,N,N), (A,A,N) or (A,Ad,N) by MSE as forecast 8.2 does, then forecast h steps.

    Series too short for R's ets (n <= parameters + 4) and series whose start point cannot be scored
    get the last value instead (a random walk), so a panel never fails on one odd series.
    """
    n = y.shape[0]
    npars = 2 + (2 if trend else 0) + (1 if damped else 0)
    if n <= npars + 4:
        return np.full(h, y[n - 1])
    par, _, _, fail = nmmin_ets(start_parameters(y, trend, damped), y, trend, damped)
    if fail == 2:
        return np.full(h, y[n - 1])
    _, level, slope = run_filter(par, y, trend, damped)
    phi = 1.0
    if damped:
        phi = par[2]
    return forecast_path(level, slope, phi, trend, h)


@njit(cache=True)
def theta_classic(des: np.ndarray, h: int) -> np.ndarray:
    """Theta.classic on an adjusted series: 0.5 SES(theta line) + 0.5 OLS line, negatives set to 0."""
    n = des.shape[0]
    intercept, slope = ols_line(des)
    theta_line = np.empty(n)
    for i in range(n):
        theta_line[i] = 2.0 * des[i] - (intercept + slope * (i + 1))
    ses = ets_forecast(theta_line, h, False, False)
    out = np.empty(h)
    for k in range(h):
        value = 0.5 * ses[k] + 0.5 * (intercept + slope * (n + 1 + k))
        out[k] = value if value >= 0 else 0.0
    return out


@njit(cache=True)
def _one_series(x: np.ndarray, m: int, h: int, wanted: np.ndarray, out: np.ndarray) -> bool:
    """Fill out[method, :] for the wanted methods; returns whether x tested seasonal."""
    n = x.shape[0]
    last = x[n - 1]
    if wanted[NAIVE]:
        out[NAIVE, :] = last
    if wanted[SNAIVE]:
        if m > 1 and n >= m:
            for k in range(h):
                out[SNAIVE, k] = x[n - m + (k % m)]
        else:
            out[SNAIVE, :] = last
    needs_des = wanted[NAIVE2] or wanted[SES] or wanted[HOLT] or wanted[DAMPED] or wanted[THETA] or wanted[COMB]
    if not needs_des:
        return False
    des, si_out, seasonal = deseasonalise(x, m, h)
    if wanted[NAIVE2]:
        out[NAIVE2, :] = des[n - 1] * si_out
    ses = holt = damped = si_out  # placeholders with the right type
    if wanted[SES] or wanted[COMB]:
        ses = ets_forecast(des, h, False, False) * si_out
        out[SES, :] = ses
    if wanted[HOLT] or wanted[COMB]:
        holt = ets_forecast(des, h, True, False) * si_out
        out[HOLT, :] = holt
    if wanted[DAMPED] or wanted[COMB]:
        damped = ets_forecast(des, h, True, True) * si_out
        out[DAMPED, :] = damped
    if wanted[COMB]:
        out[COMB, :] = (ses + holt + damped) / 3.0
    if wanted[THETA]:
        out[THETA, :] = theta_classic(des, h) * si_out
    return seasonal


@njit(cache=True, parallel=True)
def _panel(values: np.ndarray, lengths: np.ndarray, m: int, h: int, wanted: np.ndarray) -> tuple:
    n_series = values.shape[0]
    out = np.full((n_series, 8, h), np.nan)
    seasonal = np.zeros(n_series, dtype=np.bool_)
    width = values.shape[1]
    for s in prange(n_series):
        x = values[s, width - lengths[s] :]
        seasonal[s] = _one_series(x, m, h, wanted, out[s])
    return out, seasonal


def m4_benchmarks(
    values: np.ndarray, lengths: np.ndarray, season_length: int, h: int, methods: tuple[str, ...] = METHODS
) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts of shape (n_series, 8, h) in `METHODS` order (NaN for methods not asked for) and
    whether each series tested seasonal. `values` is left-padded (last observation in the last column)."""
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise ValueError(f"unknown M4 benchmark(s) {unknown}; known: {list(METHODS)}")
    wanted = np.array([name in methods for name in METHODS])
    return _panel(
        np.ascontiguousarray(values, dtype=np.float64),
        np.asarray(lengths, dtype=np.int64),
        int(season_length),
        int(h),
        wanted,
    )
