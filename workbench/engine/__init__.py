"""The Dask engine: task × model grids as units of work, a results store, resumable runs."""

from workbench.engine.runner import RunSummary, evaluate
from workbench.engine.store import ResultsStore
from workbench.engine.units import ChunkRef, ModelSpec, Unit

__all__ = ["ChunkRef", "ModelSpec", "ResultsStore", "RunSummary", "Unit", "evaluate"]
