"""Where bytes live: local paths and fsspec URLs (`s3://`, `gs://`, `https://`, `file://`) alike.

Every read and write of a user's files, of chunk files and of plans goes through these few
functions, so the data, the chunk cache (`WORKBENCH_CACHE`, which may be a URL) and the workers that
read them may sit on different hosts. Local paths keep the fast path: pyarrow's own file system and
a temporary name renamed into place; object stores get one `put` per file, which is atomic there.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from workbench.atomic import atomic_write
from workbench.config import CACHE_ENV, cache_dir

# the facts `fs.info` gives that change when a file's bytes do, by file system
_TOKEN_KEYS = (
    "ETag",
    "etag",
    "md5Hash",
    "crc32c",
    "generation",
    "version_id",
    "VersionId",
    "LastModified",
    "last_modified",
    "updated",
    "mtime",
    "size",
)


def is_url(path: str) -> bool:
    return "://" in str(path)


def url_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(file system, path inside it) of a local path or fsspec URL."""
    fs, path = fsspec.core.url_to_fs(str(url), **(storage_options or {}))
    return fs, path


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def full_url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A URL another process can open: the plain path for local files, else `protocol://path`."""
    if is_local(fs):
        return path
    return fs.unstrip_protocol(path)


def arrow_fs(fs: fsspec.AbstractFileSystem):
    """The pyarrow file system for `fs`: pyarrow's own for local disks, else fsspec's handler."""
    import pyarrow.fs as pafs

    if is_local(fs):
        return pafs.LocalFileSystem()
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def file_token(info: dict[str, Any]) -> dict[str, Any]:
    """What `fs.info` says about a file's version: size plus mtime, ETag, generation... (what exists)."""
    out = {k: info[k] for k in _TOKEN_KEYS if info.get(k) is not None}
    return {k: (str(v) if not isinstance(v, int | float | str) else v) for k, v in out.items()}


# ---- the chunk cache ---------------------------------------------------------------------------
def cache_url() -> str:
    """Root of the chunk cache: `WORKBENCH_CACHE` as given (a local path or an fsspec URL)."""
    root = os.environ.get(CACHE_ENV)
    if root and is_url(root):
        return root.rstrip("/")
    return str(cache_dir())


def cache_join(*parts: str) -> str:
    root = cache_url()
    return posixpath.join(root, *parts) if is_url(root) else os.path.join(root, *parts)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_url(base) else os.path.join(base, *parts)


def write_bytes(url: str, data: bytes) -> None:
    """Whole file or nothing: rename from a temporary name locally, one put on object stores."""
    fs, path = url_fs(url)
    if is_local(fs):
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return
    fs.pipe_file(path, data)


def write_with(url: str, write: Callable[[Any], object]) -> None:
    """`write(target)` where target is a local temporary path or an in-memory buffer then put."""
    fs, path = url_fs(url)
    if is_local(fs):
        atomic_write(path, write)
        return
    buf = io.BytesIO()
    write(buf)
    fs.pipe_file(path, buf.getvalue())


def read_bytes(url: str) -> bytes:
    fs, path = url_fs(url)
    return fs.cat_file(path)


def exists(url: str) -> bool:
    fs, path = url_fs(url)
    return fs.exists(path)


def read_json(url: str) -> Any | None:
    """The JSON at `url`, or None when it is absent or unreadable (a broken cache entry is rebuilt)."""
    try:
        return json.loads(read_bytes(url))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None


def write_json(url: str, payload: Any) -> None:
    write_bytes(url, json.dumps(payload, default=str).encode())


def open_input(url: str, storage_options: dict[str, Any] | None = None):
    """A binary file object (for pyarrow, pandas); the caller closes it."""
    fs, path = url_fs(url, storage_options)
    return fs.open(path, "rb")
