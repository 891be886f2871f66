"""Notebook sweeps: one parameterized notebook executed over a grid of parameters with papermill.

`load_notebook_sweep(path)` validates a sweep file against the notebook's `parameters` cell before
anything runs; `run_notebook_sweep(sweep)` executes the cells in parallel (a local process pool or a
Dask cluster), skips cells already complete, and isolates failures.

Names are re-exported lazily (PEP 562), so importing one submodule does not import the others.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = [
    "CellResult",
    "NotebookSweep",
    "SweepCell",
    "SweepError",
    "SweepSummary",
    "cell_complete",
    "load_notebook_sweep",
    "notebook_parameters",
    "run_cell",
    "run_notebook_sweep",
]

_WHERE = {
    "CellResult": "workbench.sweeps.execute",
    "cell_complete": "workbench.sweeps.execute",
    "run_cell": "workbench.sweeps.execute",
    "SweepSummary": "workbench.sweeps.runner",
    "run_notebook_sweep": "workbench.sweeps.runner",
    "NotebookSweep": "workbench.sweeps.spec",
    "SweepCell": "workbench.sweeps.spec",
    "SweepError": "workbench.sweeps.spec",
    "load_notebook_sweep": "workbench.sweeps.spec",
    "notebook_parameters": "workbench.sweeps.spec",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
