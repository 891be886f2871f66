"""Additive-error, non-seasonal ETS (ANN, AAN, AAdN) with forecast 8.2's fitting semantics.

What makes these fits match R's `ses()` / `holt()` as called by the M4 organisers:
- criterion `mse`: the running mean of in-sample one-step squared errors (etscalc's amse[0]);
- start values alpha0 = 0.5, beta0 = 0.05009, phi0 = 0.9782 (forecast 8.2's `initparam` with m = 1
  for non-seasonal models), and *optimised* initial states starting at l0 = mean(y[1:maxn]) (ANN) or
  the `lsfit` line on y[1:maxn] (AAN), maxn = min(10, n);
- bounds "both": 1e-4 <= alpha <= 0.9999, 1e-4 <= beta <= min(alpha, 0.9999), 0.8 <= phi <= 0.98,
  plus the admissibility region; a point outside scores +Inf;
- R's Nelder-Mead (`workbench.classic.nelder_mead`).

Parameter vectors follow R's order: (alpha, [beta, [phi]], l0, [b0]).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ALPHA0",
    "ALPHA0_NEW",
    "LOWER_ALPHA",
    "LOWER_BETA",
    "LOWER_PHI",
    "PHI0",
    "UPPER_ALPHA",
    "UPPER_BETA",
    "UPPER_PHI",
    "ets_mse",
    "forecast_path",
    "initial_states",
    "ols_line",
    "run_filter",
    "start_parameters",
]

LOWER_ALPHA, UPPER_ALPHA = 1e-4, 0.9999
LOWER_BETA, UPPER_BETA = 1e-4, 0.9999
LOWER_PHI, UPPER_PHI = 0.8, 0.98
ALPHA0 = LOWER_ALPHA + 0.5 * (UPPER_ALPHA - LOWER_ALPHA)
ALPHA0_NEW = LOWER_ALPHA + 0.2 * (UPPER_ALPHA - LOWER_ALPHA)
PHI0 = LOWER_PHI + 0.99 * (UPPER_PHI - LOWER_PHI)


@njit(cache=True)
def _unpack(par: np.ndarray, trend: bool, damped: bool) -> tuple[float, float, float, float, float]:
    alpha = par[0]
    beta = 0.0
    phi = 1.0
    b0 = 0.0
    if trend:
        beta = par[1]
        if damped:
            phi = par[2]
            level0, b0 = par[3], par[4]
        else:
            level0, b0 = par[2], par[3]
    else:
        level0 = par[1]
    return alpha, beta, phi, level0, b0


@njit(cache=True)
def _admissible(alpha: float, beta: float, phi: float, trend: bool, damped: bool) -> bool:
    """EtsTargetFunction::check_params with bounds = "both"."""
    if alpha < LOWER_ALPHA or alpha > UPPER_ALPHA:
        return False
    if trend:
        if beta < LOWER_BETA or beta > alpha or beta > UPPER_BETA:
            return False
        if damped and (phi < LOWER_PHI or phi > UPPER_PHI):
            return False
    if phi < 0.0 or phi > 1.0 + 1e-8:
        return False
    if alpha < 1.0 - 1.0 / phi or alpha > 1.0 + 1.0 / phi:
        return False
    return not (trend and (beta < alpha * (phi - 1.0) or beta > (1.0 + phi) * (2.0 - alpha)))


@njit(cache=True, inline="always")
def _step(level: float, slope: float, y: float, alpha: float, beta: float, phi: float, trend: bool):
    """One observation through etscalc's `update`: (one-step forecast, new level, new slope)."""
    phib = phi * slope if trend else 0.0
    q = level + phib
    new_level = q + alpha * (y - q)
    if trend:
        slope = phib + (beta / alpha) * ((new_level - level) - phib)
    return q, new_level, slope


@njit(cache=True)
def ets_mse(par: np.ndarray, y: np.ndarray, trend: bool, damped: bool) -> float:
    """In-sample one-step MSE, accumulated as etscalc does (a running mean); +Inf outside the bounds."""
    alpha, beta, phi, level, slope = _unpack(par, trend, damped)
    if not _admissible(alpha, beta, phi, trend, damped):
        return np.inf
    amse = 0.0
    denom = 0.0
    for i in range(y.shape[0]):
        q, level, slope = _step(level, slope, y[i], alpha, beta, phi, trend)
        err = y[i] - q
        denom += 1.0
        amse = (amse * (denom - 1.0) + err * err) / denom
    return amse


@njit(cache=True)
def ols_line(y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of the least-squares line of y on t = 1..n (R's `lsfit` / `lm`)."""
    n = y.shape[0]
    t_mean = (n + 1) / 2.0
    y_mean = y.mean()
    sxy = 0.0
    sxx = 0.0
    for i in range(n):
        dt = (i + 1) - t_mean
        sxy += dt * (y[i] - y_mean)
        sxx += dt * dt
    slope = sxy / sxx if sxx > 0 else 0.0
    return y_mean - slope * t_mean, slope


@njit(cache=True)
def initial_states(y: np.ndarray, trend: bool) -> tuple[float, float]:
    """forecast 8.2 `initstate` for non-seasonal models: mean, or lsfit line, of the first min(10, n) values."""
    maxn = min(10, y.shape[0])
    if not trend:
        return y[:maxn].mean(), 0.0
    level, slope = ols_line(y[:maxn])
    if abs(level + slope) < 1e-8:
        level = level * (1 + 1e-3)
        slope = slope * (1 - 1e-3)
    return level, slope


@njit(cache=True)
def start_parameters(y: np.ndarray, trend: bool, damped: bool, alpha0: float = ALPHA0) -> np.ndarray:
    """forecast 8.2 starts alpha at 0.5 (`ALPHA0`); forecast >= 8.3 at 0.2 (`ALPHA0_NEW`)."""
    level, slope = initial_states(y, trend)
    if not trend:
        return np.array([alpha0, level])
    beta0 = LOWER_BETA + 0.1 * (min(UPPER_BETA, alpha0) - LOWER_BETA)
    if damped:
        return np.array([alpha0, beta0, PHI0, level, slope])
    return np.array([alpha0, beta0, level, slope])


@njit(cache=True)
def run_filter(par: np.ndarray, y: np.ndarray, trend: bool, damped: bool) -> tuple[np.ndarray, float, float]:
    """In-sample one-step forecasts (R's `fitted()`) and the level and slope after the last observation."""
    alpha, beta, phi, level, slope = _unpack(par, trend, damped)
    fitted = np.empty(y.shape[0])
    for i in range(y.shape[0]):
        fitted[i], level, slope = _step(level, slope, y[i], alpha, beta, phi, trend)
    return fitted, level, slope


@njit(cache=True)
def forecast_path(level: float, slope: float, phi: float, trend: bool, h: int) -> np.ndarray:
    """l + (phi + ... + phi^k) b, accumulated as etscalc's `forecast` does."""
    out = np.empty(h)
    phistar = phi
    for k in range(h):
        out[k] = level + phistar * slope if trend else level
        # etscalc's `forecast`: phi* grows by phi^(k+2), or by 1 when phi is 1
        phistar = phistar + 1.0 if abs(phi - 1.0) < 1e-10 else phistar + phi ** (k + 2)
    return out
