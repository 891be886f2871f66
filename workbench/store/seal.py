"""A unit record's file text: sealed with its own sha256 when committed, checked and parsed when read.

The seal is the sha256 of the record's text as written without it, appended as the record's last
field (`record_sha256`), so an edited record is caught by hashing a kilobyte, without
re-serialising anything. Records of the first store format (`metrics/<key>.parquet` beside a
`metrics_sha256` field, no seal) are read in today's shape.
"""

from __future__ import annotations

import hashlib
import json

from workbench.store.kinds import DONE

__all__ = ["parse", "seal"]

_SEAL = b',\n "record_sha256": "'


def seal(record: dict) -> tuple[bytes, str]:
    """The record's file text, its sha256 appended as the last field, and that sha256."""
    body = json.dumps(record, sort_keys=True, indent=1, default=str).encode()  # ends in b"\n}"
    sha = hashlib.sha256(body).hexdigest()
    return body[:-2] + _SEAL + sha.encode() + b'"\n}', sha


def _sealed(data: bytes, sha: str) -> bool:
    tail = _SEAL + sha.encode() + b'"\n}'
    if data.endswith(tail) and hashlib.sha256(data[: -len(tail)] + b"\n}").hexdigest() == sha:
        return True
    body = {k: v for k, v in json.loads(data).items() if k != "record_sha256"}  # sealed as canonical JSON
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest() == sha


def _upgrade(record: dict) -> dict:
    """A record of the first store format (metrics/<key>.parquet beside a hash field) in today's shape."""
    if "tables" in record:
        return record
    key = record.get("key")
    tables = {}
    for table in ("metrics", "forecasts"):
        sha = record.get(f"{table}_sha256")
        if sha:
            tables[table] = {"path": f"{table}/{key}.parquet", "sha256": sha, "n_rows": None, "bytes": None}
    return {**record, "kind": record.get("kind", "forecast"), "tables": tables, "store_format": 1}


def parse(name: str, data: bytes) -> tuple[dict | None, str]:
    """(record, "") for a committed, self-consistent record of key `name`; (None, why) otherwise.
    Hashes no data file."""
    try:
        record = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "unparseable record"
    if not isinstance(record, dict):
        return None, "unparseable record"
    if record.get("key") != name:
        return None, f"record names key {record.get('key')!r}, not its file name"
    if "record_sha256" in record:
        if not _sealed(data, str(record["record_sha256"])):
            return None, "record edited after commit (record_sha256 mismatch)"
    elif record.get("store_format", 1) != 1 or "tables" in record:
        return None, "record without record_sha256"
    record = _upgrade(record)
    if record.get("status") not in DONE:
        return None, f"status {record.get('status')!r} is not one of {DONE}"
    if not isinstance(record.get("tables"), dict):
        return None, "record without a tables mapping"
    return record, ""
