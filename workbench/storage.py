"""Where the results store lives: a local folder, or any fsspec URL (`s3://bucket/prefix`, `memory://...`).

A location is a `Path` (a local folder or file: plain paths and `file://` URLs; the store keeps its
own fast, fsync'ing code for these) or a URL string (`s3://bucket/results/units/k.json`). The
functions below take URL strings and run through fsspec:

    split(url) -> (fs, path)     the filesystem and its protocol-less path
    location(root)               a local root as an absolute Path, a URL without its trailing slash
    put, get, get_many, names, exists, size, age_s, remove, sha256

and, for a user's data files and the chunk cache (which may also be URLs, so that workers on other
hosts read them): url_fs, local_fs, full_url, arrow_fs, file_token, cache_url, cache_join,
write_bytes, write_with, read_json, write_json, open_input.

Options for a filesystem (endpoint, credentials, region) come from fsspec's and the filesystem's
own configuration, as for any fsspec user:

- s3fs passes no endpoint of its own to botocore, so botocore's `AWS_ENDPOINT_URL_S3` or
  `AWS_ENDPOINT_URL` (and `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
  `~/.aws/config` profiles) choose it;
- fsspec reads `FSSPEC_<PROTOCOL>_<OPTION>` variables when it is first imported (for example
  `FSSPEC_S3_ENDPOINT_URL=http://127.0.0.1:9000`, s3fs's `endpoint_url` argument),
  `FSSPEC_<PROTOCOL>` as a JSON object of options, and JSON/INI files in `~/.config/fsspec/`;
  in a running process, `fsspec.config.conf["s3"] = {...}` does the same;
- `WORKBENCH_STORAGE_OPTIONS`, a JSON object, is passed to every remote filesystem the store
  opens (`{"endpoint_url": "http://...", "key": "...", "secret": "..."}`), over the above.

Listings are never served from fsspec's listing cache (`use_listings_cache=False`): other
processes write to the same store, and a stale listing would hide their units.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from workbench.atomic import atomic_write
from workbench.config import CACHE_ENV, cache_dir

OPTIONS_ENV = "WORKBENCH_STORAGE_OPTIONS"
LOCAL_PROTOCOLS = ("file", "local")
Location = Path | str
_CHUNK = 8 << 20  # bytes per request when streaming a remote object
_WHOLE = 8 << 20  # remote objects up to this size are fetched in one request


def is_url(root: str | os.PathLike) -> bool:
    """True for a remote fsspec URL (`s3://...`, `memory://...`); False for a path or a `file://` URL."""
    if isinstance(root, os.PathLike):
        return False
    protocol, sep, _ = str(root).partition("://")
    return bool(sep) and protocol.split("::")[-1] not in LOCAL_PROTOCOLS and "/" not in protocol


def has_scheme(path: str | os.PathLike) -> bool:
    """True for anything written as a URL, `file://` included (a user's path is then taken as given,
    not resolved against the card's folder)."""
    return "://" in str(path)


def is_local(root: str | os.PathLike) -> bool:
    return not is_url(root)


def location(root: str | os.PathLike) -> Location:
    """A local root as an absolute Path (`file://` stripped), a remote one as its URL."""
    if is_url(root):
        fs, path = split(str(root))
        return fs.unstrip_protocol(path.rstrip("/") or path)
    text = str(root)
    for protocol in LOCAL_PROTOCOLS:
        if text.startswith(f"{protocol}://"):
            text = text[len(protocol) + 3 :]
    return Path(text).expanduser().resolve()


def join(root: Location, *parts: str) -> Location:
    if isinstance(root, Path):
        return root.joinpath(*parts)
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def relative(root: Location, path: Location) -> str:
    if isinstance(root, Path):
        return str(Path(path).relative_to(root))
    prefix = root.rstrip("/") + "/"
    if not str(path).startswith(prefix):
        raise ValueError(f"{path} is not under {root}")
    return str(path)[len(prefix) :]


def storage_options() -> dict[str, Any]:
    """The options of WORKBENCH_STORAGE_OPTIONS (a JSON object), or none."""
    raw = os.environ.get(OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{OPTIONS_ENV} is not valid JSON ({exc})") from None
    if not isinstance(options, dict):
        raise ValueError(f"{OPTIONS_ENV} must be a JSON object of filesystem options")
    return options


def split(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of `url` (fsspec caches one instance per protocol and options) and the
    path within it."""
    fs, path = fsspec.core.url_to_fs(url, **{"use_listings_cache": False, **storage_options()})
    return fs, path


# ---- operations on URLs ------------------------------------------------------------------------------
def put(url: str, data: bytes) -> None:
    """One object written in a single request (a PUT: whole or not at all on an object store)."""
    fs, path = split(url)
    fs.pipe_file(path, data)


def get(url: str) -> bytes:
    fs, path = split(url)
    return fs.cat_file(path)


# Small objects read before, kept by (URL, version tag from a listing): a listing that shows the same
# ETag and size shows the same bytes, so a repeated query pays for the listing only.
_SEEN: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_SEEN_MAX = 128 << 20
_seen_bytes = 0
_seen_lock = threading.Lock()


def forget() -> None:
    """Drop the objects kept by `get_many` (the next reads fetch everything again)."""
    global _seen_bytes
    with _seen_lock:
        _SEEN.clear()
        _seen_bytes = 0


def _tag(entry: dict) -> str | None:
    """An object's version as a listing shows it (ETag and size), or None where there is none."""
    etag = entry.get("ETag") or entry.get("etag")
    return f"{etag}:{entry.get('size')}" if etag else None


def get_many(urls: list[str], tags: dict[str, str | None] | None = None) -> dict[str, bytes | BaseException]:
    """Every URL's bytes, fetched concurrently where the filesystem can (an exception in place of a
    missing or unreadable object). With `tags` (URL -> version tag from `listing`), objects read
    before at the same version are not fetched again."""
    global _seen_bytes
    if not urls:
        return {}
    tags = tags or {}
    out: dict[str, bytes | BaseException] = {}
    with _seen_lock:
        for url in urls:
            tag = tags.get(url)
            if tag is not None and (url, tag) in _SEEN:
                out[url] = _SEEN[(url, tag)]
    missing = [u for u in urls if u not in out]
    if not missing:
        return out
    fs, _ = split(missing[0])
    paths = {fs._strip_protocol(u): u for u in missing}
    try:
        fetched = fs.cat(list(paths), on_error="return")
    except FileNotFoundError as exc:  # raised by some filesystems when not one path exists
        return out | {u: exc for u in missing}
    if not isinstance(fetched, dict):  # a single path may come back bare
        fetched = {next(iter(paths)): fetched}
    for path, url in paths.items():
        value = fetched.get(path, FileNotFoundError(url))
        out[url] = value = value if isinstance(value, bytes | BaseException) else bytes(value)
        tag = tags.get(url)
        if tag is not None and isinstance(value, bytes):
            with _seen_lock:
                if (url, tag) not in _SEEN:
                    _SEEN[(url, tag)] = value
                    _seen_bytes += len(value)
                while _seen_bytes > _SEEN_MAX and _SEEN:
                    _seen_bytes -= len(_SEEN.popitem(last=False)[1])
    return out


def _entries(url: str) -> list[dict]:
    fs, path = split(url)
    try:
        return fs.ls(path, detail=True)
    except FileNotFoundError:
        return []


def _name(entry: dict) -> str:
    return entry["name"].rstrip("/").rsplit("/", 1)[-1]


def listing(url: str, suffix: str = "") -> dict[str, str | None]:
    """Name -> version tag (see `get_many`) of the objects directly under `url` ending in `suffix`."""
    out = {}
    for entry in _entries(url):
        name = _name(entry)
        if entry.get("type") == "file" and name.endswith(suffix) and not (suffix and name.startswith(".")):
            out[name] = _tag(entry)
    return out


def names(url: str, suffix: str = "", files_only: bool = True) -> list[str]:
    """Names of the objects directly under `url` ending in `suffix` (hidden names excluded when a
    suffix is asked for, as local temporaries are)."""
    out = []
    for entry in _entries(url):
        if files_only and entry.get("type") != "file":
            continue
        name = _name(entry)
        if name.endswith(suffix) and not (suffix and name.startswith(".")):
            out.append(name)
    return out


def folders(url: str) -> list[str]:
    return [_name(e) for e in _entries(url) if e.get("type") == "directory"]


def exists(url: str) -> bool:
    """True when `url` is an object, or a prefix with objects below it."""
    fs, path = split(url)
    return bool(fs.exists(path))


def size(url: str) -> int:
    fs, path = split(url)
    return int(fs.size(path))


def age_s(url: str) -> float:
    fs, path = split(url)
    modified = fs.modified(path)
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return (datetime.now(UTC) - modified).total_seconds()


def remove(url: str) -> None:
    fs, path = split(url)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def sha256(url: str, on_bytes: Callable[[int], None] | None = None, known_size: int | None = None) -> str:
    """The sha256 of an object, streamed (an object of known small size in one request)."""
    fs, path = split(url)
    h = hashlib.sha256()
    if known_size is not None and known_size <= _WHOLE:
        data = fs.cat_file(path)
        h.update(data)
        if on_bytes is not None:
            on_bytes(len(data))
        return h.hexdigest()
    with fs.open(path, "rb", block_size=_CHUNK, cache_type="none") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return h.hexdigest()


# ---- DuckDB ---------------------------------------------------------------------------------------------
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
        if self.sizes[p] > _WHOLE:
            return self.fs.open(path, "rb", size=self.sizes[p], block_size=_CHUNK, **kwargs)
        return io.BytesIO(self._bytes(p))

    def _bytes(self, path: str) -> bytes:
        with self._lock:
            data = self._cache.get(path)
            if data is not None:
                self._cache.move_to_end(path)
                return data
        # fetch this file and the small ones listed after it, concurrently: DuckDB reads in list order
        batch, budget = [path], _WHOLE
        for other in self.order[self.position[path] + 1 : self.position[path] + 64]:
            if other in self._cache or self.sizes[other] > _WHOLE or budget - self.sizes[other] < 0:
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


__all__ = [
    "OPTIONS_ENV",
    "KnownFiles",
    "Location",
    "exists",
    "for_duckdb",
    "forget",
    "get",
    "get_many",
    "is_local",
    "is_url",
    "join",
    "listing",
    "location",
    "names",
    "put",
    "relative",
    "sha256",
    "split",
    "storage_options",
]


# ---- data files and the chunk cache ----------------------------------------------------------------
# A user's files, chunk files and plans: local paths keep the fast path (pyarrow's own file system,
# a temporary name renamed into place); object stores get one put per file, which is atomic there.
# Their storage options come from the user's card, never from WORKBENCH_STORAGE_OPTIONS.

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


def url_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(file system, path inside it) of a local path or fsspec URL."""
    fs, path = fsspec.core.url_to_fs(str(url), **(storage_options or {}))
    return fs, path


def local_fs(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def full_url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A URL another process can open: the plain path for local files, else `protocol://path`."""
    if local_fs(fs):
        return path
    return fs.unstrip_protocol(path)


def arrow_fs(fs: fsspec.AbstractFileSystem):
    """The pyarrow file system for `fs`: pyarrow's own for local disks, else fsspec's handler."""
    import pyarrow.fs as pafs

    if local_fs(fs):
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
    if root and "://" in root:
        return root.rstrip("/")
    return str(cache_dir())


def cache_join(*parts: str) -> str:
    root = cache_url()
    return posixpath.join(root, *parts) if "://" in root else os.path.join(root, *parts)


def write_bytes(url: str, data: bytes) -> None:
    """Whole file or nothing: rename from a temporary name locally, one put on object stores."""
    fs, path = url_fs(url)
    if local_fs(fs):
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return
    fs.pipe_file(path, data)


def write_with(url: str, write: Callable[[Any], object]) -> None:
    """`write(target)` where target is a local temporary path or an in-memory buffer then put."""
    fs, path = url_fs(url)
    if local_fs(fs):
        atomic_write(path, write)
        return
    buf = io.BytesIO()
    write(buf)
    fs.pipe_file(path, buf.getvalue())


def read_json(url: str) -> Any | None:
    """The JSON at `url`, or None when it is absent or unreadable (a broken cache entry is rebuilt)."""
    try:
        return json.loads(get(url))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None


def write_json(url: str, payload: Any) -> None:
    write_bytes(url, json.dumps(payload, default=str).encode())


def open_input(url: str, storage_options: dict[str, Any] | None = None):
    """A binary file object (for pyarrow, pandas); the caller closes it."""
    fs, path = url_fs(url, storage_options)
    return fs.open(path, "rb")
