"""The results store: unit records and their tables, the commit, SQL views, verify and gc.

Names are re-exported lazily (PEP 562), so importing one submodule does not import DuckDB.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ResultsStore", "leaderboard", "results_root", "sql"]

_WHERE = {
    "ResultsStore": "workbench.store.results_store",
    "results_root": "workbench.store.results_store",
    "leaderboard": "workbench.store.sql",
}


def __getattr__(name: str) -> Any:
    if name == "sql":
        return importlib.import_module("workbench.store.sql")
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'workbench.store' has no attribute {name!r}")
