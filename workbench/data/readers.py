"""Readers: turn a card's verified files into a long frame (`unique_id`, `ds`, `y`, ...).

Each reader is a plain function `(files, options) -> DataFrame` registered by name; a card names
its reader, so a new file format is one function here and nothing else. `files` maps each file's
card key to its local path. Readers raise DataFormatError naming the file when its content is not
what the format promises; validation common to all panels lives in `Panel.from_long`.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.panel import wide_to_long
from workbench.errors import DataFormatError, UnknownNameError

__all__ = [
    "PANEL_READERS",
    "PANEL_STREAMS",
    "TABLE_READERS",
    "TSF_FREQ",
    "Files",
    "Reader",
    "Stream",
    "get_reader",
    "panel_reader",
    "panel_stream",
    "parse_tsf",
    "read_boom_breakdown",
    "read_boom_results",
    "read_cloud_monitoring",
    "read_cloud_monitoring_labels",
    "read_cloud_monitoring_series",
    "read_json_records",
    "read_long_table",
    "read_m3_forecasts",
    "read_m4_point_scores",
    "read_m4_submission",
    "read_m4_wide",
    "read_mcomp_info",
    "read_mcomp_rda",
    "read_nab",
    "read_nab_final_results",
    "read_nab_labels",
    "read_nab_results",
    "read_nab_windows",
    "read_plain_csv",
    "read_point_labels",
    "read_rda_frame",
    "read_tsf",
    "read_wide_csv",
    "read_xlsx",
    "stream_cloud_monitoring",
    "stream_m4_wide",
    "stream_nab",
    "stream_reader",
    "stream_tsf",
    "stream_wide_csv",
    "table_reader",
]

Files = dict[str, Path]
Reader = Callable[[Files, dict[str, Any]], pd.DataFrame]

Stream = Callable[[Files, dict[str, Any], int], Iterator[pd.DataFrame]]

PANEL_READERS: dict[str, Reader] = {}
PANEL_STREAMS: dict[str, Stream] = {}
TABLE_READERS: dict[str, Reader] = {}


def panel_reader(name: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        PANEL_READERS[name] = fn
        return fn

    return register


def table_reader(name: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        TABLE_READERS[name] = fn
        return fn

    return register


def panel_stream(name: str) -> Callable[[Stream], Stream]:
    """Register the batched form of a panel reader: `(files, options, batch_series)` yielding long
    frames of whole series, `batch_series` at a time. Readers without one are read whole."""

    def register(fn: Stream) -> Stream:
        PANEL_STREAMS[name] = fn
        return fn

    return register


def stream_reader(name: str) -> Stream:
    """The batched reader of `name`: its own stream, else one batch holding the whole read."""
    if name in PANEL_STREAMS:
        return PANEL_STREAMS[name]
    reader = get_reader(name)

    def whole(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
        yield reader(files, options)

    return whole


def get_reader(name: str, table: bool = False) -> Reader:
    registry = TABLE_READERS if table else PANEL_READERS
    if name not in registry:
        raise UnknownNameError("table reader" if table else "reader", name, list(registry))
    return registry[name]


def _read_csv(path: Path, key: str, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataFormatError(f"{key}: cannot parse as CSV ({exc})") from exc


# ---------------------------------------------------------------------------------------------
# M4: one row per series, first column the id, values padded with trailing empties
# ---------------------------------------------------------------------------------------------
def _m4_long(key: str, raw: pd.DataFrame) -> pd.DataFrame:
    """Long rows of M4's wide rows (id, then values padded with trailing empties)."""
    ids = raw.iloc[:, 0].to_numpy(dtype=str)
    values = raw.iloc[:, 1:].to_numpy(dtype=float)
    present = ~np.isnan(values)
    lengths = present.sum(axis=1)
    # observed values must be contiguous from the first column: anything else is a broken row
    contiguous = present[:, 0] | (lengths == 0)
    last = np.where(lengths > 0, values.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    bad = np.flatnonzero(~contiguous | (last + 1 != lengths) | (lengths == 0))
    if len(bad):
        raise DataFormatError(f"{key}: series {ids[bad[0]]!r} has gaps or no values ({len(bad)} rows)")
    steps = np.concatenate([np.arange(1, n + 1) for n in lengths]) if len(lengths) else np.array([], dtype=int)
    return pd.DataFrame({"unique_id": np.repeat(ids, lengths), "ds": steps.astype("int64"), "y": values[present]})


@panel_reader("m4_wide")
def read_m4_wide(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """M4 train/test CSVs. No timestamps are published with them in the mirror (M4-info.csv is
    not mirrored), so `ds` counts observations from 1; in a test file it counts forecast steps."""
    return pd.concat(
        [_m4_long(key, _read_csv(path, key, dtype={0: str})) for key, path in files.items()], ignore_index=True
    )


@panel_stream("m4_wide")
def stream_m4_wide(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
    """`read_m4_wide` in batches of `batch_series` rows (series), in the files' row order: the CSV
    is parsed a batch at a time, so cutting M4 Monthly into chunks never holds its 48,000 series."""
    for key, path in files.items():
        try:
            reader = pd.read_csv(path, dtype={0: str}, chunksize=batch_series)
            for raw in reader:
                yield _m4_long(key, raw)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError, OSError) as exc:
            raise DataFormatError(f"{key}: cannot parse as CSV ({exc})") from exc


# ---------------------------------------------------------------------------------------------
# Mcomp / Tcomp R data (M1, M3, tourism): lists of series with `x` (train) and `xx` (test)
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _read_rda(path: str, mtime_ns: int) -> dict[str, Any]:
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata warns once per series about the Mdata R class
        return rdata.read_rda(path)


def _rda_object(files: Files, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (key, path), *_ = files.items()
    try:
        objects = _read_rda(str(path), path.stat().st_mtime_ns)
    except Exception as exc:
        raise DataFormatError(f"{key}: cannot read as R data ({type(exc).__name__}: {exc})") from exc
    name = options.get("object") or next(iter(objects))
    if name not in objects:
        raise DataFormatError(f"{key}: no R object {name!r}; found {list(objects)}")
    return key, objects[name]


def _scalar(value: Any) -> Any:
    arr = np.asarray(value).ravel()
    return arr[0].item() if arr.size else None


_PER_YEAR = {"YEARLY": 1, "QUARTERLY": 4, "MONTHLY": 12}


def _ts_periods(index: pd.Index, per_year: int) -> np.ndarray:
    """R `ts` times (year + fraction) as whole periods since year 0 (exact, via Fraction)."""
    return np.array([round(Fraction(t) * per_year) for t in index], dtype="int64")


def _periods_to_stamps(periods: np.ndarray, per_year: int) -> np.ndarray:
    years, sub = np.divmod(periods, per_year)
    months = 1 + sub * (12 // per_year)
    return pd.to_datetime({"year": years, "month": months, "day": 1}).to_numpy()


@panel_reader("mcomp_rda")
def read_mcomp_rda(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """options: `period` (YEARLY/QUARTERLY/MONTHLY/OTHER), `part` (`x` train or `xx` test) and
    `append_train` ({series id: value}, optional).

    Yearly, quarterly and monthly series get first-of-period timestamps when every series of the
    subset starts in a real calendar year; some M1/M3 series are dated from year 1, and then the
    whole subset keeps integer period counts (year * periods_per_year + period) instead, so a
    subset never mixes kinds of `ds`.

    `append_train` exists because an R package's copy can drop values another copy of the same
    competition keeps (Tcomp read tourism's yearly_in.csv to row 50 and lost 79 stray cells that the
    Monash archive and fev keep as one more training year): each value becomes one more training
    observation after that series' last (`x`: the next period), and that series' test part (`xx`)
    moves one period on so it still follows. An id that is not a series of the subset is refused."""
    key, collection = _rda_object(files, options)
    period, part = options["period"], options.get("part", "x")
    per_year = _PER_YEAR.get(period, 1)
    series = {str(sid): s for sid, s in collection.items() if _scalar(s["period"]) == period}
    if not series:
        raise DataFormatError(f"{key}: no series with period {period!r}")
    append = {str(sid): value for sid, value in (options.get("append_train") or {}).items()}
    unknown = sorted(set(append) - set(series))
    if unknown:
        raise DataFormatError(
            f"{key}: card option append_train names {unknown[0]!r}, which is not a {period} series of this subset"
            + (f" (nor are {unknown[1:]})" if len(unknown) > 1 else "")
        )
    ids, times, values = [], [], []
    for sid, s in series.items():
        x = s[part]
        if not isinstance(x, pd.Series):
            raise DataFormatError(f"{key}: series {sid} has no time-series component {part!r}")
        periods, y = _ts_periods(x.index, per_year), x.to_numpy(dtype=float)
        if sid in append and part == "x":
            periods, y = np.append(periods, periods[-1] + 1), np.append(y, float(append[sid]))
        elif sid in append:
            periods = periods + 1
        ids.append(np.full(len(y), sid, dtype=object))
        times.append(periods)
        values.append(y)
    ds = np.concatenate(times)
    calendar = period in _PER_YEAR and options.get("calendar", True) and ds.min() // per_year >= 1800
    return pd.DataFrame(
        {
            "unique_id": np.concatenate(ids),
            "ds": _periods_to_stamps(ds, per_year) if calendar else ds,
            "y": np.concatenate(values),
        }
    )


@table_reader("mcomp_info")
def read_mcomp_info(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """One row per series: id, period, type (category), n, h, description."""
    _, collection = _rda_object(files, options)
    rows = [
        {
            "unique_id": str(sid),
            "st": _scalar(s.get("st")),
            "period": _scalar(s["period"]),
            "type": _scalar(s.get("type")),
            "n": int(_scalar(s["n"])),
            "h": int(_scalar(s["h"])),
            "description": _scalar(s.get("description")),
        }
        for sid, s in collection.items()
    ]
    return pd.DataFrame(rows)


@table_reader("m3_forecasts")
def read_m3_forecasts(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """The 24 submitted M3 forecast sets: long (method, unique_id, step, y_hat), empties dropped."""
    key, methods = _rda_object(files, options)
    frames = []
    for method, table in methods.items():
        if not isinstance(table, pd.DataFrame):
            raise DataFormatError(f"{key}: forecasts of {method} are not a table")
        values = table.to_numpy(dtype=float)
        rows, steps = np.nonzero(~np.isnan(values))
        frames.append(
            pd.DataFrame(
                {
                    "method": str(method),
                    "unique_id": table.index.to_numpy(dtype=str)[rows],
                    "step": steps + 1,
                    "y_hat": values[rows, steps],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Wide CSVs: one time column and one column per series (ETT, exchange rate, ILINet, darts sets)
# ---------------------------------------------------------------------------------------------
def _item_name(key: str, options: dict[str, Any]) -> str:
    item = key
    for prefix in options.get("strip_prefix", []):
        item = item.removeprefix(prefix)
    for suffix in options.get("strip_suffix", []):
        item = item.removesuffix(suffix)
    return item


def _parse_time(col: pd.Series, key: str, fmt: str | None) -> pd.Series:
    try:
        return pd.to_datetime(col, format=fmt)
    except (ValueError, TypeError) as exc:
        raise DataFormatError(f"{key}: cannot parse time column {col.name!r} ({exc})") from exc


def _read_wide_file(key: str, path: Path, options: dict[str, Any]) -> pd.DataFrame:
    csv_kwargs = {k: options[k] for k in ("sep", "header", "names", "compression") if k in options}
    raw = _read_csv(path, key, **csv_kwargs)
    raw.columns = [str(c) for c in raw.columns]
    time_col = options.get("time_col")
    exclude = set(options.get("exclude_cols", []))
    value_cols = [str(c) for c in options.get("value_cols", [])] or [
        c for c in raw.columns if c != time_col and c not in exclude
    ]
    needed = [*value_cols, *([time_col] if time_col else [])]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataFormatError(f"{key}: missing column(s) {missing}; found {list(raw.columns)}")
    ds = (
        _parse_time(raw[time_col], key, options.get("time_format"))
        if time_col
        else pd.Series(np.arange(len(raw), dtype="int64"))
    )
    return wide_to_long(raw, value_cols, ds.to_numpy())


@panel_reader("wide_csv")
def read_wide_csv(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """options: time_col, time_format, value_cols | exclude_cols, sep, header, names, compression.
    With several files, ids become `<item>/<column>` and an `item` column names the file."""
    frames = []
    for key, path in files.items():
        frame = _read_wide_file(key, path, options)
        if len(files) > 1 or options.get("item_column"):
            item = _item_name(key, options)
            frame.insert(3, "item", item)
            frame["unique_id"] = item + "/" + frame["unique_id"].astype(str)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@panel_stream("wide_csv")
def stream_wide_csv(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
    """`read_wide_csv` one file (one item and its channels) at a time, with the ids it gives them
    when it reads them all."""
    one = {**options, "item_column": len(files) > 1 or bool(options.get("item_column"))}
    for key, path in files.items():
        yield read_wide_csv({key: path}, one)


@table_reader("point_labels")
def read_point_labels(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Per-timestamp label columns of labelled CSVs (SKAB `anomaly`/`changepoint`, UCR `label`)."""
    label_cols = options["label_cols"]
    frames = []
    for key, path in files.items():
        merged = {**options, "value_cols": label_cols}
        frame = _read_wide_file(key, path, merged)
        wide = frame.pivot(index="ds", columns="unique_id", values="y").reset_index()
        wide.columns.name = None
        wide.insert(0, "item", _item_name(key, options))
        frames.append(wide)
    return pd.concat(frames, ignore_index=True)


@panel_reader("long_table")
def read_long_table(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """A user's own long table (CSV or parquet): options id_col, time_col, target_col, time_format."""
    frames = []
    for key, path in files.items():
        raw = pd.read_parquet(path) if path.suffix == ".parquet" else _read_csv(path, key)
        id_col = options.get("id_col", "unique_id")
        time_col = options.get("time_col", "ds")
        target_col = options.get("target_col", "y")
        missing = [c for c in (id_col, time_col, target_col) if c not in raw.columns]
        if missing:
            raise DataFormatError(f"{key}: missing column(s) {missing}; found {list(raw.columns)}")
        raw = raw.rename(columns={id_col: "unique_id", time_col: "ds", target_col: "y"})
        if options.get("parse_time", True) and not pd.api.types.is_numeric_dtype(raw["ds"]):
            raw["ds"] = _parse_time(raw["ds"], key, options.get("time_format"))
        frames.append(raw)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Monash forecasting archive .tsf
# ---------------------------------------------------------------------------------------------
# @frequency name -> (pandas frequency of the series' stamps, season length). Season lengths are the
# Monash archive's (`experiments/fixed_horizon.R` SEASONALITY_VALS: the daily period of sub-daily
# data, the first of its three; weekly 365.25/7 rounded).
TSF_FREQ = {
    "yearly": ("YS", 1),
    "quarterly": ("QS", 4),
    "monthly": ("MS", 12),
    "weekly": ("7D", 52),
    "daily": ("D", 7),
    "hourly": ("h", 24),
    "half_hourly": ("30min", 48),
    "15_minutes": ("15min", 96),
    "10_minutes": ("10min", 144),
    "minutely": ("min", 1440),
    "4_seconds": ("4s", 21600),
}
_TSF_MISSING = "?"  # how a .tsf file writes a missing value (kept as NaN)


def _tsf_freq(header: dict[str, Any], lines: dict[str, int], key: str, date_attr: str) -> str:
    """The pandas frequency that steps a series on from its start date; a file whose series carry
    start dates must name a known @frequency, or its stamps would be guessed."""
    name = header.get("frequency")
    known = ", ".join(TSF_FREQ)
    if name is None:
        raise DataFormatError(
            f"{key}: series carry start dates (@attribute {date_attr} date) but the header has no @frequency; "
            f"add an '@frequency NAME' line before @data (NAME one of {known})"
        )
    if name.lower() not in TSF_FREQ:
        raise DataFormatError(
            f"{key}:{lines['frequency']}: unknown @frequency {name!r}; use one of {known} "
            "(or add it to workbench.data.readers.TSF_FREQ with its pandas frequency and season length)"
        )
    return TSF_FREQ[name.lower()][0]


def _tsf_start(text: str, freq: str, key: str, lineno: int) -> pd.Timestamp:
    """A series' start date (`YYYY-MM-DD HH-MM-SS`, the format's dashes in the time), which must fall
    on the frequency's grid: `pd.date_range` would otherwise move the first stamp silently."""
    try:
        start = pd.Timestamp(re.sub(r"(\d{2})-(\d{2})-(\d{2})$", r"\1:\2:\3", text))
    except ValueError:
        start = pd.NaT
    if pd.isna(start):
        raise DataFormatError(
            f"{key}:{lineno}: start timestamp {text!r} is not a date; write it as 'YYYY-MM-DD HH-MM-SS'"
        )
    if not pd.tseries.frequencies.to_offset(freq).is_on_offset(start):
        raise DataFormatError(
            f"{key}:{lineno}: start timestamp {text!r} is not on the {freq!r} grid of the file's @frequency; "
            "give the first day of the period"
        )
    return start


def _tsf_values(text: str, sid: str, key: str, lineno: int) -> np.ndarray:
    """One series' comma-separated values, `?` (a missing value) as NaN."""
    cells = text.split(",")
    try:
        return np.array([np.nan if v == _TSF_MISSING else float(v) for v in cells])
    except ValueError:
        for i, v in enumerate(cells):
            try:
                float(v)
            except ValueError:
                if v != _TSF_MISSING:
                    raise DataFormatError(
                        f"{key}:{lineno}: value {i + 1} of series {sid!r} is {v!r}, not a number; "
                        f"write a missing value as {_TSF_MISSING!r}"
                    ) from None
        raise


def _tsf_number(text: str, name: str, key: str, lineno: int) -> float | int:
    """A `numeric` attribute's value (an int when it is one, so CIF 2016's per-series horizons stay
    counts), `?` as NaN."""
    if text == _TSF_MISSING:
        return np.nan
    try:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    except ValueError:
        raise DataFormatError(
            f"{key}:{lineno}: numeric attribute {name!r} is {text!r}, not a number; "
            f"write a number, or {_TSF_MISSING!r} when it is missing"
        ) from None


def _tsf_lines(path: Path, key: str) -> Iterator[tuple[dict[str, Any], list[tuple[str, str]], tuple]]:
    """(header, attributes, record) per data line of a .tsf file, a record being (id, start, values,
    other attributes); the header and attributes are complete before the first record.

    The id is the first `string` attribute (else the line's position), the start the first `date`
    attribute (else None: the series is indexed by position), `numeric` attributes become numbers
    and the other attributes stay text. Lines may end in CRLF (the Zenodo files do): text mode reads
    them as LF. A file without an @data section is refused (a truncated download)."""
    attributes: list[tuple[str, str]] = []
    header: dict[str, Any] = {}
    lines: dict[str, int] = {}  # header tag -> its line number, for errors
    in_data = False
    count = 0
    names: list[str] = []
    id_attr: str | None = None
    dates: set[str] = set()
    numeric: set[str] = set()
    freq = ""
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise DataFormatError(
                        f"{key}:{lineno}: expected an @ header line (or a # comment) before @data, got {line[:40]!r}"
                    )
                tag, _, rest = line[1:].partition(" ")
                tag = tag.lower()
                if tag == "attribute":
                    name, _, kind = rest.partition(" ")
                    attributes.append((name, kind.strip().lower()))
                elif tag == "data":
                    in_data = True
                    names = [a for a, _ in attributes]
                    id_attr = next((a for a, k in attributes if k == "string"), None)
                    dates = {a for a, k in attributes if k == "date"}
                    numeric = {a for a, k in attributes if k == "numeric"}
                else:
                    header[tag] = rest.strip()
                    lines[tag] = lineno
                continue
            parts = line.split(":")
            if len(parts) != len(attributes) + 1:
                raise DataFormatError(
                    f"{key}:{lineno}: expected {len(attributes)} attributes and values, got {len(parts) - 1}; "
                    f"a data line is {':'.join([*names, 'v1,v2,...'])} (the @attribute lines, in order)"
                )
            attrs = dict(zip(names, parts[:-1], strict=True))
            sid = attrs[id_attr] if id_attr else str(count)
            if dates and not freq:
                freq = _tsf_freq(header, lines, key, next(a for a in names if a in dates))
            start = next((_tsf_start(attrs[a], freq, key, lineno) for a in names if a in dates), None)
            series = _tsf_values(parts[-1], sid, key, lineno)
            extra = {
                a: _tsf_number(v, a, key, lineno) if a in numeric else v
                for a, v in attrs.items()
                if a != id_attr and a not in dates
            }
            count += 1
            yield header, attributes, (sid, start, series, extra)
    if not in_data:
        raise DataFormatError(f"{key}: no @data section (truncated file?)")


def _tsf_meta(header: dict[str, Any]) -> dict[str, Any]:
    freq_name = header.get("frequency", "")
    freq, season = TSF_FREQ.get(freq_name.lower(), (None, 1))
    return {
        "freq": freq,
        "season_length": season,
        "horizon": int(header["horizon"]) if "horizon" in header else None,
        "missing": header.get("missing", "false") == "true",
        "equallength": header.get("equallength", "false") == "true",
        "frequency": freq_name,
        "relation": header.get("relation", ""),
    }


def _tsf_frame(records: list[tuple], freq: str | None) -> pd.DataFrame:
    frames = []
    for sid, start, series, attrs in records:
        if start is not None:
            ds = pd.date_range(start, periods=len(series), freq=freq)
        else:
            ds = np.arange(len(series), dtype="int64")
        frame = pd.DataFrame({"unique_id": sid, "ds": ds, "y": series})
        for a, v in attrs.items():
            frame[a] = v
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _tsf_batches(path: Path, key: str, batch_series: int) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
    """(long frame, header meta) of `batch_series` series at a time, read line by line."""
    header: dict[str, Any] = {}
    batch: list[tuple] = []
    for header, _, record in _tsf_lines(path, key):
        batch.append(record)
        if len(batch) >= batch_series:
            meta = _tsf_meta(header)
            yield _tsf_frame(batch, meta["freq"]), meta
            batch = []
    if batch:
        meta = _tsf_meta(header)
        yield _tsf_frame(batch, meta["freq"]), meta


def parse_tsf(path: Path, key: str = "") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Parse a .tsf file into (long frame, header) where header has frequency, horizon, ...

    Series attributes other than the start timestamp become extra columns."""
    key = key or str(path)
    parts = list(_tsf_batches(path, key, 1 << 62))
    if not parts:
        raise DataFormatError(f"{key}: no series in the @data section")
    return parts[0]


@panel_stream("tsf")
def stream_tsf(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
    """`read_tsf` `batch_series` lines (series) at a time: a Monash file is never parsed whole."""
    for key, path in files.items():
        for frame, _ in _tsf_batches(path, key, batch_series):
            yield frame


@panel_reader("tsf")
def read_tsf(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    return pd.concat([parse_tsf(path, key)[0] for key, path in files.items()], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# NAB: one CSV per series (timestamp, value), JSON labels, published detector results
# ---------------------------------------------------------------------------------------------
def _nab_id(key: str, prefix: str) -> str:
    return key.removeprefix(prefix)


@panel_reader("nab")
def read_nab(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """ids are NAB's own relative names (`realTweets/Twitter_volume_AAPL.csv`), as in its labels."""
    frames = []
    for key, path in files.items():
        raw = _read_csv(path, key)
        missing = [c for c in ("timestamp", "value") if c not in raw.columns]
        if missing:
            raise DataFormatError(f"{key}: missing column(s) {missing}; found {list(raw.columns)}")
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": _nab_id(key, "data/"),
                    "ds": _parse_time(raw["timestamp"], key, "%Y-%m-%d %H:%M:%S"),
                    "y": raw["value"].to_numpy(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@panel_stream("nab")
def stream_nab(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
    """`read_nab` one file (one series) at a time."""
    for key, path in files.items():
        yield read_nab({key: path}, options)


def _read_json(key: str, path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except ValueError as exc:
        raise DataFormatError(f"{key}: invalid JSON ({exc})") from exc


@table_reader("nab_windows")
def read_nab_windows(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Anomaly windows: (unique_id, start, end), one row per window."""
    (key, path), *_ = files.items()
    rows = [
        {"unique_id": uid, "start": pd.Timestamp(start), "end": pd.Timestamp(end)}
        for uid, windows in _read_json(key, path).items()
        for start, end in windows
    ]
    return pd.DataFrame(rows, columns=["unique_id", "start", "end"])


@table_reader("nab_labels")
def read_nab_labels(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Labelled anomaly points: (unique_id, timestamp), one row per label."""
    (key, path), *_ = files.items()
    rows = [
        {"unique_id": uid, "timestamp": pd.Timestamp(t)}
        for uid, stamps in _read_json(key, path).items()
        for t in stamps
    ]
    return pd.DataFrame(rows, columns=["unique_id", "timestamp"])


@table_reader("nab_results")
def read_nab_results(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Published raw detector outputs: one row per (detector, series, timestamp)."""
    frames = []
    for key, path in files.items():
        _, detector, category, fname = key.split("/", 3)
        raw = _read_csv(path, key)
        raw.insert(0, "unique_id", f"{category}/{fname.removeprefix(detector + '_')}")
        raw.insert(0, "detector", detector)
        raw["timestamp"] = _parse_time(raw["timestamp"], key, "%Y-%m-%d %H:%M:%S")
        frames.append(raw)
    return pd.concat(frames, ignore_index=True)


@table_reader("nab_final_results")
def read_nab_final_results(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """The committed scoreboard: (detector, profile, score)."""
    (key, path), *_ = files.items()
    data = _read_json(key, path)
    return pd.DataFrame(
        [{"detector": d, "profile": p, "score": float(s)} for d, scores in data.items() for p, s in scores.items()]
    )


@table_reader("json_records")
def read_json_records(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """A nested JSON object flattened into rows (NAB profiles and thresholds)."""
    (key, path), *_ = files.items()
    data = _read_json(key, path)
    names = options.get("index_names", ["key"])
    rows = [
        {**dict(zip(names, k, strict=True)), **(v if isinstance(v, dict) else {"value": v})}
        for k, v in _flatten(data, len(names))
    ]
    return pd.json_normalize(rows)


def _flatten(data: dict, depth: int, prefix: tuple = ()) -> list[tuple[tuple, dict]]:
    if depth == 1:
        return [((*prefix, k), v) for k, v in data.items()]
    return [item for k, v in data.items() for item in _flatten(v, depth - 1, (*prefix, k))]


@table_reader("csv")
def read_plain_csv(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Plain CSV tables concatenated, with a `file` column naming the source key."""
    frames = []
    for key, path in files.items():
        frame = _read_csv(path, key, **{k: v for k, v in options.items() if k in ("sep", "header", "names")})
        frame.insert(0, "file", key)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@table_reader("xlsx")
def read_xlsx(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Every sheet of an Excel workbook, stacked with a `sheet` column (M4's official tables)."""
    frames = []
    for key, path in files.items():
        try:
            sheets = pd.read_excel(path, sheet_name=options.get("sheet"), header=options.get("header", 0))
        except Exception as exc:
            raise DataFormatError(f"{key}: cannot read as Excel ({type(exc).__name__}: {exc})") from exc
        if isinstance(sheets, pd.DataFrame):
            sheets = {options.get("sheet"): sheets}
        for sheet, frame in sheets.items():
            frame.insert(0, "sheet", sheet)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@table_reader("m4_point_scores")
def read_m4_point_scores(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """The official per-frequency sMAPE/MASE/OWA table (sheet `Point Forecasts-Frequency` of
    `Evaluation and Ranks.xlsx`), tidy: (method, metric, frequency, value)."""
    (key, path), *_ = files.items()
    try:
        raw = pd.read_excel(path, sheet_name=options.get("sheet", "Point Forecasts-Frequency"), header=None)
    except Exception as exc:
        raise DataFormatError(f"{key}: cannot read the point-forecast sheet ({exc})") from exc
    metrics = raw.iloc[0].ffill()
    freqs = raw.iloc[1]
    rows = [
        {"method": str(r.iloc[0]), "metric": str(metrics.iloc[j]), "frequency": str(freqs.iloc[j]), "value": r.iloc[j]}
        for _, r in raw.iloc[2:].iterrows()
        for j in range(1, raw.shape[1])
        if pd.notna(r.iloc[0])
    ]
    out = pd.DataFrame(rows)
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


# ---------------------------------------------------------------------------------------------
# M4 submissions: one CSV (id, F1..F48, "NA" past the horizon) inside a RAR archive
# ---------------------------------------------------------------------------------------------
def _archive_members(key: str, path: Path) -> list[tuple[str, bytes]]:
    """Every regular file of an archive (RAR, 7z, zip, tar) through libarchive."""
    try:
        import libarchive
    except (ImportError, OSError) as exc:
        raise DataFormatError(
            f"{key}: reading this archive needs the libarchive C library and its Python binding "
            f"(Debian/Ubuntu: apt install libarchive13; conda: conda install libarchive; then pip install "
            f"libarchive-c): {exc}"
        ) from exc
    members = []
    try:
        with libarchive.file_reader(str(path)) as archive:
            for entry in archive:
                if entry.isfile:
                    members.append((entry.pathname, b"".join(entry.get_blocks())))
    except libarchive.ArchiveError as exc:
        raise DataFormatError(f"{key}: cannot unpack the archive ({exc})") from exc
    if not members:
        raise DataFormatError(f"{key}: the archive holds no file")
    return members


@table_reader("m4_submission")
def read_m4_submission(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Official M4 point forecasts, long: (unique_id, step, y_hat); steps past a series' horizon
    (the "NA" padding of the shorter frequencies) are dropped."""
    import io

    frames = []
    for key, path in files.items():
        for name, payload in _archive_members(key, path):
            raw = _read_csv(io.BytesIO(payload), f"{key}:{name}", dtype={0: str})  # type: ignore[arg-type]
            if raw.columns[0] != "id" or not all(c == f"F{i}" for i, c in enumerate(raw.columns[1:], 1)):
                raise DataFormatError(f"{key}:{name}: expected columns id, F1, F2, ...; got {list(raw.columns[:4])}")
            values = raw.iloc[:, 1:].to_numpy(dtype=float)
            present = ~np.isnan(values)
            rows, cols = np.nonzero(present)
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": raw["id"].to_numpy(dtype=str)[rows],
                        "step": (cols + 1).astype("int64"),
                        "y_hat": values[rows, cols],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Microsoft Cloud Monitoring Dataset: one CSV per series (TimeStamp, Value, Label) beside a CSVW
# `<file>-metadata.json` whose `notes` describe the series
# ---------------------------------------------------------------------------------------------
_CSVW_SUFFIX = "-metadata.json"


def _bad_line(key: str, bad: np.ndarray, raw: pd.Series, what: str) -> DataFormatError:
    """An error naming the file, its first bad line (the header is line 1) and the cell."""
    i = int(np.flatnonzero(bad)[0])
    return DataFormatError(f"{key}: line {i + 2}: {what} {raw.iloc[i]!r} ({int(bad.sum())} such rows)")


def _cloud_monitoring_notes(key: str, meta_key: str, path: Path) -> str:
    meta = _read_json(meta_key, path)
    if not isinstance(meta, dict):
        raise DataFormatError(f"{meta_key}: expected a CSVW metadata object")
    if meta.get("url") not in (None, "", key.rsplit("/", 1)[-1]):
        raise DataFormatError(f"{meta_key}: describes {meta['url']!r}, not {key.rsplit('/', 1)[-1]!r}")
    notes = meta.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise DataFormatError(f"{meta_key}: `notes` must be a list of strings")
    return " ".join(n.strip() for n in notes if n.strip())


def _cloud_monitoring_files(files: Files, options: dict[str, Any], notes: bool) -> list[dict[str, Any]]:
    """One record per CSV (in key order): unique_id (`<folder>/<file stem>`), folder, the frame
    (ds, y, label) and the notes of its CSVW metadata (required when `notes`)."""
    prefix = options.get("strip_prefix", "data/")
    out = []
    for key, path in files.items():
        if key.endswith(_CSVW_SUFFIX):
            continue
        raw = _read_csv(path, key, dtype=str, keep_default_na=False)
        missing = [c for c in ("TimeStamp", "Value", "Label") if c not in raw.columns]
        if missing:
            raise DataFormatError(f"{key}: missing column(s) {missing}; found {list(raw.columns)}")
        # ISO 8601, zone optional: stamps with a zone are converted to UTC, the rest kept as written; all naive
        ds = pd.to_datetime(raw["TimeStamp"], format="ISO8601", utc=True, errors="coerce")
        if ds.isna().any():
            raise _bad_line(key, ds.isna().to_numpy(), raw["TimeStamp"], "unparseable TimeStamp")
        text = raw["Value"].str.strip()
        y = pd.to_numeric(text, errors="coerce")
        bad = (y.isna() & (text != "")).to_numpy()
        if bad.any():
            raise _bad_line(key, bad, raw["Value"], "non-numeric Value")
        label = raw["Label"].str.strip()
        bad = ~label.isin(["0", "1"]).to_numpy()
        if bad.any():
            raise _bad_line(key, bad, raw["Label"], "Label must be 0 or 1, got")
        meta_key = key + _CSVW_SUFFIX
        if notes and meta_key not in files:
            raise DataFormatError(f"{key}: its CSVW metadata {meta_key} is not among the card's files")
        uid = key.removeprefix(prefix).removesuffix(".csv")
        out.append(
            {
                "unique_id": uid,
                "folder": uid.rsplit("/", 1)[0],
                "file": key,
                "frame": pd.DataFrame(
                    {
                        "ds": ds.dt.tz_localize(None).to_numpy(),
                        "y": y.to_numpy(float),
                        "label": label.to_numpy().astype(np.int8),
                    }
                ),
                "notes": _cloud_monitoring_notes(key, meta_key, files[meta_key]) if meta_key in files else None,
            }
        )
    if not out:
        raise DataFormatError(f"no series CSV among {list(files)[:3]}")
    return out


@panel_reader("cloud_monitoring")
def read_cloud_monitoring(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Series in file row order (repeated stamps kept); `folder` and the CSVW `notes` are per-series
    columns. The expert labels are the `labels` table, never part of the panel."""
    return pd.concat(
        [
            r["frame"][["ds", "y"]].assign(unique_id=r["unique_id"], folder=r["folder"], notes=r["notes"])
            for r in _cloud_monitoring_files(files, options, notes=True)
        ],
        ignore_index=True,
    )[["unique_id", "ds", "y", "folder", "notes"]]


@panel_stream("cloud_monitoring")
def stream_cloud_monitoring(files: Files, options: dict[str, Any], batch_series: int) -> Iterator[pd.DataFrame]:
    """`read_cloud_monitoring` one CSV (one series) with its CSVW metadata file at a time."""
    for key, path in files.items():
        if key.endswith(_CSVW_SUFFIX):
            continue
        pair = {key: path}
        meta = key + _CSVW_SUFFIX
        if meta in files:
            pair[meta] = files[meta]
        yield read_cloud_monitoring(pair, options)


@table_reader("cloud_monitoring_labels")
def read_cloud_monitoring_labels(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """Per-point expert labels: (item, ds, anomaly), one row per file row, item = the series id."""
    return pd.concat(
        [
            pd.DataFrame({"item": r["unique_id"], "ds": r["frame"]["ds"], "anomaly": r["frame"]["label"]})
            for r in _cloud_monitoring_files(files, options, notes=False)
        ],
        ignore_index=True,
    )


@table_reader("cloud_monitoring_series")
def read_cloud_monitoring_series(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """One row per series: unique_id, folder, file, n_rows, n_anomalies, n_missing, notes."""
    return pd.DataFrame(
        [
            {
                "unique_id": r["unique_id"],
                "folder": r["folder"],
                "file": r["file"],
                "n_rows": len(r["frame"]),
                "n_anomalies": int(r["frame"]["label"].sum()),
                "n_missing": int(r["frame"]["y"].isna().sum()),
                "notes": r["notes"],
            }
            for r in _cloud_monitoring_files(files, options, notes=True)
        ]
    )


# ---------------------------------------------------------------------------------------------
# An R data.frame with a time column (Twitter AnomalyDetection's `raw_data`: POSIXlt, count)
# ---------------------------------------------------------------------------------------------
def _r_posixlt(obj: Any, attrs: dict[str, Any]) -> np.ndarray:
    """R POSIXlt (broken-down fields) as naive clock times in the object's own zone."""
    f = {str(k): np.asarray(v, dtype=float).ravel() for k, v in obj.items()}
    fields = {"year": f["year"] + 1900, "month": f["mon"] + 1, "day": f["mday"], "hour": f["hour"], "minute": f["min"]}
    stamps = pd.to_datetime(fields, errors="coerce") + pd.to_timedelta(f["sec"], unit="s")
    return stamps.to_numpy()


def _r_posixct(obj: Any, attrs: dict[str, Any]) -> np.ndarray:
    """R POSIXct (seconds since 1970 UTC) as naive clock times in its `tzone` (UTC when unset)."""
    stamps = pd.to_datetime(np.asarray(obj, dtype=float).ravel(), unit="s", utc=True)
    tzone = np.asarray(attrs.get("tzone", "")).ravel()
    zone = str(tzone[0]) if tzone.size else ""
    return (stamps.tz_convert(zone) if zone else stamps).tz_localize(None).to_numpy()


@lru_cache(maxsize=4)
def _read_rda_with_times(path: str, mtime_ns: int) -> dict[str, Any]:
    import rdata
    from rdata.conversion import DEFAULT_CLASS_MAP

    classes = {**DEFAULT_CLASS_MAP, "POSIXlt": _r_posixlt, "POSIXct": _r_posixct}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdata.read_rda(path, constructor_dict=classes)


@panel_reader("rda_frame")
def read_rda_frame(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """options: `object` (default: the file's first), `time_col`, `value_col`, `unique_id`
    (default: the object's name). Errors name the file, the object and the R row name."""
    frames = []
    for key, path in files.items():
        try:
            objects = _read_rda_with_times(str(path), path.stat().st_mtime_ns)
        except Exception as exc:
            raise DataFormatError(f"{key}: cannot read as R data ({type(exc).__name__}: {exc})") from exc
        name = options.get("object") or next(iter(objects))
        if name not in objects:
            raise DataFormatError(f"{key}: no R object {name!r}; found {list(objects)}")
        frame = objects[name]
        if not isinstance(frame, pd.DataFrame):
            raise DataFormatError(f"{key}: R object {name!r} is a {type(frame).__name__}, not a data.frame")
        time_col, value_col = options["time_col"], options["value_col"]
        missing = [c for c in (time_col, value_col) if c not in frame.columns]
        if missing:
            raise DataFormatError(f"{key}: R object {name!r} lacks column(s) {missing}; found {list(frame.columns)}")
        ds = frame[time_col]
        if not pd.api.types.is_datetime64_any_dtype(ds):
            raise DataFormatError(f"{key}: column {time_col!r} of {name!r} is {ds.dtype}, not POSIXct/POSIXlt")
        y = pd.to_numeric(frame[value_col], errors="coerce")
        for bad, what in ((ds.isna(), f"missing {time_col}"), (y.isna(), f"missing or non-numeric {value_col}")):
            if bad.any():
                raise DataFormatError(f"{key}: {name}[{bad.idxmax()!r}, ]: {what} ({int(bad.sum())} rows)")
        frames.append(pd.DataFrame({"unique_id": options.get("unique_id", name), "ds": ds.to_numpy(), "y": y}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# BOOM's published results (DataDog/toto `boom/`): per-task results per model, breakdown tables
# ---------------------------------------------------------------------------------------------
@table_reader("boom_results")
def read_boom_results(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """`results/<model>/all_results.csv` stacked: the files' columns after `model_dir` (the folder:
    the name BOOM's leaderboards give the model; the `model` column is what the run wrote),
    `dataset_id` (the `dataset` before its first `/`, the key of the properties files) and `term`."""
    frames = []
    for key, path in files.items():
        parts = key.split("/")
        if len(parts) < 3 or parts[-1] != "all_results.csv":
            raise DataFormatError(f"{key}: expected a .../<model>/all_results.csv file")
        raw = _read_csv(path, key)
        missing = [c for c in ("dataset", "model") if c not in raw.columns]
        if missing:
            raise DataFormatError(f"{key}: missing column(s) {missing}; found {list(raw.columns)}")
        task = raw["dataset"].astype(str).str.split("/")
        bad = (task.str.len() != 3).to_numpy()
        if bad.any():
            raise _bad_line(key, bad, raw["dataset"], "dataset is not <id>/<frequency>/<term>:")
        raw.insert(0, "term", task.str[2])
        raw.insert(0, "dataset_id", task.str[0])
        raw.insert(0, "model_dir", parts[-2])
        frames.append(raw)
    return pd.concat(frames, ignore_index=True)


_BREAKDOWN_NAME = re.compile(r"^(?P<breakdown>.+?)_(?P<metric>[A-Z]+)_(?P<aggregation>[a-z_]+)\.csv$")


@table_reader("boom_breakdown")
def read_boom_breakdown(files: Files, options: dict[str, Any]) -> pd.DataFrame:
    """`<breakdown>_<METRIC>_<aggregation>.csv` (model rows, one column per group), tidy:
    (breakdown, metric, aggregation, model, group, value)."""
    frames = []
    for key, path in files.items():
        match = _BREAKDOWN_NAME.match(key.rsplit("/", 1)[-1])
        if not match:
            raise DataFormatError(f"{key}: file name is not <breakdown>_<METRIC>_<aggregation>.csv")
        raw = _read_csv(path, key)
        if raw.columns[0] != "model":
            raise DataFormatError(f"{key}: first column must be `model`, got {raw.columns[0]!r}")
        tidy = raw.melt(id_vars="model", var_name="group", value_name="value")
        tidy["value"] = pd.to_numeric(tidy["value"], errors="coerce")
        tidy = tidy.assign(**match.groupdict())
        frames.append(tidy[["breakdown", "metric", "aggregation", "model", "group", "value"]])
    return pd.concat(frames, ignore_index=True)
