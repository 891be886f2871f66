"""The results store: unit records and their tables, the commit, SQL views, verify and gc.

`results_store` commits and reads units; `records` builds a unit's record; `seal` seals and parses a
record's file text; `maintenance` re-hashes, finds orphans and cleans; `sql` holds the DuckDB views
and leaderboards; `kinds` the kinds of unit and the known tables.

Names are re-exported lazily (PEP 562), so importing one submodule does not import DuckDB; the
submodules themselves are imported by name (`from workbench.store import sql`).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["ResultsStore", "leaderboard", "results_root"]

_WHERE = {
    "ResultsStore": "workbench.store.results_store",
    "results_root": "workbench.store.results_store",
    "leaderboard": "workbench.store.sql",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
