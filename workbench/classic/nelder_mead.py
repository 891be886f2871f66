"""R's `nmmin` (src/appl/optim.c), the Nelder-Mead that forecast 8.2's `ets()` calls.

The M4 benchmarks were fitted with this exact optimiser: its start simplex (step = 0.1 * max|par|),
its convergence test (VH <= VL + intol * (|f0| + intol), f0 the objective at the start point), its
replacement of non-finite values by 1e35 and its shrink-failure exit all shape which local optimum an
ETS fit lands on. A generic Nelder-Mead (scipy's, statsforecast's) stops elsewhere and so does not
reproduce the official forecasts; this port keeps R's order of operations and indexing.

The objective is the ETS mean squared error of `workbench.classic.ets`; numba cannot take a
function argument cheaply, so the optimiser is specialised to it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.classic.ets import ets_mse

__all__ = ["BIG", "nmmin_ets"]

BIG = 1.0e35


@njit(cache=True)
def _objective(par: np.ndarray, y: np.ndarray, trend: bool, damped: bool) -> float:
    f = ets_mse(par, y, trend, damped)
    if not np.isfinite(f):
        return BIG
    return f


@njit(cache=True)
def nmmin_ets(
    start: np.ndarray,
    y: np.ndarray,
    trend: bool,
    damped: bool,
    intol: float = 1.4901161193847656e-08,
    maxit: int = 2000,
    alpha: float = 1.0,
    bet: float = 0.5,
    gamm: float = 2.0,
) -> tuple[np.ndarray, float, int, int]:
    """Minimise the ETS MSE from `start`; returns (par, fmin, evaluations, fail code).

    Mirrors nmmin with abstol = -Inf: fail 1 = iteration limit, 10 = polytope did not shrink.
    """
    n = start.shape[0]
    bvec = start.copy()
    n1 = n + 1
    c = n + 2
    p = np.empty((n1, c))
    f = ets_mse(bvec, y, trend, damped)
    if not np.isfinite(f):
        # R stops with "function cannot be evaluated at initial parameters"; callers check for it
        return bvec, np.inf, 0, 2
    funcount = 1
    convtol = intol * (abs(f) + intol)
    p[n1 - 1, 0] = f
    for i in range(n):
        p[i, 0] = bvec[i]
    big_l = 1
    size = 0.0
    step = 0.0
    for i in range(n):
        if 0.1 * abs(bvec[i]) > step:
            step = 0.1 * abs(bvec[i])
    if step == 0.0:
        step = 0.1
    for j in range(2, n1 + 1):
        for i in range(n):
            p[i, j - 1] = bvec[i]
        trystep = step
        while p[j - 2, j - 1] == bvec[j - 2]:
            p[j - 2, j - 1] = bvec[j - 2] + trystep
            trystep *= 10.0
        size += trystep
    oldsize = size
    calcvert = True
    fail = 0
    while True:
        if calcvert:
            for j in range(n1):
                if j + 1 != big_l:
                    for i in range(n):
                        bvec[i] = p[i, j]
                    f = _objective(bvec, y, trend, damped)
                    funcount += 1
                    p[n1 - 1, j] = f
            calcvert = False
        vl = p[n1 - 1, big_l - 1]
        vh = vl
        big_h = big_l
        for j in range(1, n1 + 1):
            if j != big_l:
                f = p[n1 - 1, j - 1]
                if f < vl:
                    big_l = j
                    vl = f
                if f > vh:
                    big_h = j
                    vh = f
        if vh <= vl + convtol:
            break
        for i in range(n):
            temp = -p[i, big_h - 1]
            for j in range(n1):
                temp += p[i, j]
            p[i, c - 1] = temp / n
        for i in range(n):
            bvec[i] = (1.0 + alpha) * p[i, c - 1] - alpha * p[i, big_h - 1]
        f = _objective(bvec, y, trend, damped)
        funcount += 1
        vr = f
        if vr < vl:
            p[n1 - 1, c - 1] = f
            for i in range(n):
                f = gamm * bvec[i] + (1.0 - gamm) * p[i, c - 1]
                p[i, c - 1] = bvec[i]
                bvec[i] = f
            f = _objective(bvec, y, trend, damped)
            funcount += 1
            if f < vr:
                for i in range(n):
                    p[i, big_h - 1] = bvec[i]
                p[n1 - 1, big_h - 1] = f
            else:
                for i in range(n):
                    p[i, big_h - 1] = p[i, c - 1]
                p[n1 - 1, big_h - 1] = vr
        else:
            if vr < vh:
                for i in range(n):
                    p[i, big_h - 1] = bvec[i]
                p[n1 - 1, big_h - 1] = vr
            for i in range(n):
                bvec[i] = (1.0 - bet) * p[i, big_h - 1] + bet * p[i, c - 1]
            f = _objective(bvec, y, trend, damped)
            funcount += 1
            if f < p[n1 - 1, big_h - 1]:
                for i in range(n):
                    p[i, big_h - 1] = bvec[i]
                p[n1 - 1, big_h - 1] = f
            elif vr >= vh:
                calcvert = True
                size = 0.0
                for j in range(n1):
                    if j + 1 != big_l:
                        for i in range(n):
                            p[i, j] = bet * (p[i, j] - p[i, big_l - 1]) + p[i, big_l - 1]
                            size += abs(p[i, j] - p[i, big_l - 1])
                if size < oldsize:
                    oldsize = size
                else:
                    fail = 10
                    break
        if funcount > maxit:
            break
    if funcount > maxit:
        fail = 1
    out = np.empty(n)
    for i in range(n):
        out[i] = p[i, big_l - 1]
    return out, p[n1 - 1, big_l - 1], funcount, fail
