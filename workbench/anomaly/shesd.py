"""Seasonal Hybrid ESD (S-H-ESD), as Twitter's R package `AnomalyDetection` (commit 1f5deaa1) computes it.

`shesd(values, timestamps, ...)` is the package's `AnomalyDetectionTs` (period from the stamps'
granularity, `only_last` 'day' or 'hr', `longterm` windows of `piecewise_median_period_weeks`);
`shesd(values, None, period=..., ...)` is `AnomalyDetectionVec` (`only_last` True/False,
`longterm_period` in rows). Both run the package's `detect_anoms`:

1. decompose with R's `stl(ts(x, frequency=period), s.window="periodic", robust=TRUE)`
   (`workbench.anomaly.rstl`, which says why statsmodels' `STL` is not used);
2. residual = x - seasonal - median(x) (the median stands in for STL's trend as the level);
3. generalised ESD with median and MAD (R's `mad`, constant 1.4826) in place of mean and sd (the
   "hybrid" of S-H-ESD: robust to the very anomalies it removes), up to
   trunc(n * max_anoms) removals, critical values from Student's t (scipy's `t.ppf` for R's `qt`).

The ESD loop is incremental: the residuals are sorted once, and since each step removes the point
farthest from the median, what remains is always a contiguous slice of the sorted residuals, so
the median is an index and the MAD the shortest window of deviations holding half the slice.
The removed point is the one R removes (the earliest row among equal statistics), so indices match.

Deliberate departures from the R code, each where R would fail or misreport:
- anomalies come back sorted by row (R lists them per longterm window);
- expected values are looked up by row (R pairs them by position, which can shift when a later
  longterm window adds an earlier row);
- the `threshold` maxima skip missing values (R's `max` returns NA and then drops every anomaly),
  and in the vector form they group each window's rows by position // period (R's `tapply` errors
  when the window is shorter than `longterm_period`);
- timestamps must be strictly increasing (R would drop every row of a repeated stamp at once).
Second-granularity stamps are refused as R refuses them: R sums them to minutes and then finds no
period for its 'sec' granularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from workbench.anomaly.errors import DetectionInputError
from workbench.anomaly.rstl import stl_periodic

__all__ = [
    "DIRECTIONS",
    "MAD_CONSTANT",
    "THRESHOLDS",
    "Direction",
    "SHESDError",
    "SHESDResult",
    "Threshold",
    "hybrid_esd",
    "shesd",
]

Direction = Literal["pos", "neg", "both"]
Threshold = Literal["None", "med_max", "p95", "p99"]
DIRECTIONS = ("pos", "neg", "both")
THRESHOLDS = ("None", "med_max", "p95", "p99")
MAD_CONSTANT = 1.4826  # R's mad() default
_PERIOD_BY_GRANULARITY = {"min": 1440, "hr": 24, "day": 7}  # ts_anom_detection.R's switch(gran, ...)
_DAY = np.timedelta64(1, "D")
_HOUR = np.timedelta64(1, "h")


class SHESDError(DetectionInputError):
    """Input S-H-ESD cannot run on: missing values inside a series, too few periods, an unknown option."""


@dataclass(frozen=True)
class SHESDResult:
    """Anomalies found: `indices` into the input rows (ascending), their `values`, and when asked
    the `expected` values trunc(trend + seasonal) of the decomposition that found them."""

    indices: np.ndarray
    values: np.ndarray
    expected: np.ndarray | None = None
    period: int = 0  # the period used (from the stamps' granularity in the timestamped form)

    def __len__(self) -> int:
        return len(self.indices)


# ---------------------------------------------------------------------------------------------------
# detect_anoms: the hybrid ESD on the STL remainder
# ---------------------------------------------------------------------------------------------------
def _median_sorted(s: np.ndarray, lo: int, hi: int) -> float:
    """R's median of the sorted slice s[lo:hi] (the mean of the two middle values when even)."""
    m = hi - lo
    half = lo + m // 2
    return float(s[half]) if m % 2 else (float(s[half - 1]) + float(s[half])) / 2.0


def _kth_deviation(d: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of deviations `d` that fall then rise along the sorted slice: the
    k smallest are a contiguous window, the one whose larger end is smallest."""
    return float(np.maximum(d[: len(d) - k + 1], d[k - 1 :]).min())


def _mad_sorted(s: np.ndarray, lo: int, hi: int, center: float) -> float:
    """R's mad(x) = 1.4826 * median(|x - median(x)|) of the sorted slice, without sorting again."""
    m = hi - lo
    d = np.abs(s[lo:hi] - center)
    if m % 2:
        return MAD_CONSTANT * _kth_deviation(d, m // 2 + 1)
    return MAD_CONSTANT * ((_kth_deviation(d, m // 2) + _kth_deviation(d, m // 2 + 1)) / 2.0)


def _critical_values(n: int, count: int, alpha: float, two_sided: bool) -> np.ndarray:
    """Rosner's lambda_i for i = 1..count, with detect_anoms' p and degrees of freedom."""
    i = np.arange(1, count + 1, dtype=float)
    p = 1 - alpha / (2 * (n - i + 1)) if two_sided else 1 - alpha / (n - i + 1)
    t = stats.t.ppf(p, n - i - 1)
    return t * (n - i) / np.sqrt((n - i - 1 + t**2) * (n - i + 1))


def hybrid_esd(residual: np.ndarray, max_outliers: int, alpha: float, direction: str) -> np.ndarray:
    """Rows of `residual` (time order) that detect_anoms reports, in the order it removes them.

    Step i removes the row with the largest (signed for 'pos'/'neg', absolute for 'both') deviation
    from the median in MADs, the earliest such row on ties; the anomalies are the first
    `num_anoms` removals, num_anoms the last step whose statistic beat its critical value. A zero
    MAD stops the loop, as in R."""
    n = len(residual)
    order = np.argsort(residual, kind="stable")
    s = residual[order].astype(float)
    rows = order.copy()
    lam = _critical_values(n, max_outliers, alpha, direction == "both")
    lo, hi = 0, n
    removed = np.empty(max_outliers, dtype=np.int64)
    num_anoms = 0
    for i in range(max_outliers):
        med = _median_sorted(s, lo, hi)
        sigma = _mad_sorted(s, lo, hi, med)
        if sigma == 0:
            break
        top = (s[hi - 1] - med) / sigma if direction != "neg" else -np.inf
        bottom = (med - s[lo]) / sigma if direction != "pos" else -np.inf
        stat = max(top, bottom)
        # rows tied at the statistic sit at the ends of the slice; R takes the earliest row among them
        best_pos, best_row = -1, n
        if top == stat:
            pos = hi - 1
            while pos >= lo and (s[pos] - med) / sigma == stat:
                if rows[pos] < best_row:
                    best_pos, best_row = pos, rows[pos]
                pos -= 1
        if bottom == stat:
            pos = lo
            while pos < hi and (med - s[pos]) / sigma == stat:
                if rows[pos] < best_row:
                    best_pos, best_row = pos, rows[pos]
                pos += 1
        removed[i] = best_row
        if best_pos >= (lo + hi) / 2:  # drop it from the top end, keeping the slice sorted
            s[best_pos : hi - 1], rows[best_pos : hi - 1] = s[best_pos + 1 : hi].copy(), rows[best_pos + 1 : hi].copy()
            hi -= 1
        else:
            s[lo + 1 : best_pos + 1], rows[lo + 1 : best_pos + 1] = s[lo:best_pos].copy(), rows[lo:best_pos].copy()
            lo += 1
        if stat > lam[i]:
            num_anoms = i + 1
    return removed[:num_anoms]


@dataclass(frozen=True)
class _Piece:
    rows: np.ndarray  # anomalous rows (into the piece), in removal order
    expected: np.ndarray  # trunc(trend + seasonal) per row of the piece (NaN where the value was missing)


def _detect_anoms(values: np.ndarray, k: float, alpha: float, period: int, direction: str, name: str,
                  first_row: int) -> _Piece:  # fmt: skip
    """detect_anoms(use_decomp=TRUE, use_esd=FALSE) on one piece of the series."""
    num_obs = len(values)
    if num_obs < period * 2:
        raise SHESDError(f"{name}: S-H-ESD needs at least 2 periods of rows ({2 * period}); got {num_obs}")
    missing = np.isnan(values)
    present = np.flatnonzero(~missing)
    if len(present) and missing[present[0] : present[-1] + 1].any():
        row = first_row + present[0] + int(np.flatnonzero(missing[present[0] : present[-1] + 1])[0])
        raise SHESDError(
            f"{name}: missing value at row {row} inside the series; only leading and trailing missing values "
            "are dropped (interpolate inner gaps first)"
        )
    clean = values[present]
    if len(clean) <= 2 * period:
        raise SHESDError(f"{name}: stl needs more than 2 periods of rows ({2 * period}); {len(clean)} are not missing")
    decomp = stl_periodic(clean, period)
    residual = clean - decomp.seasonal - _median_sorted(np.sort(clean), 0, len(clean))
    max_outliers = int(num_obs * k)
    if max_outliers == 0:
        raise SHESDError(
            f"{name}: max_anoms {k} of {num_obs} rows allows no anomaly; with longterm windows, lengthen them"
        )
    expected = np.full(num_obs, np.nan)
    expected[present] = np.trunc(decomp.trend + decomp.seasonal)
    found = hybrid_esd(residual, max_outliers, alpha, direction)
    return _Piece(present[found], expected)


# ---------------------------------------------------------------------------------------------------
# AnomalyDetectionTs / AnomalyDetectionVec
# ---------------------------------------------------------------------------------------------------
def _granularity(stamps: np.ndarray) -> str:
    """get_gran: the gap between the last two stamps, rounded to seconds."""
    gap = np.round((stamps[-1] - stamps[-2]) / np.timedelta64(1, "s"))
    for name, seconds in (("day", 86400), ("hr", 3600), ("min", 60), ("sec", 1)):
        if gap >= seconds:
            return name
    return "ms"


def _ts_pieces(stamps: np.ndarray, gran: str, period: int, weeks: int) -> list[np.ndarray]:
    """Row ranges of the longterm windows: piecewise_median_period_weeks from each chunk start, the
    last one reaching back that many days from the final stamp."""
    n = len(stamps)
    if gran == "day":
        obs, days = period * weeks + 1, 7 * weeks + 1
    else:
        obs, days = period * 7 * weeks, 7 * weeks
    span = np.timedelta64(days, "D")
    last = stamps[-1]
    pieces = []
    for j in range(0, n, obs):
        start = stamps[j]
        end = min(start + span, last)
        if end - start == span:
            pieces.append(np.flatnonzero((stamps >= start) & (stamps < end)))
        else:
            pieces.append(np.flatnonzero((stamps > last - span) & (stamps <= last)))
    return pieces


def _vec_pieces(n: int, longterm_period: int) -> list[np.ndarray]:
    pieces = []
    for start in range(0, n, longterm_period):
        end = min(start + longterm_period, n)
        pieces.append(
            np.arange(start, end) if end - start == longterm_period else np.arange(max(0, n - longterm_period), n)
        )
    return pieces


def _threshold_value(maxima: np.ndarray, threshold: str) -> float:
    if threshold == "med_max":
        return float(np.median(maxima))
    return float(np.quantile(maxima, 0.95 if threshold == "p95" else 0.99))  # R's quantile type 7


def _group_max(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """max per group (groups sorted ascending), skipping missing values; all-missing groups dropped."""
    keep = ~np.isnan(values)
    values, groups = values[keep], groups[keep]
    _, starts = np.unique(groups, return_index=True)
    return np.maximum.reduceat(values, starts) if len(values) else np.array([np.nan])


def _check_options(values: np.ndarray, name: str, max_anoms: float, direction: str, threshold: str) -> None:
    if values.ndim != 1:
        raise SHESDError(f"{name}: values must be one series (1-D); got shape {values.shape}")
    if max_anoms > 0.49:
        raise SHESDError(f"{name}: max_anoms must be less than 50% of the data points; got {max_anoms}")
    if max_anoms < 0:
        raise SHESDError(f"{name}: max_anoms must be positive; got {max_anoms}")
    if direction not in DIRECTIONS:
        raise SHESDError(f"{name}: unknown direction {direction!r}; options are {', '.join(DIRECTIONS)}")
    if threshold not in THRESHOLDS:
        raise SHESDError(f"{name}: unknown threshold {threshold!r}; options are {', '.join(THRESHOLDS)}")
    if np.isinf(values).any():
        raise SHESDError(f"{name}: infinite value at row {int(np.flatnonzero(np.isinf(values))[0])}")


def _vec_setup(n: int, name: str, period: int | None, only_last: object, longterm: bool, weeks: int,
               longterm_period: int | None) -> list[np.ndarray]:  # fmt: skip
    """AnomalyDetectionVec's checks; the row ranges of its longterm windows."""
    if period is None:
        raise SHESDError(f"{name}: period must be set to the number of rows in one period (vector form)")
    if only_last not in (None, True, False):
        raise SHESDError(f"{name}: only_last must be True or False without timestamps; got {only_last!r}")
    if longterm or weeks != 2:
        raise SHESDError(f"{name}: longterm / piecewise_median_period_weeks need timestamps; use longterm_period")
    if longterm_period is not None and longterm_period < 1:
        raise SHESDError(f"{name}: longterm_period must be a positive number of rows; got {longterm_period}")
    return [np.arange(n)] if longterm_period is None else _vec_pieces(n, longterm_period)


def _ts_setup(timestamps: np.ndarray, n: int, name: str, period: int | None, only_last: object, longterm: bool,
              weeks: int, longterm_period: int | None) -> tuple[np.ndarray, int, object, list[np.ndarray]]:  # fmt: skip
    """AnomalyDetectionTs' checks; the stamps, the period of their granularity, `only_last` as R
    resolves it, and the row ranges of the longterm windows."""
    stamps = np.asarray(timestamps, dtype="datetime64[ns]")
    if stamps.shape != (n,):
        raise SHESDError(f"{name}: {len(stamps)} timestamps for {n} values")
    if np.isnat(stamps).any():
        raise SHESDError(f"{name}: missing timestamp at row {int(np.flatnonzero(np.isnat(stamps))[0])}")
    steps = np.diff(stamps) <= np.timedelta64(0)
    if n < 2 or steps.any():
        bad = int(np.flatnonzero(steps)[0]) + 1 if steps.any() else 0
        raise SHESDError(f"{name}: timestamps must be strictly increasing and at least 2 (row {bad} is not)")
    if period is not None or longterm_period is not None:
        raise SHESDError(f"{name}: with timestamps the period comes from their granularity; drop period")
    if only_last not in (None, "day", "hr"):
        raise SHESDError(f"{name}: only_last must be None, 'day' or 'hr' with timestamps; got {only_last!r}")
    if weeks < 2:
        raise SHESDError(f"{name}: piecewise_median_period_weeks must be at least 2; got {weeks}")
    gran = _granularity(stamps)
    if gran not in _PERIOD_BY_GRANULARITY:
        raise SHESDError(
            f"{name}: {gran} granularity has no S-H-ESD period (R's AnomalyDetectionTs sums seconds to minutes "
            "and then finds none); aggregate to minutes first"
        )
    period = _PERIOD_BY_GRANULARITY[gran]
    if gran == "day" and only_last == "hr":
        only_last = "day"
    pieces = _ts_pieces(stamps, gran, period, weeks) if longterm else [np.arange(n)]
    return stamps, period, only_last, pieces


def shesd(
    values: np.ndarray,
    timestamps: np.ndarray | None = None,
    *,
    max_anoms: float = 0.10,
    direction: Direction = "pos",
    alpha: float = 0.05,
    only_last: str | bool | None = None,
    threshold: Threshold = "None",
    e_value: bool = False,
    longterm: bool = False,
    piecewise_median_period_weeks: int = 2,
    period: int | None = None,
    longterm_period: int | None = None,
    name: str = "series",
) -> SHESDResult:
    """Anomalies of one series by S-H-ESD, as AnomalyDetectionTs (with `timestamps`) or
    AnomalyDetectionVec (without: `period` required) computes them; the defaults are R's.

    Timestamped form: period 1440 / 24 / 7 for minute / hourly / daily stamps; `only_last` None,
    'day' or 'hr' ('hr' on daily data means 'day'); `longterm` cuts windows of
    `piecewise_median_period_weeks` weeks. Vector form: `only_last` True keeps the last period;
    `longterm_period` (rows) cuts windows. `threshold` keeps anomalies at or above the median /
    95th / 99th percentile of the daily (per-period) maxima. `name` labels errors."""
    values = np.asarray(values, dtype=float)
    _check_options(values, name, max_anoms, direction, threshold)
    n = len(values)
    stamps = None
    if timestamps is None:
        pieces = _vec_setup(n, name, period, only_last, longterm, piecewise_median_period_weeks, longterm_period)
    else:
        stamps, period, only_last, pieces = _ts_setup(
            timestamps, n, name, period, only_last, longterm, piecewise_median_period_weeks, longterm_period
        )
    assert period is not None
    if period < 2:
        raise SHESDError(f"{name}: period must be at least 2 for the seasonal decomposition; got {period}")
    k = max(max_anoms, 1 / n) if n else max_anoms

    if threshold != "None" and stamps is not None:
        daily = _threshold_value(_group_max(values, stamps.astype("datetime64[D]").astype(np.int64)), threshold)
    found: set[int] = set()
    expected = np.full(n, np.nan)
    seen = np.zeros(n, bool)
    for piece in pieces:
        part = _detect_anoms(values[piece], k, alpha, period, direction, name, int(piece[0]) if len(piece) else 0)
        rows = np.sort(piece[part.rows])
        if threshold != "None":
            if stamps is None:
                cut = _threshold_value(_group_max(values[piece], np.arange(len(piece)) // period), threshold)
            else:
                cut = daily
            rows = rows[values[rows] >= cut]
        found.update(rows.tolist())
        fresh = piece[~seen[piece]]
        expected[fresh] = part.expected[~seen[piece]]
        seen[piece] = True

    rows = np.array(sorted(found), dtype=np.int64)
    if only_last:
        if stamps is None:
            rows = rows[rows >= n - period]
        else:
            back = _HOUR if only_last == "hr" else _DAY
            rows = rows[stamps[rows] > stamps[-1] - back]
    return SHESDResult(rows, values[rows], expected[rows] if e_value else None, period)
