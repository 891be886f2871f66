"""Pretrained weights, loaded once per process and shared by every unit that process computes.

A Dask worker computes many units one after another; loading a checkpoint for each of them would
cost more than the forecasts (Toto's 151 M parameters take seconds to read, TTM's load dominates a
unit of a few series). Every foundation adapter therefore asks `load` for its weights: the first
call in a process runs the adapter's loader, later calls with the same key get the same object.

The key says everything the loaded object depends on: the model family, the hub id or local path,
the revision, a content fingerprint of a local checkpoint (so weights replaced in place are loaded
again rather than served stale), the device, the dtype and any adapter-specific extra (TimesFM
compiles the model for a context and a horizon). Loading is thread-safe: a worker with several
threads that asks for one key at once loads it once (one lock per key; other keys load in parallel).

`stats()` counts loads and cache hits per key, which is what a test reads to see that two units on
one worker loaded a checkpoint once, and what each unit records (`weights` in its runtime facts).
A loaded model is shared and must not be changed in place: adapters that tune weights copy first.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import SourceUnavailableError
from workbench.storage import sha256_file

__all__ = [
    "MAX_ENTRIES",
    "WEIGHT_SUFFIXES",
    "Loaded",
    "WeightsKey",
    "clear",
    "file_sha256",
    "fingerprint",
    "load",
    "looks_local",
    "missing_checkpoint",
    "stats",
    "torch_facts",
]

# checkpoint files whose bytes define the weights (configs included: they shape the network)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".json")
MAX_ENTRIES = 8  # loaded models kept per process, least recently used dropped first
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # `org/name`: a hub id, not a local path


def looks_local(source: str) -> bool:
    """Whether a checkpoint `source` is written as a local path rather than a hub id.

    A path: absolute, starting with `.` or `~`, or holding a path separator anywhere but in the one
    `/` of a hub id (`org/name`): `a/b/c`, `models\\ttm`. A bare name or `org/name` is a hub id
    (which a folder of that name in the working directory shadows, as the hub libraries do), a URL
    (`s3://...`) neither. Such a path is a local folder that must exist: it is never looked up on
    the hub, whose answer would only say that no repository has that name.

    Parameters
    ----------
    source:
        The model's `model` parameter as given.
    """
    text = str(source)
    if "://" in text:
        return False
    if os.path.isabs(text) or text.startswith((".", "~")):
        return True
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    return any(sep in text for sep in separators) and not _HUB_ID.match(text)


def missing_checkpoint(source: str) -> str | None:
    """What is wrong with a `source` written as a local path that does not exist, with the fix;
    None for a hub id or an existing path. One message, for the grid's preflight and for a unit
    that meets the folder gone.

    Parameters
    ----------
    source:
        The model's `model` parameter as given.
    """
    path = Path(source).expanduser()
    if not looks_local(source) or path.exists():
        return None
    where = "" if str(path) == str(source) and path.is_absolute() else f" ({path.absolute()})"
    return (
        f"the checkpoint folder {source}{where} does not exist (a local path is read as a local folder, never as a "
        "hub id). Fix: download the model folder there, or give `model` an existing folder or a hub id (org/name)"
    )


@dataclass(frozen=True)
class WeightsKey:
    """What a loaded model depends on: family, source (hub id or path), revision, content
    fingerprint, device, dtype and an adapter's extra settings."""

    family: str
    source: str
    revision: str | None
    fingerprint: str
    device: str
    dtype: str
    extra: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class Loaded:
    """A model from the cache and how it was had: `hit` (already loaded in this process) and the
    seconds its load took (in this call when not a hit, else when it was first loaded)."""

    value: Any
    key: WeightsKey
    hit: bool
    load_s: float
    load_cpu_s: float = 0.0  # CPU seconds of this process spent loading (0 on a hit): a unit's cost sets it apart

    def describe(self) -> dict[str, Any]:
        """What a unit records of its weights."""
        return {
            "family": self.key.family,
            "source": self.key.source,
            "revision": self.key.revision,
            "fingerprint": self.key.fingerprint,
            "cache_hit": self.hit,
            "load_s": round(self.load_s, 4),
            "load_cpu_s": round(self.load_cpu_s, 4) if not self.hit else 0.0,
        }


@dataclass
class _Entry:
    value: Any
    load_s: float
    loads: int = 1
    hits: int = 0


@dataclass
class _Cache:
    entries: OrderedDict[WeightsKey, _Entry] = field(default_factory=OrderedDict)
    locks: dict[WeightsKey, threading.Lock] = field(default_factory=dict)
    history: dict[WeightsKey, list[int]] = field(default_factory=dict)  # loads and hits, evictions included
    guard: threading.Lock = field(default_factory=threading.Lock)


_CACHE = _Cache()
_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint(source: str, revision: str | None = None) -> str:
    """A local checkpoint's content hash (sha256 over its weight and config files, by name), or
    `hub:<id>@<revision>` for a hub id (a revision pins the hub's content). Cached per file
    listing with sizes and mtimes, so a file replaced in place is hashed again. A local path that
    does not exist is refused (`missing_checkpoint`), not taken for a hub id."""
    problem = missing_checkpoint(source)
    if problem is not None:
        raise SourceUnavailableError(problem)
    path = Path(source).expanduser()
    if not path.exists():
        return f"hub:{source}@{revision or 'main'}"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if stamp not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for p in files:
            digest.update(str(p.relative_to(path) if path.is_dir() else p.name).encode() + b"\0")
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        _FINGERPRINTS[stamp] = "sha256:" + digest.hexdigest()
    return _FINGERPRINTS[stamp]


def file_sha256(path: str | Path) -> str | None:
    """The sha256 of one file (e.g. a checkpoint's `model.safetensors`), None when it is absent;
    cached per path, size and mtime (every unit record of a pretrained model asks it)."""
    p = Path(path)
    if not p.is_file():
        return None
    st = p.stat()
    stamp = ("file", str(p.resolve()), st.st_size, st.st_mtime_ns)
    if stamp not in _FINGERPRINTS:
        _FINGERPRINTS[stamp] = sha256_file(p)
    return _FINGERPRINTS[stamp]


def load(
    family: str,
    source: str,
    loader: Callable[[], Any],
    *,
    revision: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    extra: tuple[Hashable, ...] = (),
) -> Loaded:
    """The model for this key, loaded by `loader()` on the first call in this process.

    A `source` written as a local path that does not exist is refused before `loader` runs
    (`SourceUnavailableError`, naming the path: `missing_checkpoint`)."""
    key = WeightsKey(family, str(source), revision, fingerprint(str(source), revision), str(device), dtype, extra)
    cache = _CACHE
    with cache.guard:
        hit = _hit(cache, key)
        if hit is not None:
            return hit
        lock = cache.locks.setdefault(key, threading.Lock())
    with lock:  # one loader per key; a second thread waits here and then finds the entry
        with cache.guard:
            hit = _hit(cache, key)
            if hit is not None:
                return hit
        start, cpu = time.perf_counter(), time.process_time()
        value = loader()
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        with cache.guard:
            cache.entries[key] = _Entry(value, seconds)
            cache.history.setdefault(key, [0, 0])[0] += 1
            while len(cache.entries) > MAX_ENTRIES:
                cache.entries.popitem(last=False)
    return Loaded(value, key, False, seconds, cpu_s)


def _hit(cache: _Cache, key: WeightsKey) -> Loaded | None:
    entry = cache.entries.get(key)
    if entry is None:
        return None
    entry.hits += 1
    cache.history.setdefault(key, [0, 0])[1] += 1
    cache.entries.move_to_end(key)
    return Loaded(entry.value, key, True, entry.load_s)


def stats() -> dict[str, Any]:
    """Loads and hits in this process: totals, and per key (family, source, fingerprint, device,
    dtype, loads, hits, whether it is still held)."""
    with _CACHE.guard:
        rows = [
            {
                "family": k.family,
                "source": k.source,
                "revision": k.revision,
                "fingerprint": k.fingerprint,
                "device": k.device,
                "dtype": k.dtype,
                "extra": list(k.extra),
                "loads": loads,
                "hits": hits,
                "held": k in _CACHE.entries,
            }
            for k, (loads, hits) in _CACHE.history.items()
        ]
    return {"loads": sum(r["loads"] for r in rows), "hits": sum(r["hits"] for r in rows), "keys": rows}


def clear() -> None:
    """Drop every loaded model and the counts (a test's fresh start; frees the memory)."""
    with _CACHE.guard:
        _CACHE.entries.clear()
        _CACHE.history.clear()
        _CACHE.locks.clear()


def torch_facts(module: Any) -> dict[str, Any]:
    """Device and dtype of a torch module's first parameter (what its forward passes run in)."""
    try:
        param = next(module.parameters())
    except (AttributeError, StopIteration, TypeError):
        return {}
    return {"device": str(param.device), "dtype": str(param.dtype).removeprefix("torch.")}
