"""Where the workbench reads and writes: cache, offline mirror, catalog of dataset cards.

Everything is resolved at call time from the environment so that tests and notebooks can move any
of these folders without reloading the package.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = [
    "CACHE_ENV",
    "CATALOG_ENV",
    "MIRROR_ENV",
    "PAPERS_ENV",
    "cache_dir",
    "catalog_dir",
    "catalog_path",
    "mirror_root",
    "papers_dir",
    "use_catalog",
    "user_catalog_dirs",
]

CACHE_ENV = "WORKBENCH_CACHE"
MIRROR_ENV = "WORKBENCH_DATA_MIRROR"
CATALOG_ENV = "WORKBENCH_CATALOG"

_PACKAGE = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE.parent
# A built wheel carries copies of the checkout's top-level `datasets/` and `papers/` here (setup.py's
# build_py); a source checkout and an editable install have no such folder and read the live ones.
_BUNDLED = _PACKAGE / "_bundled"


def _shipped(folder: str) -> Path:
    """`folder` of the installed package's bundled copy when there is one, else of the source checkout."""
    bundled = _BUNDLED / folder
    return bundled if bundled.is_dir() else _REPO_ROOT / folder


def cache_dir() -> Path:
    """User cache: `WORKBENCH_CACHE`, else the OS cache dir (e.g. ~/.cache/workbench). When
    `WORKBENCH_CACHE` is a URL (`s3://...`: the chunk cache every worker reads, see
    `workbench.storage.cache_url`), a host's own downloads and parsed panels stay in the OS
    cache dir."""
    root = os.environ.get(CACHE_ENV)
    if root and "://" not in root:
        return Path(root).expanduser()
    return Path(platformdirs.user_cache_dir("workbench"))


def mirror_root() -> Path | None:
    """Offline mirror of raw GitHub files (`WORKBENCH_DATA_MIRROR`), or None when unset."""
    root = os.environ.get(MIRROR_ENV)
    return Path(root).expanduser() if root else None


def catalog_dir() -> Path:
    """Folder of the shipped dataset cards: the installed package's copy of `datasets/` (a wheel), else
    `datasets/` of the source checkout (editable install)."""
    return _shipped("datasets")


def user_catalog_dirs() -> list[Path]:
    """The user's card folders: `WORKBENCH_CATALOG`, one folder or several joined by `os.pathsep`."""
    raw = os.environ.get(CATALOG_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def catalog_path() -> list[Path]:
    """Where cards are looked up: the shipped folder first (when there is one), then the user's folders
    (`WORKBENCH_CATALOG`, the CLI's `--catalog`). A user card never shadows a shipped one: a name used
    twice is an error naming both files."""
    shipped = catalog_dir()
    folders = [shipped] if shipped.is_dir() else []
    for folder in user_catalog_dirs():
        if folder.resolve() not in {f.resolve() for f in folders}:
            folders.append(folder)
    return folders


def use_catalog(folder: str | Path) -> None:
    """Put a user card folder first on `WORKBENCH_CATALOG` for this process and the workers it starts."""
    folder = str(Path(folder).expanduser().resolve())
    rest = [p for p in os.environ.get(CATALOG_ENV, "").split(os.pathsep) if p and p != folder]
    os.environ[CATALOG_ENV] = os.pathsep.join([folder, *rest])


PAPERS_ENV = "WORKBENCH_PAPERS"


def papers_dir() -> Path:
    """Folder of paper reproductions (`<id>/paper.yaml`, `<id>/reproduce.ipynb`): `WORKBENCH_PAPERS`,
    else the installed package's copy of `papers/` (a wheel), else `papers/` of the source checkout."""
    root = os.environ.get(PAPERS_ENV)
    return Path(root).expanduser() if root else _shipped("papers")
