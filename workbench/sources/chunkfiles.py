"""Chunk files the workbench writes (catalog subsets, in-memory panels) and reads back on a worker.

A panel is sorted by series, so its chunks are row ranges: one pass finds where each series starts,
and chunk k is the arrow slice from the start of its first series to the start of the series after
its last (no comparison over the frame per chunk). The test split is cut at the same series by
binary search over its own sorted ids. Files go to the chunk cache, a local folder or an fsspec URL.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench import storage
from workbench.data.chunks import ChunkRef
from workbench.data.panel import _META_KEY, Panel
from workbench.sources.parquet import read_chunk

__all__ = [
    "INDEX",
    "read_index",
    "read_panel_file",
    "read_refs",
    "series_starts",
    "write_chunks",
    "write_index",
    "write_panel_chunks",
    "write_table",
]

INDEX = "index.json"


def series_starts(ids: np.ndarray) -> np.ndarray:
    """Row where each series starts in rows sorted (grouped) by series, plus the end (len)."""
    if len(ids) == 0:
        return np.array([0], dtype=np.int64)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return np.concatenate([[0], change, [len(ids)]]).astype(np.int64)


def _grouped(panel: Panel) -> Panel:
    """The panel with each series' rows together, in sorted id order (validated panels already are)."""
    ids = panel.df["unique_id"].to_numpy()
    if len(ids) > 1 and not (ids[1:] >= ids[:-1]).all():
        df = panel.df.sort_values("unique_id", kind="stable").reset_index(drop=True)
        return Panel(df=df, **panel.meta())
    return panel


def _table(panel: Panel) -> pa.Table:
    table = pa.Table.from_pandas(panel.df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(panel.meta(), default=str).encode()
    return table.replace_schema_metadata(meta)


def write_table(url: str, table: pa.Table) -> None:
    storage.write_with(url, lambda target: pq.write_table(table, target))


def write_panel_chunks(
    folder: str, train: Panel, test: Panel | None, chunk_size: int, data_hash: str
) -> list[ChunkRef]:
    """Chunk files of (train, test) under `folder` (local or URL) and their refs, plus `index.json`."""
    refs = write_chunks(folder, train, test, chunk_size, data_hash)
    write_index(folder, refs)
    return refs


def write_index(folder: str, refs: list) -> None:
    """The index last: chunk files without it are invisible, and cut again."""
    storage.write_json(storage.join(folder, INDEX), [r.__dict__ for r in refs])


def write_chunks(
    folder: str, train: Panel, test: Panel | None, chunk_size: int, data_hash: str, start: int = 0
) -> list[ChunkRef]:
    """Chunk files of (train, test), numbered from `start`, and their refs (no index)."""
    train = _grouped(train)
    ids = train.df["unique_id"].to_numpy()
    starts = series_starts(ids)
    n_series = len(starts) - 1
    train_table = _table(train)
    if test is not None:
        test = _grouped(test)
        test_table = _table(test)
        test_ids = test.df["unique_id"].to_numpy()
        test_series = test_ids[series_starts(test_ids)[:-1]] if len(test_ids) else test_ids
        test_starts = series_starts(test_ids)
    refs = []
    for index, first in enumerate(range(0, n_series, chunk_size), start=start):
        last = min(first + chunk_size, n_series)
        lo, hi = ids[starts[first]], ids[starts[last] - 1]
        train_url = storage.join(folder, f"train-{index:05d}.parquet")
        write_table(train_url, train_table.slice(int(starts[first]), int(starts[last] - starts[first])))
        test_url = None
        if test is not None:
            a = int(np.searchsorted(test_series, lo, side="left"))
            b = int(np.searchsorted(test_series, hi, side="right"))
            rows = (int(test_starts[a]), int(test_starts[b])) if len(test_ids) else (0, 0)
            test_url = storage.join(folder, f"test-{index:05d}.parquet")
            write_table(test_url, test_table.slice(rows[0], rows[1] - rows[0]))
        refs.append(ChunkRef(index, last - first, train_url, test_url, data_hash, str(lo), str(hi)))
    return refs


def read_index(folder: str) -> list[ChunkRef] | None:
    """The refs of chunk files cut earlier, or None (absent or broken: cut again)."""
    rows = storage.read_json(storage.join(folder, INDEX))
    if not isinstance(rows, list):
        return None
    try:
        return [ChunkRef(**row) for row in rows]
    except TypeError:
        return None


def read_refs(refs, split: str, allow_gaps: bool = False) -> Panel:
    """One split of some chunk refs as one panel: chunk files the workbench wrote, or a user file's
    row groups (`workbench.sources.parquet.read_chunk`), read in this process."""
    return Panel.concat([read_chunk(r, allow_gaps) if r.spec else read_panel_file(getattr(r, split)) for r in refs])


def read_panel_file(url: str) -> Panel:
    """A chunk file written by `write_panel_chunks` (or `Panel.to_parquet`), local or remote."""
    fs, path = storage.url_fs(url)
    if storage.local_fs(fs):
        return Panel.read_parquet(path)
    table = pq.read_table(io.BytesIO(fs.cat_file(path)))
    raw = (table.schema.metadata or {}).get(_META_KEY)
    meta = json.loads(raw) if raw else {}
    return Panel(df=table.to_pandas(), **meta)
