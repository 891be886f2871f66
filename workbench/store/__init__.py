"""The results store: unit records and their tables, the commit, SQL views, verify and gc.

`results_store` commits and reads units; `records` builds a unit's record; `seal` seals and parses a
record's file text; `maintenance` re-hashes, finds orphans and cleans; `sql` holds the DuckDB views
and leaderboards (also broken down by series metadata); `failures` lists the failed units; `kinds`
the kinds of unit and the known tables.

Names are re-exported lazily (PEP 562), so importing one submodule does not import DuckDB; the
submodules themselves are imported by name (`from workbench.store import sql`).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["ResultsStore", "failed_units", "leaderboard", "results_root", "series_metrics"]

_WHERE = {
    "ResultsStore": "workbench.store.results_store",
    "results_root": "workbench.store.results_store",
    "leaderboard": "workbench.store.sql",
    "series_metrics": "workbench.store.sql",
    "failed_units": "workbench.store.failures",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
