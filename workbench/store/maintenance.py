"""The store's integrity: re-hashing units' files against their records (`damage`, `verify`),
finding the files no record names (`orphans`) and removing old ones (`gc`).

Queries never hash a data file (the records are the manifest); a resumed run hashes exactly the
units it would reuse (`ResultsStore.complete` through `damages`); `verify` hashes everything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench import storage
from workbench.storage import Location
from workbench.store.kinds import TABLE_NAME
from workbench.store.seal import parse

if TYPE_CHECKING:
    from workbench.store.results_store import ResultsStore

__all__ = ["Verification", "damage", "damages", "gc", "orphans", "verify"]

_HASH_THREADS = max(2, min(8, os.cpu_count() or 2))
_REMOTE_THREADS = 16  # requests in flight when hashing remote objects: latency, not CPU, bounds them


@dataclass
class Verification:
    """What `verify` found: damaged units (key -> why) and orphan files."""

    root: Location
    n_units: int = 0
    n_files: int = 0
    n_bytes: int = 0
    seconds: float = 0.0
    damaged: dict[str, str] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    @property
    def mb_per_s(self) -> float:
        return self.n_bytes / 1e6 / self.seconds if self.seconds > 0 else float("nan")


def damage(store: ResultsStore, record: dict, on_bytes: Callable[[int], None] | None = None) -> str:
    """Why the unit's files do not match its record, or "" when they do."""
    for name, entry in sorted(record["tables"].items()):
        path = store.path(entry["path"])
        try:
            actual = storage.sha256_file(path, on_bytes, entry.get("bytes"))
        except FileNotFoundError:
            return f"{name}: file {entry['path']} missing"
        except OSError as exc:
            return f"{name}: file {entry['path']} unreadable ({exc})"
        if actual != entry["sha256"]:
            return f"{name}: file {entry['path']} does not match its recorded sha256"
    return ""


def damages(store: ResultsStore, records: list[dict], on_bytes: Callable[[int], None] | None = None) -> list[str]:
    """`damage` of each record, hashed on several threads (more at a URL, where requests wait)."""
    with ThreadPoolExecutor(_REMOTE_THREADS if store.remote else _HASH_THREADS) as pool:
        return list(pool.map(lambda r: damage(store, r, on_bytes), records))


def verify(
    store: ResultsStore,
    on_start: Callable[[int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Verification:
    """Re-hash every committed unit's files; name every damaged unit and every orphan file.

    Parameters
    ----------
    store:
        The store to check.
    on_start:
        Called once with the total bytes to hash, before hashing.
    on_bytes:
        Called with each chunk's size as it is hashed.
    """
    started = time.perf_counter()
    report = Verification(store.root)
    keys = [name[: -len(".json")] for name in sorted(storage.names(store.path("units"), ".json"))]
    records = []
    for key, data in zip(keys, storage.get_many([store.record_path(k) for k in keys]), strict=True):
        if isinstance(data, OSError):
            record, why = None, f"unreadable record ({data})"
        else:
            record, why = parse(key, data)
        if record is None:
            report.damaged[key] = why
        else:
            records.append(record)
    report.n_units = len(records) + len(report.damaged)
    total = 0
    for record in records:
        for entry in record["tables"].values():
            size = entry.get("bytes")
            if size is None:
                try:
                    size = storage.size(store.path(entry["path"]))
                except OSError:
                    size = 0
            total += size
            report.n_files += 1
    if on_start is not None:
        on_start(total)
    counted: list[int] = []

    def count(n: int) -> None:
        counted.append(n)
        if on_bytes is not None:
            on_bytes(n)

    for record, why in zip(records, damages(store, records, count), strict=True):
        if why:
            report.damaged[record["key"]] = why
    report.n_bytes = sum(counted)
    report.orphans = [store.relative(p) for p in orphans(store, records)]
    report.seconds = time.perf_counter() - started
    return report


def orphans(store: ResultsStore, records: list[dict]) -> list[Location]:
    """Files no committed record names: losers of a race, replaced units, unfinished temporaries."""
    named = {entry["path"] for r in records for entry in r["tables"].values()}
    out = []
    for sub in sorted(storage.folders(store.root)):
        if sub == "runs" or not TABLE_NAME.match(sub):
            continue
        for name in sorted(storage.names(store.path(sub))):
            rel = f"{sub}/{name}"
            if sub == "units" and not name.startswith("."):
                continue
            if rel not in named:
                out.append(store.path(rel))
    return out


def gc(store: ResultsStore, min_age_s: float = 3600.0, dry_run: bool = False) -> list[Location]:
    """Remove orphan files older than `min_age_s` (younger ones may belong to a unit being committed
    right now); returns what was (or, with `dry_run`, would be) removed. Best run while no writer is
    at work: a writer re-creating an old orphan's exact bytes under its name at the moment gc removes
    it would commit a unit whose file is gone (verify then names it and a resumed run recomputes it).

    Parameters
    ----------
    store:
        The store to clean.
    min_age_s:
        Orphans younger than this are left alone.
    dry_run:
        List what would be removed, remove nothing.
    """
    out = []
    for path in orphans(store, store.committed()):
        try:
            if storage.age_s(path) < min_age_s:
                continue
        except FileNotFoundError:
            continue
        out.append(path)
        if not dry_run:
            storage.remove(path)
    return out
