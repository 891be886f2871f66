"""Workbench: a time-series research workbench.

The public surface, for a notebook or a script (each name is imported on first use, PEP 562, so
`import workbench` loads neither pandas nor Dask):

    evaluate             the Dask engine: tasks × models -> units in the results store
    evaluate_sequential  the same units computed in this process (the reference path)
    Task                 what is evaluated (dataset and subset or your own frame, protocol, horizon)
    load_panel           a dataset subset as a Panel
    load_holdout         its train and test panels
    make_forecaster      a registered model by name, with its parameters checked
    ResultsStore         the results store (local folder or object-storage URL)
    leaderboard          the store's leaderboard (one row per task, model and metric)

The rest lives in the subpackages (`workbench.report`, `workbench.papers`, `workbench.anomaly`, ...);
`docs/glossary.md` defines the words.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = [
    "ResultsStore",
    "Task",
    "__version__",
    "evaluate",
    "evaluate_sequential",
    "leaderboard",
    "load_holdout",
    "load_panel",
    "make_forecaster",
]

# public name -> the module that defines it
_WHERE = {
    "evaluate": "workbench.engine.runner",
    "evaluate_sequential": "workbench.sequential",
    "Task": "workbench.tasks",
    "load_panel": "workbench.sources.dispatch",  # a catalog card or a user card
    "load_holdout": "workbench.data.catalog",
    "make_forecaster": "workbench.forecasters",
    "ResultsStore": "workbench.store.results_store",
    "leaderboard": "workbench.store.sql",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
