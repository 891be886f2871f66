"""`workbench datasets add`: check a user's files, then write their card (atomically), or nothing.

The check reads the files one at a time (a parquet file one row group at a time), so it never holds
more than one file: required columns, (series, time) sorted and not repeated, one frequency per
series (inferred from the first series when not given), one value per series of each metadata
column, a numeric target, each series in one file. Errors name the file and the row; the card is
written only when every file passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from workbench import storage
from workbench.config import user_catalog_dirs
from workbench.data.cards import DatasetCard, UserCard, all_cards, load_card
from workbench.errors import DataFormatError, WorkbenchError
from workbench.sources.checks import check_metadata, check_rows, check_values, infer_freq
from workbench.sources.files import UserFile, list_files
from workbench.sources.parquet import _canonical, _columns_needed, _file_metadata, long_frame, read_fragment
from workbench.sources.user import UserSource
from workbench.storage import atomic_write

__all__ = ["add_dataset", "check_card"]


def _batches(f: UserFile, spec: dict[str, Any]):
    """(first row number, canonical frame, checked already) of a file: a parquet file row group by row
    group, a CSV or wide file whole (converted, which checks its rows as it goes)."""
    entry = {"key": f.key, "url": f.url, "format": f.format, "where": f.url, "hive": f.hive}
    if f.format == "csv" or spec["layout"] == "wide":
        frame = long_frame(entry, spec)
        yield 1, frame, frame["unique_id"].to_numpy(), True
        return
    so = spec.get("storage_options", {})
    md = _file_metadata(f.url, so)
    columns = _columns_needed(spec, md.schema.to_arrow_schema().names, f.url, f.hive)
    row = 1
    for i in range(md.num_row_groups):
        table, _ = read_fragment(f.url, so, [i], columns)
        raw_ids = table.column(0).to_numpy(zero_copy_only=False)  # numeric ids sort as numbers
        yield row, _canonical(table.to_pandas(), spec, f.url, f.hive), raw_ids, False
        row += table.num_rows


def _frequency(card: UserCard, files: list[UserFile], spec: dict[str, Any]) -> str | None:
    """The card's frequency, else the one pandas infers from the first series of the first file."""
    if card.freq is not None:
        return card.freq
    for _, frame, _, _ in _batches(files[0], {**spec, "meta": {**spec["meta"], "freq": None}}):
        if pd.api.types.is_datetime64_any_dtype(frame["ds"]) and len(frame):
            return infer_freq(frame["ds"], frame["unique_id"].to_numpy(), files[0].url)
        return None
    return None


def check_card(card: UserCard) -> dict[str, Any]:
    """Check every file of a user card; returns what was found (files, series, rows, frequency)."""
    spec = UserSource(card).read_spec()
    files = list_files(card)
    freq = _frequency(card, files, spec)
    spec["meta"]["freq"] = freq
    owner: dict[str, str] = {}
    n_rows = 0
    time_kind = None
    for f in files:
        csv = f.format == "csv"
        previous: pd.DataFrame | None = None
        previous_id: np.ndarray | None = None
        in_file: set[str] = set()
        for first_row, frame, raw_ids, checked in _batches(f, spec):
            if frame.empty:
                continue
            kind = "timestamp" if pd.api.types.is_datetime64_any_dtype(frame["ds"]) else "step"
            if time_kind not in (None, kind):
                raise DataFormatError(f"{f.url}: the time column holds {kind}s where earlier files hold {time_kind}s")
            time_kind = kind
            check_values(frame, where=f.url, first_row=first_row, csv=csv, allow_missing=card.allow_missing)
            if not checked:  # a parquet row group, checked with the last row of the one before
                joined = frame if previous is None else pd.concat([previous, frame], ignore_index=True)
                ids = raw_ids if previous_id is None else np.concatenate([previous_id, raw_ids])
                start = first_row if previous is None else first_row - 1
                check_rows(ids, joined["ds"].to_numpy(), where=f.url, first_row=start, freq=freq, csv=csv)
                check_metadata(joined, list(card.source.metadata_cols), where=f.url, first_row=start, csv=csv)
                previous, previous_id = frame.iloc[-1:], raw_ids[-1:]
            in_file.update(pd.unique(frame["unique_id"]))
            n_rows += len(frame)
        for uid in sorted(in_file):
            if uid in owner:
                raise DataFormatError(
                    f"{f.url}: series {uid!r} is also in {owner[uid]}: each series must live in one file "
                    "(partition by series, e.g. hive folders `bucket=07/`)"
                )
            owner[uid] = f.url
    if not owner:
        raise DataFormatError(f"{', '.join(card.source.paths)}: the files hold no rows")
    return {"files": len(files), "n_series": len(owner), "n_rows": n_rows, "freq": freq}


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
    force: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Check the files, then write `<catalog>/<name>.yaml`; nothing is written when a check fails."""
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
    if allow_missing:
        raw["allow_missing"] = True
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
    found = check_card(card)
    raw["freq"] = found["freq"]
    raw["n_series"] = found["n_series"]
    text = yaml.safe_dump({k: v for k, v in raw.items() if v not in (None, "")}, sort_keys=False)
    atomic_write(target, lambda tmp: Path(tmp).write_text(text))
    load_card(target)  # what was written reads back as the card that was checked
    return target, found
