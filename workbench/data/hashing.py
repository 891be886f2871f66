"""Content hashes of files: sha256 (the mirror manifest) and git blob ids (upstream files).

A git blob id is sha1(b"blob <size>\\0" + content): GitHub serves it for every file of a commit, so a
file that is not in the offline mirror can still be verified against a pinned commit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1_file(path: Path) -> str:
    h = hashlib.sha1(f"blob {Path(path).stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
