"""Files at a location: a local path or any fsspec URL (`s3://bucket/prefix`, `memory://...`).

A location is a `Path` or a string. A `Path`, a plain path string and a `file://` URL are local
files, reached through plain `os` calls (no fsspec: the results store lists, reads and hashes tens of
thousands of files, and a local root must stay as fast as a folder); any other URL goes through
fsspec, many requests at once where a call takes many locations. Every function below takes either.

    split(url) -> (fs, path)     the filesystem of a URL with the store's options, and its path
    location(root)               a local root as an absolute Path, a URL without its trailing slash
    put, get, get_many, names, listing, folders, exists, size, age_s, remove, sha256_file
    atomic_write, write_with, read_json, write_json

and, for a user's data files (whose storage options come from the user's card, never from
WORKBENCH_STORAGE_OPTIONS): url_fs, local_fs, full_url, arrow_fs, file_token, open_input.

Writes are whole or absent. Locally a file is written under a unique temporary name beside its
target (created with O_EXCL, so two writers never share one) and renamed over it; with `durable`
(the results store's commit) the file is fsynced before the rename and its folder after it, so the
rename survives a crash as well; the chunk cache and the reports do without those fsyncs. On an
object store there is no rename and none is needed: an object is written in one request (a PUT is
whole or not at all).

Options for a URL's filesystem (endpoint, credentials, region) come from fsspec's and the
filesystem's own configuration, as for any fsspec user:

- s3fs passes no endpoint of its own to botocore, so botocore's `AWS_ENDPOINT_URL_S3` or
  `AWS_ENDPOINT_URL` (and `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
  `~/.aws/config` profiles) choose it;
- fsspec reads `FSSPEC_<PROTOCOL>_<OPTION>` variables when it is first imported (for example
  `FSSPEC_S3_ENDPOINT_URL=http://127.0.0.1:9000`, s3fs's `endpoint_url` argument),
  `FSSPEC_<PROTOCOL>` as a JSON object of options, and JSON/INI files in `~/.config/fsspec/`;
  in a running process, `fsspec.config.conf["s3"] = {...}` does the same;
- `WORKBENCH_STORAGE_OPTIONS`, a JSON object, is passed to every filesystem `split` opens (the
  results store's, the cache's records) (`{"endpoint_url": "http://...", "key": "...", "secret": "..."}`),
  over the above.

Listings are never served from fsspec's listing cache (`use_listings_cache=False`): other
processes write to the same store, and a stale listing would hide their units.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

__all__ = [
    "CHUNK",
    "LOCAL_PROTOCOLS",
    "OPTIONS_ENV",
    "WHOLE",
    "Location",
    "age_s",
    "arrow_fs",
    "atomic_write",
    "exists",
    "file_token",
    "folders",
    "forget",
    "full_url",
    "get",
    "get_many",
    "has_scheme",
    "is_url",
    "join",
    "listing",
    "local_fs",
    "location",
    "make_dirs",
    "names",
    "open_input",
    "put",
    "read_json",
    "relative",
    "remove",
    "sha256_file",
    "size",
    "split",
    "storage_options",
    "url_fs",
    "write_json",
    "write_with",
]

OPTIONS_ENV = "WORKBENCH_STORAGE_OPTIONS"
LOCAL_PROTOCOLS = ("file", "local")
Location = Path | str
CHUNK = 8 << 20  # bytes per request when streaming a remote object
WHOLE = 8 << 20  # remote objects up to this size are fetched in one request
_LOCAL_CHUNK = 1 << 20  # bytes per read when hashing a local file


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


def _strip_local(text: str) -> str:
    for protocol in LOCAL_PROTOCOLS:
        if text.startswith(f"{protocol}://"):
            return text[len(protocol) + 3 :]
    return text


def _local(where: Location) -> Path | None:
    """The local path of `where`, or None for a remote URL (a Path is taken as it is: no parsing)."""
    if isinstance(where, Path):
        return where
    return None if is_url(where) else Path(_strip_local(str(where)))


def location(root: str | os.PathLike) -> Location:
    """A local root as an absolute Path (`file://` stripped), a remote one as its URL."""
    if is_url(root):
        fs, path = split(str(root))
        return fs.unstrip_protocol(path.rstrip("/") or path)
    return Path(_strip_local(str(root))).expanduser().resolve()


def join(root: Location, *parts: str) -> Location:
    """`root` / parts, of the same kind as `root` (a Path stays a Path, a string is joined with `/`)."""
    if isinstance(root, Path):
        return root.joinpath(*parts)
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def relative(root: Location, path: Location) -> str:
    """`path` relative to `root` (the inverse of `join`)."""
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
    """The fsspec filesystem of `url` with WORKBENCH_STORAGE_OPTIONS and no listing cache (fsspec
    caches one instance per protocol and options), and the path within it."""
    fs, path = fsspec.core.url_to_fs(url, **{"use_listings_cache": False, **storage_options()})
    return fs, path


def url_fs(url: str, storage_options: dict[str, Any] | None = None) -> tuple[AbstractFileSystem, str]:
    """(file system, path inside it) of a user's local path or fsspec URL, opened with the card's
    `storage_options` (never WORKBENCH_STORAGE_OPTIONS)."""
    fs, path = fsspec.core.url_to_fs(str(url), **(storage_options or {}))
    return fs, path


# ---- writing --------------------------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(folder: Path, durable: bool = False) -> None:
    """Create a local `folder` (and missing parents); with `durable`, each new entry is fsynced into
    its parent, so that a file renamed into it later survives a crash with its folder."""
    if folder.is_dir():
        return
    missing = [folder, *(p for p in folder.parents if not p.exists())]
    folder.mkdir(parents=True, exist_ok=True)
    if durable:
        for created in reversed(missing):
            _fsync_dir(created.parent)


def atomic_write(path: str | Path, write: bytes | Callable[[str], object], durable: bool = False) -> Path:
    """Write a local file whole or not at all: a reader (another worker, a resumed run, a SQL query)
    sees the old file or the complete new one, never half of it, and a failed write leaves nothing.

    Parameters
    ----------
    path:
        The file to write (its folder is created when missing).
    write:
        The bytes, or a function called with a temporary path beside `path` that writes the file
        there (pyarrow, pandas, nbformat writers); the temporary file exists, empty, with the usual
        permissions (0o666 less the umask), created exclusively, so that no two writers share one.
    durable:
        fsync the file before the rename and its folder after it (the results store's commit); off,
        a crash of the machine may lose a write that the rename announced.
    """
    path = Path(path)
    make_dirs(path.parent, durable)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            if isinstance(write, bytes | bytearray | memoryview):
                view = memoryview(write)
                while view:
                    view = view[os.write(fd, view) :]
            else:
                os.close(fd)
                fd = -1
                write(str(tmp))
                if durable:
                    fd = os.open(tmp, os.O_RDONLY)
            if durable:
                os.fsync(fd)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def put(where: Location, data: bytes, durable: bool = True) -> None:
    """Write `data` to `where` whole or not at all: locally through `atomic_write` (durable unless
    asked otherwise); at a URL in one request (a PUT: whole or absent on an object store; fsync
    applies to local files only)."""
    path = _local(where)
    if path is not None:
        atomic_write(path, data, durable)
        return
    fs, key = split(str(where))
    fs.pipe_file(key, data)


def write_with(where: str | Path, write: Callable[[Any], object]) -> None:
    """`write(target)` whole or not at all, where target is a local temporary path (`atomic_write`,
    no fsync) or, at a URL, an in-memory buffer that is then put in one request with `url_fs`."""
    path = _local(where)
    if path is not None:
        atomic_write(path, write)
        return
    buf = io.BytesIO()
    write(buf)
    fs, key = url_fs(str(where))
    fs.pipe_file(key, buf.getvalue())


def write_json(where: Location, payload: Any) -> None:
    """`payload` as JSON, whole or not at all (no fsync: a cache entry lost in a crash is rebuilt)."""
    put(where, json.dumps(payload, default=str).encode(), durable=False)


# ---- reading --------------------------------------------------------------------------------------------
def get(where: Location) -> bytes:
    """The file's bytes."""
    path = _local(where)
    if path is not None:
        with open(path, "rb") as f:
            return f.read()
    fs, key = split(str(where))
    return fs.cat_file(key)


def read_json(where: Location) -> Any | None:
    """The JSON at `where`, or None when it is absent or unreadable (a broken cache entry is rebuilt)."""
    try:
        return json.loads(get(where))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None


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


def get_many(where: list[Location], tags: dict[Location, str | None] | None = None) -> list[bytes | OSError]:
    """Each file's bytes, in order, or the OSError reading it gave. Local files are read one after
    the other; URLs are fetched concurrently where the filesystem can, and with `tags` (location ->
    version tag from `listing`) objects read before at the same version are not fetched again."""
    urls = [w for w in where if _local(w) is None]
    fetched = _fetch(urls, tags or {}) if urls else {}
    out: list[bytes | OSError] = []
    for item in where:
        if item not in fetched:
            try:
                out.append(get(item))
            except OSError as exc:
                out.append(exc)
            continue
        value = fetched[item]
        if isinstance(value, BaseException) and not isinstance(value, OSError):
            value = OSError(f"{item}: {type(value).__name__}: {value}")
        out.append(value)
    return out


def _fetch(urls: list[str], tags: dict[Location, str | None]) -> dict[str, bytes | BaseException]:
    global _seen_bytes
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


def open_input(url: str, storage_options: dict[str, Any] | None = None):
    """A binary file object of a user's file (for pyarrow, pandas); the caller closes it."""
    fs, path = url_fs(url, storage_options)
    return fs.open(path, "rb")


# ---- listing ----------------------------------------------------------------------------------------------
def _entries(url: str) -> list[dict]:
    fs, path = split(url)
    try:
        return fs.ls(path, detail=True)
    except FileNotFoundError:
        return []


def _name(entry: dict) -> str:
    return entry["name"].rstrip("/").rsplit("/", 1)[-1]


def _wanted(name: str, suffix: str) -> bool:
    """A name ending in `suffix`; hidden names (temporary files) excluded when a suffix is asked for."""
    return name.endswith(suffix) and not (suffix and name.startswith("."))


def names(folder: Location, suffix: str = "") -> list[str]:
    """Names of the files directly in `folder` ending in `suffix` (see `_wanted`); none when it is absent."""
    path = _local(folder)
    if path is None:
        return [_name(e) for e in _entries(str(folder)) if e.get("type") == "file" and _wanted(_name(e), suffix)]
    try:
        with os.scandir(path) as entries:
            return [e.name for e in entries if e.is_file() and _wanted(e.name, suffix)]
    except FileNotFoundError:
        return []


def listing(folder: Location, suffix: str = "") -> dict[str, str | None]:
    """`names` with each object's version tag at a URL (ETag and size, see `get_many`; None locally)."""
    if _local(folder) is not None:
        return dict.fromkeys(names(folder, suffix))
    out = {}
    for entry in _entries(str(folder)):
        name = _name(entry)
        if entry.get("type") == "file" and _wanted(name, suffix):
            out[name] = _tag(entry)
    return out


def folders(root: Location) -> list[str]:
    """Names of the folders directly in `root` (at a URL: the prefixes one level down)."""
    path = _local(root)
    if path is None:
        return [_name(e) for e in _entries(str(root)) if e.get("type") == "directory"]
    try:
        with os.scandir(path) as entries:
            return [e.name for e in entries if e.is_dir()]
    except FileNotFoundError:
        return []


def exists(where: Location) -> bool:
    """True when `where` is a file or folder (at a URL: an object, or a prefix with objects below it)."""
    path = _local(where)
    if path is not None:
        return path.exists()
    fs, key = split(str(where))
    return bool(fs.exists(key))


def size(where: Location) -> int:
    path = _local(where)
    if path is not None:
        return path.stat().st_size
    fs, key = split(str(where))
    return int(fs.size(key))


def age_s(where: Location) -> float:
    """Seconds since the file was last written."""
    path = _local(where)
    if path is not None:
        return time.time() - path.stat().st_mtime
    fs, key = split(str(where))
    modified = fs.modified(key)
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return (datetime.now(UTC) - modified).total_seconds()


def remove(where: Location) -> None:
    """Delete the file; one already gone is no error."""
    path = _local(where)
    if path is not None:
        path.unlink(missing_ok=True)
        return
    fs, key = split(str(where))
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(key)


# ---- hashing ----------------------------------------------------------------------------------------------
def sha256_file(
    where: Location,
    on_bytes: Callable[[int], None] | None = None,
    known_size: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """The sha256 of a file, read in chunks, never whole in memory.

    Parameters
    ----------
    where:
        A local path or a URL.
    on_bytes:
        Called with the size of each chunk as it is hashed (progress bars).
    known_size:
        The object's size when known (from a record): a remote object of up to 8 MiB is then fetched
        in one request instead of streamed.
    storage_options:
        A user card's options for a URL (`url_fs`); without, the store's (`split`).
    """
    h = hashlib.sha256()
    path = _local(where)
    if path is not None:
        with open(path, "rb") as f:
            while chunk := f.read(_LOCAL_CHUNK):
                h.update(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        return h.hexdigest()
    fs, key = split(str(where)) if storage_options is None else url_fs(str(where), storage_options)
    if known_size is not None and known_size <= WHOLE:
        data = fs.cat_file(key)
        h.update(data)
        if on_bytes is not None:
            on_bytes(len(data))
        return h.hexdigest()
    with fs.open(key, "rb", block_size=CHUNK, cache_type="none") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return h.hexdigest()


# ---- a user's data files ----------------------------------------------------------------------------------
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


def local_fs(fs: AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def full_url(fs: AbstractFileSystem, path: str) -> str:
    """A URL another process can open: the plain path for local files, else `protocol://path`."""
    if local_fs(fs):
        return path
    return fs.unstrip_protocol(path)


def arrow_fs(fs: AbstractFileSystem):
    """The pyarrow file system for `fs`: pyarrow's own for local disks, else fsspec's handler."""
    import pyarrow.fs as pafs

    if local_fs(fs):
        return pafs.LocalFileSystem()
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def file_token(info: dict[str, Any]) -> dict[str, Any]:
    """What `fs.info` says about a file's version: size plus mtime, ETag, generation... (what exists)."""
    out = {k: info[k] for k in _TOKEN_KEYS if info.get(k) is not None}
    return {k: (str(v) if not isinstance(v, int | float | str) else v) for k, v in out.items()}
