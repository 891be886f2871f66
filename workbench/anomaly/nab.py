"""The NAB v1.1 score, computed with numpy over the whole corpus at once.

NAB (numenta/NAB `nab/sweeper.py`, `scorer.py`, `optimizer.py`, `runner.normalize`) scores a detector
row by row: every row gets a weight from a scaled sigmoid of its position relative to the anomaly
windows (inside a window: early rows are worth up to A_TP; outside: a false positive costs up to
A_FP, less right after a window). At a threshold T a detection is `anomaly_score >= T`; a window
counts once, with its best (earliest) detection, an undetected window costs A_FN, and the first
15 % of each file (at most 750 rows) is probationary: seen by the detector, never scored. The
threshold is optimised once per detector and profile over the whole corpus, and the raw corpus score
is normalised between the null detector (0) and the perfect one (100).

`NabCorpus` fixes the rows and windows once (their weights do not depend on the detector) so that
scoring a detector is a handful of vectorised reductions; `tests/anomaly/nab_reference.py` is the
row-by-row loop with NAB's own structure, used to check this module and to time it against.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.anomaly.errors import LabelError, ScoreRangeError, TimestampOrderError

__all__ = [
    "MAX_TP",
    "PROBATIONARY_PERCENT",
    "STANDARD_PROFILES",
    "START_THRESHOLD",
    "CostProfile",
    "FileRows",
    "NabCorpus",
    "OutOfRangeScoreWarning",
    "check_scores",
    "file_rows",
    "nab_profiles",
    "normalise",
    "probationary_length",
    "scaled_sigmoid",
]

PROBATIONARY_PERCENT = 0.15
# NAB's sweep starts above every possible score so that its first record detects nothing
START_THRESHOLD = 1.1


@dataclass(frozen=True)
class CostProfile:
    """One application profile of `config/profiles.json`: the weights of TP, FP and FN (TN unused)."""

    name: str
    tp: float
    fp: float
    fn: float
    tn: float = 1.0


# config/profiles.json of NAB v1.1; `nab_profiles()` reads the file itself, these are for tests and
# for use without the dataset
STANDARD_PROFILES = {
    "standard": CostProfile("standard", tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
}


def nab_profiles() -> dict[str, CostProfile]:
    """The profiles as NAB's `config/profiles.json` (read through the dataset card) declares them."""
    from workbench.data.catalog import load_table

    table = load_table("nab", "profiles")
    return {
        row["profile"]: CostProfile(
            row["profile"],
            tp=float(row["CostMatrix.tpWeight"]),
            fp=float(row["CostMatrix.fpWeight"]),
            fn=float(row["CostMatrix.fnWeight"]),
            tn=float(row["CostMatrix.tnWeight"]),
        )
        for _, row in table.iterrows()
    }


def probationary_length(n_rows: int, percent: float = PROBATIONARY_PERCENT) -> float:
    """NAB's `getProbationPeriod`: rows with a smaller index are not scored (a float, compared as NAB does)."""
    return min(math.floor(percent * n_rows), percent * 5000)


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's `scaledSigmoid`: 2 sigmoid(-5 p) - 1, and exactly -1 beyond p = 3."""
    position = np.asarray(position, dtype=float)
    with np.errstate(over="ignore"):
        value = 2 * (1 / (1 + np.exp(5 * position))) - 1.0
    return np.where(position > 3.0, -1.0, value)


MAX_TP = float(scaled_sigmoid(np.array(-1.0)))


@dataclass(frozen=True)
class FileRows:
    """One file's rows as the sweeper sees them: unweighted score, window index (-1 outside), scorable."""

    unweighted: np.ndarray
    window: np.ndarray
    scorable: np.ndarray
    n_windows: int


def _first(hits: np.ndarray, at_least: int) -> int | None:
    later = hits[hits >= at_least]
    return int(later[0]) if len(later) else None


def file_rows(
    uid: str,
    timestamps: np.ndarray,
    windows: list[tuple[np.datetime64, np.datetime64]],
    percent: float = PROBATIONARY_PERCENT,
) -> FileRows:
    """Place a file's windows on its rows the way `Sweeper.calcSweepScore` walks them.

    Rows are taken in file order (NAB scores rows, not timestamps): a window is entered at the first
    row after the previous window whose timestamp equals its start, and left at the first row equal
    to its end; its width and right edge use the first occurrence of each timestamp in the file
    (`list.index`), as NAB does. Windows that NAB would silently skip (start or end not in the data,
    end before start, overlapping or out of order) raise `LabelError` instead.
    """
    n = len(timestamps)
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    unweighted = np.full(n, -1.0)
    window = np.full(n, -1, dtype=np.int64)
    position = np.arange(n, dtype=float)
    cursor, prev_right, prev_width = 0, None, None
    for k, (start, end) in enumerate(windows):
        start, end = np.datetime64(start, "ns"), np.datetime64(end, "ns")
        starts, ends = np.flatnonzero(ts == start), np.flatnonzero(ts == end)
        if not len(starts) or not len(ends):
            missing = "start" if not len(starts) else "end"
            raise LabelError(
                f"{uid}: window {k} [{start}, {end}] lies outside the data: its {missing} is not a timestamp "
                f"of the file ({ts[0] if n else 'no rows'} .. {ts[-1] if n else ''})"
            )
        right, width = int(ends[0]), int(ends[0]) - int(starts[0]) + 1
        entry = _first(starts, cursor)
        leave = _first(ends, entry) if entry is not None else None
        if width < 1 or entry is None or leave is None:
            raise LabelError(
                f"{uid}: window {k} [{start}, {end}] ends before it starts or overlaps the previous window; "
                "windows must be disjoint and in time order"
            )
        if prev_right is not None:
            gap = slice(cursor, entry)
            if prev_width == 1 and entry > cursor:
                raise LabelError(f"{uid}: window {k - 1} is one row wide; NAB's sweeper divides by its width - 1")
            unweighted[gap] = scaled_sigmoid(np.abs(prev_right - position[gap]) / (prev_width - 1))
        rows = slice(entry, leave + 1)
        unweighted[rows] = scaled_sigmoid(-(right - position[rows] + 1) / width)
        window[rows] = k
        cursor, prev_right, prev_width = leave + 1, leave, width
    if prev_right is not None and cursor < n:
        if prev_width == 1:
            raise LabelError(f"{uid}: the last window is one row wide; NAB's sweeper divides by its width - 1")
        tail = slice(cursor, n)
        unweighted[tail] = scaled_sigmoid(np.abs(prev_right - position[tail]) / (prev_width - 1))
    scorable = np.arange(n) >= probationary_length(n, percent)
    return FileRows(unweighted, window, scorable, len(windows))


@dataclass
class NabCorpus:
    """Rows and windows of a corpus, fixed once; detectors are scored against it.

    `files` keeps the corpus order; rows of all files are concatenated (window indices made global,
    so a window is named by its file, as NAB's "file|start" names are).
    """

    files: list[str]
    lengths: np.ndarray
    file_index: np.ndarray
    window: np.ndarray
    unweighted: np.ndarray
    scorable: np.ndarray
    window_file: np.ndarray
    window_scored: np.ndarray
    timestamps: dict[str, np.ndarray] = field(repr=False)
    n_labelled_windows: int = 0

    @classmethod
    def build(
        cls,
        data: pd.DataFrame,
        windows: pd.DataFrame,
        percent: float = PROBATIONARY_PERCENT,
        files: list[str] | None = None,
    ) -> NabCorpus:
        """`data`: long rows (unique_id, ds) in file order; `windows`: (unique_id, start, end).

        Every window must name a file of the corpus (or of `files` when only some are scored);
        `n_labelled_windows` counts all windows, the perfect detector's score.
        """
        groups = {uid: g["ds"].to_numpy("datetime64[ns]") for uid, g in data.groupby("unique_id", sort=False)}
        files = list(groups) if files is None else list(files)
        unknown = sorted(set(windows["unique_id"]) - set(groups))
        if unknown:
            raise LabelError(
                f"labels name {len(unknown)} file(s) not in the corpus: {', '.join(unknown[:5])}"
                + (" ..." if len(unknown) > 5 else "")
            )
        absent = [f for f in files if f not in groups]
        if absent:
            raise LabelError(f"file(s) {absent[:5]} are not in the corpus")
        per_file = {uid: list(zip(g["start"], g["end"], strict=True)) for uid, g in windows.groupby("unique_id")}
        parts, offset = [], 0
        window_file: list[int] = []
        window_scored: list[bool] = []
        for i, uid in enumerate(files):
            rows = file_rows(uid, groups[uid], per_file.get(uid, []), percent)
            glob = np.where(rows.window >= 0, rows.window + offset, -1)
            for k in range(rows.n_windows):
                window_file.append(i)
                window_scored.append(bool((rows.scorable & (rows.window == k)).any()))
            offset += rows.n_windows
            parts.append((rows, glob))
        lengths = np.array([len(groups[f]) for f in files], dtype=np.int64)
        return cls(
            files=files,
            lengths=lengths,
            file_index=np.repeat(np.arange(len(files)), lengths),
            window=np.concatenate([g for _, g in parts]) if parts else np.zeros(0, np.int64),
            unweighted=np.concatenate([r.unweighted for r, _ in parts]) if parts else np.zeros(0),
            scorable=np.concatenate([r.scorable for r, _ in parts]) if parts else np.zeros(0, bool),
            window_file=np.array(window_file, dtype=np.int64),
            window_scored=np.array(window_scored, dtype=bool),
            timestamps={f: groups[f] for f in files},
            n_labelled_windows=len(windows),
        )

    @property
    def n_windows(self) -> int:
        return len(self.window_file)

    def weights(self, profile: CostProfile) -> np.ndarray:
        """Weighted per-row scores (NAB's `S(t)_<profile>` column): TP weight inside, FP weight outside."""
        inside = self.window >= 0
        return np.where(inside, self.unweighted * profile.tp / MAX_TP, self.unweighted * profile.fp)

    def align(
        self, scores: Mapping[str, np.ndarray] | pd.DataFrame, detector: str = "detector", *, published: bool = False
    ) -> np.ndarray:
        """One score array in corpus row order, checked: every file present, right length, in [0, 1].

        A DataFrame must have unique_id, timestamp (or ds) and anomaly_score; its timestamps must be the
        data's, row for row (a detector scores the rows it was given, in their order). `published=True`
        is for result files others wrote (NAB's `results/`): finite scores outside [0, 1] are scored as
        NAB scores them, with an `OutOfRangeScoreWarning` per file (see `check_scores`).
        """
        if isinstance(scores, pd.DataFrame):
            return self._align_frame(scores, detector, published)
        missing = [f for f in self.files if f not in scores]
        if missing:
            raise TimestampOrderError(f"{detector}: no scores for file(s) {missing[:5]}")
        out = []
        for f, n in zip(self.files, self.lengths, strict=True):
            arr = np.asarray(scores[f], dtype=float)
            if len(arr) != n:
                raise TimestampOrderError(f"{detector}: {f} has {len(arr)} scores for {n} data rows")
            out.append(arr)
        values = np.concatenate(out) if out else np.zeros(0)
        check_scores(values, detector, self.files, self.file_index, published=published)
        return values

    def _align_frame(self, frame: pd.DataFrame, detector: str, published: bool) -> np.ndarray:
        time_col = "timestamp" if "timestamp" in frame.columns else "ds"
        groups = dict(tuple(frame.groupby("unique_id", sort=False)))
        scores = {}
        for f in self.files:
            if f not in groups:
                raise TimestampOrderError(f"{detector}: no scores for file {f}")
            g = groups[f]
            stamps = g[time_col].to_numpy("datetime64[ns]")
            expected = self.timestamps[f]
            if len(stamps) != len(expected) or not np.array_equal(stamps, expected):
                bad = _first_difference(stamps, expected)
                raise TimestampOrderError(
                    f"{detector}: {f}: row {bad} has timestamp {stamps[bad] if bad < len(stamps) else 'none'}, "
                    f"the data has {expected[bad] if bad < len(expected) else 'none'} (rows out of order or missing)"
                )
            scores[f] = g["anomaly_score"].to_numpy(float)
        return self.align(scores, detector, published=published)

    def score_files(self, scores: np.ndarray, profile: CostProfile, threshold: float) -> pd.DataFrame:
        """Per-file score and row counts at `threshold` (detection = score >= threshold): NAB's
        `<detector>_<profile>_scores.csv` rows without the Totals row."""
        w = self.weights(profile)
        detected = self.scorable & (scores >= threshold)
        inside = self.window >= 0
        n_files = len(self.files)
        fp_rows = detected & ~inside
        fp_sum = np.bincount(self.file_index[fp_rows], weights=w[fp_rows], minlength=n_files)
        best = np.full(self.n_windows, -np.inf)
        hits = detected & inside
        np.maximum.at(best, self.window[hits], w[hits])
        contrib = np.where(self.window_scored, np.maximum(-profile.fn, best), 0.0)
        win_sum = np.bincount(self.window_file, weights=contrib, minlength=n_files)

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(self.file_index[mask], minlength=n_files)

        return pd.DataFrame(
            {
                "file": self.files,
                "threshold": threshold,
                "score": fp_sum + win_sum,
                "tp": count(hits),
                "tn": count(self.scorable & ~inside & ~detected),
                "fp": count(fp_rows),
                "fn": count(self.scorable & inside & ~detected),
                "total": count(self.scorable),
            }
        )

    def score(self, scores: np.ndarray, profile: CostProfile, threshold: float) -> float:
        """Raw corpus score at `threshold`: the sum of the per-file scores (NAB's Totals row)."""
        return float(self.score_files(scores, profile, threshold)["score"].sum())

    def sweep(self, scores: np.ndarray, profile: CostProfile) -> tuple[np.ndarray, np.ndarray]:
        """(thresholds, corpus scores) as `calcScoreByThreshold` records them over the whole corpus.

        Thresholds descend from 1.1 through every distinct score; the score at threshold T is the
        score with detection = score >= T. Computed as one sort and one cumulative sum: a window's
        contribution only changes when a row beats its best detection so far.
        """
        keep = self.scorable
        s, w, win = scores[keep], self.weights(profile)[keep], self.window[keep]
        order = np.argsort(-s, kind="stable")
        s, w, win = s[order], w[order], win[order]
        inside = win >= 0
        delta = np.where(inside, 0.0, w)
        if inside.any():
            best = pd.Series(w[inside]).groupby(win[inside]).cummax().to_numpy()
            contrib = np.maximum(-profile.fn, best)
            first = ~pd.Series(win[inside]).duplicated().to_numpy()
            # a window's previous contribution: the one before it in sorted order, -A_FN at first
            prev = pd.Series(contrib).groupby(win[inside]).shift(1).to_numpy()
            prev = np.where(first, -profile.fn, prev)
            delta[inside] = contrib - prev
        base = -profile.fn * int(self.window_scored.sum())
        totals = base + np.cumsum(delta)
        ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if len(s) else np.zeros(0, np.int64)
        thresholds = np.r_[START_THRESHOLD, s[ends]]
        values = np.r_[float(base), totals[ends]]
        return thresholds, values

    def optimise(self, scores: np.ndarray, profile: CostProfile) -> tuple[float, float]:
        """NAB's `optimizeThreshold`: the threshold of the best corpus score (ties: the highest one)."""
        thresholds, values = self.sweep(scores, profile)
        best = int(np.argmax(values))
        return float(thresholds[best]), float(values[best])

    def perfect(self, profile: CostProfile) -> float:
        """The perfect detector's raw score: every labelled window detected at its first row."""
        return self.n_labelled_windows * profile.tp


def normalise(raw: float, null_raw: float, perfect: float) -> float:
    """NAB's normalised score: 0 for the null detector, 100 for the perfect one. Undefined (NaN,
    counted as such wherever it is aggregated) on a corpus without any anomaly window, where the
    perfect detector scores no better than the null one."""
    if perfect == null_raw:
        return float("nan")
    return 100.0 * (raw - null_raw) / (perfect - null_raw)


class OutOfRangeScoreWarning(UserWarning):
    """A published result file holds anomaly scores outside [0, 1]; it is scored as NAB scores it."""


def check_scores(
    values: np.ndarray,
    detector: str,
    files: list[str] | None = None,
    file_index: np.ndarray | None = None,
    *,
    published: bool = False,
) -> None:
    """The workbench's own detectors' scores must be finite and in [0, 1]: NAB's detectors promise
    that range, and its sweep starts at a threshold of 1.1 to detect nothing first.

    A *published* result file is another matter: NAB's scorer compares whatever float the file holds
    with the threshold (`anomalyScore >= threshold`), and some published detectors' files hold small
    negative scores. Those are scored the same way here, with one `OutOfRangeScoreWarning` per file
    naming it and its score range. NaN and infinite scores stay refused: they cannot be ranked.
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    outside = finite & ((values < 0) | (values > 1))
    bad = ~finite if published else ~finite | outside
    if bad.any():
        i = int(np.argmax(bad))
        kind = "NaN or infinite" if published else "NaN or outside [0, 1]"
        raise ScoreRangeError(
            f"{detector}: {int(bad.sum())} anomaly score(s) {kind}, first {values[i]!r}{_where(i, files, file_index)}"
        )
    if not outside.any():
        return
    owner = file_index if file_index is not None else np.zeros(len(values), np.int64)
    for f in np.unique(owner[outside]):
        mine = values[owner == f]
        name = files[int(f)] if files is not None else "its scores"
        warnings.warn(
            f"{detector}: {name} holds {int(((mine < 0) | (mine > 1)).sum())} anomaly score(s) outside [0, 1] "
            f"(min {float(mine.min())!r}, max {float(mine.max())!r}); "
            "scored as NAB does, comparing each with the threshold",
            OutOfRangeScoreWarning,
            stacklevel=3,
        )


def _where(i: int, files: list[str] | None, file_index: np.ndarray | None) -> str:
    if files is None or file_index is None:
        return ""
    f = int(file_index[i])
    return f" at {files[f]} row {i - int(np.searchsorted(file_index, f))}"


def _first_difference(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else n
