"""Data handed over in a notebook cell: an in-memory Panel, a Dask DataFrame, or ready-made chunk files.

Each is identified by a content fingerprint, which a task built for it (`Task.for_panel`,
`Task.for_frame`, `Task.for_chunks`) carries in its key, so two different frames never share
results and the same frame evaluated again reuses them. The data are registered in this process
under that fingerprint; what the engine writes for them (chunk files, a frame's parts) stays in the
chunk cache, so another process (a report) finds them again by the fingerprint alone.

- Panel: already in this process, so its chunk files are cut here (one sort-free pass).
- Dask DataFrame: never gathered. Unless it is indexed by series with known divisions, it is
  shuffled by series (a hash shuffle on the workers); each partition is then sorted, validated,
  hashed and written as a parquet part, on its worker, and the task plans from those parts.

A frame's parts are sorted copies in the chunk cache, so a row number in them means nothing to the
user. Each row therefore carries its place in the user's data through the shuffle (the input
partition, and the file it was read from where the frame is a `dd.read_parquet`), the partition is
checked as it is written, and a problem is reported at the user's file and row: order, duplicates
and off-grid steps at once, a gap (stamps missing, which only a task's gap policy fills) as the
location a unit reading the part names first.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from workbench import storage
from workbench.data.panel import Panel
from workbench.errors import DataFormatError, WorkbenchError
from workbench.fingerprint import digest
from workbench.sources.checks import check_metadata, check_rows, check_values
from workbench.sources.chunkfiles import read_index, read_refs, write_panel_chunks
from workbench.sources.parquet import describe_file, id_hashes, read_chunk, row_group_refs, write_series_grouped

__all__ = [
    "MEMORY_SUBSET",
    "ChunkSource",
    "FrameSource",
    "PanelSource",
    "find",
    "info",
    "materialize_frame",
    "panel_hash",
    "partition_files",
    "register",
]

_REGISTRY: dict[str, Any] = {}
MEMORY_SUBSET = "all"
# the fix a gap names (a frame's own words: `workbench.sources.checks` names a card's)
GAP_FIX = (
    "give the task a gap policy (gap_policy='by_metric_type' forward-fills gauges and rates and zero-fills "
    "counts; or 'ffill', 'zero', 'nan'), or fill the missing stamps in the data"
)


def panel_hash(panel: Panel) -> str:
    """Content hash of a panel's rows and its metadata (frequency, season length, horizon)."""
    rows = pd.util.hash_pandas_object(panel.df, index=False).to_numpy()
    h = hashlib.sha256(rows.tobytes())
    h.update(json.dumps(list(map(str, panel.df.columns))).encode())
    h.update(json.dumps([panel.freq, panel.season_length, panel.horizon], default=str).encode())
    return h.hexdigest()


def register(source: Any) -> str:
    _REGISTRY[source.fingerprint()] = source
    return source.fingerprint()


def find(fingerprint: str, name: str = "") -> Any:
    """The source of an in-memory task: registered here, else found in the chunk cache."""
    if fingerprint in _REGISTRY:
        return _REGISTRY[fingerprint]
    parts = storage.read_json(storage.cache_join("frames", f"task-{fingerprint}.json"))
    if isinstance(parts, dict):
        source = FrameSource(**parts)
        _REGISTRY[fingerprint] = source
        return source
    fs, root = storage.url_fs(storage.cache_join("chunks"))
    for folder in sorted(fs.glob(f"{root}/memory-{fingerprint[:24]}-*")):
        refs = read_index(storage.full_url(fs, folder))
        if refs:
            source = ChunkSource(refs, fingerprint=fingerprint)
            _REGISTRY[fingerprint] = source
            return source
    raise WorkbenchError(
        f"the data of task {name or fingerprint[:12]} were handed over in memory in another process and are "
        "not in the chunk cache: build the task again from the data (Task.for_panel / Task.for_frame)"
    )


def info(fingerprint: str) -> Any | None:
    return _REGISTRY.get(fingerprint)


class PanelSource:
    """An in-memory Panel (and, for the holdout protocol, its test Panel)."""

    kind = "panel"

    def __init__(self, train: Panel, test: Panel | None = None) -> None:
        self.train, self.test = train, test
        self._fp = digest({"train": panel_hash(train), "test": panel_hash(test) if test is not None else None})

    def fingerprint(self) -> str:
        return self._fp

    @property
    def has_test(self) -> bool:
        return self.test is not None

    def panels(self) -> tuple[Panel, Panel | None]:
        return self.train, self.test

    def metric_types(self) -> set[str] | None:
        """The metric types of the panel's `metric_type` column (None: no such column)."""
        if "metric_type" not in self.train.df.columns:
            return None
        return set(map(str, self.train.df["metric_type"].dropna().unique()))

    def plan(self, chunk_size: int, client: Any = None) -> list:
        folder = storage.cache_join("chunks", f"memory-{self._fp[:24]}-{chunk_size}")
        refs = read_index(folder)
        if refs is None:
            refs = write_panel_chunks(folder, self.train, self.test, chunk_size, self._fp)
        return refs


class ChunkSource:
    """Chunk files written elsewhere (a generator on the workers): the refs are the data."""

    kind = "chunks"

    def __init__(self, refs: list, fingerprint: str | None = None) -> None:
        self.refs = list(refs)
        self._fp = fingerprint or digest(sorted([[*r.part(), r.data_hash, r.train, r.test] for r in self.refs]))

    def fingerprint(self) -> str:
        return self._fp

    @property
    def has_test(self) -> bool:
        return all(r.test for r in self.refs)

    def panels(self) -> tuple[Panel, Panel | None]:
        return read_refs(self.refs, "train"), (read_refs(self.refs, "test") if self.has_test else None)

    def metric_types(self) -> set[str] | None:
        """Unknown without reading the chunks."""
        return None

    def plan(self, chunk_size: int, client: Any = None) -> list:
        return self.refs


# ---- Dask DataFrames -----------------------------------------------------------------------------
# where each row of a frame came from, carried through the shuffle and dropped before a part is written
_PART, _ROW = "_workbench_partition", "_workbench_row"
_HERE = "\x00frame-part\x00"  # the location the checks name, replaced by the user's (see `_located`)


def _number_rows(pdf: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    """The input partition's number and each row's 1-based place in it, as two columns."""
    number = (partition_info or {}).get("number", 0)
    return pdf.assign(**{_PART: np.int64(number), _ROW: np.arange(1, len(pdf) + 1, dtype=np.int64)})


def partition_files(ddf: Any) -> list[str] | None:
    """The file each partition of a `dd.read_parquet` frame reads (through partition-wise steps such as
    a rename), or None where that cannot be told (another reader, a filter that drops partitions, or a
    partition of some row groups of a file).

    Parameters
    ----------
    ddf:
        A Dask DataFrame."""
    try:
        from dask.dataframe.dask_expr._expr import Blockwise
        from dask.dataframe.dask_expr.io.parquet import ReadParquet

        expr = ddf.expr
        while not isinstance(expr, ReadParquet):
            if not isinstance(expr, Blockwise) or not hasattr(expr, "frame"):
                return None
            expr = expr.frame
        pieces = [part["piece"] for part in expr._plan["parts"]]
    except (ImportError, AttributeError, KeyError, TypeError):  # dask's internals: a hint, never required
        return None
    if len(pieces) != ddf.npartitions or any(piece[1] is not None for piece in pieces):
        return None
    return [str(piece[0]) for piece in pieces]


def _row_place(name: str, files: list[str] | None, partition: int, row: int) -> str:
    """`name: <file>: row N` (or `partition P, row N` where the files are unknown)."""
    if files is not None and 0 <= partition < len(files):
        return f"{name}: {files[partition]}: row {row}"
    return f"{name}: partition {partition} of the frame, row {row}"


def _located(exc: DataFormatError, sorted_rows: pd.DataFrame, name: str, files: list[str] | None) -> str:
    """A check's message about the sorted part, told at the user's rows: every `row N` of the part
    becomes the file (or input partition) and row it came from."""

    def place(match: re.Match) -> str:
        index = int(match.group(1)) - 1
        if not 0 <= index < len(sorted_rows):
            return name
        return _row_place(name, files, int(sorted_rows[_PART].iloc[index]), int(sorted_rows[_ROW].iloc[index]))

    text = re.sub(rf"{re.escape(_HERE)}: row (\d+)", place, str(exc))
    return text.replace(_HERE, name)


def _check_part(
    df: pd.DataFrame, meta: dict[str, Any], metadata_cols: list[str], allow_missing: bool, files: list[str] | None
) -> str | None:
    """Check one sorted part as a unit will read it, naming the user's rows: raises at a bad value,
    a repeated stamp, a step off the frequency's grid or metadata that change within a series;
    returns the first gap (stamps missing: fine for a task with a gap policy), located, or None."""
    name = meta.get("name") or "frame"
    ids = df["unique_id"].to_numpy()
    if df["ds"].isna().any():
        at = int(np.flatnonzero(df["ds"].isna().to_numpy())[0])
        place = _row_place(name, files, int(df[_PART].iloc[at]), int(df[_ROW].iloc[at]))
        raise DataFormatError(f"{place}: missing or unparseable timestamp in series {ids[at]!r}")
    try:
        check_values(df, where=_HERE, allow_missing=allow_missing)
        check_rows(ids, df["ds"], where=_HERE, freq=meta.get("freq"), ids_sorted=False, gaps=True)
        check_metadata(df, metadata_cols, where=_HERE)
    except DataFormatError as exc:
        raise DataFormatError(_located(exc, df, name, files)) from None
    try:
        check_rows(ids, df["ds"], where=_HERE, freq=meta.get("freq"), ids_sorted=False, gaps=False)
    except DataFormatError as exc:
        return _located(exc, df, name, files)
    return None


def _materialize_part(
    pdf: pd.DataFrame,
    cache_root: str,
    meta: dict[str, Any],
    metadata_cols: list[str],
    allow_missing: bool,
    files: list[str] | None = None,
) -> dict[str, Any]:
    """One partition, on its worker: sorted, checked at the user's rows, hashed and written under its
    content hash (the rows' origin columns are not written, so the hash is the data's alone)."""
    if pdf.empty:
        return {"n_rows": 0}
    source = f"partition of {meta.get('name') or 'a Dask frame'}"
    known = _PART in pdf.columns and all(c in pdf.columns for c in ("unique_id", "ds", "y"))
    gap = None
    if known:  # sorted as a Panel sorts, checked at the user's rows before the Panel's own checks
        frame = pdf.assign(unique_id=pdf["unique_id"].astype(str))
        frame = frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        gap = _check_part(frame, meta, metadata_cols, allow_missing, files)
    panel = Panel.from_long(pdf, source=source, allow_missing=allow_missing, **meta)
    df = panel.df[["unique_id", "ds", "y", *metadata_cols]]
    rows = pd.util.hash_pandas_object(df, index=False).to_numpy()
    part_hash = hashlib.sha256(rows.tobytes() + json.dumps(list(df.columns)).encode()).hexdigest()
    url = storage.join(cache_root, "frames", f"{part_hash[:40]}.parquet")
    if not storage.exists(url):
        write_series_grouped(df, url)
    entry = {
        "key": part_hash[:40],
        "url": url,
        "format": "parquet",
        "where": url,
        "hive": {},
        "sha256": None,
        "fingerprint": part_hash,
        "cache_key": f"part-{part_hash[:40]}",
    }
    spec = {"layout": "long", "id_col": "unique_id", "storage_options": {}}
    plan = describe_file(entry, spec, cache_root)
    origins = sorted({int(p) for p in panel.df[_PART].unique()}) if known else []
    sources = [files[p] for p in origins if files is not None and p < len(files)] or [f"partition {p}" for p in origins]
    types = sorted(map(str, df["metric_type"].dropna().unique())) if "metric_type" in df.columns else None
    return {
        **plan,
        "kind": "canonical",
        "n_rows": len(df),
        "sources": sources,
        "first_gap": gap,
        "metric_types": types,
    }


def materialize_frame(
    ddf,
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    freq: str | None = None,
    season_length: int = 1,
    horizon: int | None = None,
    name: str = "",
    metadata_cols: tuple[str, ...] = (),
    allow_missing: bool = False,
) -> FrameSource:
    """Write a Dask frame's partitions as series-whole parquet parts (on the workers) and register them.

    Each row carries its input partition and place in it through the shuffle, so a problem is told at
    the user's file and row (`partition_files`), not at a part in the chunk cache."""
    import dask

    files = partition_files(ddf)
    if ddf.index.name == id_col and ddf.known_divisions:
        ddf = ddf.reset_index().map_partitions(_number_rows)  # a series lies within one partition already
    else:
        if ddf.index.name == id_col:
            ddf = ddf.reset_index()
        ddf = ddf.map_partitions(_number_rows)
        ddf = ddf.shuffle(on=id_col)  # every row of a series to one partition, across the workers
    ddf = ddf.rename(columns={id_col: "unique_id", time_col: "ds", target_col: "y"})
    meta = {"freq": freq, "season_length": season_length, "horizon": horizon, "name": name or "frame"}
    root = storage.cache_url()
    parts = [
        dask.delayed(_materialize_part)(p, root, meta, list(metadata_cols), allow_missing, files)
        for p in ddf.to_delayed()
    ]
    described = [d for d in dask.compute(*parts) if d.get("n_rows")]
    source = FrameSource(parts=described, meta=meta, metadata_cols=list(metadata_cols), allow_missing=allow_missing)
    storage.write_json(storage.cache_join("frames", f"task-{source.fingerprint()}.json"), source.state())
    register(source)
    return source


class FrameSource:
    """A Dask frame's partitions, written as parquet parts in the chunk cache (never gathered)."""

    kind = "frame"

    def __init__(
        self, parts: list[dict[str, Any]], meta: dict[str, Any], metadata_cols: list[str], allow_missing: bool = False
    ) -> None:
        self.parts = sorted(parts, key=lambda p: p["fingerprint"])
        self.meta = meta
        self.metadata_cols = list(metadata_cols)
        self.allow_missing = allow_missing
        self._fp = digest(
            {
                "parts": [p["fingerprint"] for p in self.parts],
                "meta": meta,
                "metadata_cols": self.metadata_cols,
                "allow_missing": allow_missing,
            }
        )
        self._check()

    def _check(self) -> None:
        hashes = np.concatenate([id_hashes(p) for p in self.parts]) if self.parts else np.array([])
        if len(np.unique(hashes)) != len(hashes):
            raise WorkbenchError(f"{self.meta.get('name')}: a series lies in two partitions of the frame")

    def state(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "meta": self.meta,
            "metadata_cols": self.metadata_cols,
            "allow_missing": self.allow_missing,
        }

    def fingerprint(self) -> str:
        return self._fp

    has_test = False

    def metric_types(self) -> set[str] | None:
        """The metric types of the frame's `metric_type` column (None: no such column)."""
        found = [p.get("metric_types") for p in self.parts]
        if "metric_type" not in self.metadata_cols or any(t is None for t in found):
            return None
        return {t for types in found for t in types}

    def where(self, part: dict[str, Any]) -> str:
        """How a unit reading `part` names it: the user's files (and, where the part has a gap, the
        file, row and series of its first), then the sorted copy in the chunk cache it reads."""
        copy = f"the chunk cache's copy sorted by series and time ({part['data_url']})"
        gap = part.get("first_gap")
        if gap:
            fix = "" if "gap_policy" in gap else f"; {GAP_FIX}"
            return f"{gap}{fix}. As read from {copy}"
        sources = part.get("sources") or []
        label = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
        return f"{self.meta.get('name')} ({label or 'a Dask frame'}), as read from {copy}"

    def plan(self, chunk_size: int, client: Any = None) -> list:

        refs = []
        for part in self.parts:
            spec = {
                "kind": "canonical",
                "where": self.where(part),
                "metadata_cols": self.metadata_cols,
                "allow_missing": self.allow_missing,
                "storage_options": {},
                "hive": {},
                "csv": False,
                "meta": {
                    **self.meta,
                    "attrs": {
                        "dataset": self.meta["name"],
                        "subset": MEMORY_SUBSET,
                        "split": "train",
                        "data_hash": part["fingerprint"],
                    },
                },
            }
            text = json.dumps(spec, sort_keys=True, default=str)
            refs += row_group_refs(part, chunk_size, text, len(refs))
        return refs

    def panels(self) -> tuple[Panel, Panel | None]:
        refs = self.plan(1 << 30)
        df = pd.concat([read_chunk(r).df for r in refs], ignore_index=True)
        df = df.sort_values("unique_id", kind="stable").reset_index(drop=True)
        return Panel(df=df, **self.meta, attrs={"data_hash": self._fp}), None
