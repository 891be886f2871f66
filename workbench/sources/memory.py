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
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from workbench import storage
from workbench.data.panel import Panel
from workbench.errors import WorkbenchError
from workbench.fingerprint import digest
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
    "register",
]

_REGISTRY: dict[str, Any] = {}
MEMORY_SUBSET = "all"


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

    def plan(self, chunk_size: int, client: Any = None) -> list:
        return self.refs


# ---- Dask DataFrames -----------------------------------------------------------------------------
def _materialize_part(
    pdf: pd.DataFrame, cache_root: str, meta: dict[str, Any], metadata_cols: list[str], allow_missing: bool
) -> dict[str, Any]:
    """One partition, on its worker: sorted, validated, hashed and written under its content hash."""
    if pdf.empty:
        return {"n_rows": 0}
    panel = Panel.from_long(
        pdf, source=f"partition of {meta.get('name') or 'a Dask frame'}", allow_missing=allow_missing, **meta
    )
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
    return {**plan, "kind": "canonical", "n_rows": len(df)}


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
    """Write a Dask frame's partitions as series-whole parquet parts (on the workers) and register them."""
    import dask

    if ddf.index.name == id_col and ddf.known_divisions:
        ddf = ddf.reset_index()  # a series lies within one partition already
    else:
        if ddf.index.name == id_col:
            ddf = ddf.reset_index()
        ddf = ddf.shuffle(on=id_col)  # every row of a series to one partition, across the workers
    ddf = ddf.rename(columns={id_col: "unique_id", time_col: "ds", target_col: "y"})
    meta = {"freq": freq, "season_length": season_length, "horizon": horizon, "name": name or "frame"}
    root = storage.cache_url()
    parts = [
        dask.delayed(_materialize_part)(p, root, meta, list(metadata_cols), allow_missing) for p in ddf.to_delayed()
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

    def plan(self, chunk_size: int, client: Any = None) -> list:

        refs = []
        for part in self.parts:
            spec = {
                "kind": "canonical",
                "where": part["data_url"],
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
