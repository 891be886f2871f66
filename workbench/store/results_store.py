"""The results store: one folder that every kind of result goes to, written by many processes at once.

Layout (root = `WORKBENCH_RESULTS`, default `./results`; a local folder, or an fsspec URL such as
`s3://bucket/results`: see "Object storage" below):

    units/<key>.json                       a unit's record: the commit (written last, atomic replace)
    <table>/<key>-<sha256[:16]>.parquet    the unit's rows of one table, named by the hash of its bytes
    runs/<run_id>.json                     one record per run: provenance, counts, timings

Tables (any name matching `[a-z_]+` other than `units` and `runs`; the known ones):

    metrics            per-series forecast metric rows (task_key, task, model, window, unique_id, metric, value),
                       one score unit (kind `score`) per forecast unit and metric
    forecasts          forecasts (task_key, model, window, unique_id, ds, y_hat, and quantile columns q0.1, ...
                       when the model gives them), one forecast unit (kind `forecast`) each
    detection_scores   per-row anomaly scores (task_key, model, unique_id, row, anomaly_score)
    detection_metrics  per-item or corpus detection metric rows (unique_id null for a corpus value),
                       with a boolean `higher_is_better` column
    claims             a paper's claimed-vs-reproduced rows (paper, table, method, metric, claimed, reproduced, ...)
    published_metrics  imported published per-task metrics (task, model, metric, value, task properties)

Every row of every table carries `unit` (the unit's key; added when the writer did not).

Writing one unit (`write_unit`): each table is serialised to parquet in memory, its bytes hashed,
written to a uniquely named temporary file, fsynced and renamed to its content-addressed name; the
table folders are fsynced; then the record, naming each table's path, sha256 and row count, is
written the same way to `units/<key>.json` (atomic replace) and its folder fsynced. The record is
the commit: a unit without one does not exist, and a record only ever names files that were whole
and durable before it was written. Two processes writing the same unit at once each write their own
files (different bytes, different names) and then race on the record: whichever rename lands last
wins, and the unit is then wholly that writer's; the loser's files are orphans, harmless, listed by
`verify` and removed by `gc`. Writers never delete anything.

Record fields: `key`, `kind` (one of KINDS; required), `status` (`ok`, `error` or `timeout`;
default `ok`), whatever the writer adds (run_id, task_key, task, dataset, subset, model, worker,
duration_s, ...), and the store's own: `tables` ({name: {path, sha256, n_rows, bytes, columns}},
`columns` being the file's [name, arrow type] pairs, so that a query knows every file's schema unread),
`store_format` (3: forecast units hold forecasts, their metrics are score units; 2: a forecast
unit held its metric rows, its task key hashed the metric set), `committed_at` (UTC),
`committed_by` (host:pid:token) and `record_sha256`: the sha256 of the record file's text as
written without that field, which is appended as its last line, so that an edited record is caught
by hashing a kilobyte, without re-serialising anything.

Reading: the record files are the manifest. `records()` and SQL queries read them and never hash
a data file. Measured (benchmarks/results_query.py --manifest-units 20000): reading and checking
20,000 records (20 MB) took 1.0-1.1 s, one JSONL file holding the same records 0.65-0.7 s, and
DuckDB opening those 20,000 one-row parquet files for a count 1.6 s more: the per-unit files, not
the manifest, dominate at that scale, and the record files are the single source of truth, need no
append (none on object stores), and stay right when two writers race, so no second manifest is
kept. `complete(keys)`, which decides what a resumed run reuses, hashes exactly the units it would
reuse; `verify()` hashes everything.

Object storage: a root that is an fsspec URL (`s3://bucket/prefix`, `gs://...`, `memory://...` in
tests; `workbench.storage` says where endpoints and credentials come from) holds the same layout.
There is no rename there, and none is needed: each data object is written under its
content-addressed name in one request (a PUT is whole or absent, never half-written), and the
record, in one more request, only after every data object's request has returned, so a reader that
sees a record finds its objects (S3 reads after a write see it), and a unit cut short before its
record stays invisible. fsync applies to local folders only. Listing, reading the records and
hashing go through fsspec, many requests at once; a local root never does (plain `os` calls, as
fast as before). All file-system access goes through `workbench.storage` (a `Path` is a local
file, a `str` a URL); the record's seal is `workbench.store.seal`, the integrity checks (`verify`,
`gc`) `workbench.store.maintenance`, the kinds and tables `workbench.store.kinds`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench import storage
from workbench.errors import WorkbenchError
from workbench.storage import Location
from workbench.store import maintenance
from workbench.store.kinds import DONE, KINDS, RESERVED, TABLE_NAME
from workbench.store.seal import parse, seal

__all__ = ["FORMAT", "RESULTS_ENV", "ResultsStore", "StoreRootError", "results_root", "superseded"]

RESULTS_ENV = "WORKBENCH_RESULTS"
FORMAT = 3
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class StoreRootError(WorkbenchError, NotADirectoryError):
    """A local store root that is, or lies below, a file: no store can be read or written there.

    Also a `NotADirectoryError` (what the first write would have raised), so callers that caught
    that keep catching it."""


def results_root(root: str | Path | None = None) -> Location:
    """The store's root: an absolute local Path, or a URL (`s3://bucket/prefix`) as a string.

    A local root that is an existing file, or lies below one, is refused here, before anything is
    read or written: otherwise the first commit would end in a bare `NotADirectoryError` after the
    work was done (a run's units computed, then nothing stored).

    Parameters
    ----------
    root:
        A folder or an fsspec URL; None: `WORKBENCH_RESULTS`, else `./results`.

    Raises
    ------
    StoreRootError
        The root, or a folder above it, is a file; the message names it and the fix.
    """
    location = storage.location(root or os.environ.get(RESULTS_ENV) or "results")
    if isinstance(location, Path):
        _check_local_root(location, root)
    return location


def _check_local_root(location: Path, given: str | Path | None) -> None:
    """Refuse a local root whose nearest existing path (itself or a parent) is not a folder."""
    origin = f" (from {RESULTS_ENV})" if not given and os.environ.get(RESULTS_ENV) else ""
    for path in (location, *location.parents):
        try:
            if not path.exists():
                continue
        except OSError:  # unreadable (permissions): left to the first write, which names it
            return
        if path.is_dir():
            return
        blocked = "is a file" if path == location else f"lies below {path}, which is a file"
        raise StoreRootError(
            f"results store {location}{origin} {blocked}, not a folder: a store is a folder holding units/, "
            "runs/ and one folder per table, so nothing can be read or written there. Fix: name a folder, new "
            f"or existing, as the store (--store, store=, or {RESULTS_ENV}), e.g. "
            f"{path.with_name(path.name + '-results')}, or move {path} away"
        )


class ResultsStore:
    """Write and read units and runs under one root (see the module docstring for the layout).

    `root`: a local folder, or an fsspec URL (`s3://bucket/prefix`); default WORKBENCH_RESULTS or
    ./results. `self.root` is then an absolute Path or the URL string, and every location the store
    hands out (`files`, `tables`, `table_path`, `gc`) is of the same kind.

    Parameters
    ----------
    root
        A local folder or an fsspec URL; None: `WORKBENCH_RESULTS`, else `./results` (`results_root`).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root: Location = results_root(root)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    @property
    def remote(self) -> bool:
        """True for a store at a URL (object storage), False for a local folder."""
        return not isinstance(self.root, Path)

    def path(self, rel: str) -> Location:
        """The location of `rel` (a path as records name them: `metrics/<key>-<sha>.parquet`).

        Parameters
        ----------
        rel
            A path relative to the root, `/`-separated.
        """
        return storage.join(self.root, rel)

    def relative(self, location: Location) -> str:
        """`location` as a path relative to the root (the inverse of `path`).

        Parameters
        ----------
        location
            A location under the root (a Path or a URL, as the store hands them out).
        """
        return storage.relative(self.root, location)

    def exists(self) -> bool:
        """True when the root exists (locally) or holds any object (at a URL)."""
        return storage.exists(self.root)

    def record_path(self, key: str) -> Location:
        """The location of a unit's record, `units/<key>.json`.

        Parameters
        ----------
        key
            The unit's key.
        """
        return self.path(f"units/{key}.json")

    # ---- writing (on workers) --------------------------------------------------------------------
    def write_unit(
        self,
        key: str,
        tables: dict[str, pd.DataFrame | None],
        record: dict,
    ) -> dict:
        """Commit one unit: its tables' parquet files first, then its record. Returns the record.

        `tables` maps table names (see TABLES; any `[a-z_]+` name) to frames; None or a frame
        without columns means "no such table for this unit". `record` must carry `kind` (one of
        KINDS); `status` defaults to `ok`.

        Parameters
        ----------
        key
            The unit's key: letters, digits, `.`, `_` and `-`.
        tables
            Table name -> frame (None or no columns: no such table); each row is stamped with `unit` = `key`.
        record
            The unit's record; `kind` required, `status` `ok` unless given.

        Raises
        ------
        TypeError
            `tables` or `record` is not a dict.
        ValueError
            A bad key, kind, status or table name, or a `unit` column naming another unit.
        """
        if not isinstance(tables, dict):
            raise TypeError("write_unit(key, tables: dict, record: dict)")
        if not isinstance(record, dict):
            raise TypeError("write_unit: record must be a dict")
        if not _KEY.match(key):
            raise ValueError(f"unit key {key!r}: use letters, digits, '.', '_' and '-' only")
        if record.get("key", key) != key:
            raise ValueError(f"unit key {key!r} differs from the record's key {record['key']!r}")
        if record.get("kind") not in KINDS:
            raise ValueError(f"unit {key}: record kind {record.get('kind')!r} is not one of {KINDS}")
        status = record.get("status", "ok")
        if status not in DONE:
            raise ValueError(f"unit {key}: status {status!r} is not one of {DONE}")
        payloads = {}
        for name, frame in tables.items():
            if not TABLE_NAME.match(name) or name in RESERVED:
                raise ValueError(f"table name {name!r}: use [a-z_]+, not {RESERVED}")
            if frame is None or len(frame.columns) == 0:
                continue
            payloads[name] = (*_parquet_bytes(frame, key), len(frame))
        entries = {}
        for name, (data, columns, n_rows) in payloads.items():
            sha = hashlib.sha256(data).hexdigest()
            rel = f"{name}/{key}-{sha[:16]}.parquet"
            storage.put(self.path(rel), data)  # durable: fsynced, renamed, its folder fsynced
            entries[name] = {"path": rel, "sha256": sha, "n_rows": n_rows, "bytes": len(data), "columns": columns}
        committed = json.loads(json.dumps(record, default=str))  # plain JSON values, as read back
        committed.update(
            key=key,
            status=status,
            tables=entries,
            store_format=FORMAT,
            committed_at=datetime.now(UTC).isoformat(),
            committed_by=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        )
        text, committed["record_sha256"] = seal(committed)
        storage.put(self.record_path(key), text)  # the commit: only after every data file's write returned
        return committed

    def write_run(self, record: dict) -> Location:
        """Write a run's record to `runs/<run_id>.json`; returns its location.

        Parameters
        ----------
        record
            The run's record (JSON-serialisable, with `run_id`).
        """
        path = self.path(f"runs/{record['run_id']}.json")
        storage.put(path, json.dumps(record, default=str, sort_keys=True, indent=1).encode())
        return path

    # ---- reading: committed records, no data file hashed -----------------------------------------
    def record(self, key: str, verify: bool = False) -> dict | None:
        """The unit's committed record, or None; with `verify`, None also when a file is damaged.

        Parameters
        ----------
        key
            The unit's key.
        verify
            Also hash the unit's data files, and return None when one is missing or damaged.
        """
        try:
            data = storage.get(self.record_path(key))
        except OSError:
            return None
        record, _ = parse(key, data)
        if record is None or (verify and maintenance.damage(self, record)):
            return None
        return record

    def committed(self) -> list[dict]:
        """Every committed record (parsed and self-consistent), sorted by key. Hashes no data file."""
        listed = self._listed_records()
        return [r for r in self._records(sorted(listed), listed) if r is not None]

    def _listed_records(self) -> dict[str, str | None]:
        """Key -> version tag of every record file (one listing request per 1,000 at a URL)."""
        return {name[: -len(".json")]: tag for name, tag in storage.listing(self.path("units"), ".json").items()}

    def _records(self, keys: list[str], listed: dict[str, str | None] | None = None) -> list[dict | None]:
        """The committed record of each key, or None. At a URL the records are fetched many at once,
        and with `listed` (from `_listed_records`) only those not read before at the same version,
        none for a key the listing lacks."""
        if listed is not None and self.remote:
            paths = {k: self.record_path(k) for k in keys if k in listed}
            tags = {paths[k]: listed[k] for k in paths}
            fetched = dict(zip(paths, storage.get_many(list(paths.values()), tags), strict=True))
        else:
            fetched = dict(zip(keys, storage.get_many([self.record_path(k) for k in keys]), strict=True))
        out = []
        for key in keys:
            data = fetched.get(key)
            out.append(None if data is None or isinstance(data, OSError) else parse(key, data)[0])
        return out

    def current(self, records: list[dict] | None = None) -> list[dict]:
        """The committed records that are not superseded: of the units doing the same work (one
        `identity`: task, model, data, seed, part) with different code, only the last committed
        counts; the older ones stay in the store (and in the `units` view, flagged) but never in a
        table's rows, so a leaderboard never mixes a result with its recomputation.

        Parameters
        ----------
        records
            Committed records to filter; None: every committed record.
        """
        records = self.committed() if records is None else records
        old = superseded(records)
        return [r for r in records if r["key"] not in old]

    def records(self) -> pd.DataFrame:
        """Every committed record as a frame, one row per unit, `superseded` marking the units
        recomputed since by other code."""
        records = self.committed()
        old = superseded(records)
        frame = pd.DataFrame(records)
        if len(frame):
            frame["superseded"] = frame["key"].isin(old)
        return frame

    def complete(self, keys: Iterable[str], retry_failed: bool = False) -> set[str]:
        """The keys among `keys` a resumed run may reuse: committed, ended ok (or in error/timeout
        unless `retry_failed`), and every file still hashing to its record. Hashes exactly those.

        Parameters
        ----------
        keys
            The unit keys to check.
        retry_failed
            Leave out units stored as failed (error or timeout), so that they are recomputed.
        """
        keys = list(keys)
        listed = self._listed_records() if self.remote else None  # at a URL: one listing, no request per absent key
        candidates = [r for r in self._records(keys, listed) if r and (r["status"] == "ok" or not retry_failed)]
        damage = maintenance.damages(self, candidates)
        return {r["key"] for r, why in zip(candidates, damage, strict=True) if not why}

    def files(self, table: str = "metrics", records: Iterable[dict] | pd.DataFrame | None = None) -> list[Location]:
        """The data files of `table` of every committed unit (or of `records`), without hashing.

        Parameters
        ----------
        table
            The table's name (`metrics` by default).
        records
            Unit records (dicts, or a frame with a `tables` column); None: every committed unit.
        """
        if records is None:
            records = self.committed()
        elif isinstance(records, pd.DataFrame):
            records = records.to_dict("records") if "tables" in records else []
        out = []
        for record in records:
            tables = record.get("tables")
            if isinstance(tables, dict) and table in tables:
                out.append(self.path(tables[table]["path"]))
        return out

    def tables(self, records: Iterable[dict] | None = None) -> dict[str, list[Location]]:
        """Table name -> data files, over every committed unit (or `records`).

        Parameters
        ----------
        records
            Unit records; None: every committed unit.
        """
        out: dict[str, list[Location]] = {}
        for record in self.committed() if records is None else records:
            for name, entry in record["tables"].items():
                out.setdefault(name, []).append(self.path(entry["path"]))
        return out

    def table_path(self, key: str, table: str) -> Location | None:
        """The committed data file of one unit's table, or None.

        Parameters
        ----------
        key
            The unit's key.
        table
            The table's name.
        """
        record = self.record(key)
        if record is None or table not in record["tables"]:
            return None
        return self.path(record["tables"][table]["path"])

    def read_table(self, table: str, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """The rows of `table` over every current unit (or those of `keys`), as one frame.

        Parameters
        ----------
        table
            The table's name (`metrics`, `forecasts`, ...).
        keys
            Read only these units (committed ones, superseded or not); None: every current unit.

        Raises
        ------
        FileNotFoundError
            A committed data file at a URL cannot be read.
        """
        records = self.current() if keys is None else [r for r in self._records(list(keys)) if r]
        paths = self.files(table, records)
        if not paths:
            return pd.DataFrame()
        if not self.remote:
            return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
        frames = []
        for path, data in zip(paths, storage.get_many(paths), strict=True):
            if isinstance(data, OSError):
                raise FileNotFoundError(f"{path}: a committed data file cannot be read ({data})")
            frames.append(pd.read_parquet(io.BytesIO(data)))
        return pd.concat(frames, ignore_index=True)

    def runs(self) -> pd.DataFrame:
        listed = storage.listing(self.path("runs"), ".json")
        paths = [self.path(f"runs/{name}") for name in sorted(listed)]
        tags = {self.path(f"runs/{name}"): tag for name, tag in listed.items()}
        rows = []
        for data in storage.get_many(paths, tags):
            try:
                if isinstance(data, OSError):
                    continue
                rows.append(json.loads(data))
            except json.JSONDecodeError:
                continue
        return pd.DataFrame(rows)

    # ---- checking and cleaning (workbench.store.maintenance) ------------------------------------
    def verify(
        self, on_start: Callable[[int], None] | None = None, on_bytes: Callable[[int], None] | None = None
    ) -> maintenance.Verification:
        """Re-hash every committed unit's files; name every damaged unit and every orphan file
        (`maintenance.verify`).

        Parameters
        ----------
        on_start
            Called once with the total bytes to hash, before hashing.
        on_bytes
            Called with each chunk's size as it is hashed.
        """
        return maintenance.verify(self, on_start, on_bytes)

    def gc(self, min_age_s: float = 3600.0, dry_run: bool = False) -> list[Location]:
        """Remove orphan files older than `min_age_s`; see `maintenance.gc`.

        Parameters
        ----------
        min_age_s
            Orphans younger than this (seconds) are left alone.
        dry_run
            List what would be removed, removing nothing.
        """
        return maintenance.gc(self, min_age_s, dry_run)

    # ---- convenience readers ---------------------------------------------------------------------
    def metrics(self) -> pd.DataFrame:
        return self.read_table("metrics")

    def forecasts(self, task_key: str | None = None, model: str | None = None) -> pd.DataFrame:
        """Stored forecasts of one task, model and window as a long frame (`unique_id`, `ds`, `y` = the
        forecast; `Panel.from_long` makes it a panel), optionally for one task and model label.

        Parameters
        ----------
        task_key
            Keep the forecasts of this task key; None: any.
        model
            Keep those of this model label; None: any.

        Raises
        ------
        FileNotFoundError
            The store holds no forecasts.
        KeyError
            None match `task_key` and `model`.
        ValueError
            Several tasks, models or windows match.
        """
        frame = self.read_table("forecasts")
        if frame.empty:
            raise FileNotFoundError(f"{self.root}: no stored forecasts (run with save_forecasts=True)")
        if task_key is not None:
            frame = frame[frame["task_key"] == task_key]
        if model is not None:
            frame = frame[frame["model"] == model]
        if frame.empty:
            raise KeyError(f"no stored forecasts for task {task_key!r} and model {model!r}")
        if frame[["task_key", "model", "window"]].drop_duplicates().shape[0] > 1:
            raise ValueError("several tasks, models or windows match: name one task_key and model (and filter window)")
        return frame.rename(columns={"y_hat": "y"})[["unique_id", "ds", "y"]].reset_index(drop=True)


def superseded(records: Iterable[dict]) -> set[str]:
    """Keys of the units whose work (`identity`) was committed again later by other code.

    Parameters
    ----------
    records
        Committed unit records; those without an `identity` are never superseded.
    """
    latest: dict[str, tuple[str, str]] = {}
    out = set()
    for record in records:
        identity = record.get("identity")
        if not identity:
            continue
        stamp = (str(record.get("committed_at", "")), record["key"])
        previous = latest.get(identity)
        if previous is None:
            latest[identity] = stamp
        elif stamp > previous:
            out.add(previous[1])
            latest[identity] = stamp
        else:
            out.add(record["key"])
    return out


def _parquet_bytes(frame: pd.DataFrame, key: str) -> tuple[bytes, list[list[str]]]:
    """The frame as parquet bytes, every row stamped with its unit's key, and its [name, type] columns."""
    if "unit" in frame.columns:
        if len(frame) and not (frame["unit"].astype(str) == key).all():
            raise ValueError(f"unit {key}: rows carry a different `unit` column")
    else:
        frame = frame.assign(unit=key)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), [[f.name, str(f.type)] for f in table.schema]
