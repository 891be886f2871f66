"""What runs on a worker for a user source: describe one file, convert one CSV, read one chunk.

- `describe_file`: a file's plan (row groups with their row counts, first and last series and
  series counts, and a hash of every series id for the cross-file check) from its parquet footer and
  its id column only. CSV files, and wide files of either format, are first converted once into a
  long parquet in the chunk cache, sorted and cut into row groups at series boundaries, and planned
  from that. Plans are cached per file version, so a rerun over unchanged files reads nothing.
- `read_chunk`: the rows of one unit, its file's row groups only, through pyarrow.dataset on the
  file's fsspec file system; every read of a user file's rows goes through `read_fragment`.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from workbench import storage
from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel, wide_to_long
from workbench.errors import DataFormatError, DataIntegrityError
from workbench.fingerprint import digest
from workbench.sources.checks import RowChecker, where_row

__all__ = [
    "PLAN_VERSION",
    "ROWS_PER_GROUP",
    "SERIES_PER_GROUP",
    "cache_key",
    "convert_file",
    "describe_file",
    "group_row_groups",
    "id_hashes",
    "long_frame",
    "read_chunk",
    "read_fragment",
    "row_group_refs",
    "write_series_grouped",
]

PLAN_VERSION = 1
# the fix a gap names where a unit reads its rows: the task's gap policy, or the card's
TASK_GAP_FIX = (
    "give the task a gap policy (Task(..., gap_policy='by_metric_type'), or ffill, zero, nan) or the card one "
    "(`gap_policy: by_metric_type` in the card; `workbench datasets add ... --gap-policy`)"
)
# converted files: a row group ends between series once it holds this many rows or series, so that
# units of `chunk_size` series can be cut from them
ROWS_PER_GROUP = 128_000
SERIES_PER_GROUP = 64


# ---- reading rows ------------------------------------------------------------------------------
def read_fragment(url: str, storage_options: dict[str, Any], row_groups: list[int] | None, columns: list[str]):
    """(rows of the given row groups, file metadata): the one place a user file's rows are read."""
    fs, path = storage.url_fs(url, storage_options)
    fragment = pads.ParquetFileFormat().make_fragment(path, filesystem=storage.arrow_fs(fs), row_groups=row_groups)
    table = fragment.to_table(columns=columns)
    return table, fragment.metadata


def _file_metadata(url: str, storage_options: dict[str, Any]) -> pq.FileMetaData:
    fs, path = storage.url_fs(url, storage_options)
    with fs.open(path, "rb") as fh:
        return pq.ParquetFile(fh).metadata


def _parse_time(values: pd.Series, fmt: str | None, where: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
    if pd.api.types.is_numeric_dtype(values):
        return values
    try:
        return pd.to_datetime(values, format=fmt)
    except (ValueError, TypeError) as exc:
        raise DataFormatError(f"{where}: cannot parse time column {values.name!r} ({exc})") from exc


def _canonical(frame: pd.DataFrame, spec: dict[str, Any], where: str, hive: dict[str, str]) -> pd.DataFrame:
    """Rename a user's columns to unique_id / ds / y, parse time, add hive partition values."""
    out = frame.rename(columns={spec["id_col"]: "unique_id", spec["time_col"]: "ds", spec["target_col"]: "y"})
    out["ds"] = _parse_time(out["ds"], spec.get("time_format"), where)
    for col in spec.get("metadata_cols", []):
        if col not in out.columns and col in hive:
            out[col] = hive[col]
    keep = ["unique_id", "ds", "y", *spec.get("metadata_cols", [])]
    out = out[keep]
    out["unique_id"] = out["unique_id"].astype(str)
    return out


def _columns_needed(spec: dict[str, Any], schema_names: list[str], where: str, hive: dict[str, str]) -> list[str]:
    needed = [spec["id_col"], spec["time_col"], spec["target_col"]]
    missing = [c for c in needed if c not in schema_names]
    meta = [c for c in spec.get("metadata_cols", []) if c not in hive or c in schema_names]
    missing += [c for c in meta if c not in schema_names]
    if missing:
        raise DataFormatError(f"{where}: missing column(s) {missing}; found columns {schema_names}")
    return [*needed, *meta]


def read_chunk(ref, allow_gaps: bool = False) -> Panel:
    """The Panel of one unit of a user source (a ChunkRef with `spec`): its row groups only.

    `allow_gaps`: a task with a gap policy takes series with missing stamps (it fills them); the
    order and duplicate checks still apply."""
    spec = json.loads(ref.spec)
    where = spec["where"]
    meta = spec["meta"]
    if spec["kind"] == "canonical":
        columns = ["unique_id", "ds", "y", *spec.get("metadata_cols", [])]
        table, md = read_fragment(ref.train, spec.get("storage_options", {}), list(ref.row_groups), columns)
        frame = table.to_pandas()
    else:
        md = _file_metadata(ref.train, spec.get("storage_options", {}))
        columns = _columns_needed(spec, md.schema.to_arrow_schema().names, where, spec.get("hive", {}))
        table, md = read_fragment(ref.train, spec.get("storage_options", {}), list(ref.row_groups), columns)
        frame = _canonical(table.to_pandas(), spec, where, spec.get("hive", {}))
    raw_ids = table.column(0).to_numpy(zero_copy_only=False)  # the file's own order: numeric ids sort as numbers
    first_row = 1 + sum(md.row_group(i).num_rows for i in range(ref.row_groups[0]))
    checker = RowChecker(
        where,
        freq=meta.get("freq"),
        csv=spec.get("csv", False),
        ids_sorted=spec["kind"] != "canonical",  # converted files were checked as they were written
        allow_gaps=allow_gaps,
        gap_fix=TASK_GAP_FIX,
        metadata_cols=spec.get("metadata_cols", []),
    )
    checker.feed(raw_ids, frame, first_row)
    checker.finish()
    return Panel.from_long(frame, source=where, allow_missing=spec.get("allow_missing", False), **meta)


# ---- converting CSV and wide files -------------------------------------------------------------
def _read_whole(entry: dict[str, Any], spec: dict[str, Any]) -> pd.DataFrame:
    url, so = entry["url"], spec.get("storage_options", {})
    if entry["format"] == "parquet":
        with storage.open_input(url, so) as fh:
            return pq.read_table(fh).to_pandas()
    options = dict(spec.get("csv_options", {}))
    try:
        return pd.read_csv(url, storage_options=so if storage.has_scheme(url) else None, **options)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"{entry['where']}: cannot read CSV ({exc})") from exc


def convert_file(entry: dict[str, Any], spec: dict[str, Any], target: str) -> None:
    """One user file (CSV, or wide) as a long parquet at `target`: checked, cut between series."""
    write_series_grouped(long_frame(entry, spec), target)


def long_frame(entry: dict[str, Any], spec: dict[str, Any], checker: RowChecker | None = None) -> pd.DataFrame:
    """One whole user file as a checked long frame (unique_id, ds, y, metadata columns).

    `checker`: the checker of a long file's rows (`workbench datasets add` hands in its own, the one
    it runs over parquet files too); by default gaps on the grid pass (a unit reading the rows checks
    them against its task's gap policy). A wide file's time column is checked as one series."""
    where, csv = entry["where"], entry["format"] == "csv"
    raw = _read_whole(entry, spec)
    raw.columns = [str(c) for c in raw.columns]
    hive = entry.get("hive", {})
    if spec["layout"] == "wide":
        time_col = spec.get("time_col")
        reserved = {time_col, *spec.get("metadata_cols", [])}
        value_cols = spec.get("value_cols") or [c for c in raw.columns if c not in reserved]
        missing = [c for c in [*value_cols, *([time_col] if time_col else [])] if c not in raw.columns]
        if missing:
            raise DataFormatError(f"{where}: missing column(s) {missing}; found columns {list(raw.columns)}")
        if time_col:
            ds = _parse_time(raw[time_col], spec.get("time_format"), where)
        else:
            ds = pd.Series(np.arange(len(raw), dtype="int64"))
        frame = wide_to_long(raw, value_cols, ds.to_numpy())
        for col in spec.get("metadata_cols", []):
            if col in hive:
                frame[col] = hive[col]
        frame = frame.sort_values("unique_id", kind="stable").reset_index(drop=True)
        _check_wide(frame, ds.to_numpy(), time_col, where, csv, spec, checker)
    else:
        _columns_needed(spec, list(raw.columns), where, hive)
        frame = _canonical(raw, spec, where, hive)
        # by default gaps pass here: they are checked where a unit reads the rows, against its task
        long = checker or RowChecker(
            where,
            freq=spec["meta"].get("freq"),
            csv=csv,
            allow_gaps=True,
            metadata_cols=spec.get("metadata_cols", []),
            allow_missing=True,
        )
        long.feed(raw[spec["id_col"]].to_numpy(), frame, 1)
        long.finish()
    if not pd.api.types.is_numeric_dtype(frame["y"]):
        frame["y"] = pd.to_numeric(frame["y"], errors="coerce")
    return frame


def _check_wide(
    frame: pd.DataFrame, ds: np.ndarray, time_col: str | None, where: str, csv: bool, spec: dict[str, Any], checker
) -> None:
    """A wide file's rows through the one checker: its time column as one series (order, frequency,
    gaps: the same stamps are missing from every column), then each column's values (file rows)."""
    settings = checker or RowChecker(where, freq=spec["meta"].get("freq"), csv=csv, allow_gaps=True, allow_missing=True)
    label = f"the time column {time_col!r}" if time_col else "the row positions"
    times = RowChecker(
        where,
        freq=settings.freq,
        csv=csv,
        ids_sorted=False,
        allow_gaps=settings.allow_gaps,
        gap_fix=settings.gap_fix,
        label=lambda _: label,
    )
    ids = np.zeros(len(ds), dtype=np.int8)
    times.feed(ids, pd.DataFrame({"unique_id": ids, "ds": ds}), 1)
    for gaps in times.finish().series.values():
        settings.gaps.series[f"{label} (every column)"] = gaps  # the same stamps are missing in each column
    if settings.allow_missing is None and not (settings.check_types or settings.require_types):
        return
    uids = frame["unique_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, uids[1:] != uids[:-1]]) if len(uids) else []
    for a, b in zip(starts, [*starts[1:], len(uids)], strict=True):
        column = RowChecker(
            where,
            csv=csv,
            allow_missing=settings.allow_missing,
            declared_types=settings.declared_types,
            check_types=settings.check_types,
            require_types=settings.require_types,
            label=lambda uid: f"column {uid!r}",
        )
        part = frame.iloc[a:b]
        column.feed(part["unique_id"].to_numpy(), part, 1)  # a column's rows are the file's rows


def write_series_grouped(
    frame: pd.DataFrame, target: str, rows_per_group: int = ROWS_PER_GROUP, series_per_group: int = SERIES_PER_GROUP
) -> None:
    """A long frame grouped by series as parquet whose row groups end between series."""
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    ids = frame["unique_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([0])
    cuts, last, count = [0], 0, 0
    for start in starts[1:]:
        count += 1
        if start - last >= rows_per_group or count >= series_per_group:
            cuts.append(int(start))
            last, count = int(start), 0
    cuts.append(len(frame))

    def write(sink) -> None:
        with pq.ParquetWriter(sink, table.schema) as writer:
            for a, b in itertools.pairwise(cuts):
                writer.write_table(table.slice(a, b - a), row_group_size=max(1, b - a))

    storage.write_with(target, write)


# ---- describing a file -------------------------------------------------------------------------
def describe_file(entry: dict[str, Any], spec: dict[str, Any], cache_root: str) -> dict[str, Any]:
    """The plan of one file (cached per file version and reader options); runs on a worker.

    entry: key, url, format, where, fingerprint, cache_key, sha256 (pinned or None), hive."""
    plan_url = storage.join(cache_root, "plans", f"{entry['cache_key']}.json")
    cached = storage.read_json(plan_url)
    if cached and cached.get("version") == PLAN_VERSION:
        return cached
    so = spec.get("storage_options", {})
    if entry.get("sha256"):
        actual = storage.sha256_file(entry["url"], storage_options=so)
        if actual != entry["sha256"]:
            raise DataIntegrityError(entry["where"], "sha256", entry["sha256"], actual)
    convert = entry["format"] == "csv" or spec["layout"] == "wide"
    if convert:
        data_url = storage.join(cache_root, "converted", f"{entry['cache_key']}.parquet")
        convert_file(entry, spec, data_url)
        id_col, so_read = "unique_id", {}
    else:
        data_url, id_col, so_read = entry["url"], spec["id_col"], so
    md = _file_metadata(data_url, so_read)
    names = md.schema.to_arrow_schema().names
    if id_col not in names:
        raise DataFormatError(f"{entry['where']}: missing column(s) [{id_col!r}]; found columns {names}")
    groups, hashes, previous, row = [], [], None, 1
    for i in range(md.num_row_groups):
        table, _ = read_fragment(data_url, so_read, [i], [id_col])
        ids = pc.cast(table.column(0), pa.string()).combine_chunks() if table.num_rows else pa.array([], pa.string())
        raw = table.column(0).combine_chunks()
        n = len(ids)
        if n == 0:
            groups.append([0, "", "", 0])
            continue
        joined = raw if previous is None else pa.concat_arrays([previous[0], raw])
        if not convert and len(joined) > 1:  # converted files were checked row by row as they were written
            back = pc.less(joined[1:], joined[:-1])
            hit = pc.index(back, True).as_py()
            if hit >= 0:
                offset = 0 if previous is None else 1
                at = row + hit + 1 - offset
                raise DataFormatError(
                    f"{where_row(entry['where'], at, entry['format'] == 'csv')}: series "
                    f"{joined[hit + 1].as_py()!r} comes after {joined[hit].as_py()!r}: rows must be sorted by "
                    "series, then time (sort the file, or write it with one series per row group range)"
                )
        change = pc.not_equal(ids[1:], ids[:-1]) if n > 1 else pa.array([], pa.bool_())
        starts = np.r_[0, np.flatnonzero(change.to_numpy(zero_copy_only=False)) + 1]
        firsts = ids.take(pa.array(starts)).to_numpy(zero_copy_only=False).astype(object)
        hashes.append(pd.util.hash_array(firsts))
        groups.append([n, ids[0].as_py(), ids[n - 1].as_py(), len(starts)])
        previous = (raw[n - 1 : n],)
        row += n
    ids_hash = np.unique(np.concatenate(hashes)) if hashes else np.array([], dtype=np.uint64)
    plan = {
        "version": PLAN_VERSION,
        "key": entry["key"],
        "data_url": data_url,
        "kind": "canonical" if convert else "user",
        "fingerprint": entry["fingerprint"],
        "row_groups": groups,
        "n_rows": int(sum(g[0] for g in groups)),
        "n_series": len(ids_hash),
        "id_hashes": base64.b64encode(ids_hash.astype("<u8").tobytes()).decode(),
    }
    storage.write_json(plan_url, plan)
    return plan


def id_hashes(plan: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(plan["id_hashes"]), dtype="<u8")


def group_row_groups(plan: dict[str, Any], chunk_size: int) -> list[dict[str, Any]]:
    """Consecutive row groups of one file as units of at most `chunk_size` series where the row groups
    allow; a series that runs across row groups keeps them in one unit (a series is never split)."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    last_id = None
    for i, (n_rows, first, last, n_series) in enumerate(plan["row_groups"]):
        if n_rows == 0:
            continue
        continues = current is not None and first == last_id
        if current is not None and not continues and current["n_series"] + n_series > chunk_size:
            out.append(current)
            current = None
        if current is None:
            current = {"row_groups": [], "first_id": first, "n_series": 0, "n_rows": 0}
        current["row_groups"].append(i)
        current["n_series"] += n_series - (1 if continues else 0)
        current["n_rows"] += n_rows
        current["last_id"] = last
        last_id = last
    if current is not None:
        out.append(current)
    return out


def row_group_refs(plan: dict[str, Any], chunk_size: int, spec: str, first_index: int) -> list[ChunkRef]:
    """The units of one planned file (`plan`: data_url, fingerprint, key, row_groups) as chunk refs,
    numbered from `first_index`; `spec` is the JSON a worker reads the file with."""
    refs = []
    for group in group_row_groups(plan, chunk_size):
        rgs = group["row_groups"]
        refs.append(
            ChunkRef(
                first_index + len(refs),
                group["n_series"],
                plan["data_url"],
                None,
                plan["fingerprint"],
                str(group["first_id"]),
                str(group["last_id"]),
                tuple(rgs),
                spec,
                f"{plan['key']}#{rgs[0]}-{rgs[-1]}",
                group["n_rows"],
            )
        )
    return refs


def cache_key(fingerprint: str, token: dict[str, Any]) -> str:
    """A file's plan is cached per fingerprint and per what fs.info says (a pinned file is re-checked
    when it changes even though its fingerprint, the pinned hash, does not)."""
    return digest({"fingerprint": fingerprint, "token": token, "plan": PLAN_VERSION}, 32)
