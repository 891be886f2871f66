"""Notebook sweeps: one parameterized notebook executed over a grid of parameters with papermill.

`load_notebook_sweep(path)` validates a sweep file against the notebook's `parameters` cell before
anything runs; `run_notebook_sweep(sweep)` executes the cells in parallel (a local process pool or a
Dask cluster), skips cells already complete, and isolates failures.
"""

from workbench.sweeps.execute import CellResult, cell_complete, run_cell
from workbench.sweeps.runner import SweepSummary, run_notebook_sweep
from workbench.sweeps.spec import NotebookSweep, SweepCell, SweepError, load_notebook_sweep, notebook_parameters

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
