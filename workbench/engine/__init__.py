"""The Dask engine: task × model grids as units of work, resumable runs.

Names are re-exported lazily (PEP 562), so importing a submodule does not start the runner's imports.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RunSummary", "Unit", "evaluate"]

_WHERE = {
    "RunSummary": "workbench.engine.runner",
    "evaluate": "workbench.engine.runner",
    "Unit": "workbench.engine.units",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'workbench.engine' has no attribute {name!r}")
