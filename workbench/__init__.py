"""Workbench: a time-series research workbench."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`workbench.evaluate(tasks, models, client=None, ...)`: the Dask engine, imported on first use."""
    if name == "evaluate":
        from workbench.engine import evaluate

        return evaluate
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
