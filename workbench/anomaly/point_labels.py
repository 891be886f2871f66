"""Point labels (one 0/1 per row) matched to a detection task's rows, and turned into NAB windows.

Two facts of real point-labelled files shape this module:

- Files repeat timestamps (Cloud Monitoring's crash-rate folders repeat hourly stamps, api-01 the
  daylight-saving hour) and label every row, twins included, sometimes differently. A join on
  (item, timestamp) cannot tell the twins apart, so labels are matched by row order wherever an
  item's label stamps are exactly its rows' stamps, and by timestamp otherwise (SKAB's labels
  share the rows' stamps once each). A label stamp that is not a timestamp of the series is an
  error naming the series and the labels-table row, never silently dropped.
- A run of one labelled row (or of twin rows on one stamp) makes a NAB window one row wide, and
  NAB's sweeper measures the distance of later rows from a window in units of its width - 1. Such
  a window is widened to the next row with another stamp (the previous one at the end of a file, or
  when the next row is labelled itself); the row labels the point-wise metrics read stay the
  experts' own. `widened` marks those windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.anomaly.errors import LabelError

__all__ = ["WINDOW_COLUMNS", "align_point_labels", "point_windows"]

WINDOW_COLUMNS = ["unique_id", "start", "end", "widened"]


def align_point_labels(task: str, rows: pd.DataFrame, labels: pd.DataFrame, column: str) -> pd.DataFrame:
    """`rows` (item, ds) in row order with a 0/1 `label` per row, taken from `labels` (item, ds, `column`).

    Labels of items outside `rows` are ignored (the table covers every subset of a card)."""
    missing = [c for c in ("item", "ds", column) if c not in labels.columns]
    if missing:
        raise LabelError(f"{task}: the labels table has no column(s) {missing}; it has {list(labels.columns)}")
    table = labels[["item", "ds", column]].reset_index(drop=True)
    table["table_row"] = np.arange(len(table))
    by_item = {item: g for item, g in table[table["item"].isin(set(rows["item"]))].groupby("item", sort=False)}
    out = []
    for item, g in rows.groupby("item", sort=False):
        ds = g["ds"].to_numpy("datetime64[ns]")
        mine = by_item.get(item)
        if mine is None:
            raise LabelError(f"{task}: no labels for series {item!r} ({len(ds)} rows)")
        out.append(_item_labels(task, item, ds, mine, column))
    merged = rows.assign(label=np.concatenate(out) if out else np.zeros(0, np.int8))
    return merged.reset_index(drop=True)


def _item_labels(task: str, item: str, ds: np.ndarray, mine: pd.DataFrame, column: str) -> np.ndarray:
    """One item's labels in row order: by row where the stamps coincide row for row, else by stamp."""
    label_ds = mine["ds"].to_numpy("datetime64[ns]")
    values = pd.to_numeric(mine[column], errors="coerce").to_numpy(float)
    table_rows = mine["table_row"].to_numpy()
    bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))
    if len(bad):
        k = bad[0]
        raise LabelError(
            f"{task}: series {item!r}, labels row {table_rows[k]} ({_ts(label_ds[k])}): label must be 0 or 1, "
            f"got {mine[column].iloc[k]}"
        )
    if len(label_ds) == len(ds) and np.array_equal(label_ds, ds):
        return values.astype(np.int8)
    outside = np.flatnonzero(~np.isin(label_ds, ds))
    if len(outside):
        k = outside[0]
        raise LabelError(
            f"{task}: series {item!r}, labels row {table_rows[k]}: label timestamp {_ts(label_ds[k])} is not a "
            f"timestamp of the series ({_span(ds)}); "
            f"{len(outside)} such label(s) in all"
        )
    repeated = np.flatnonzero(pd.Series(label_ds).duplicated().to_numpy())
    if len(repeated):
        k = repeated[0]
        raise LabelError(
            f"{task}: series {item!r}, labels row {table_rows[k]}: timestamp {_ts(label_ds[k])} is labelled more than "
            f"once, but the labels do not follow the series' rows one for one ({len(label_ds)} labels for "
            f"{len(ds)} rows), so which row each label is for cannot be told"
        )
    by_stamp = pd.Series(values, index=pd.DatetimeIndex(label_ds))
    matched = by_stamp.reindex(pd.DatetimeIndex(ds)).to_numpy()
    unlabelled = np.flatnonzero(np.isnan(matched))
    if len(unlabelled):
        k = unlabelled[0]
        raise LabelError(
            f"{task}: no label for series {item!r} at {_ts(ds[k])} (row {k}); {len(unlabelled)} row(s) without a label"
        )
    return matched.astype(np.int8)


def point_windows(rows: pd.DataFrame) -> pd.DataFrame:
    """Each run of consecutive labelled rows of an item becomes one window (start, end, widened)."""
    out: list[dict] = []
    for item, g in rows.groupby("item", sort=False):
        out += _item_windows(str(item), g["label"].to_numpy(bool), g["ds"].to_numpy("datetime64[ns]"))
    return pd.DataFrame(out, columns=WINDOW_COLUMNS)


def _item_windows(item: str, lab: np.ndarray, ds: np.ndarray) -> list[dict]:
    starts = np.flatnonzero(lab & ~np.r_[False, lab[:-1]])
    ends = np.flatnonzero(lab & ~np.r_[lab[1:], False])
    windows: list[dict] = []
    previous_end = -1  # row of the previous window's last row
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        widened = False
        if ds[s] == ds[e]:
            s, e = _widen(item, lab, ds, s, e, previous_end)
            widened = True
        windows.append({"unique_id": item, "start": ds[s], "end": ds[e], "widened": widened})
        previous_end = e
    return windows


def _widen(item: str, lab: np.ndarray, ds: np.ndarray, s: int, e: int, previous_end: int) -> tuple[int, int]:
    """(start, end) rows of a one-stamp run widened to a neighbouring row with another stamp that no
    other window holds: the next such row, else the previous one."""
    later = np.flatnonzero(ds[e + 1 :] != ds[s])
    if len(later):
        j = e + 1 + int(later[0])
        if not lab[e + 1 : j + 1].any():
            return s, j
    earlier = np.flatnonzero(ds[:s] != ds[s])
    if len(earlier):
        k = int(earlier[-1])
        if k > previous_end and not lab[k:s].any():
            return k, e
    raise LabelError(
        f"{item}: the labelled run at row {s} ({_ts(ds[s])}) covers one timestamp and no neighbouring row can widen it "
        "to the two rows a NAB window needs"
    )


def _ts(value: np.datetime64) -> str:
    return str(pd.Timestamp(value))


def _span(ds: np.ndarray) -> str:
    return f"{_ts(ds[0])} .. {_ts(ds[-1])}" if len(ds) else "no rows"
