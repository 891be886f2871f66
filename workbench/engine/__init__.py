"""The Dask engine: task × model grids as units of work, resumable runs.

Names are re-exported lazily (PEP 562), so importing a submodule does not start the runner's imports.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["RunSummary", "Unit", "evaluate"]

_WHERE = {
    "RunSummary": "workbench.engine.runner",
    "evaluate": "workbench.engine.runner",
    "Unit": "workbench.engine.units",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
