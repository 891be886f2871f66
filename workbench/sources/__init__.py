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
`evaluate_sequential`; the engine never calls it). `open_source(task)` picks the source of a task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.data.panel import Panel

if TYPE_CHECKING:
    from workbench.data.cards import DatasetCard
    from workbench.tasks import Task


class CatalogSource:
    """A subset of a catalog card; its chunk files are cut on a worker (`prepare_chunks`)."""

    kind = "catalog"

    def __init__(self, card: DatasetCard, subset: str, protocol: str = "holdout") -> None:
        self.card, self.subset, self.protocol = card, subset, protocol
        self.name = card.name

    @property
    def has_test(self) -> bool:
        return "test" in self.card.subset(self.subset).splits

    def fingerprint(self) -> str:
        from workbench.data.catalog import data_fingerprint

        train = data_fingerprint(self.card, self.subset, "train")
        if self.protocol == "holdout":
            return f"{train}+{data_fingerprint(self.card, self.subset, 'test')}"
        return train

    def panels(self) -> tuple[Panel, Panel | None]:
        from workbench.data.catalog import load_holdout, load_panel

        if self.protocol == "holdout":
            return load_holdout(self.name, self.subset)
        return load_panel(self.name, self.subset, "train"), None

    def plan_task(self, task: Task, chunk_size: int, client: Any = None) -> list:
        from workbench.engine.worker import prepare_chunks

        if client is None:
            return prepare_chunks(task, chunk_size)
        return client.submit(prepare_chunks, task, chunk_size, pure=False).result()


def open_source(task: Task) -> Any:
    """The source of a task: in-memory data by fingerprint, else the card named by `task.dataset`."""
    from workbench.data.cards import UserCard, get_card

    if task.data_fingerprint:
        from workbench.sources.memory import find

        return find(task.data_fingerprint, task.dataset)
    card = get_card(task.dataset)
    if isinstance(card, UserCard):
        from workbench.sources.user import UserSource

        return UserSource(card)
    return CatalogSource(card, task.subset, task.protocol)


def plan_chunks(task: Task, chunk_size: int, client: Any = None) -> list:
    """The chunk refs of a task's units, planned from metadata (the client reads no series)."""
    source = open_source(task)
    if isinstance(source, CatalogSource):
        return source.plan_task(task, chunk_size, client)
    return source.plan(chunk_size, client)


def task_panels(task: Task) -> tuple[Panel, Panel | None]:
    """(train, test or None) of a task's data, whole, in this process (the sequential reference path)."""
    source = open_source(task)
    if isinstance(source, CatalogSource):
        return source.panels()
    if hasattr(source, "panels"):
        return source.panels()
    return source.load(allow_gaps=task.gap_policy != "none"), None


def open_dataset(name: str) -> Any:
    """The source of a card by name (`open_dataset("mydata").to_dask()`), without a task."""
    from workbench.data.cards import UserCard, get_card

    card = get_card(name)
    if isinstance(card, UserCard):
        from workbench.sources.user import UserSource

        return UserSource(card)
    return CatalogSource(card, next(iter(card.subsets)))


__all__ = ["CatalogSource", "open_dataset", "open_source", "plan_chunks", "task_panels"]
