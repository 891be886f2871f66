"""Alert quality as on-call teams judge it: events caught, time to detect, false alarms per series-day.

NAB and the point-wise metrics score rows; an on-call team counts pages. This module counts, for one
detector's scores at one threshold, what a team would: the labelled events that paged someone, how
long after each event began the first page came, and the pages that led nowhere, per series and day.
Every definition below is simple enough to re-derive with a plain loop over the rows
(`tests/anomaly/test_alerts.py` and `tests/anomaly/test_alert_board.py` do so).

Rows (`AlertRows`)
    One row per (item, stamp), in the corpus's order: `item` (the series an alert pages about), `ds`
    (its stamp), `window` (the labelled anomaly window the row lies in, an index unique over the
    corpus, -1 outside), `scorable` (outside the item's probationary period: the detector has seen
    enough to be judged) and, for the `items` split, `calibration` (the row's item is a calibration
    item). The rows of one item are taken in their given order, which must be time order (stamps
    never decreasing; a repeated stamp is allowed, as Cloud Monitoring's files repeat some).

Evaluated rows
    Everything is counted on the *evaluated* rows of one *part* (the calibration part or the scored
    part of a split, below): its scorable rows. A row *alerts* at threshold T when it is evaluated and
    its score is >= T.

Episodes (`episodes`)
    Per item, along its evaluated rows in order: an episode opens at an alerting row and stays open
    through up to `hold` consecutive non-alerting rows (hysteresis: a flapping signal pages once); an
    alerting row while it is open belongs to it; a `hold + 1`-th non-alerting row closes it. With
    `hold=0` an episode is a run of consecutive alerting rows. An episode is *true* when at least one
    of its alerting rows lies inside a labelled window; otherwise it is a *false alarm* (the held,
    non-alerting rows of an episode never make it true).

Events
    An event is one labelled window; it belongs to a part when at least one of its rows is evaluated
    in that part (a window cut by the time split belongs to both parts). It is *detected* when at least
    one of its evaluated rows alerts. `share_detected` = detected / events (NaN without events).

Time to detect (TTD)
    Of a detected event: its first alerting row minus the window's first row (over all the window's
    rows, evaluated or not: the time since the anomaly began), in steps (the difference of the two
    rows' positions in the item) and in time (the stamps' difference, in seconds). `ttd_*_median` and `ttd_*_p90` are
    `numpy.quantile(..., q, method="linear")` over the detected events (numpy's default: the order
    statistic at (n - 1)·q, linearly interpolated between its neighbours); NaN when none is detected.

Series-days
    Per item with evaluated rows in the part: last evaluated stamp - first evaluated stamp + the item's
    median step (numpy median of the differences between consecutive stamps over all its rows, in row
    order; 0 for a one-row item), in days (ns / 86 400·10⁹), summed over the items with `math.fsum`
    (exactly rounded, so any summation order gives the same number). `false_alarms_per_series_day` =
    false alarms / series-days (NaN when there are no series-days).

Event precision
    True episodes / episodes. Undefined without any episode: NaN, never 0.

Splits (`split_masks`): where a threshold is chosen, and where it is scored
    - `items`: the calibration items (`calibration`, e.g. `DetectionData.calibration_mask()`: every
      other item in sorted order) calibrate, the other items are scored;
    - `time`: per item, the first floor(fraction · n) of its n evaluated rows calibrate (an earlier time
      range), the rest is scored;
    - `none`: both parts are every evaluated row, so the threshold is chosen on the rows it is scored
      on. Allowed only with `allow_test_labels=True`, and the result says `tuned_on_test=True`.

Candidate thresholds (`candidate_thresholds`)
    The distinct scores of the part's evaluated rows, descending; more than `n_candidates` of them are
    thinned to the quantiles at `linspace(0, 1, n_candidates)` with `method="inverted_cdf"` (observed
    scores only), as `workbench.anomaly.thresholds.tune` does.

Budget threshold (`budget_threshold`)
    An `AlertBudget` caps false alarms per series-day (`AlertBudget.per_week(1)`: one per series per
    week, 1/7). On the calibration part the candidates are walked from the highest down, as an
    operator lowers a threshold, while each one's false-alarm rate stays <= the budget: those are
    *within budget*, and the walk stops at the first candidate over it. The chosen threshold is the
    one of them that detects the most calibration events, ties going to the highest (the fewest
    alerts); that is the lowest threshold within budget. The walk stops rather than skipping over a
    broken candidate because the rate is not monotone in the threshold: lowering it can merge two
    false episodes into one, and at the lowest candidates nearly every row alerts, so each item's
    rows merge into one endless episode that touches a window and counts as no false alarm at all —
    a degenerate "always alerting" point no on-call team would accept. For the same reason a
    candidate at which every evaluated calibration row alerts (the lowest score) is never chosen: an
    alert that is always on says nothing; it stays on the operating curve. When no candidate is left,
    or even the highest is over the budget, the threshold is +inf (nothing alerts) and `budget_met`
    is False: nothing is silently picked.

Columns
    `alert_quality` (`QUALITY_COLUMNS`), at one threshold on one part: `threshold`; `items` and `rows`
    (evaluated); `alerting_rows`; `events`, `detected`, `share_detected`; `ttd_steps_median`,
    `ttd_steps_p90`, `ttd_seconds_median`, `ttd_seconds_p90`; `episodes`, `true_episodes`,
    `false_alarms`; `series_days`, `false_alarms_per_series_day`; `event_precision`.
    `alert_row` (`ROW_COLUMNS`), one detector's alert-table row: `budget` (false alarms per series-day)
    and `budget_text`; `split`, `fraction` (the time split's, else NaN), `hold`; `threshold`,
    `threshold_from` (how it was chosen), `tuned_on_test`, `budget_met`; on the calibration part at
    that threshold `calibration_false_alarms_per_series_day` and `calibration_share_detected`, and
    `calibration_floor_false_alarms_per_series_day` (the rate at the highest candidate: how close an
    unmet budget came); then `alert_quality`'s columns on the scored part, and `ttd_median` / `ttd_p90`
    as text (`format_duration`).
    `alert_curves` (`CURVE_COLUMNS`): `part` (`calibration` or `scored`) and `alert_quality`'s columns,
    one row per candidate threshold.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from workbench.anomaly.errors import DetectionInputError, ThresholdError
from workbench.anomaly.nab import NabCorpus

__all__ = [
    "CURVE_COLUMNS",
    "QUALITY_COLUMNS",
    "ROW_COLUMNS",
    "SPLITS",
    "AlertBudget",
    "AlertError",
    "AlertRows",
    "BudgetChoice",
    "alert_curves",
    "alert_quality",
    "alert_row",
    "budget_threshold",
    "candidate_thresholds",
    "episodes",
    "format_duration",
    "operating_curve",
    "split_masks",
]

SPLITS = ("items", "time", "none")
NS_PER_DAY = 86_400 * 10**9
QUANTILE_METHOD = "linear"  # numpy's default, named so that the docstring and the code say the same

# alert_quality's keys, in order
QUALITY_COLUMNS = [
    "threshold",
    "items",
    "rows",
    "alerting_rows",
    "events",
    "detected",
    "share_detected",
    "ttd_steps_median",
    "ttd_steps_p90",
    "ttd_seconds_median",
    "ttd_seconds_p90",
    "episodes",
    "true_episodes",
    "false_alarms",
    "series_days",
    "false_alarms_per_series_day",
    "event_precision",
]
# operating curve rows (alert_curves): the part they were counted on, then alert_quality's keys
CURVE_COLUMNS = ["part", *QUALITY_COLUMNS]
# alert_row's keys, in order
ROW_COLUMNS = [
    "budget",
    "budget_text",
    "split",
    "fraction",
    "hold",
    "threshold",
    "threshold_from",
    "tuned_on_test",
    "budget_met",
    "calibration_false_alarms_per_series_day",
    "calibration_floor_false_alarms_per_series_day",
    "calibration_share_detected",
    *[c for c in QUALITY_COLUMNS if c != "threshold"],
    "ttd_median",
    "ttd_p90",
]


class AlertError(DetectionInputError):
    """Alert-quality input that cannot be counted as given (lengths, stamps, windows, split, budget)."""


@dataclass(frozen=True)
class AlertBudget:
    """How many false alarms an on-call team accepts, per series and day.

    Parameters
    ----------
    max_false_alarms_per_series_day
        The cap, > 0: a budget of 0 would only be met by a detector that never alerts.
    """

    max_false_alarms_per_series_day: float

    def __post_init__(self) -> None:
        value = self.max_false_alarms_per_series_day
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise AlertError(
                f"alert budget max_false_alarms_per_series_day={value!r}: must be a finite number > 0 "
                "(e.g. AlertBudget.per_week(1) for one false alarm per series per week)"
            )

    @classmethod
    def per_week(cls, n: float) -> AlertBudget:
        """At most `n` false alarms per series per week (n / 7 per series-day).

        Parameters
        ----------
        n
            False alarms a team accepts per series and week, > 0.
        """
        return cls(n / 7)

    @classmethod
    def per_day(cls, n: float) -> AlertBudget:
        """At most `n` false alarms per series per day.

        Parameters
        ----------
        n
            False alarms a team accepts per series and day, > 0.
        """
        return cls(float(n))

    def describe(self) -> str:
        """`≤ 1 false alarm per series-week (0.1429 per series-day)`."""
        per_day = self.max_false_alarms_per_series_day
        return f"≤ {per_day * 7:.4g} false alarm(s) per series-week ({per_day:.4g} per series-day)"


@dataclass(frozen=True, eq=False)
class AlertRows:
    """The rows alerts are counted on, checked once; scores of any number of detectors are then counted
    against them (see the module docstring for each field's meaning).

    Parameters
    ----------
    item
        The item (series) of each row; the rows of one item in time order.
    ds
        The stamp of each row (anything `numpy.datetime64` takes).
    window
        The labelled window of each row (an index unique over all items), -1 outside any window.
    scorable
        Rows outside the item's probationary period; None: every row.
    calibration
        Rows of the calibration items (the `items` split); None: no such split.

    Raises
    ------
    AlertError
        Arrays of different lengths, stamps going back in time within an item, or a window spanning two items.
    """

    item: np.ndarray
    ds: np.ndarray
    window: np.ndarray
    scorable: np.ndarray | None = None
    calibration: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.item)
        given = {"item": self.item, "ds": self.ds, "window": self.window, "scorable": self.scorable,
                 "calibration": self.calibration}  # fmt: skip
        for name, values in given.items():
            if values is not None and len(values) != n:
                raise AlertError(f"alert rows: {name} has {len(values)} values, item has {n} (one per row)")
        set_ = object.__setattr__
        set_(self, "item", np.asarray(self.item, dtype=object))
        set_(self, "ds", np.asarray(self.ds, dtype="datetime64[ns]"))
        set_(self, "window", np.asarray(self.window, dtype=np.int64))
        set_(self, "scorable", np.ones(n, bool) if self.scorable is None else np.asarray(self.scorable, dtype=bool))
        if self.calibration is not None:
            set_(self, "calibration", np.asarray(self.calibration, dtype=bool))
        if np.isnat(self.ds).any():
            i = int(np.argmax(np.isnat(self.ds)))
            raise AlertError(f"alert rows: row {i} of item {self.item[i]!r} has no stamp (NaT)")
        self._check_order()
        self._check_windows()

    @classmethod
    def from_corpus(cls, corpus: NabCorpus, calibration: np.ndarray | None = None) -> AlertRows:
        """The rows of a NAB corpus (`DetectionData.corpus`): its files as items, its windows and probation.

        Parameters
        ----------
        corpus
            The corpus whose rows the detectors' scores are aligned to (`NabCorpus.align`).
        calibration
            Rows of the calibration items, per corpus row (`DetectionData.calibration_mask()`).
        """
        files = np.asarray(corpus.files, dtype=object)
        ds = np.concatenate([corpus.timestamps[f] for f in corpus.files]) if corpus.files else np.zeros(0, "M8[ns]")
        return cls(files[corpus.file_index], ds, corpus.window, corpus.scorable, calibration)

    def __len__(self) -> int:
        return len(self.item)

    # ---- derived once ---------------------------------------------------------------------------
    @cached_property
    def codes(self) -> np.ndarray:
        """An integer per item, in order of first appearance."""
        return pd.factorize(pd.Series(self.item, dtype=object), sort=False)[0].astype(np.int64)

    @cached_property
    def order(self) -> np.ndarray:
        """The row indices item by item, each item's rows in their given order."""
        return np.argsort(self.codes, kind="stable")

    @cached_property
    def ds_ns(self) -> np.ndarray:
        return self.ds.astype(np.int64)

    @cached_property
    def position(self) -> np.ndarray:
        """Each row's position among its item's rows (0 for its first)."""
        out = np.empty(len(self), np.int64)
        out[self.order] = pd.Series(self.codes[self.order]).groupby(self.codes[self.order]).cumcount().to_numpy()
        return out

    @cached_property
    def median_step_ns(self) -> np.ndarray:
        """Per item code: the median difference between consecutive stamps (ns; 0 for a one-row item)."""
        codes, stamps = self.codes[self.order], self.ds_ns[self.order]
        out = np.zeros(int(codes.max()) + 1 if len(codes) else 0)
        same = codes[1:] == codes[:-1]
        diffs = pd.Series(np.diff(stamps)[same].astype(float)).groupby(codes[1:][same]).median()
        out[diffs.index.to_numpy()] = diffs.to_numpy()
        return out

    @cached_property
    def window_first(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(window ids ascending, first row's position in its item, first row's stamp in ns)."""
        rows = self.order[self.window[self.order] >= 0]
        ids, first = np.unique(self.window[rows], return_index=True)
        return ids, self.position[rows[first]], self.ds_ns[rows[first]]

    def _check_order(self) -> None:
        codes, stamps = self.codes[self.order], self.ds_ns[self.order]
        back = np.flatnonzero((codes[1:] == codes[:-1]) & (np.diff(stamps) < 0))
        if len(back):
            row = int(self.order[back[0] + 1])
            raise AlertError(
                f"alert rows: item {self.item[row]!r} goes back in time at row {row} ({self.ds[row]} after "
                f"{self.ds[int(self.order[back[0]])]}); an item's rows must be in time order"
            )

    def _check_windows(self) -> None:
        inside = self.window >= 0
        if not inside.any():
            return
        per = pd.Series(self.codes[inside]).groupby(self.window[inside]).nunique()
        if (per > 1).any():
            w = int(per.index[per > 1][0])
            names = sorted({str(i) for i in self.item[self.window == w]})
            raise AlertError(f"alert rows: window {w} spans items {names[:3]}; a window lies in one item")

    def check_scores(self, scores: np.ndarray, detector: str = "scores") -> np.ndarray:
        """The scores as floats, one per row and none NaN (a NaN cannot be compared with a threshold).

        Parameters
        ----------
        scores
            One score per row.
        detector
            What made them, for the error message.
        """
        values = np.asarray(scores, dtype=float)
        if values.shape != (len(self),):
            raise AlertError(f"{detector}: {values.shape[0] if values.ndim else 0} scores for {len(self)} rows")
        if np.isnan(values).any():
            i = int(np.argmax(np.isnan(values)))
            raise AlertError(f"{detector}: score NaN at row {i} (item {self.item[i]!r}, {self.ds[i]})")
        return values


# ---- splits and parts -------------------------------------------------------------------------------
def split_masks(rows: AlertRows, split: str, fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, scored): the evaluated rows of each part of a split, as row masks.

    Parameters
    ----------
    rows
        The rows.
    split
        `items` (held-out series), `time` (an earlier time range of each item) or `none` (both parts are
        every evaluated row): where a threshold may be chosen without seeing the rows it is scored on.
    fraction
        `time` only: the share of each item's evaluated rows that calibrate, in (0, 1).

    Raises
    ------
    AlertError
        An unknown split, a fraction outside (0, 1), or `items` without a calibration mask.
    """
    if split not in SPLITS:
        raise AlertError(f"unknown calibration split {split!r}; known: {', '.join(SPLITS)}")
    evaluated = rows.scorable
    if split == "none":
        return evaluated.copy(), evaluated.copy()
    if split == "items":
        if rows.calibration is None:
            raise AlertError("split='items' needs the calibration items: AlertRows(..., calibration=mask)")
        return evaluated & rows.calibration, evaluated & ~rows.calibration
    if not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise AlertError(f"split='time': fraction={fraction!r} must lie strictly between 0 and 1")
    seq = rows.order[evaluated[rows.order]]
    codes = rows.codes[seq]
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    size = np.bincount(codes, minlength=int(codes.max()) + 1 if len(codes) else 0)[codes]
    calibration = np.zeros(len(rows), bool)
    calibration[seq] = rank < np.floor(fraction * size)
    return calibration, evaluated & ~calibration


@dataclass(frozen=True)
class _Part:
    """One part's evaluated rows item by item (`seq`: row indices), with what every threshold reuses."""

    seq: np.ndarray
    codes: np.ndarray
    window: np.ndarray
    n_events: int
    n_items: int
    series_days: float


def _part(rows: AlertRows, part: np.ndarray | None) -> _Part:
    mask = rows.scorable if part is None else rows.scorable & _mask(part, len(rows), "part")
    seq = rows.order[mask[rows.order]]
    codes, window = rows.codes[seq], rows.window[seq]
    if not len(seq):
        return _Part(seq, codes, window, 0, 0, 0.0)
    starts = np.r_[True, codes[1:] != codes[:-1]]
    ends = np.r_[codes[1:] != codes[:-1], True]
    span = (rows.ds_ns[seq[ends]] - rows.ds_ns[seq[starts]]).astype(float) + rows.median_step_ns[codes[starts]]
    days = math.fsum((span / NS_PER_DAY).tolist())
    return _Part(seq, codes, window, len(np.unique(window[window >= 0])), int(starts.sum()), days)


def _mask(values: np.ndarray, n: int, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=bool)
    if values.shape != (n,):
        raise AlertError(f"{name}: {values.shape[0] if values.ndim else 0} values for {n} rows")
    return values


def _check_hold(hold: int) -> int:
    if isinstance(hold, bool) or not isinstance(hold, int | np.integer) or hold < 0:
        raise AlertError(f"hold={hold!r}: the hysteresis is a whole number of rows >= 0")
    return int(hold)


# ---- counting at one threshold ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Alerts:
    """The alerting rows of a part at one threshold (`at`: positions in the part's `seq`), their episodes."""

    at: np.ndarray
    episode: np.ndarray  # episode index of each alerting row
    n_episodes: int
    true: np.ndarray  # per episode: touches a labelled window


def _alerts(part: _Part, part_scores: np.ndarray, threshold: float, hold: int) -> _Alerts:
    at = np.flatnonzero(part_scores >= threshold)
    if not len(at):
        return _Alerts(at, at, 0, np.zeros(0, bool))
    codes = part.codes[at]
    opens = np.r_[True, (codes[1:] != codes[:-1]) | (np.diff(at) - 1 > hold)]
    episode = np.cumsum(opens) - 1
    n = int(opens.sum())
    true = np.bincount(episode, weights=(part.window[at] >= 0).astype(float), minlength=n) > 0
    return _Alerts(at, episode, n, true)


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    if not len(values):
        return float("nan"), float("nan")
    median, p90 = np.quantile(values.astype(float), [0.5, 0.9], method=QUANTILE_METHOD)
    return float(median), float(p90)


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _quality(rows: AlertRows, part: _Part, part_scores: np.ndarray, threshold: float, hold: int) -> dict[str, Any]:
    alerts = _alerts(part, part_scores, threshold, hold)
    windows = part.window[alerts.at]
    hit = windows >= 0
    detected, first = np.unique(windows[hit], return_index=True)
    first_rows = part.seq[alerts.at[hit][first]]
    ids, first_position, first_ns = rows.window_first
    k = np.searchsorted(ids, detected)
    steps = rows.position[first_rows] - first_position[k]
    seconds = (rows.ds_ns[first_rows] - first_ns[k]) / 1e9
    n_true = int(alerts.true.sum())
    false_alarms = alerts.n_episodes - n_true
    (steps_median, steps_p90), (seconds_median, seconds_p90) = _quantiles(steps), _quantiles(seconds)
    return {
        "threshold": float(threshold),
        "items": part.n_items,
        "rows": len(part.seq),
        "alerting_rows": len(alerts.at),
        "events": part.n_events,
        "detected": len(detected),
        "share_detected": _ratio(len(detected), part.n_events),
        "ttd_steps_median": steps_median,
        "ttd_steps_p90": steps_p90,
        "ttd_seconds_median": seconds_median,
        "ttd_seconds_p90": seconds_p90,
        "episodes": alerts.n_episodes,
        "true_episodes": n_true,
        "false_alarms": false_alarms,
        "series_days": part.series_days,
        "false_alarms_per_series_day": _ratio(false_alarms, part.series_days),
        "event_precision": _ratio(n_true, alerts.n_episodes),
    }


def alert_quality(
    rows: AlertRows, scores: np.ndarray, threshold: float, *, part: np.ndarray | None = None, hold: int = 0
) -> dict[str, Any]:
    """What an on-call team would count at one threshold, as one row (keys: `QUALITY_COLUMNS`).

    Parameters
    ----------
    rows
        The rows (items, stamps, windows, probation).
    scores
        One score per row (a detector's, aligned to the rows).
    threshold
        Rows with score >= threshold alert.
    part
        Count only on these rows (a mask, intersected with the scorable rows: a part of `split_masks`);
        None: every scorable row.
    hold
        Hysteresis in rows: an episode stays open through up to `hold` non-alerting rows, so a signal that
        flickers around the threshold pages once.
    """
    values = rows.check_scores(scores)
    prepared = _part(rows, part)
    return _quality(rows, prepared, values[prepared.seq], threshold, _check_hold(hold))


def episodes(
    rows: AlertRows, scores: np.ndarray, threshold: float, *, part: np.ndarray | None = None, hold: int = 0
) -> pd.DataFrame:
    """The alert episodes at one threshold, one row each: `item`, `first_row` and `last_row` (row indices of
    its first and last alerting row), `first_ds`, `last_ds`, `alerting_rows`, `true_alarm` (one of its
    alerting rows lies in a labelled window) — what the counts of `alert_quality` are made of.

    Parameters
    ----------
    rows
        The rows.
    scores
        One score per row.
    threshold
        Rows with score >= threshold alert.
    part
        Count only on these rows (intersected with the scorable rows); None: every scorable row.
    hold
        Hysteresis in rows (see `alert_quality`).
    """
    values = rows.check_scores(scores)
    prepared = _part(rows, part)
    alerts = _alerts(prepared, values[prepared.seq], threshold, _check_hold(hold))
    at_rows = prepared.seq[alerts.at]
    frame = pd.DataFrame({"episode": alerts.episode, "row": at_rows})
    grouped = frame.groupby("episode", sort=True)["row"]
    first, last, count = grouped.first().to_numpy(), grouped.last().to_numpy(), grouped.size().to_numpy()
    return pd.DataFrame(
        {
            "item": rows.item[first] if len(first) else np.zeros(0, object),
            "first_row": first.astype(np.int64),
            "last_row": last.astype(np.int64),
            "first_ds": rows.ds[first],
            "last_ds": rows.ds[last],
            "alerting_rows": count.astype(np.int64),
            "true_alarm": alerts.true,
        }
    )


# ---- thresholds -------------------------------------------------------------------------------------
def candidate_thresholds(scores: np.ndarray, n_candidates: int = 200) -> np.ndarray:
    """The thresholds an operating curve is drawn at and a budget threshold is chosen from, descending.

    Parameters
    ----------
    scores
        The scores of the rows the thresholds are for (a part's evaluated rows).
    n_candidates
        At most this many: more distinct scores are thinned to quantiles (observed scores only), so a
        curve over a million rows costs `n_candidates` counts, not a million.
    """
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int | np.integer) or n_candidates < 1:
        raise AlertError(f"n_candidates={n_candidates!r}: need a whole number >= 1")
    values = np.asarray(scores, dtype=float)
    if not len(values):
        return values
    distinct = np.unique(values)
    if len(distinct) > n_candidates:
        distinct = np.unique(np.quantile(values, np.linspace(0, 1, n_candidates), method="inverted_cdf"))
    return distinct[::-1]


def operating_curve(
    rows: AlertRows,
    scores: np.ndarray,
    *,
    part: np.ndarray | None = None,
    hold: int = 0,
    n_candidates: int = 200,
) -> pd.DataFrame:
    """`alert_quality` at each candidate threshold of the part's scores (descending): share of events
    detected against false alarms per series-day, the trade-off an alert budget picks a point of.

    Parameters
    ----------
    rows
        The rows.
    scores
        One score per row.
    part
        Count only on these rows (intersected with the scorable rows); None: every scorable row.
    hold
        Hysteresis in rows (see `alert_quality`).
    n_candidates
        At most this many thresholds (`candidate_thresholds`).
    """
    values = rows.check_scores(scores)
    prepared = _part(rows, part)
    hold = _check_hold(hold)
    part_scores = values[prepared.seq]
    thresholds = candidate_thresholds(part_scores, n_candidates)
    return pd.DataFrame([_quality(rows, prepared, part_scores, t, hold) for t in thresholds], columns=QUALITY_COLUMNS)


@dataclass(frozen=True)
class BudgetChoice:
    """A threshold chosen to meet an alert budget, and where it came from.

    Parameters
    ----------
    threshold
        The threshold (+inf where no candidate met the budget: nothing alerts).
    budget_met
        A candidate met the budget on the calibration rows.
    split, fraction, hold
        The split it was chosen on (`fraction`: the time split's, else None) and the hysteresis.
    tuned_on_test
        It was chosen on the rows it is scored on (`split="none"`).
    threshold_from
        A sentence saying how it was chosen.
    calibration
        `alert_quality` on the calibration rows at the threshold.
    floor_false_alarms_per_series_day
        The calibration false-alarm rate at the highest candidate threshold, the fewest alerts any candidate
        raises: how close an unmet budget came (NaN without candidates: every row has the same score).
    n_candidates
        Candidate thresholds evaluated.
    """

    threshold: float
    budget_met: bool
    split: str
    fraction: float | None
    hold: int
    tuned_on_test: bool
    threshold_from: str
    calibration: dict[str, Any]
    floor_false_alarms_per_series_day: float
    n_candidates: int


_WHERE = {
    "items": "the calibration items (every other item)",
    "time": "the first {fraction:g} of each item's evaluated rows",
    "none": "the scored rows themselves (tuned on test)",
}


def budget_threshold(
    rows: AlertRows,
    scores: np.ndarray,
    budget: AlertBudget,
    *,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
    allow_test_labels: bool = False,
) -> BudgetChoice:
    """The lowest threshold within the alert budget on the calibration rows: candidates walked from the
    highest down while within budget; of those, the one detecting the most events (ties: the highest).

    Parameters
    ----------
    rows
        The rows.
    scores
        One score per row.
    budget
        The false alarms per series-day a team accepts.
    split
        Where the threshold is chosen (`split_masks`): `items` or `time` keep it off the scored rows;
        `none` chooses it on them, which needs `allow_test_labels`.
    hold
        Hysteresis in rows (see `alert_quality`), the same when choosing and when scoring.
    fraction
        The time split's calibration share of each item's evaluated rows.
    n_candidates
        At most this many candidate thresholds (`candidate_thresholds`).
    allow_test_labels
        Consent to `split="none"`: the labels of the scored rows then choose their own threshold, and the
        choice says `tuned_on_test=True`.

    Raises
    ------
    AlertError
        A budget that is not an `AlertBudget`, an unknown split, or a split without calibration rows.
    ThresholdError
        `split="none"` without `allow_test_labels=True`.
    """
    if not isinstance(budget, AlertBudget):
        raise AlertError(f"budget={budget!r}: give an AlertBudget (e.g. AlertBudget.per_week(1))")
    if split == "none" and not allow_test_labels:
        raise ThresholdError(
            "split='none' chooses the alert threshold on the labels of the rows it is then scored on; "
            "use split='items' or split='time', or pass allow_test_labels=True (the row then says tuned_on_test=True)"
        )
    calibration, _ = split_masks(rows, split, fraction)
    if not calibration.any():
        raise AlertError(f"split={split!r} leaves no evaluated calibration rows to choose a threshold on")
    curve = operating_curve(rows, scores, part=calibration, hold=hold, n_candidates=n_candidates)
    curve = curve[curve["alerting_rows"] < curve["rows"]]  # not the lowest score: every row alerts there
    rates = curve["false_alarms_per_series_day"].to_numpy()
    broken = ~(rates <= budget.max_false_alarms_per_series_day)  # NaN (no series-days) breaks it too
    within = curve.iloc[: int(np.argmax(broken)) if broken.any() else len(curve)]
    floor = float(rates[0]) if len(rates) else float("nan")
    where = _WHERE[split].format(fraction=fraction)
    if within.empty:
        threshold, met = float("inf"), False
        top = (f"the highest, {float(curve['threshold'].iloc[0]):.4g}, raises {floor:.4g} per series-day"
               if len(curve) else "every row has the same score")  # fmt: skip
        how = f"no candidate threshold meets {budget.describe()} on {where} ({top}): nothing alerts"
    else:
        best = within[within["detected"] == within["detected"].max()]
        threshold, met = float(best["threshold"].max()), True
        how = (f"lowest candidate threshold within {budget.describe()} on {where}, walking down from the "
               "highest (most events detected; ties: the highest threshold)")  # fmt: skip
    return BudgetChoice(
        threshold=threshold,
        budget_met=met,
        split=split,
        fraction=fraction if split == "time" else None,
        hold=_check_hold(hold),
        tuned_on_test=split == "none",
        threshold_from=how,
        calibration=alert_quality(rows, scores, threshold, part=calibration, hold=hold),
        floor_false_alarms_per_series_day=floor,
        n_candidates=len(curve),
    )


def alert_row(
    rows: AlertRows,
    scores: np.ndarray,
    budget: AlertBudget,
    *,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
    allow_test_labels: bool = False,
) -> dict[str, Any]:
    """One detector's alert-table row (keys: `ROW_COLUMNS`): the budget threshold chosen on the calibration
    part, then `alert_quality` on the scored part at that threshold.

    Parameters
    ----------
    rows, scores, budget, split, hold, fraction, n_candidates, allow_test_labels
        As `budget_threshold` takes them; the scored part is the split's other part.

    Raises
    ------
    AlertError
        The split leaves no scored rows (e.g. `items` on a single item).
    """
    choice = budget_threshold(rows, scores, budget, split=split, hold=hold, fraction=fraction,
                              n_candidates=n_candidates, allow_test_labels=allow_test_labels)  # fmt: skip
    _, scored = split_masks(rows, split, fraction)
    if not scored.any():
        raise AlertError(f"split={split!r} leaves no evaluated rows to score the threshold on")
    quality = alert_quality(rows, scores, choice.threshold, part=scored, hold=hold)
    row = {
        "budget": budget.max_false_alarms_per_series_day,
        "budget_text": budget.describe(),
        "split": split,
        "fraction": choice.fraction if choice.fraction is not None else float("nan"),
        "hold": choice.hold,
        "threshold": choice.threshold,
        "threshold_from": choice.threshold_from,
        "tuned_on_test": choice.tuned_on_test,
        "budget_met": choice.budget_met,
        "calibration_false_alarms_per_series_day": choice.calibration["false_alarms_per_series_day"],
        "calibration_floor_false_alarms_per_series_day": choice.floor_false_alarms_per_series_day,
        "calibration_share_detected": choice.calibration["share_detected"],
        **{k: v for k, v in quality.items() if k != "threshold"},
        "ttd_median": format_duration(quality["ttd_seconds_median"]),
        "ttd_p90": format_duration(quality["ttd_seconds_p90"]),
    }
    return {k: row[k] for k in ROW_COLUMNS}


def alert_curves(
    rows: AlertRows,
    scores: np.ndarray,
    *,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
) -> pd.DataFrame:
    """The operating curves of one detector on each part of a split (columns: `CURVE_COLUMNS`): `part` is
    `calibration` or `scored`; with `split="none"` the two are the same rows, given once as `scored`.

    Parameters
    ----------
    rows, scores, split, hold, fraction, n_candidates
        As `budget_threshold` takes them.
    """
    calibration, scored = split_masks(rows, split, fraction)
    parts = {"scored": scored} if split == "none" else {"calibration": calibration, "scored": scored}
    frames = [
        operating_curve(rows, scores, part=mask, hold=hold, n_candidates=n_candidates).assign(part=name)
        for name, mask in parts.items()
    ]
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def format_duration(seconds: float) -> str:
    """`3h`, `1d 2h 5m`, `45s`, `0s`; '' for NaN (no event detected) and `never` for +inf.

    Parameters
    ----------
    seconds
        A duration in seconds (a time to detect).
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if math.isinf(seconds):
        return "never"
    sign, rest = ("-" if seconds < 0 else ""), abs(float(seconds))
    days, rest = divmod(rest, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(v)}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    if secs or not parts:
        parts.append(f"{round(secs, 3):g}s")
    return sign + " ".join(parts)
