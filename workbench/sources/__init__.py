"""Sources: where a task's series come from, what they are (a fingerprint), and how they split into units.

    catalog card   CatalogSource   hash-pinned files, a card's reader; cut into chunk files on a worker
    user card      UserSource      a user's files read in place (local or fsspec URL, CSV or parquet,
                                   long or wide, one file or a partitioned folder); planned per file
    Panel          PanelSource     in this process already; chunk files cut here
    Dask frame     FrameSource     partitions written as parquet parts on the workers, never gathered
    chunk files    ChunkSource     ready-made chunk refs (a generator that ran on the workers)

Every source answers the same three questions: `fingerprint()` (what the data are: content hashes,
or sizes and mtimes/ETags, plus reader options), `plan(chunk_size, client)` (the units' chunk refs,
from metadata) and `panels()` (the whole data in this process, for the in-memory reference path
`evaluate_sequential`; the engine never calls it). `open_source(task)` picks the source of a task
(`workbench.sources.dispatch`). The layer imports neither tasks nor the engine: a task is handed in
as plain fields (`dispatch.TaskData`). Names are re-exported lazily (PEP 562), so importing one
source module does not import the others.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = [
    "CatalogSource",
    "load_panel",
    "open_dataset",
    "open_source",
    "plan_chunks",
    "task_panels",
    "verify_dataset",
]

_WHERE = {
    "CatalogSource": "workbench.sources.catalog",
    **{
        name: "workbench.sources.dispatch"
        for name in ("load_panel", "open_dataset", "open_source", "plan_chunks", "task_panels", "verify_dataset")
    },
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
