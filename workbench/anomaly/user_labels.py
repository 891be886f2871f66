"""A user card's own anomaly labels: read from the file its `labels:` section names, checked against its series.

A catalog card's label tables are pinned files read by a catalog reader; a user card's labels are the
user's own file, read where it is (a local path, relative to the card, or an fsspec URL; CSV or
parquet), in one of two shapes (`workbench.data.cards.UserLabelsSpec`):

- `points`: one row per labelled stamp (id, stamp): every other row of the series is normal;
- `windows`: one row per anomalous stretch (id, start, end), both ends inclusive.

Labels that do not fit the data would be scored as something else (a label on a stamp the series
lacks labels nothing; a window that ends before it starts covers nothing), so each is refused with
the labels file, its row and the fix: every id is a series of the card, every stamp (a point, a
window's start and end) is a stamp present in the data (before any gap is filled), every window
starts no later than it ends, and no two windows of a series overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import storage
from workbench.anomaly.errors import LabelError
from workbench.data.cards import UserCard, UserLabelsSpec

__all__ = ["check_labels", "label_file", "labels_fingerprint", "load_labels", "read_labels"]


def label_file(card: UserCard) -> str:
    """Where the card's labels file is: an fsspec URL as written, a relative local path from the card's folder."""
    spec = _spec(card)
    if storage.has_scheme(spec.path) or Path(spec.path).is_absolute():
        return spec.path
    return str(card.folder / spec.path)


def _spec(card: UserCard) -> UserLabelsSpec:
    if card.labels is None:
        raise LabelError(
            f"dataset card {card.path or card.name}: declares no labels; add a `labels:` section "
            "(`labels: {path: labels.csv, kind: points}`) to detect on it"
        )
    return card.labels


def _row_name(row: int, csv: bool) -> str:
    return f"row {row} (line {row + 1})" if csv else f"row {row}"


def read_labels(card: UserCard) -> pd.DataFrame:
    """The card's labels as read, unchecked against the series: `unique_id`, `ds` (points) or `unique_id`,
    `start`, `end` (windows), and `row`, the 1-based data row of the file (for error messages).

    Parameters
    ----------
    card:
        A user card with a `labels:` section.
    """
    spec = _spec(card)
    where = label_file(card)
    fmt = spec.format or ("parquet" if where.lower().endswith((".parquet", ".pq")) else "csv")
    options = dict(card.source.storage_options) if storage.has_scheme(where) else None
    try:
        if fmt == "parquet":
            raw = pd.read_parquet(where, storage_options=options)
        else:
            raw = pd.read_csv(where, storage_options=options, dtype={spec.id_col: str})
    except FileNotFoundError as exc:
        raise LabelError(f"labels file {where} (dataset card {card.path or card.name}): not found ({exc})") from exc
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LabelError(f"labels file {where}: cannot read it as {fmt} ({exc})") from exc
    stamp_cols = [spec.time_col, spec.end_col] if spec.kind == "windows" else [spec.time_col]
    wanted = [spec.id_col, *[c for c in stamp_cols if c]]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise LabelError(
            f"labels file {where}: no column(s) {missing}; it has {list(raw.columns)} "
            "(name the columns in the card's `labels:` section: id_col, time_col, end_col)"
        )
    csv = fmt == "csv"
    out = pd.DataFrame({"unique_id": raw[spec.id_col], "row": np.arange(1, len(raw) + 1)})
    no_id = np.flatnonzero(out["unique_id"].isna().to_numpy())
    if len(no_id):
        raise LabelError(f"labels file {where}: {_row_name(int(no_id[0]) + 1, csv)} has no series id ({spec.id_col})")
    out["unique_id"] = out["unique_id"].astype(str)
    names = {"points": {spec.time_col: "ds"}, "windows": {spec.time_col: "start", spec.end_col: "end"}}[spec.kind]
    for column, name in names.items():
        out[name] = _stamps(raw[column], where, column, csv)
    if spec.kind == "windows":
        _check_order(out, where, csv, spec)
    return out


def _stamps(values: pd.Series, where: str, column: str, csv: bool) -> pd.Series:
    """A column of stamps as naive datetime64[ns] (the data's own stamps are); a row that is not one is refused."""
    parsed = pd.to_datetime(values, errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        k = int(bad[0])
        raise LabelError(
            f"labels file {where}: {_row_name(k + 1, csv)}: {column} {values.iloc[k]!r} is not a timestamp "
            f"({len(bad)} such row(s))"
        )
    return parsed.astype("datetime64[ns]")


def _check_order(windows: pd.DataFrame, where: str, csv: bool, spec: UserLabelsSpec) -> None:
    backwards = np.flatnonzero((windows["end"] < windows["start"]).to_numpy())
    if len(backwards):
        w = windows.iloc[int(backwards[0])]
        raise LabelError(
            f"labels file {where}: {_row_name(int(w['row']), csv)}: window of series {w['unique_id']!r} ends "
            f"({spec.end_col} {w['end']}) before it starts ({spec.time_col} {w['start']}); swap the two stamps"
        )


def check_labels(card: UserCard, labels: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """`labels` (as `read_labels` gives them) checked against `series` (unique_id, ds: the stamps present in
    the data, before any gap is filled); returns them sorted by series and stamp, repeated points once.

    Parameters
    ----------
    card:
        The user card the labels belong to (named in errors with its labels file).
    labels:
        `read_labels(card)`.
    series:
        Every (unique_id, ds) row of the card's data.
    """
    where = label_file(card)
    spec = _spec(card)
    csv = not (spec.format == "parquet" or (spec.format is None and where.lower().endswith((".parquet", ".pq"))))
    ids = pd.unique(series["unique_id"].astype(str))
    unknown = np.flatnonzero(~labels["unique_id"].isin(ids).to_numpy())
    if len(unknown):
        bad = labels.iloc[int(unknown[0])]
        raise LabelError(
            f"labels file {where}: {_row_name(int(bad['row']), csv)}: series {bad['unique_id']!r} is not a series of "
            f"dataset {card.name!r} ({len(ids)} series, e.g. {', '.join(map(repr, ids[:3]))}); "
            f"{len(unknown)} such row(s): fix the id or drop the row"
        )
    present = series[["unique_id", "ds"]].astype({"unique_id": str})
    present = present.assign(ds=present["ds"].astype("datetime64[ns]")).drop_duplicates()
    columns = ["ds"] if spec.kind == "points" else ["start", "end"]
    for column in columns:
        probe = labels[["unique_id", column, "row"]].rename(columns={column: "ds"})
        hit = probe.merge(present.assign(_on=True), on=["unique_id", "ds"], how="left")["_on"].notna().to_numpy()
        off = np.flatnonzero(~hit)
        if len(off):
            bad = probe.iloc[int(off[0])]
            stamps = present.loc[present["unique_id"] == bad["unique_id"], "ds"]
            what = {"ds": "stamp", "start": "window start", "end": "window end"}[column]
            raise LabelError(
                f"labels file {where}: {_row_name(int(bad['row']), csv)}: {what} {bad['ds']} is not a stamp of series "
                f"{bad['unique_id']!r} ({stamps.min()} .. {stamps.max()}, {len(stamps)} stamps present; a stamp "
                f"missing from the data is not on the series); {len(off)} such row(s): label a stamp the data has"
            )
    if spec.kind == "points":
        return labels.drop_duplicates(["unique_id", "ds"]).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    ordered = labels.sort_values(["unique_id", "start", "end"], kind="stable").reset_index(drop=True)
    same = (ordered["unique_id"] == ordered["unique_id"].shift()).to_numpy()
    overlap = np.flatnonzero(same & (ordered["start"] <= ordered["end"].shift()).to_numpy())
    if len(overlap):
        k = int(overlap[0])
        a, b = ordered.iloc[k - 1], ordered.iloc[k]
        raise LabelError(
            f"labels file {where}: {_row_name(int(b['row']), csv)}: window {b['start']} .. {b['end']} of series "
            f"{b['unique_id']!r} overlaps the window of {_row_name(int(a['row']), csv)} ({a['start']} .. {a['end']}); "
            "merge them into one window"
        )
    return ordered


def load_labels(card: UserCard, series: pd.DataFrame) -> pd.DataFrame:
    """The card's labels, read and checked against `series` (`check_labels`).

    Parameters
    ----------
    card:
        A user card with a `labels:` section.
    series:
        Every (unique_id, ds) row of the card's data, before any gap is filled.
    """
    return check_labels(card, read_labels(card), series)


def labels_fingerprint(labels: pd.DataFrame) -> str:
    """A content hash of checked labels: a scoreboard made from other labels is another result."""
    from workbench.fingerprint import digest

    columns: list[Any] = [c for c in ("unique_id", "ds", "start", "end") if c in labels.columns]
    return digest(labels[columns].astype(str).to_numpy().tolist(), 16)
