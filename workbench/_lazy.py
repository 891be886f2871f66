"""Lazy re-exports (PEP 562): a package names where each of its public names is defined, and the
defining module is imported on first use, so importing the package (or one of its submodules)
does not import its siblings. One implementation for every package `__init__` that re-exports."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, which re-exports `where` (name -> module).

    Use as `__getattr__, __dir__ = lazy_exports(__name__, _WHERE)` in the package's `__init__`."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
