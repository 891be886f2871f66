"""A read-through filesystem for DuckDB over the files a manifest lists (the results store's SQL views).

DuckDB reads fsspec filesystems through `con.register_filesystem`; `for_duckdb` gives the one to
register for a set of remote files whose sizes the store's records already know.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from datetime import UTC, datetime

from fsspec import AbstractFileSystem

from workbench.storage.files import CHUNK, WHOLE, split

__all__ = ["KnownFiles", "for_duckdb"]


class KnownFiles(AbstractFileSystem):
    """A read-only view of `fs` for DuckDB (`con.register_filesystem`) that answers for the files a
    manifest lists (their sizes known) without a request, and fetches each whole, small file once.

    DuckDB's fsspec bridge asks for glob, exists, info, size and modified of every file and opens it
    twice (to bind, then to scan): against S3 that is a dozen HEAD requests per file. Here a listed
    file costs one GET; files not listed (a user's own `read_parquet('s3://...')`) go to `fs`."""

    cachable = False

    def __init__(self, fs: AbstractFileSystem, sizes: dict[str, int], cache_bytes: int = 256 << 20) -> None:
        super().__init__()
        self.fs = fs
        self.protocol = fs.protocol  # DuckDB routes the URLs of these protocols here
        self.sizes = {fs._strip_protocol(u): int(n) for u, n in sizes.items()}
        self.order = list(self.sizes)
        self.position = {p: i for i, p in enumerate(self.order)}
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._held = 0
        self._lock = threading.Lock()
        self.requests = 0

    def _strip(self, path: str) -> str:
        return self.fs._strip_protocol(path)

    def unstrip_protocol(self, name: str) -> str:
        return self.fs.unstrip_protocol(name)

    def glob(self, path, **kwargs):
        p = self._strip(path)
        return [p] if p in self.sizes else self.fs.glob(path, **kwargs)

    def exists(self, path, **kwargs):
        return self._strip(path) in self.sizes or self.fs.exists(path, **kwargs)

    def isfile(self, path):
        return self._strip(path) in self.sizes or self.fs.isfile(path)

    def isdir(self, path):
        return False if self._strip(path) in self.sizes else self.fs.isdir(path)

    def info(self, path, **kwargs):
        p = self._strip(path)
        if p in self.sizes:
            return {"name": p, "size": self.sizes[p], "type": "file"}
        return self.fs.info(path, **kwargs)

    def size(self, path):
        p = self._strip(path)
        return self.sizes[p] if p in self.sizes else self.fs.size(path)

    def modified(self, path):
        return datetime(1970, 1, 1, tzinfo=UTC) if self._strip(path) in self.sizes else self.fs.modified(path)

    def ls(self, path, detail=True, **kwargs):
        return self.fs.ls(path, detail=detail, **kwargs)

    def open(self, path, mode="rb", **kwargs):
        p = self._strip(path)
        if "r" not in mode or p not in self.sizes:
            return self.fs.open(path, mode, **kwargs)
        if self.sizes[p] > WHOLE:
            return self.fs.open(path, "rb", size=self.sizes[p], block_size=CHUNK, **kwargs)
        return io.BytesIO(self._bytes(p))

    def _bytes(self, path: str) -> bytes:
        with self._lock:
            data = self._cache.get(path)
            if data is not None:
                self._cache.move_to_end(path)
                return data
        # fetch this file and the small ones listed after it, concurrently: DuckDB reads in list order
        batch, budget = [path], WHOLE
        for other in self.order[self.position[path] + 1 : self.position[path] + 64]:
            if other in self._cache or self.sizes[other] > WHOLE or budget - self.sizes[other] < 0:
                break
            batch.append(other)
            budget -= self.sizes[other]
        fetched = self.fs.cat(batch, on_error="return") if len(batch) > 1 else {path: self.fs.cat_file(path)}
        self.requests += len(batch)
        data = fetched.get(path)
        if isinstance(data, BaseException) or data is None:
            data = self.fs.cat_file(path)
        with self._lock:
            for name, value in fetched.items():
                if isinstance(value, bytes) and name not in self._cache:
                    self._cache[name] = value
                    self._held += len(value)
            while self._held > self._cache_bytes and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._held -= len(dropped)
        return data


def for_duckdb(urls_and_sizes: dict[str, int]) -> KnownFiles | None:
    """The filesystem to register with DuckDB for these remote files (None when there are none)."""
    if not urls_and_sizes:
        return None
    fs, _ = split(next(iter(urls_and_sizes)))
    return KnownFiles(fs, urls_and_sizes)
