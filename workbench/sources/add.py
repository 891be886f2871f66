"""`workbench datasets add`: check a user's files, then write their card (atomically), or nothing.

The check reads the files one at a time (a parquet file one row group at a time), so it never holds
more than one file, and runs every file, CSV, parquet or wide, through the one checker of
`workbench.sources.checks` (`RowChecker`), so the same rows get the same verdict and message
whatever the file format: required columns, (series, time) sorted and not repeated, one frequency
per series (inferred from the first series when not given), one value per series of each metadata
column, a numeric target, count series holding non-negative integers, each series in one file.
Stamps missing on the frequency's grid (gaps) are refused unless a gap policy is given; then they
are counted per series and the card records the policy, the default of tasks over it. Errors name
the file and the row; the card is written only when every file passed.

With a labels file (`labels=`), the card's `labels:` section names it and the labels are checked
with the files: every label's series is one of the files' and every stamp one they hold (the
check itself, `workbench.anomaly.user_labels`, lives above this layer and is handed in as
`labels_check`; `workbench datasets add --labels` hands it). Only the labelled series' stamps are
kept while the files are read, with one row of every other series, so that an unknown id is named
beside the series the files do hold.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from workbench import storage
from workbench.config import user_catalog_dirs
from workbench.data.cards import USER_SUBSET, DatasetCard, UserCard, all_cards, load_card
from workbench.errors import DataFormatError, WorkbenchError
from workbench.sources.checks import FileGaps, RowChecker, infer_freq
from workbench.sources.files import UserFile, list_files
from workbench.sources.parquet import _canonical, _columns_needed, _file_metadata, long_frame, read_fragment
from workbench.sources.user import UserSource
from workbench.storage import atomic_write

__all__ = ["LabelsCheck", "add_dataset", "check_card"]

LabelsCheck = Callable[[UserCard], tuple[set[str], Callable[[pd.DataFrame], int]]]
"""Given the card about to be written (its `labels:` section set): the series ids its labels file names
(the file read and checked on its own), and a function that checks the labels against the files' stamps
(unique_id, ds) and returns how many labels there are. Errors name the labels file and the row."""


class _Stamps:
    """The (unique_id, ds) rows of the labelled series, and the first row of every other series, gathered
    while the files are checked (the labels are checked against them after the last file)."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids
        self.parts: list[pd.DataFrame] = []

    def add(self, frame: pd.DataFrame) -> None:
        rows = frame[["unique_id", "ds"]]
        labelled = rows["unique_id"].isin(self.ids).to_numpy()
        self.parts += [rows[labelled], rows[~labelled].drop_duplicates("unique_id")]

    def frame(self) -> pd.DataFrame:
        return pd.concat(self.parts, ignore_index=True) if self.parts else pd.DataFrame(columns=["unique_id", "ds"])


def _entry(f: UserFile) -> dict[str, Any]:
    return {"key": f.key, "url": f.url, "format": f.format, "where": f.url, "hive": f.hive}


def _first_frame(f: UserFile, spec: dict[str, Any]) -> pd.DataFrame:
    """The first rows of a file (a CSV or wide file whole, a parquet file's first row group), unchecked."""
    if f.format == "csv" or spec["layout"] == "wide":
        lenient = RowChecker(f.url, csv=f.format == "csv", allow_gaps=True)  # the frequency is not known yet
        return long_frame(_entry(f), spec, lenient)
    so = spec.get("storage_options", {})
    md = _file_metadata(f.url, so)
    columns = _columns_needed(spec, md.schema.to_arrow_schema().names, f.url, f.hive)
    table, _ = read_fragment(f.url, so, [0] if md.num_row_groups else [], columns)
    return _canonical(table.to_pandas(), spec, f.url, f.hive)


def _frequency(card: UserCard, files: list[UserFile], spec: dict[str, Any]) -> str | None:
    """The card's frequency, else the one inferred from the first series of the first file."""
    if card.freq is not None:
        return card.freq
    frame = _first_frame(files[0], {**spec, "meta": {**spec["meta"], "freq": None}})
    if pd.api.types.is_datetime64_any_dtype(frame["ds"]) and len(frame):
        return infer_freq(frame["ds"], frame["unique_id"].to_numpy(), files[0].url)
    return None


def _check_file(
    f: UserFile, spec: dict[str, Any], checker: RowChecker, stamps: _Stamps | None = None
) -> tuple[pd.Series, int, str | None]:
    """Run one file through the checker: (its series ids, its rows, the kind of its time column)."""
    if f.format == "csv" or spec["layout"] == "wide":
        frame = long_frame(_entry(f), spec, checker)  # the whole file through the checker
        kind = None if frame.empty else _time_kind(frame)
        if stamps is not None:
            stamps.add(frame)
        return pd.Series(pd.unique(frame["unique_id"])), len(frame), kind
    so = spec.get("storage_options", {})
    md = _file_metadata(f.url, so)
    columns = _columns_needed(spec, md.schema.to_arrow_schema().names, f.url, f.hive)
    ids: list[np.ndarray] = []
    n_rows, kind, row = 0, None, 1
    for i in range(md.num_row_groups):
        table, _ = read_fragment(f.url, so, [i], columns)
        raw_ids = table.column(0).to_numpy(zero_copy_only=False)  # numeric ids sort as numbers
        frame = _canonical(table.to_pandas(), spec, f.url, f.hive)
        if len(frame):
            kind = kind or _time_kind(frame)
            checker.feed(raw_ids, frame, row)
            ids.append(pd.unique(frame["unique_id"]))
            if stamps is not None:
                stamps.add(frame)
        row += table.num_rows
        n_rows += len(frame)
    checker.finish()
    return pd.Series(pd.unique(np.concatenate(ids)) if ids else []), n_rows, kind


def _time_kind(frame: pd.DataFrame) -> str:
    return "timestamp" if pd.api.types.is_datetime64_any_dtype(frame["ds"]) else "step"


def check_card(card: UserCard, gap_policy: str | None = None, labelled_ids: set[str] | None = None) -> dict[str, Any]:
    """Check every file of a user card; returns what was found.

    Parameters
    ----------
    card
        The card to check (not yet written).
    gap_policy
        How tasks fill stamps missing on the grid (`workbench.semantics`); default: the card's. With
        none (or `none`), a gap is an error naming its series, its first missing stamps and the fix.
    labelled_ids
        Series named by a labels file: their stamps are kept (`stamps` in the result), with the first
        row of every other series.

    Returns
    -------
    dict
        files, n_series, n_rows, freq, and `gaps` (a `FileGaps` over every file: missing stamps per
        series; empty where the series are regular), and with `labelled_ids` the `stamps` kept.
    """
    policy = gap_policy or card.gap_policy or "none"
    spec = UserSource(card).read_spec()
    files = list_files(card)
    freq = _frequency(card, files, spec)
    spec["meta"]["freq"] = freq
    owner: dict[str, str] = {}
    n_rows = 0
    time_kind = None
    gaps = FileGaps()
    stamps = _Stamps(labelled_ids) if labelled_ids is not None else None
    for f in files:
        checker = RowChecker(
            f.url,
            freq=freq,
            csv=f.format == "csv",
            allow_gaps=True,  # refused after the last file, with their count over every file
            metadata_cols=list(card.source.metadata_cols),
            allow_missing=card.allow_missing or policy == "nan",
            declared_types=card.subsets[USER_SUBSET].metric_type,
            check_types=True,
            require_types=policy == "by_metric_type",
        )
        ids, rows, kind = _check_file(f, spec, checker, stamps)
        if kind is not None and time_kind not in (None, kind):
            raise DataFormatError(f"{f.url}: the time column holds {kind}s where earlier files hold {time_kind}s")
        time_kind = time_kind or kind
        n_rows += rows
        gaps.series.update(checker.gaps.series)
        for uid in sorted(ids):
            if uid in owner:
                raise DataFormatError(
                    f"{f.url}: series {uid!r} is also in {owner[uid]}: each series must live in one file "
                    "(partition by series, e.g. hive folders `bucket=07/`)"
                )
            owner[uid] = f.url
    if not owner:
        raise DataFormatError(f"{', '.join(card.source.paths)}: the files hold no rows")
    if gaps.series and policy == "none":
        raise gaps.error(freq)
    found = {"files": len(files), "n_series": len(owner), "n_rows": n_rows, "freq": freq, "gaps": gaps}
    return found if stamps is None else {**found, "stamps": stamps.frame()}


def add_dataset(
    name: str,
    path: str | list[str],
    *,
    catalog: str | Path | None = None,
    layout: str = "long",
    format: str | None = None,
    id_col: str = "unique_id",
    time_col: str | None = "ds",
    target_col: str = "y",
    time_format: str | None = None,
    freq: str | None = None,
    season_length: int = 1,
    horizon: int | None = None,
    metadata_cols: list[str] | None = None,
    title: str = "",
    description: str = "",
    allow_missing: bool = False,
    gap_policy: str | None = None,
    labels: str | None = None,
    labels_kind: str = "points",
    labels_check: LabelsCheck | None = None,
    force: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Check the files, then write `<catalog>/<name>.yaml`; nothing is written when a check fails.

    Parameters
    ----------
    name, path, catalog
        The dataset's name, its files (file, folder, glob or fsspec URL; several allowed) and the
        folder the card goes to (default: the first of `WORKBENCH_CATALOG`).
    layout, format, id_col, time_col, target_col, time_format, metadata_cols
        How the files are read (`workbench.data.cards.SourceSpec`).
    freq, season_length, horizon, title, description
        The card's defaults (the frequency is inferred from the first series when not given).
    allow_missing
        Keep missing target values (NaN) instead of refusing them.
    gap_policy
        Accept stamps missing on the frequency's grid, filled by tasks over the card as this policy
        says (`workbench.semantics`: by_metric_type, ffill, zero, nan). The card records it (and
        `allow_missing: true`); without it a gap is an error naming its series and this fix.
    labels, labels_kind
        A labels file (local path, recorded absolute, or fsspec URL) of `points` (columns unique_id, ds)
        or `windows` (unique_id, start, end; both ends inclusive): the card's `labels:` section, so
        detection tasks can run on the dataset (`workbench.anomaly.task.DetectionTask`).
    labels_check
        What checks the labels against the files (`LabelsCheck`; required with `labels`): the labels
        file's errors name it and its row, and nothing is written.
    force
        Replace your own card of that name.

    Returns
    -------
    (card path, what `check_card` found: files, n_series, n_rows, freq, gaps per series; and
    `n_labels` with `labels`)
    """
    folder = Path(catalog).expanduser() if catalog else (user_catalog_dirs() or [None])[0]
    if folder is None:
        raise WorkbenchError("where should the card go? give --catalog DIR (or set WORKBENCH_CATALOG)")
    target = folder.resolve() / f"{name}.yaml"
    paths = [path] if isinstance(path, str) else list(path)
    paths = [p if storage.has_scheme(p) else str(Path(p).expanduser().resolve()) for p in paths]
    source: dict[str, Any] = {
        "path": paths[0] if len(paths) == 1 else paths,
        "layout": layout,
        "id_col": id_col,
        "time_col": time_col,
        "target_col": target_col,
    }
    if format:
        source["format"] = format
    if time_format:
        source["time_format"] = time_format
    if metadata_cols:
        source["metadata_cols"] = list(metadata_cols)
    raw: dict[str, Any] = {
        "name": name,
        "title": title or name,
        "description": description,
        "source": source,
        "freq": freq,
        "season_length": season_length,
        "horizon": horizon,
    }
    if allow_missing or gap_policy not in (None, "none"):
        raw["allow_missing"] = True
    if gap_policy not in (None, "none"):
        raw["gap_policy"] = gap_policy
    if labels is not None:
        if labels_check is None:
            raise WorkbenchError(
                "labels are checked against the files before the card is written: pass labels_check "
                "(`workbench datasets add --labels` does)"
            )
        where = labels if storage.has_scheme(labels) else str(Path(labels).expanduser().resolve())
        columns = {"time_col": "start", "end_col": "end"} if labels_kind == "windows" else {}
        raw["labels"] = {"path": where, "kind": labels_kind, **columns}
    try:
        card = UserCard(**raw, path=target)
    except ValueError as exc:
        raise DataFormatError(f"dataset {name}: {exc}") from exc
    try:
        existing = all_cards().get(name)
    except DataFormatError:
        existing = None
    if existing is not None and not (force and existing.path and Path(existing.path).resolve() == target):
        kind = "shipped card" if isinstance(existing, DatasetCard) else "card"
        hint = "" if isinstance(existing, DatasetCard) else " (--force replaces it)"
        raise WorkbenchError(f"dataset {name!r} is already the {kind} {existing.path}: choose another name{hint}")
    labelled, finish = labels_check(card) if labels is not None and labels_check else (None, None)
    found = check_card(card, gap_policy, labelled)
    if finish is not None:
        found["n_labels"] = finish(found.pop("stamps"))
    raw["freq"] = found["freq"]
    raw["n_series"] = found["n_series"]
    text = yaml.safe_dump({k: v for k, v in raw.items() if v not in (None, "")}, sort_keys=False)
    atomic_write(target, lambda tmp: Path(tmp).write_text(text))
    load_card(target)  # what was written reads back as the card that was checked
    return target, found
