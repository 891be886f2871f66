"""A user card as a source: its files listed and fingerprinted here, described and read on workers.

Planning (`UserSource.plan`) runs on the client from metadata only: the file listing (`fs.find` /
`fs.info`: names, sizes, mtimes or ETags) and one small plan per file that a worker makes from the
file's parquet footer and its id column (CSV and wide files are first converted, once per file
version, into a long parquet in the chunk cache). Units are consecutive row groups of one file, at
most `chunk_size` series where the row groups allow, never splitting a series; a series found in
two files is an error naming both. Each unit then reads its own row groups on its worker.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench import storage
from workbench.data.cards import USER_SUBSET, UserCard
from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel
from workbench.errors import DataFormatError, UnknownNameError, WorkbenchError
from workbench.sources.files import UserFile, file_fingerprint, list_files, source_fingerprint
from workbench.sources.parquet import (
    cache_key,
    describe_file,
    id_hashes,
    read_chunk,
    read_fragment,
    row_group_refs,
)

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["UserSource", "check_plans", "load_user_panel", "verify_user", "without_id_hashes"]


class UserSource:
    """The series of a user card (`datasets/<name>.yaml` with a `source:` section)."""

    kind = "user"

    def __init__(self, card: UserCard) -> None:
        self.card = card
        self.name = card.name
        self._files: list[UserFile] | None = None

    # ---- metadata --------------------------------------------------------------------------
    def files(self) -> list[UserFile]:
        if self._files is None:
            self._files = list_files(self.card)
        return self._files

    def fingerprint(self) -> str:
        """Covers every file's version (pinned hash, else size + mtime/ETag) and the reader options."""
        return source_fingerprint(self.card, self.files())

    def read_spec(self) -> dict[str, Any]:
        """The options a worker needs to read any of this source's files (storage options included)."""
        src = self.card.source
        return {
            "layout": src.layout,
            "id_col": src.id_col,
            "time_col": src.time_col,
            "target_col": src.target_col,
            "time_format": src.time_format,
            "value_cols": list(src.value_cols),
            "metadata_cols": list(src.metadata_cols),
            "csv_options": dict(src.csv_options),
            "storage_options": dict(src.storage_options),
            "allow_missing": self.card.allow_missing,
            "meta": {
                "freq": self.card.freq,
                "season_length": self.card.season_length,
                "horizon": self.card.horizon,
                "name": f"{self.name}/{USER_SUBSET}",
            },
        }

    def _entries(self) -> list[dict[str, Any]]:
        out = []
        for f in self.files():
            fingerprint = file_fingerprint(self.card, f)
            out.append(
                {
                    "key": f.key,
                    "url": f.url,
                    "format": f.format,
                    "where": f.url,
                    "hive": f.hive,
                    "sha256": f.sha256,
                    "fingerprint": fingerprint,
                    "cache_key": cache_key(fingerprint, f.token),
                }
            )
        return out

    def describe(self, client: Any = None) -> list[dict[str, Any]]:
        """One plan per file, made on the workers (or here without a client); cached per file version.

        With a client, the cross-file check over every series id's hash runs on a worker too, and
        the plans come back without the hashes: the client's memory does not grow with the series."""
        entries, spec, root = self._entries(), self.read_spec(), storage.cache_url()
        if client is None:
            plans = [describe_file(e, spec, root) for e in entries]
            check_plans(plans, self._where(), self.card.n_series, spec)
            return plans
        futures = client.map(
            describe_file,
            entries,
            spec=spec,
            cache_root=root,
            pure=False,
            key=[f"describe-{e['cache_key']}" for e in entries],
        )
        checked = client.submit(check_plans, futures, self._where(), self.card.n_series, spec, pure=False)
        plans = client.gather(client.map(without_id_hashes, futures, pure=False))
        checked.result()  # raises the worker's DataFormatError here
        return plans

    def _where(self) -> str:
        return f"dataset card {self.card.path or self.name}"

    # ---- units -----------------------------------------------------------------------------
    def plan(self, chunk_size: int, client: Any = None) -> list[ChunkRef]:
        """The units' chunk refs: consecutive row groups of one file, a series never split."""

        spec = self.read_spec()
        files = {f.key: f for f in self.files()}
        refs: list[ChunkRef] = []
        for plan in self.describe(client):
            f = files[plan["key"]]
            chunk_spec = {**spec, "kind": plan["kind"], "where": f.url, "hive": f.hive, "csv": f.format == "csv"}
            chunk_spec["meta"] = {**spec["meta"], "attrs": self._attrs(plan["fingerprint"])}
            if plan["kind"] == "canonical":
                chunk_spec["storage_options"] = {}  # converted copies live in the chunk cache
            text = json.dumps(chunk_spec, sort_keys=True, default=str)
            refs += row_group_refs(plan, chunk_size, text, len(refs))
        return refs

    def _attrs(self, data_hash: str) -> dict[str, Any]:
        return {"dataset": self.name, "subset": USER_SUBSET, "split": "train", "data_hash": data_hash}

    # ---- whole data (the in-process reference path) -------------------------------------------
    def load(self, allow_gaps: bool = False) -> Panel:
        """Every series in this process (`evaluate_sequential`, small data); the engine never calls it."""
        refs = self.plan(chunk_size=1 << 30)
        if not refs:
            raise DataFormatError(f"dataset card {self.card.path or self.name}: the files hold no rows")
        frames = [read_chunk(r, allow_gaps).df for r in refs]
        df = pd.concat(frames, ignore_index=True)
        df = df.sort_values("unique_id", kind="stable").reset_index(drop=True)
        meta = self.read_spec()["meta"]
        return Panel(df=df, **meta, attrs=self._attrs(self.fingerprint()))

    def to_dask(self, chunk_size: int = 1000, client: Any = None) -> dd.DataFrame:
        """A Dask frame indexed by `unique_id`, one partition per unit: each reads its own row groups on
        a worker, a series never split; nothing is read here but footers and id columns."""
        import dask.dataframe as dd

        refs = self.plan(chunk_size, client)
        meta = self._meta_frame()
        return dd.from_map(_chunk_frame, refs, meta=meta, enforce_metadata=False)

    def _meta_frame(self) -> pd.DataFrame:
        cols = {
            "unique_id": pd.Series(dtype=object),
            "ds": pd.Series(dtype="datetime64[ns]"),
            "y": pd.Series(dtype="float64"),
        }
        if self.card.source.time_col is None:
            cols["ds"] = pd.Series(dtype="int64")
        for col in self.card.source.metadata_cols:
            cols[col] = pd.Series(dtype=object)
        return pd.DataFrame(cols).set_index("unique_id")


def _chunk_frame(ref) -> pd.DataFrame:
    return read_chunk(ref).df.set_index("unique_id")


def _id_with_hash(plan: dict[str, Any], value: int, spec: dict[str, Any]) -> str:
    """The series id behind a hash (an error message's culprit): reads one file's id column."""
    id_col = "unique_id" if plan["kind"] == "canonical" else spec["id_col"]
    so = {} if plan["kind"] == "canonical" else spec.get("storage_options", {})
    table, _ = read_fragment(plan["data_url"], so, None, [id_col])
    ids = pd.unique(table.column(0).to_pandas().astype(str).to_numpy())
    hit = np.flatnonzero(pd.util.hash_array(ids.astype(object)) == np.uint64(value))
    return str(ids[hit[0]]) if len(hit) else "?"


def without_id_hashes(plan: dict[str, Any]) -> dict[str, Any]:
    """A file's plan without its series-id hashes (only the cross-file check needs them)."""
    return {k: v for k, v in plan.items() if k != "id_hashes"}


def check_plans(plans: list[dict[str, Any]], where: str, n_series: int | None, spec: dict[str, Any]) -> None:
    """Every series lives in one file, and the files hold the series count the card declares."""
    sizes = [p["n_series"] for p in plans]
    hashes = np.concatenate([id_hashes(p) for p in plans]) if plans else np.array([], dtype="<u8")
    owner = np.repeat(np.arange(len(plans)), sizes)
    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if len(same):
        a, b = plans[owner[order[same[0]]]], plans[owner[order[same[0] + 1]]]
        uid = _id_with_hash(a, int(hashes[order[same[0]]]), spec)
        raise DataFormatError(
            f"{where}: series {uid!r} is in two files, {a['key']} and {b['key']}: each series must live in "
            "one file (partition by series, e.g. hive folders `bucket=07/`), so that no unit splits it"
        )
    total = int(sum(sizes))
    if n_series is not None and total != n_series:
        raise DataFormatError(
            f"{where}: the files hold {total} series, the card declares n_series: {n_series} "
            "(run `workbench datasets add` again, or drop n_series from the card)"
        )


def load_user_panel(card: UserCard, subset: str | None = None, split: str = "train") -> Panel:
    """A user card's one subset (`all`, split `train`) as a Panel, its files read where they are, each
    checked as it is read (`workbench.sources.load_panel` for a user card).

    Parameters
    ----------
    card:
        The user card.
    subset, split:
        Checked only: a user card has the one subset `all` with the one split `train`.
    """
    card.subset(subset or USER_SUBSET)
    if split != "train":
        raise UnknownNameError(f"split of {card.name}/{USER_SUBSET}", split, ["train"])
    return UserSource(card).load()


def verify_user(card: UserCard) -> list[dict[str, str]]:
    """One row (dataset, file, status, detail) per file of a user card, checked where it is: a pinned
    file against its sha256, the others listed as unpinned; an unreachable source is one `unavailable` row."""
    rows = []
    try:
        files = list_files(card)
    except WorkbenchError as exc:
        return [{"dataset": card.name, "file": str(card.source.path), "status": "unavailable", "detail": str(exc)}]
    for f in files:
        row = {"dataset": card.name, "file": f.key}
        if not f.sha256:
            rows.append({**row, "status": "ok", "detail": f"unpinned: {f.token}"})
            continue
        actual = storage.sha256_file(f.url, storage_options=card.source.storage_options)
        ok = actual == f.sha256
        detail = f"sha256:{actual[:16]}…" if ok else f"sha256 mismatch, expected {f.sha256}, got {actual}"
        rows.append({**row, "status": "ok" if ok else "corrupt", "detail": detail})
    return rows
