"""R's `stl(x, s.window = "periodic", robust = TRUE)`, the decomposition S-H-ESD runs on, in numpy.

statsmodels' `STL` ports the same Fortran (netlib's stl, which R ships as `stl.f`) and agrees with
this to about 1e-11 where both apply, but it cannot take every setting R picks: it refuses a
low-pass span equal to the period (R's l.window = nextodd(period) is the period itself when the
period is odd) and, when more than half the residuals are exactly zero (a zero MAD), gives every
row weight 1 where R's Fortran gives the non-zero residuals weight 0. So the steps are written out:

- spans and jumps as R's defaults resolve them for s.window = "periodic": s.window = 10 n + 1 with
  degree 0; t.window = nextodd(ceiling(1.5 period / (1 - 1.5 / s.window))); l.window =
  nextodd(period); degree 1 for both; every jump ceiling(window / 10) (R evaluates the default
  jumps lazily, after s.window was replaced by 10 n + 1);
- robust = TRUE: 1 inner pass, 15 robustness passes after the first (16 passes in all), Tukey's
  biweight of |residual| / (6 median |residual|) as the weights;
- each pass: cycle-subseries loess (extended one cycle each side), low-pass filter (moving
  averages of period, period and 3, then loess), seasonal = subseries fit - low-pass, trend =
  loess of the deseasonalised series; loess every `jump` rows with straight lines in between;
- at the end R's `periodic` step: the seasonal becomes the mean of each cycle-subseries of it
  (R's `mean`: long-double sum plus the mean residual); the trend is not refitted after it.

Sums run left to right as the Fortran adds them (cumulative sums rather than numpy's pairwise
`sum`), cubes are x * x * x as gfortran computes x**3, and a running mean is updated as
(v - x[m]) + x[k]: the point is to land on R's floating-point values, not just near them. The
window geometry of each loess (which rows, tricube weights) does not depend on the data, so it is
built once per series length and reused by the 16 passes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from workbench.anomaly.errors import DetectionInputError

__all__ = ["PASSES", "STLInputError", "STLResult", "stl_periodic", "stl_spans"]

PASSES = 16  # robust=TRUE: outer = 15 robustness passes after the first, inner = 1


class STLInputError(DetectionInputError):
    """A series R's stl refuses: a period below 2, or not more than two periods of rows."""


@dataclass(frozen=True)
class STLResult:
    """Seasonal (exactly periodic), trend, remainder and robustness weights, as R's `stl` returns them."""

    seasonal: np.ndarray
    trend: np.ndarray
    remainder: np.ndarray
    weights: np.ndarray


def _seqsum(a: np.ndarray) -> np.ndarray:
    """Sums over the window axis (-2). numpy adds along a non-contiguous axis one row after the other,
    i.e. left to right as R's Fortran does (its pairwise `sum` applies only along the contiguous axis,
    which a single column makes axis -2 too: then a cumulative sum keeps the order)."""
    if a.shape[-1] == 1:
        return np.cumsum(a, axis=-2)[..., -1, :]
    return a.sum(axis=-2)


def _cube(x: np.ndarray) -> np.ndarray:
    return x * x * x


@dataclass(frozen=True)
class _Windows:
    """Where a loess is evaluated and over which rows, laid out (width, p): positions `xs` (p,
    1-based), window rows `cols` (0-based), their positions `j` and tricube weights `kernel`
    (0 outside); `fixed` memoises the normalised weights when no robustness weights apply."""

    xs: np.ndarray
    cols: np.ndarray
    j: np.ndarray
    kernel: np.ndarray
    line: np.ndarray  # (p,): where a degree-1 fit may tilt (h > 0)
    n: int
    fixed: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _windows(n: int, span: int, xs: tuple[int, ...], nleft: tuple[int, ...], width: int) -> _Windows:
    """R's stlest geometry: h = max(xs - nleft, nright - xs), widened by (span - n) // 2 when the span
    exceeds the series; weight 1 within 0.001 h, tricube within 0.999 h, 0 beyond."""
    x = np.asarray(xs, dtype=float)
    left = np.asarray(nleft)
    cols = left[None, :] - 1 + np.arange(width)[:, None]
    j = (cols + 1).astype(float)
    h = np.maximum(x - left, left + width - 1 - x).astype(float)
    if span > n:
        h = h + float((span - n) // 2)
    r = np.abs(j - x)
    with np.errstate(divide="ignore", invalid="ignore"):
        tri = np.where(r <= 0.001 * h, 1.0, _cube(1.0 - _cube(r / h)))
    kernel = np.where(r <= 0.999 * h, tri, 0.0)
    for a in (cols, j, kernel):
        a.flags.writeable = False
    return _Windows(x, cols, j, kernel, h > 0, n)


def _weights(w: np.ndarray, degree: int, win: _Windows) -> tuple[np.ndarray, np.ndarray]:
    """stlest's final weights from the (robustness-scaled) kernel: normalised, tilted along a local
    line for degree 1 (when the window's spread allows); and whether the total weight was positive."""
    total = _seqsum(w)
    ok = total > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        w = w / total[..., None, :]
        if degree > 0:
            mean_j = _seqsum(w * win.j)
            dj = win.j - mean_j[..., None, :]
            spread = _seqsum(w * (dj * dj))
            tilt = win.line & (np.sqrt(spread) > 0.001 * (win.n - 1.0))
            slope = np.where(tilt, (win.xs - mean_j) / spread, 0.0)
            w = np.where(tilt[..., None, :], w * (slope[..., None, :] * dj + 1.0), w)
    return w, ok


def _fit(y: np.ndarray, rw: np.ndarray | None, degree: int, win: _Windows) -> tuple[np.ndarray, np.ndarray]:
    """Local fits of each row of `y` (g, n) at the windows' positions: weighted mean (degree 0) or
    weighted line (degree 1), robustness weights `rw` (g, n) scaling the tricube ones. Returns the
    fits (g, p) and R's `ok` (positive total weight)."""
    if rw is None:
        if degree not in win.fixed:
            win.fixed[degree] = _weights(win.kernel, degree, win)
        w, ok = win.fixed[degree]
    else:
        w, ok = _weights(win.kernel * rw[:, win.cols], degree, win)
    with np.errstate(invalid="ignore"):
        fit = _seqsum(w * y[:, win.cols])
    ok = np.broadcast_to(ok, fit.shape)
    return np.where(ok, fit, 0.0), ok


def _loess(y: np.ndarray, rw: np.ndarray | None, span: int, degree: int, jump: int) -> np.ndarray:
    """R's `stless` on each row of `y` (g, n): loess every `jump` rows (and at the last row), straight
    lines in between; a window without weight keeps the data value."""
    g, n = y.shape
    if n < 2:
        return y.copy()
    step = min(jump, n - 1)
    xs = np.arange(1, n + 1, step)
    if span >= n:
        nleft, width = np.ones(len(xs), dtype=int), n
    else:
        half, width = (span + 1) // 2, span
        if step == 1:
            nleft = 1 + np.minimum(np.maximum(xs - half, 0), n - span)
        else:
            nleft = np.where(xs < half, 1, np.where(xs >= n - half + 1, n - span + 1, xs - half + 1))
    fit, ok = _fit(y, rw, degree, _windows(n, span, tuple(xs), tuple(nleft), width))
    out = np.empty_like(y)
    out[:, xs - 1] = np.where(ok, fit, y[:, xs - 1])
    if step == 1:
        return out
    starts = xs[xs <= n - step]
    if len(starts):
        offs = np.arange(1, step, dtype=float)
        delta = (out[:, starts - 1 + step] - out[:, starts - 1]) / float(step)
        pos = (starts[:, None] - 1 + np.arange(1, step)).ravel()
        out[:, pos] = (out[:, starts - 1][..., None] + delta[..., None] * offs).reshape(g, -1)
    last = int(xs[-1])
    if last != n:
        end, end_ok = _fit(y, rw, degree, _windows(n, span, (n,), (int(nleft[-1]),), width))
        out[:, n - 1] = np.where(end_ok[:, 0], end[:, 0], y[:, n - 1])
        if last != n - 1:
            offs = np.arange(1, n - last, dtype=float)
            delta = (out[:, n - 1] - out[:, last - 1]) / float(n - last)
            out[:, last : n - 1] = out[:, last - 1 : last] + delta[:, None] * offs
    return out


def _running_mean(x: np.ndarray, length: int) -> np.ndarray:
    """R's `stlma`: the window sum updated as (v - x[m]) + x[k], each divided by the length."""
    m = len(x) - length + 1
    steps = np.empty(2 * (m - 1) + 1)
    steps[0] = np.cumsum(x[:length])[-1]  # left to right
    steps[1::2] = -x[: m - 1]
    steps[2::2] = x[length : length + m - 1]
    return np.cumsum(steps)[0::2] / float(length)


@functools.lru_cache(maxsize=16)
def _subseries(n: int, period: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(cycle positions, rows (g, k)) of the cycle-subseries, grouped by their length k (two at most)."""
    lengths = (n - 1 - np.arange(period)) // period + 1
    groups = []
    for k in np.unique(lengths):
        cyc = np.flatnonzero(lengths == k)
        groups.append((cyc, cyc[:, None] + period * np.arange(k)[None, :]))
    return tuple(groups)


def _seasonal_smooth(d: np.ndarray, rw: np.ndarray | None, period: int, span: int, jump: int) -> np.ndarray:
    """R's `stlss` at degree 0: each cycle-subseries smoothed and extended by one cycle at each end,
    laid out as a series of n + 2 period rows starting one period before the data."""
    out = np.empty(len(d) + 2 * period)
    for cyc, rows in _subseries(len(d), period):
        k = rows.shape[1]
        y = d[rows]
        w = None if rw is None else rw[rows]
        inner = _loess(y, w, span, 0, jump)
        lo, lo_ok = _fit(y, w, 0, _windows(k, span, (0,), (1,), min(span, k)))
        left = max(1, k - span + 1)
        hi, hi_ok = _fit(y, w, 0, _windows(k, span, (k + 1,), (left,), k - left + 1))
        first = np.where(lo_ok[:, 0], lo[:, 0], inner[:, 0])
        final = np.where(hi_ok[:, 0], hi[:, 0], inner[:, -1])
        out[cyc[:, None] + period * np.arange(k + 2)[None, :]] = np.column_stack([first, inner, final])
    return out


def _robustness_weights(y: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """R's `stlrwt`: Tukey's biweight of |y - fit| / (6 median |y - fit|); with a zero median, the
    rows fitted exactly get 1 and the others 0, as the Fortran's comparisons give."""
    r = np.abs(y - fit)
    n = len(r)
    mid = (n // 2, n - n // 2 - 1)
    part = np.partition(r, mid)
    cmad = 3.0 * (part[mid[0]] + part[mid[1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        u = r / cmad
        bi = (1.0 - u * u) ** 2
    return np.where(r <= 0.001 * cmad, 1.0, np.where(r <= 0.999 * cmad, bi, 0.0))


def _r_mean_by_cycle(x: np.ndarray, period: int) -> np.ndarray:
    """R's `mean` per cycle position: a long-double sum divided by the count, plus the mean residual."""
    n = len(x)
    k = -(-n // period)
    grid = np.zeros(k * period, dtype=np.longdouble)
    grid[:n] = x
    grid = grid.reshape(k, period)
    present = (np.arange(k * period) < n).reshape(k, period)
    count = present.sum(axis=0).astype(np.longdouble)
    mean = np.cumsum(grid, axis=0)[-1] / count
    resid = np.where(present, grid - mean, 0)
    return (mean + np.cumsum(resid, axis=0)[-1] / count).astype(float)


def _next_odd(x: float) -> int:
    v = int(np.round(x))  # R's round() also rounds halves to even
    return v + 1 if v % 2 == 0 else v


def stl_spans(n: int, period: int) -> dict[str, int]:
    """The windows and jumps R's stl picks for s.window = "periodic" on n rows."""
    s_win = 10 * n + 1
    t_win = _next_odd(np.ceil(1.5 * period / (1 - 1.5 / s_win)))
    l_win = _next_odd(period)
    jumps = {f"{c}_jump": int(np.ceil(v / 10)) for c, v in (("s", s_win), ("t", t_win), ("l", l_win))}
    # the Fortran then makes each span odd and at least 3 (R's choices already are)
    return {"s_window": s_win, "t_window": max(3, t_win), "l_window": max(3, l_win)} | jumps


def stl_periodic(x: np.ndarray, period: int) -> STLResult:
    """R's `stl(ts(x, frequency = period), s.window = "periodic", robust = TRUE)` of a gap-free series."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if period < 2 or n <= 2 * period:
        raise STLInputError(f"stl needs period >= 2 and more than 2 periods of rows; got {n} rows for period {period}")
    sp = stl_spans(n, period)
    trend = np.zeros(n)
    season = np.zeros(n)
    rw: np.ndarray | None = None
    for step in range(PASSES):
        if step:
            rw = _robustness_weights(x, trend + season)
        c = _seasonal_smooth(x - trend, rw, period, sp["s_window"], sp["s_jump"])
        low = _running_mean(_running_mean(_running_mean(c, period), period), 3)
        low = _loess(low[None, :], None, sp["l_window"], 1, sp["l_jump"])[0]
        season = c[period : period + n] - low
        trend = _loess((x - season)[None, :], None if rw is None else rw[None, :], sp["t_window"], 1, sp["t_jump"])[0]
    seasonal = _r_mean_by_cycle(season, period)[np.arange(n) % period]
    return STLResult(seasonal, trend, x - seasonal - trend, rw if rw is not None else np.ones(n))
