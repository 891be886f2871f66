"""The one checker of a user's rows (`RowChecker`): order, duplicates, frequency, gaps, metadata, values.

The engine plans a user source per file and hands each unit whole series, so every file must be
sorted by series, then time, without a repeated (series, time). Where a frequency is known, each
step of a series is a whole number of the frequency's steps: one step, or a *gap* (stamps missing
on the frequency's grid, which a task's gap policy fills: `workbench.semantics`). A step off the
grid, or a series whose every step is several of the frequency's steps (a daily series in an hourly
card), is a second frequency and always an error: no gap policy can make it one regular series.

Every reader of a user's rows runs this one checker: `workbench datasets add` over CSV, parquet and
wide files alike (so the same rows get the same verdict and message whatever the file format), the
conversion of a CSV or wide file, and a unit reading its row groups. It takes the rows in batches
(a parquet file row group by row group) and carries what it needs across them, so the verdict does
not depend on where the batches end: errors at a row are raised in row order, a series-level one
(a second frequency) when the series ends, and gaps (where they are refused) after the last row,
with their count. Rows are counted from 1 over a file's data rows; CSV messages add the line (the
header is line 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.panel import Panel
from workbench.errors import DataFormatError
from workbench.semantics import MetricTypeError, check_counts, series_types

__all__ = [
    "GAP_FIX",
    "FileGaps",
    "RowChecker",
    "SeriesGaps",
    "check_metadata",
    "check_rows",
    "check_values",
    "infer_freq",
    "where_row",
]

# the fix a gap error names: what `workbench datasets add` takes (a task takes gap_policy=... alike)
GAP_FIX = (
    "give the card a gap policy: `workbench datasets add ... --gap-policy by_metric_type` (gauges and rates "
    "forward-filled, counts zero-filled; needs a metric_type column), or --gap-policy ffill, zero or nan "
    "(`gap_policy:` in the card, or a task's gap_policy=...)"
)
N_FIRST_MISSING = 3  # missing stamps a gap report lists per series


def where_row(where: str, row: int, csv: bool) -> str:
    """`file: row N` (CSV files add `(line N+1)`: the header is line 1)."""
    return f"{where}: row {row}" + (f" (line {row + 1})" if csv else "")


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _show(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    return str(value.item() if hasattr(value, "item") else value)


def _show_step(value: Any) -> str:
    if isinstance(value, np.timedelta64):
        return str(pd.Timedelta(value))
    return _show(value)


@dataclass
class SeriesGaps:
    """The stamps one series misses on its frequency's grid: how many, the first few, and the row
    (in its file) just after its first gap."""

    n_missing: int = 0
    first_missing: list[str] = field(default_factory=list)
    row: int = 0
    at: str = ""  # where_row of that row: `file: row N`
    name: str = ""  # how messages name the series


@dataclass
class FileGaps:
    """What a checker found missing, per series (in file order), across every batch it was fed."""

    series: dict[str, SeriesGaps] = field(default_factory=dict)

    @property
    def n_missing(self) -> int:
        return sum(g.n_missing for g in self.series.values())

    def top(self, n: int = 5) -> list[tuple[str, int]]:
        """The `n` series missing the most stamps (ties in file order)."""
        ranked = sorted(self.series.items(), key=lambda kv: -kv[1].n_missing)
        return [(uid, g.n_missing) for uid, g in ranked[:n]]

    def error(self, freq: str | None, fix: str = GAP_FIX) -> DataFormatError:
        """The error of gaps where they are refused: the first series with a gap (its row, how many
        stamps it misses, the first of them), the totals, and the fix."""
        first = next(iter(self.series.values()))
        return DataFormatError(
            f"{first.at}: {first.name} misses {first.n_missing} stamp(s) on the grid of its frequency {freq!r} (first "
            f"missing: {', '.join(first.first_missing)}); {self.n_missing} stamp(s) are missing in "
            f"{len(self.series)} series: {fix}"
        )


@dataclass
class _Open:
    """The series still open at the end of the last batch (it may go on in the next)."""

    uid: Any
    start_row: int
    n_steps: int = 0
    has_unit_step: bool = False
    first_step: tuple[int, Any, Any] | None = None  # (row, from, to) of its first step


class RowChecker:
    """Check a file's rows batch by batch; `finish()` raises what only the whole file can tell.

    One instance per file. Feed it the batches in file order (`feed(raw_ids, frame, first_row)`:
    the id column as the file holds it, so numeric ids sort as numbers, and the canonical frame:
    unique_id, ds parsed, y, metadata columns); it raises `DataFormatError` at the first bad row.

    Parameters
    ----------
    where
        The file, as messages name it.
    freq
        The frequency every step is checked against (None: steps of datetime stamps are not checked;
        integer stamps step by 1).
    csv
        Messages add the CSV line to the row.
    ids_sorted
        Check that series ids ascend (a converted copy, sorted by its string ids, is not checked).
    allow_gaps
        Stamps missing on the grid are recorded (`finish()` returns them); else `finish()` raises,
        naming the first series with a gap, its first missing stamps and `gap_fix`.
    gap_fix
        The fix a gap error names.
    metadata_cols
        Per-series columns that must hold one value per series.
    allow_missing
        Check the target: numeric, and missing only where allowed (None: not checked here).
    declared_types
        The card's metric types (one for all, or by series-id prefix) for series without a
        `metric_type` column.
    check_types
        Check metric types (known, one per series) and count series (non-negative integers,
        `workbench.semantics.check_counts`).
    require_types
        Every series needs a metric type (the gap policy `by_metric_type` fills by type).
    label
        How a series is named in messages (a wide file's rows are one time column).
    """

    def __init__(
        self,
        where: str,
        *,
        freq: str | None = None,
        csv: bool = False,
        ids_sorted: bool = True,
        allow_gaps: bool = False,
        gap_fix: str = GAP_FIX,
        metadata_cols: Sequence[str] = (),
        allow_missing: bool | None = None,
        declared_types: str | Mapping[str, str] | None = None,
        check_types: bool = False,
        require_types: bool = False,
        label: Callable[[Any], str] | None = None,
    ) -> None:
        self.where, self.freq, self.csv, self.ids_sorted = where, freq, csv, ids_sorted
        self.allow_gaps, self.gap_fix = allow_gaps, gap_fix
        self.metadata_cols = list(metadata_cols)
        self.allow_missing = allow_missing
        self.declared_types, self.check_types, self.require_types = declared_types, check_types, require_types
        self.label = label or (lambda uid: f"series {uid!r}")
        self.gaps = FileGaps()
        self._last: tuple[Any, Any, pd.DataFrame] | None = None  # (raw id, ds, last row) of the batch before
        self._open: _Open | None = None
        self._rows = 0
        self._offset = pd.tseries.frequencies.to_offset(freq) if freq else None

    # ---- feeding -------------------------------------------------------------------------------
    def feed(self, raw_ids: np.ndarray, frame: pd.DataFrame, first_row: int | None = None) -> None:
        """Check one batch: rows `first_row`.. of the file (default: right after the last batch)."""
        first_row = self._rows + 1 if first_row is None else first_row
        n = len(frame)
        if n == 0:
            return
        self._rows = first_row + n - 1
        raw_ids = np.asarray(raw_ids)
        ds = frame["ds"].to_numpy()
        carried = self._last is not None
        if carried:
            last_id, last_ds, last_row = self._last
            ids = np.concatenate([np.asarray([last_id], dtype=object if raw_ids.dtype == object else None), raw_ids])
            ds_all = np.concatenate([np.asarray([last_ds], dtype=ds.dtype), ds])
            joined = pd.concat([last_row, frame], ignore_index=True)
        else:
            ids, ds_all, joined = raw_ids, ds, frame
        base = first_row - (1 if carried else 0)  # the file row of joined position 0
        candidates: list[tuple[int, int, str]] = []  # (row where it shows, row named, message)

        def add(row: int, message: str, shows: int | None = None) -> None:
            candidates.append((row if shows is None else shows, row, message))

        steps = self._steps(ds_all[:-1], ds_all[1:]) if len(ds_all) > 1 else None
        self._row_checks(ids, ds_all, steps, base, add)
        self._series_checks(ids, ds_all, steps, base, carried, add)
        if self.metadata_cols:
            self._metadata(joined, base, add)
        if self.allow_missing is not None:
            self._values(frame, first_row, add)
        if self.check_types or self.require_types:
            self._types(frame, first_row, carried, add)
        if candidates:
            _, row, message = min(candidates, key=lambda c: (c[0], c[1]))
            raise DataFormatError(f"{where_row(self.where, row, self.csv)}: {message}")
        self._last = (raw_ids[-1], ds[-1], frame.iloc[-1:].reset_index(drop=True))

    def finish(self) -> FileGaps:
        """Raise what shows at the end of the file (a last series at a second frequency, gaps where
        they are refused); else the gaps found, per series."""
        if self._open is not None:
            message = self._second_frequency(self._open)
            if message is not None:
                row, text = message
                raise DataFormatError(f"{where_row(self.where, row, self.csv)}: {text}")
        if self.gaps.series and not self.allow_gaps:
            raise self.gaps.error(self.freq, self.gap_fix)
        return self.gaps

    # ---- row-level checks ------------------------------------------------------------------------
    def _steps(self, prev: np.ndarray, nxt: np.ndarray) -> tuple[np.ndarray, Any] | None:
        """(steps of the frequency from each `prev` to its `nxt`, 0 where off the grid; one step)."""
        if np.issubdtype(prev.dtype, np.datetime64):
            if self._offset is None:
                return None
            one = (pd.DatetimeIndex(prev) + self._offset).to_numpy(dtype=prev.dtype)
            unit = (one - prev).astype("int64")
            if len(unit) and (unit == unit[0]).all() and unit[0] > 0:  # a fixed-length step
                delta = (nxt - prev).astype("int64")
                k = np.where(delta % unit[0] == 0, delta // unit[0], 0)
                return k, np.timedelta64(int(unit[0]), "ns")
            k = np.where(nxt == one, 1, 0)
            for i in np.flatnonzero((nxt != one) & (nxt > prev)):  # calendar steps: count them where they skip
                grid = pd.date_range(prev[i], nxt[i], freq=self._offset)
                if len(grid) > 1 and grid[-1] == nxt[i] and grid[0] == prev[i]:
                    k[i] = len(grid) - 1
            return k, self.freq
        if np.issubdtype(prev.dtype, np.number):
            delta = nxt - prev
            k = np.where(delta == np.round(delta), delta, 0).astype("int64")
            return k, 1
        return None

    def _row_checks(self, ids: np.ndarray, ds: np.ndarray, steps, base: int, add: Callable[..., None]) -> None:
        if len(ids) < 2:
            return
        prev_id, next_id = ids[:-1], ids[1:]
        prev_ds, next_ds = ds[:-1], ds[1:]
        order = "rows must be sorted by series, then time"
        if self.ids_sorted:
            back = _first(next_id < prev_id)
            if back is not None:
                add(base + back + 1, f"series {next_id[back]!r} comes after {prev_id[back]!r}: {order}")
        same = next_id == prev_id
        dup = _first(same & (next_ds == prev_ds))
        if dup is not None:
            add(base + dup + 1, f"duplicate timestamp ds={_show(next_ds[dup])} in {self.label(next_id[dup])}")
        back_t = _first(same & (next_ds < prev_ds))
        if back_t is not None:
            stamps = f"ds={_show(next_ds[back_t])} after {_show(prev_ds[back_t])}"
            add(base + back_t + 1, f"{self.label(next_id[back_t])} steps back in time ({stamps}): {order}")
        if steps is None:
            return
        k, one = steps
        forward = same & (next_ds > prev_ds)
        off = _first(forward & (k < 1))
        if off is not None:
            unit = f"frequency {self.freq!r}" if self.freq else "step 1"
            add(
                base + off + 1,
                f"{self.label(next_id[off])} steps from {_show(prev_ds[off])} to {_show(next_ds[off])} "
                f"({_show_step(next_ds[off] - prev_ds[off])}), not one step of its {unit} ({_show_step(one)}) "
                "nor a whole number of them: a second frequency; each series needs one regular step "
                "(give each frequency its own card)",
            )
            forward = forward & (np.arange(len(k)) < off)  # nothing after the error counts as a gap
        self._record_gaps(next_id, prev_ds, k, forward & (k > 1), base, one)

    def _record_gaps(
        self, ids: np.ndarray, prev: np.ndarray, k: np.ndarray, gap: np.ndarray, base: int, one: Any
    ) -> None:
        for i in np.flatnonzero(gap):
            uid = str(ids[i])
            entry = self.gaps.series.get(uid)
            if entry is None:
                row = base + int(i) + 1
                at = where_row(self.where, row, self.csv)
                entry = self.gaps.series[uid] = SeriesGaps(row=row, at=at, name=self.label(ids[i]))
            missing = int(k[i]) - 1
            entry.n_missing += missing
            want = min(missing, N_FIRST_MISSING - len(entry.first_missing))
            if want > 0:
                if isinstance(one, str):
                    stamps = pd.date_range(prev[i], periods=want + 1, freq=self._offset)[1:].to_numpy()
                else:
                    stamps = prev[i] + one * np.arange(1, want + 1)
                entry.first_missing += [_show(s) for s in stamps]

    # ---- series-level checks ---------------------------------------------------------------------
    def _second_frequency(self, s: _Open) -> tuple[int, str] | None:
        """A series with two or more steps, none of them one step of the frequency."""
        if s.n_steps < 2 or s.has_unit_step or s.first_step is None:
            return None
        row, a, b = s.first_step
        one = self._steps(np.asarray([a]), np.asarray([a]))
        unit = _show_step(one[1]) if one else "1"
        return row, (
            f"{self.label(s.uid)} steps from {_show(a)} to {_show(b)} ({_show_step(b - a)}) and never one step of "
            f"its frequency {self.freq!r} ({unit}): a second frequency, not gaps: no gap policy makes it "
            "one regular series (give each frequency its own card)"
        )

    def _series_checks(self, ids: np.ndarray, ds: np.ndarray, steps, base: int, carried: bool, add) -> None:
        """Per series of the batch (vectorized: a unit reads thousands): its forward steps, whether one
        of them is one step of the frequency, and its first step; a series that ends in the batch at a
        second frequency shows at the next series' first row."""
        n = len(ids)
        if n == 0:
            return
        is_start = np.r_[True, ids[1:] != ids[:-1]]
        starts = np.flatnonzero(is_start)
        seg = np.cumsum(is_start) - 1  # the series (segment) of each row
        n_seg = len(starts)
        n_steps = np.zeros(n_seg, dtype="int64")
        n_unit = np.zeros(n_seg, dtype="int64")
        first = np.full(n_seg, -1, dtype="int64")  # the pair of each series' first forward step
        if steps is not None and n > 1:
            k = steps[0]
            forward = ~is_start[1:] & (k > 0)
            n_steps = np.bincount(seg[1:][forward], minlength=n_seg)
            n_unit = np.bincount(seg[1:][forward & (k == 1)], minlength=n_seg)
            pairs = np.flatnonzero(forward)
            segs, at = np.unique(seg[pairs + 1], return_index=True)
            first[segs] = pairs[at]

        def state(j: int, s: _Open) -> _Open:
            s.n_steps += int(n_steps[j])
            s.has_unit_step = s.has_unit_step or bool(n_unit[j])
            if s.first_step is None and first[j] >= 0:
                i = int(first[j])
                s.first_step = (base + i + 1, ds[i], ds[i + 1])
            return s

        head = self._open if carried and self._open is not None and ids[0] == self._open.uid else None
        if head is not None:
            head = state(0, head)
        closed = np.zeros(n_seg, dtype=bool)
        closed[:-1] = (n_steps[:-1] >= 2) & (n_unit[:-1] == 0)
        if head is not None:
            closed[0] = False
            if n_seg > 1:
                found = self._second_frequency(head)
                if found is not None:
                    add(found[0], found[1], shows=base + int(starts[1]))
        bad = np.flatnonzero(closed)
        if len(bad):  # the first is the one that shows first
            j = int(bad[0])
            found = self._second_frequency(state(j, _Open(uid=ids[starts[j]], start_row=base + int(starts[j]))))
            if found is not None:
                add(found[0], found[1], shows=base + int(starts[j + 1]))
        last = n_seg - 1
        if head is not None and last == 0:
            self._open = head
        else:
            self._open = state(last, _Open(uid=ids[starts[last]], start_row=base + int(starts[last])))

    def _metadata(self, joined: pd.DataFrame, base: int, add) -> None:
        if len(joined) < 2:
            return
        ids = joined["unique_id"].to_numpy()
        same = ids[1:] == ids[:-1]
        for col in self.metadata_cols:
            values = joined[col].astype("string").fillna("<NA>").to_numpy()
            bad = _first(same & (values[1:] != values[:-1]))
            if bad is not None:
                add(
                    base + bad + 1,
                    f"metadata column {col!r} changes within {self.label(ids[bad + 1])} ({values[bad]!r} then "
                    f"{values[bad + 1]!r}): it must hold one value per series",
                )

    def _values(self, frame: pd.DataFrame, first_row: int, add) -> None:
        y = frame["y"]
        numeric = y if pd.api.types.is_numeric_dtype(y) else pd.to_numeric(y, errors="coerce")
        bad = _first((numeric.isna() & y.notna()).to_numpy())
        if bad is not None:
            add(first_row + bad, f"non-numeric target {y.iloc[bad]!r} in {self.label(frame['unique_id'].iloc[bad])}")
        if not self.allow_missing:
            gap = _first(numeric.isna().to_numpy())
            if gap is not None:
                add(
                    first_row + gap,
                    f"missing target in {self.label(frame['unique_id'].iloc[gap])} "
                    "(allow_missing: true in the card keeps them; datasets add --allow-missing)",
                )

    def _types(self, frame: pd.DataFrame, first_row: int, carried: bool, add) -> None:
        """Metric types known and one per series (`series_types`), counts non-negative integers
        (`check_counts`): the rules of `workbench.semantics`, each row named by the shortest prefix of
        the batch that the rule refuses; and a type for every series where the gap policy needs one."""
        y = frame["y"]
        numeric = y if pd.api.types.is_numeric_dtype(y) else pd.to_numeric(y, errors="coerce")
        df = frame.assign(y=numeric.astype("float64")).reset_index(drop=True)

        def panel(m: int) -> Panel:
            return Panel(df=df.iloc[:m], freq=self.freq, name=self.where)

        def types_of(m: int) -> None:
            series_types(panel(m), self.declared_types)

        try:
            types = series_types(panel(len(df)), self.declared_types)
        except MetricTypeError as exc:
            bad = _first_refused(types_of, len(df), MetricTypeError)
            text = str(exc)
            if bad is not None:
                try:
                    types_of(bad + 1)
                except MetricTypeError as first:
                    text = str(first)
            prefix = f"{self.where}: "
            add(first_row + (bad or 0), text[len(prefix) :] if text.startswith(prefix) else text)
            return
        if self.require_types:
            ids = df["unique_id"].to_numpy()
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            carried_id = str(self._last[2]["unique_id"].iloc[0]) if carried and self._last is not None else None
            for a in starts:
                kind = types.get(ids[a])
                if (a == 0 and ids[a] == carried_id) or isinstance(kind, str):
                    continue
                add(
                    first_row + int(a),
                    f"{self.label(ids[a])} has no metric type, and the gap policy 'by_metric_type' fills each type "
                    "its own way (gauges and rates forward-filled, counts zero-filled): give the files a "
                    "metric_type column (--metadata-cols metric_type) or choose --gap-policy ffill, zero or nan",
                )
                break
        if not (types == "count").any():
            return
        bad = _first_refused(lambda m: check_counts(panel(m), types), len(df), MetricTypeError)
        if bad is not None:
            value = float(df["y"].iloc[bad])
            what = "negative" if value < 0 else "not an integer"
            add(
                first_row + bad,
                f"count {self.label(df['unique_id'].iloc[bad])} has value {value!r} at "
                f"ds={_show(df['ds'].to_numpy()[bad])}, {what}: counts are non-negative integers (fix the value, "
                "or the series' metric_type)",
            )


def _first_refused(check: Callable[[int], None], n: int, error: type[Exception]) -> int | None:
    """The index of the first row that `check` (run on the first m rows) refuses: the shortest refused
    prefix, found by bisection, so each rule keeps its one implementation and still names its row."""
    try:
        check(n)
        return None
    except error:
        pass
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            check(mid)
            lo = mid + 1
        except error:
            hi = mid
    return lo - 1


# ---- one-batch forms (a frame already whole in memory) ---------------------------------------------
def check_rows(
    ids: np.ndarray,
    ds: pd.Series | np.ndarray,
    *,
    where: str,
    first_row: int = 1,
    freq: str | None = None,
    csv: bool = False,
    ids_sorted: bool = True,
    gaps: bool = False,
) -> FileGaps:
    """Order, duplicates, frequency and gaps of rows whole in memory (`RowChecker`, one batch).

    With `gaps`, a step may skip stamps on the frequency's grid (what a task's gap policy fills);
    they are returned per series. A step off the grid, or a series at a second frequency, is an
    error either way."""
    ids = np.asarray(ids)
    ds_values = pd.Series(ds).to_numpy() if not isinstance(ds, np.ndarray) else ds
    checker = RowChecker(where, freq=freq, csv=csv, ids_sorted=ids_sorted, allow_gaps=gaps)
    checker.feed(ids, pd.DataFrame({"unique_id": ids, "ds": ds_values}), first_row)
    return checker.finish()


def check_metadata(frame: pd.DataFrame, columns: list[str], *, where: str, first_row: int = 1, csv: bool = False):
    """Per-series metadata (`metric_type`, `service`, ...) must be one value per series."""
    checker = RowChecker(where, csv=csv, metadata_cols=columns)
    candidates: list[tuple[int, str]] = []
    checker._metadata(frame, first_row, lambda row, message, shows=None: candidates.append((row, message)))
    if candidates:
        row, message = min(candidates)
        raise DataFormatError(f"{where_row(where, row, csv)}: {message}")


def check_values(
    frame: pd.DataFrame, *, where: str, first_row: int = 1, csv: bool = False, allow_missing: bool = False
):
    """The target is numeric; missing values only where the card allows them."""
    checker = RowChecker(where, csv=csv, allow_missing=allow_missing)
    candidates: list[tuple[int, str]] = []
    checker._values(frame, first_row, lambda row, message, shows=None: candidates.append((row, message)))
    if candidates:
        row, message = min(candidates)
        raise DataFormatError(f"{where_row(where, row, csv)}: {message}")


def infer_freq(ds: pd.Series, ids: np.ndarray, where: str) -> str:
    """The frequency of the first series long enough to say: pandas' inference over its first stamps,
    else (a gap among them) its most common step where at least half its steps are that step."""
    frame = pd.DataFrame({"unique_id": ids, "ds": pd.Series(ds).to_numpy()})
    for uid, g in frame.groupby("unique_id", sort=False):
        if len(g) >= 3:
            stamps = pd.DatetimeIndex(g["ds"].to_numpy()[:50])
            freq = pd.infer_freq(stamps)
            if freq:
                return freq
            diffs = pd.Series(np.diff(stamps.asi8))
            common = diffs.mode()
            if len(common) and common.iloc[0] > 0 and (diffs == common.iloc[0]).mean() >= 0.5:
                return pd.tseries.frequencies.to_offset(pd.Timedelta(int(common.iloc[0]), "ns")).freqstr
            raise DataFormatError(
                f"{where}: cannot infer one frequency from series {uid!r} (first stamps "
                f"{', '.join(str(t) for t in g['ds'].iloc[:4])}); give it (--freq)"
            )
    raise DataFormatError(f"{where}: no series with 3 or more timestamps to infer the frequency from; give it (--freq)")
