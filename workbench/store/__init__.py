"""The results store: unit records and their tables, the commit, SQL views, verify and gc.

`results_store` commits and reads units; `records` builds a unit's record; `seal` seals and parses a
record's file text; `maintenance` re-hashes, finds orphans and cleans; `sql` holds the DuckDB views
and leaderboards; `kinds` the kinds of unit and the known tables.

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
