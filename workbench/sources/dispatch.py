"""Which source a task, or a card's name, opens; and the reads that differ by card kind.

The sources layer sits below tasks: a task is handed in as anything with the fields a source reads
(`TaskData`), never imported, so `workbench.tasks` can build on sources without a circle.
"""

from __future__ import annotations

from typing import Any, Protocol

from workbench.data.cards import UserCard, get_card
from workbench.data.catalog import load_panel as load_catalog_panel
from workbench.data.catalog import verify_dataset as verify_catalog_dataset
from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel
from workbench.sources.catalog import CatalogSource
from workbench.sources.memory import find
from workbench.sources.user import UserSource, load_user_panel, verify_user

__all__ = ["TaskData", "load_panel", "open_dataset", "open_source", "plan_chunks", "task_panels", "verify_dataset"]


class TaskData(Protocol):
    """What a source reads of a task (`workbench.tasks.Task` has these fields)."""

    dataset: str
    subset: str
    protocol: str
    data_fingerprint: str | None
    gap_policy: str


def open_source(task: TaskData) -> Any:
    """The source of a task: in-memory data by fingerprint, else the card named by `task.dataset`.

    Parameters
    ----------
    task
        The task (its `dataset`, `subset`, `protocol`, `data_fingerprint`, `gap_policy`).
    """
    if task.data_fingerprint:
        return find(task.data_fingerprint, task.dataset)
    card = get_card(task.dataset)
    if isinstance(card, UserCard):
        return UserSource(card)
    return CatalogSource(card, task.subset, task.protocol)


def plan_chunks(task: TaskData, chunk_size: int, client: Any = None) -> list[ChunkRef]:
    """The chunk refs of a task's units, planned from metadata (the client reads no series).

    Parameters
    ----------
    task
        The task (its `dataset`, `subset`, `protocol`, `data_fingerprint`, `gap_policy`).
    chunk_size
        Series per chunk.
    client
        A Dask client on whose workers a card's chunks are cut or described; None: in this process.
    """
    return open_source(task).plan(chunk_size, client)


def task_panels(task: TaskData) -> tuple[Panel, Panel | None]:
    """(train, test or None) of a task's data, whole, in this process (the sequential reference path).

    Parameters
    ----------
    task
        The task (its `dataset`, `subset`, `protocol`, `data_fingerprint`, `gap_policy`).
    """
    source = open_source(task)
    if isinstance(source, UserSource):
        return source.load(allow_gaps=task.gap_policy != "none"), None
    return source.panels()


def open_dataset(name: str) -> Any:
    """The source of a card by name (`open_dataset("mydata").to_dask()`), without a task.

    Parameters
    ----------
    name
        A card's name: a user card's source, or a catalog card's first subset.
    """
    card = get_card(name)
    if isinstance(card, UserCard):
        return UserSource(card)
    return CatalogSource(card, next(iter(card.subsets)))


def load_panel(name: str, subset: str | None = None, split: str = "train", *, progress: bool = False) -> Panel:
    """One split of one subset of any card as a validated Panel: a catalog card's through the catalog's
    cache (`workbench.data.load_panel`), a user card's one subset (`all`, split `train`) read from its
    files where they are, each checked as it is read.

    Parameters
    ----------
    name:
        The card's name.
    subset:
        The subset (default: a catalog card's first; a user card's `all`).
    split:
        `train` or `test` (a user card has `train` only).
    progress:
        Show a progress bar while a catalog card's files are fetched.
    """
    card = get_card(name)
    if isinstance(card, UserCard):
        return load_user_panel(card, subset, split)
    return load_catalog_panel(name, subset, split, progress=progress)


def verify_dataset(name: str, *, progress: bool = True) -> list[dict[str, str]]:
    """Re-hash every file of any card: one row (dataset, file, status, detail) per file. A catalog
    card's cached files against the card (`workbench.data.verify_dataset`); a user card's files where
    they are, pinned ones against their hash, the others listed as unpinned.

    Parameters
    ----------
    name:
        The card's name.
    progress:
        Show a progress bar over a catalog card's files.
    """
    card = get_card(name)
    if isinstance(card, UserCard):
        return verify_user(card)
    return verify_catalog_dataset(name, progress=progress)
