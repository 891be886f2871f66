"""Git blob ids of files: how an upstream file that is not in the offline mirror is verified.

A git blob id is sha1(b"blob <size>\\0" + content): GitHub serves it for every file of a commit, so a
file can be checked against a pinned commit. (A file's sha256, the mirror manifest's hash, is
`workbench.storage.sha256_file`.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["git_blob_sha1_file"]


def git_blob_sha1_file(path: Path) -> str:
    """The git blob id of a local file, read in chunks."""
    header = f"blob {Path(path).stat().st_size}\0".encode()
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.sha1(header)).hexdigest()
