"""Where the chunk cache lives: `WORKBENCH_CACHE` as given, a local folder or an fsspec URL, so that
workers on other hosts read the chunks, plans and frames one process wrote."""

from __future__ import annotations

import os
import posixpath

from workbench.config import CACHE_ENV, cache_dir

__all__ = ["cache_join", "cache_url"]


def cache_url() -> str:
    """Root of the chunk cache: `WORKBENCH_CACHE` as given (a local path or an fsspec URL)."""
    root = os.environ.get(CACHE_ENV)
    if root and "://" in root:
        return root.rstrip("/")
    return str(cache_dir())


def cache_join(*parts: str) -> str:
    """A location under the chunk cache's root (a local path, or a URL joined with `/`)."""
    root = cache_url()
    return posixpath.join(root, *parts) if "://" in root else os.path.join(root, *parts)
