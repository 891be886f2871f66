"""Checks of a user's rows that name the file and the row: order, duplicates, one frequency per series.

The engine plans a user source per file and hands each unit whole series, so every file must be
sorted by series, then time, without a repeated (series, time) and, where a frequency is declared,
with every step of a series one step of that frequency (a gap or a second frequency would put the
forecasts at timestamps the truth does not have). Rows are counted from 1 over a file's data rows;
CSV messages add the line (the header is line 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import DataFormatError

__all__ = ["check_metadata", "check_rows", "check_values", "infer_freq", "where_row"]


def where_row(where: str, row: int, csv: bool) -> str:
    return f"{where}: row {row}" + (f" (line {row + 1})" if csv else "")


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


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
) -> None:
    """Raise DataFormatError at the first row out of (series, time) order, repeated, or off-frequency.

    `ids` and `ds` are the rows in file order (`ds` parsed); `first_row` is the number of the first of
    them in the file (so batches of a large file are checked with their true row numbers). With
    `gaps`, a step may skip stamps (a whole number of steps of the frequency: what a task's gap
    policy fills), but a step off the frequency's grid (mixed frequencies) is still an error."""
    n = len(ids)
    if n < 2:
        return
    ids = np.asarray(ids)
    ds_values = pd.Series(ds).to_numpy() if not isinstance(ds, np.ndarray) else ds
    prev_id, next_id = ids[:-1], ids[1:]
    candidates: list[tuple[int, str]] = []
    order = "rows must be sorted by series, then time"
    if ids_sorted:
        back = _first(next_id < prev_id)
        if back is not None:
            candidates.append((back, f"series {next_id[back]!r} comes after {prev_id[back]!r}: {order}"))
    same = next_id == prev_id
    prev_ds, next_ds = ds_values[:-1], ds_values[1:]
    dup = _first(same & (next_ds == prev_ds))
    if dup is not None:
        candidates.append((dup, f"duplicate timestamp ds={_show(next_ds[dup])} in series {next_id[dup]!r}"))
    back_t = _first(same & (next_ds < prev_ds))
    if back_t is not None:
        stamps = f"ds={_show(next_ds[back_t])} after {_show(prev_ds[back_t])}"
        candidates.append((back_t, f"series {next_id[back_t]!r} steps back in time ({stamps}): {order}"))
    expected = _next_stamps(prev_ds, freq)
    if expected is not None:
        wrong = next_ds != expected
        if gaps:
            wrong = _off_grid(prev_ds, next_ds, expected)
        off = _first(same & (next_ds > prev_ds) & wrong)
        if off is not None:
            unit = f"frequency {freq!r}" if freq else "step 1"
            steps = f"steps from {_show(prev_ds[off])} to {_show(next_ds[off])}"
            why = "mixed frequencies, or a gap: each series needs one regular step"
            candidates.append((off, f"series {next_id[off]!r} {steps}, not one step of its {unit} ({why})"))
    if candidates:
        index, message = min(candidates)
        raise DataFormatError(f"{where_row(where, first_row + index + 1, csv)}: {message}")


def _off_grid(prev: np.ndarray, nxt: np.ndarray, one_step: np.ndarray) -> np.ndarray:
    """Steps that are not a whole number of the frequency's steps (fixed-length frequencies and
    integer stamps; a calendar frequency such as months is checked one step at a time)."""
    step = one_step - prev
    if np.issubdtype(step.dtype, np.timedelta64):
        unit = step.astype("int64")
        if len(unit) and (unit != unit[0]).any():  # calendar steps vary: no multiple to check
            return nxt != one_step
        return (nxt - prev).astype("int64") % np.maximum(unit, 1) != 0
    return (nxt - prev) % np.maximum(step, 1) != 0


def _next_stamps(prev: np.ndarray, freq: str | None) -> np.ndarray | None:
    """The stamp one step after each of `prev` (None when no step can be checked)."""
    if np.issubdtype(prev.dtype, np.datetime64):
        if not freq:
            return None
        offset = pd.tseries.frequencies.to_offset(freq)
        return (pd.DatetimeIndex(prev) + offset).to_numpy(dtype=prev.dtype)
    if np.issubdtype(prev.dtype, np.number):
        return prev + 1
    return None


def _show(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    return str(value.item() if hasattr(value, "item") else value)


def check_metadata(frame: pd.DataFrame, columns: list[str], *, where: str, first_row: int = 1, csv: bool = False):
    """Per-series metadata (`metric_type`, `service`, ...) must be one value per series."""
    if len(frame) < 2:
        return
    ids = frame["unique_id"].to_numpy()
    same = ids[1:] == ids[:-1]
    for col in columns:
        values = frame[col].astype("string").fillna("<NA>").to_numpy()
        bad = _first(same & (values[1:] != values[:-1]))
        if bad is not None:
            raise DataFormatError(
                f"{where_row(where, first_row + bad + 1, csv)}: metadata column {col!r} changes within series "
                f"{ids[bad + 1]!r} ({values[bad]!r} then {values[bad + 1]!r}): it must hold one value per series"
            )


def infer_freq(ds: pd.Series, ids: np.ndarray, where: str) -> str:
    """The frequency of the first series long enough to say (pandas' inference)."""
    frame = pd.DataFrame({"unique_id": ids, "ds": pd.Series(ds).to_numpy()})
    for uid, g in frame.groupby("unique_id", sort=False):
        if len(g) >= 3:
            freq = pd.infer_freq(pd.DatetimeIndex(g["ds"].to_numpy()[:50]))
            if freq:
                return freq
            raise DataFormatError(
                f"{where}: cannot infer one frequency from series {uid!r} (first stamps "
                f"{', '.join(str(t) for t in g['ds'].iloc[:4])}); give it (--freq)"
            )
    raise DataFormatError(f"{where}: no series with 3 or more timestamps to infer the frequency from; give it (--freq)")


def check_values(
    frame: pd.DataFrame, *, where: str, first_row: int = 1, csv: bool = False, allow_missing: bool = False
):
    """The target is numeric; missing values only where the card allows them."""
    y = frame["y"]
    numeric = y if pd.api.types.is_numeric_dtype(y) else pd.to_numeric(y, errors="coerce")
    bad = _first((numeric.isna() & y.notna()).to_numpy())
    if bad is not None:
        raise DataFormatError(
            f"{where_row(where, first_row + bad, csv)}: non-numeric target {y.iloc[bad]!r} in series "
            f"{frame['unique_id'].iloc[bad]!r}"
        )
    if not allow_missing:
        gap = _first(numeric.isna().to_numpy())
        if gap is not None:
            raise DataFormatError(
                f"{where_row(where, first_row + gap, csv)}: missing target in series {frame['unique_id'].iloc[gap]!r} "
                "(allow_missing: true in the card keeps them)"
            )
