"""A user card's files: listing them (local folders, globs, object-store prefixes) and fingerprints.

A fingerprint says which version of the data a result was computed from, without reading it:

- a file pinned in the card (`source.sha256: {key: hash}`) is identified by its content hash (and is
  checked against it once per version, on a worker, before it is planned);
- any other file by what `fs.info` reports for it: size plus mtime (local disks), ETag or
  LastModified (S3), generation or md5 (GCS), ETag or size (HTTP);
- plus, for every file, the reader options and the card's declared metadata (frequency, season
  length, horizon, missing-value policy), so a changed option counts as new data.

Each chunk carries the fingerprint of its own file: touching one file recomputes that file's units
and no others. The source's fingerprint (`Panel.attrs["data_hash"]`) covers all files.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import storage
from workbench.data.cards import UserCard
from workbench.errors import DataFormatError
from workbench.fingerprint import digest

__all__ = [
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "USER_READER_VERSION",
    "UserFile",
    "file_fingerprint",
    "file_format",
    "list_files",
    "reader_options",
    "source_fingerprint",
]

# bump when the way user files are read changes for the same bytes: every user chunk key changes
USER_READER_VERSION = 1
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".csv.xz", ".tsv", ".txt")
_HIVE = re.compile(r"^([^=/]+)=([^/]*)$")


@dataclass(frozen=True)
class UserFile:
    """One data file of a user source."""

    key: str  # path relative to the source's root, posix separators (`bucket=07/part-0.parquet`)
    url: str  # what a worker opens (a local path or a URL)
    format: str  # parquet | csv
    token: dict[str, Any] = field(default_factory=dict)  # size + mtime / ETag / ...
    sha256: str | None = None  # pinned in the card
    hive: dict[str, str] = field(default_factory=dict)  # partition values from `key=value` folders

    def version(self) -> dict[str, Any]:
        """What identifies this file's bytes: the pinned hash, else size + mtime/ETag."""
        return {"sha256": self.sha256} if self.sha256 else self.token


def file_format(name: str, declared: str | None) -> str | None:
    if declared:
        return declared
    lower = name.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def _hidden(key: str) -> bool:
    """`_SUCCESS`, `_metadata`, `.crc` files and temporaries are not data."""
    return any(part.startswith(("_", ".")) for part in key.split("/"))


def _resolve(card: UserCard, raw: str) -> str:
    if storage.has_scheme(raw):
        return raw
    path = Path(raw).expanduser()
    return str(path if path.is_absolute() else (card.folder / path))


def list_files(card: UserCard) -> list[UserFile]:
    """Every data file of the card's source, sorted by key; errors name the card and the path."""
    spec = card.source
    out: dict[str, UserFile] = {}
    for raw in spec.paths:
        target = _resolve(card, raw)
        fs, path = storage.url_fs(target, spec.storage_options)
        where = f"dataset card {card.path or card.name}"
        try:
            if any(ch in path for ch in "*?["):
                found = fs.glob(path, detail=True)
                first = min(path.index(ch) for ch in "*?[" if ch in path)
                root = path[:first].rsplit("/", 1)[0]
            elif fs.isdir(path):
                found = fs.find(path, detail=True)
                root = path.rstrip("/")
            else:
                found = {path: fs.info(path)}
                root = posixpath.dirname(path.rstrip("/"))
        except FileNotFoundError:
            found = {}
        except OSError as exc:
            raise DataFormatError(f"{where}: source path {target}: {exc}") from exc
        files = {p: i for p, i in found.items() if i.get("type", "file") != "directory"}
        if not files:
            raise DataFormatError(f"{where}: source path {target}: no such file or folder (or it holds no files)")
        for name, info in files.items():
            key = posixpath.relpath(name, root) if root else name
            if _hidden(key):
                continue
            fmt = file_format(key, spec.format)
            if fmt is None:
                continue  # README.md, .crc and the like beside the data
            hive = {m.group(1): m.group(2) for part in key.split("/")[:-1] if (m := _HIVE.match(part))}
            out[key] = UserFile(
                key, storage.full_url(fs, name), fmt, storage.file_token(info), spec.sha256.get(key), hive
            )
    if not out:
        raise DataFormatError(
            f"dataset card {card.path or card.name}: no parquet or CSV file under {', '.join(spec.paths)}"
        )
    unknown = sorted(set(spec.sha256) - set(out))
    if unknown:
        raise DataFormatError(f"dataset card {card.path or card.name}: sha256 pins files that are not there: {unknown}")
    return [out[k] for k in sorted(out)]


def reader_options(card: UserCard) -> dict[str, Any]:
    """Everything besides the bytes that shapes the values read (storage options excluded: credentials)."""
    spec = card.source.model_dump(mode="json", exclude={"path", "storage_options", "sha256"})
    declared = {
        "freq": card.freq,
        "season_length": card.season_length,
        "horizon": card.horizon,
        "allow_missing": card.allow_missing,
    }
    return {"reader": spec, "declared": declared, "reader_version": USER_READER_VERSION}


def file_fingerprint(card: UserCard, file: UserFile) -> str:
    """The fingerprint of one file as this card reads it: what its units' keys hash."""
    return digest({"file": file.key, "version": file.version(), **reader_options(card)})


def source_fingerprint(card: UserCard, files: list[UserFile]) -> str:
    """The fingerprint of the whole source (every file's version plus the reader options)."""
    return digest({"files": [(f.key, f.version()) for f in files], **reader_options(card)})
