"""Fetch a card's file into the user cache: mirror first, then the canonical URL, hash-verified.

Order: a verified copy already in the cache; else the offline mirror (`WORKBENCH_DATA_MIRROR`,
URL → path rule of the mirror's README); else a download from the canonical URL with pooch.
Bytes are checked before the file takes its final name, so a tampered or truncated file never
enters the cache. A small stamp beside each cached file remembers its verified size and mtime so
that warm loads do not re-hash large files; `verify` re-hashes regardless.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import urllib.parse
from pathlib import Path

import pooch

from workbench.config import MIRROR_ENV, cache_dir, mirror_root
from workbench.data.cards import FileSpec
from workbench.data.hashing import git_blob_sha1_file
from workbench.errors import DataIntegrityError, SourceUnavailableError
from workbench.storage import sha256_file

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "actual_hash",
    "cached_path",
    "check_hash",
    "fetch_file",
    "mirror_path",
    "mirror_relpath",
    "verify_file",
]

_RAW_PREFIX = "https://raw.githubusercontent.com/"
DOWNLOAD_TIMEOUT_S = 30

pooch.get_logger().setLevel(logging.WARNING)


def mirror_relpath(url: str) -> str:
    """The path of a URL under the mirror root (and under the cache's `files/` folder)."""
    if url.startswith(_RAW_PREFIX):
        return "github/" + urllib.parse.unquote(url[len(_RAW_PREFIX) :])
    parsed = urllib.parse.urlparse(url)
    return "other/" + parsed.netloc.replace(":", "_") + urllib.parse.unquote(parsed.path)


def mirror_path(url: str) -> Path | None:
    """The mirror's copy of a URL, or None when no mirror is set or it lacks the file."""
    root = mirror_root()
    if root is None or not url.startswith(_RAW_PREFIX):
        return None
    candidate = root / mirror_relpath(url)
    return candidate if candidate.is_file() else None


def cached_path(spec: FileSpec) -> Path:
    return cache_dir() / "files" / mirror_relpath(spec.url)


def actual_hash(spec: FileSpec, path: Path) -> str:
    return sha256_file(path) if spec.sha256 else git_blob_sha1_file(path)


def check_hash(spec: FileSpec, path: Path, source: str = "") -> None:
    """Raise DataIntegrityError naming the file and both hashes when the bytes differ."""
    got = actual_hash(spec, path)
    if got != spec.expected_hash:
        raise DataIntegrityError(spec.key, spec.hash_algorithm, spec.expected_hash, got, source or spec.url)


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_stamp(path: Path, spec: FileSpec) -> None:
    st = path.stat()
    stamp = {"hash": spec.expected_hash, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, _stamp_path(path))


def _stamp_valid(path: Path, spec: FileSpec) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"hash": spec.expected_hash, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _discard(path: Path) -> None:
    for p in (path, _stamp_path(path)):
        p.unlink(missing_ok=True)


def _make_downloader(spec: FileSpec, progressbar: bool):
    """A pooch downloader that copies from the mirror or downloads, then checks the hash.

    pooch writes into a temporary file and only moves it to its final name when the downloader
    returns, deleting it otherwise: raising here keeps bad bytes out of the cache.
    """

    def download(url: str, output_file: str, pooch_obj: object, check_only: bool = False) -> None:
        src = mirror_path(url)
        if src is not None:
            shutil.copyfile(src, output_file)
            check_hash(spec, Path(output_file), source=str(src))
            return
        http = pooch.HTTPDownloader(progressbar=progressbar, timeout=DOWNLOAD_TIMEOUT_S)
        try:
            http(url, output_file, pooch_obj)
        except Exception as exc:
            root = mirror_root()
            where = (
                f"the mirror {root} has no {mirror_relpath(url)}"
                if root
                else f"no offline mirror is set ({MIRROR_ENV} is unset)"
            )
            raise SourceUnavailableError(
                f"{spec.key}: cannot download {url} ({type(exc).__name__}: {exc}); {where}. "
                f"Without internet, set {MIRROR_ENV} to the absolute path of a mirror folder laid out "
                "as github/<owner>/<repo>/<commit>/<path>."
            ) from exc
        check_hash(spec, Path(output_file), source=url)

    return download


def fetch_file(spec: FileSpec, progressbar: bool = True) -> Path:
    """Return the path of a verified local copy of `spec`, fetching it if needed."""
    target = cached_path(spec)
    if target.exists():
        if _stamp_valid(target, spec):
            return target
        try:
            check_hash(spec, target, source=str(target))
            _write_stamp(target, spec)
            return target
        except DataIntegrityError:
            logging.getLogger(__name__).warning("cached %s is corrupt; fetching it again", target)
            _discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            spec.url,
            known_hash=None,
            fname=target.name,
            path=target.parent,
            downloader=_make_downloader(spec, progressbar),
        )
    finally:
        _remove_empty_dirs(target.parent)
    _write_stamp(target, spec)
    return target


def _remove_empty_dirs(folder: Path) -> None:
    """After a refused fetch, leave no empty folders behind in the cache."""
    root = cache_dir()
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def verify_file(spec: FileSpec) -> tuple[str, str]:
    """Re-hash the cached copy (fetching it first if absent): returns (status, detail)."""
    target = cached_path(spec)
    if not target.exists():
        fetch_file(spec, progressbar=False)
        return "ok", "fetched and verified"
    got = actual_hash(spec, target)
    if got != spec.expected_hash:
        _discard(target)
        return "corrupt", f"expected {spec.expected_hash}, got {got}; removed from cache"
    _write_stamp(target, spec)
    return "ok", f"{spec.hash_algorithm} {got[:12]}…"
