"""A catalog card's subset as a source (`CatalogSource`), cut into chunk files on a worker a batch of series at a time.

A card's reader either has a batched form (`workbench.data.readers.panel_stream`: M4's wide CSVs
are parsed `chunk_size` rows at a time, Monash's TSF files `chunk_size` lines at a time; NAB, wide
CSV and Cloud Monitoring cards a file at a time, files gathered until a chunk is full) or is read
whole (R data files: a binary R serialisation cannot be read in part). Each batch is validated as a
Panel with the subset's metadata, its test rows are taken from the test stream read in step (the
same series in the same order, or an error naming the first that differs), and its chunk files are
written before the next batch is read; so a streamed subset is never whole in any process. The
declared series and row counts are checked over all batches, and the index, which makes the chunks
visible, is written last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from workbench import storage
from workbench.data.cards import DatasetCard, get_card
from workbench.data.catalog import (
    check_counts,
    check_test_lengths,
    continue_steps,
    data_fingerprint,
    fetch_files,
    load_holdout,
    load_panel,
    split_options,
    split_panel,
)
from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel
from workbench.data.readers import stream_reader
from workbench.errors import DataFormatError
from workbench.sources.chunkfiles import read_index, write_chunks, write_index

__all__ = ["CUT_VERSION", "CatalogSource", "cut_catalog_chunks", "split_batches"]

CUT_VERSION = 3  # 2: batches in the file's order; 3: per-file batches gathered to a chunk (1: the whole subset)


class CatalogSource:
    """A subset of a catalog card under a protocol; its chunk files are cut on a worker (`cut_catalog_chunks`)."""

    kind = "catalog"

    def __init__(self, card: DatasetCard, subset: str, protocol: str = "holdout") -> None:
        self.card, self.subset, self.protocol = card, subset, protocol
        self.name = card.name

    @property
    def has_test(self) -> bool:
        return "test" in self.card.subset(self.subset).splits

    def fingerprint(self) -> str:
        """The train split's data fingerprint (and the test split's, for a holdout)."""
        train = data_fingerprint(self.card, self.subset, "train")
        if self.protocol == "holdout":
            return f"{train}+{data_fingerprint(self.card, self.subset, 'test')}"
        return train

    def panels(self) -> tuple[Panel, Panel | None]:
        """(train, test or None), whole, in this process (the sequential reference path)."""
        if self.protocol == "holdout":
            return load_holdout(self.name, self.subset)
        return load_panel(self.name, self.subset, "train"), None

    def plan(self, chunk_size: int, client: Any = None) -> list[ChunkRef]:
        """The units' chunk refs, cut once per (data, chunk size) into the chunk cache; later calls reuse them.

        Parameters
        ----------
        chunk_size:
            Series per chunk.
        client:
            A Dask client: the cut runs on one of its workers (the card's reader is read a batch of
            `chunk_size` series at a time where it can be, each batch written to the chunk cache,
            `WORKBENCH_CACHE`, a local folder or an fsspec URL every worker can reach, before the next is
            read). None: the cut runs here.
        """
        args = (self.name, self.subset, self.protocol, chunk_size)
        if client is None:
            return cut_catalog_chunks(*args)
        return client.submit(cut_catalog_chunks, *args, pure=False).result()


def split_batches(card: DatasetCard, subset: str, split: str, batch_series: int) -> Iterator[Panel]:
    """One split of a subset as validated Panels, a reader's batch (`batch_series`, or a file) at a time."""
    files = fetch_files(card.split_files(subset, split), desc=f"{card.name}/{subset}/{split}")
    stream = stream_reader(card.reader)(files, split_options(card, subset, split), batch_series)
    for frame in stream:
        yield split_panel(card, subset, split, frame, list(files))


def _series(panel: Panel) -> list[str]:
    return panel.df["unique_id"].drop_duplicates().tolist()


def _aligned(train: Panel, tests: Iterator[Panel], pending: list[Panel], where: str) -> Panel:
    """The test rows of exactly `train`'s series, from the test stream read in step with it."""
    want = _series(train)
    got: list[str] = []
    parts: list[Panel] = []
    while len(got) < len(want):
        part = pending.pop() if pending else next(tests, None)
        if part is None:
            raise DataFormatError(f"{where}: the test split ends before series {want[len(got)]!r}")
        ids = _series(part)
        take = min(len(ids), len(want) - len(got))
        if take < len(ids):  # the test batch runs past this train batch: keep the rest for the next
            part_ids = part.df["unique_id"]
            head = part_ids.isin(ids[:take])
            pending.append(Panel(df=part.df[~head].reset_index(drop=True), **part.meta()))
            part = Panel(df=part.df[head].reset_index(drop=True), **part.meta())
        parts.append(part)
        got += ids[:take]
    if sorted(got) != sorted(want):
        first = next(a for a, b in zip(sorted(want), sorted(got), strict=True) if a != b)
        raise DataFormatError(f"{where}: the test split's series are not the train split's; first differing {first!r}")
    return Panel.concat(parts)


def cut_catalog_chunks(dataset: str, subset: str, protocol: str, chunk_size: int) -> list[ChunkRef]:
    """Chunk refs of a catalog subset, cut once per (data, chunk size) into the chunk cache."""
    card = get_card(dataset)
    holdout = protocol == "holdout"
    data_hash = data_fingerprint(card, subset, "train")
    if holdout:
        data_hash = f"{data_hash}+{data_fingerprint(card, subset, 'test')}"
    name = f"{dataset}-{subset}-{protocol}-{data_hash[:24]}-{chunk_size}-v{CUT_VERSION}"
    folder = storage.cache_join("chunks", name)
    refs = read_index(folder)  # a broken index is rebuilt
    if refs is not None:
        return refs
    where = f"{dataset}/{subset}"
    tests = split_batches(card, subset, "test", chunk_size) if holdout else None
    pending: list[Panel] = []
    seen: set[str] = set()
    refs, n_rows = [], 0
    buffer: list[tuple[Panel, Panel | None]] = []  # batches smaller than a chunk (one file each) wait here
    buffered = 0  # series in `buffer`

    def flush() -> None:
        nonlocal buffered
        if buffer:
            train = Panel.concat([b[0] for b in buffer])
            test = Panel.concat([b[1] for b in buffer]) if holdout else None
            refs.extend(write_chunks(folder, train, test, chunk_size, data_hash, start=len(refs)))
            buffer.clear()
            buffered = 0

    for train in split_batches(card, subset, "train", chunk_size):
        ids = _series(train)
        repeated = seen.intersection(ids)
        if repeated:
            raise DataFormatError(f"{where}/train: series {sorted(repeated)[0]!r} appears in two places of the file")
        seen.update(ids)
        n_rows += len(train)
        test = None
        if tests is not None:
            test = _aligned(train, tests, pending, f"{where}/test")
            check_test_lengths(card, subset, test)
            test = continue_steps(train, test)
        buffer.append((train, test))
        buffered += len(ids)
        if buffered >= chunk_size:
            flush()
    flush()
    check_counts(card, subset, "train", len(seen), n_rows)
    if tests is not None:
        extra = pending[0] if pending else next(tests, None)
        if extra is not None:
            raise DataFormatError(f"{where}/test: series {_series(extra)[0]!r} is not in the train split")
        check_counts(card, subset, "test", len(seen), -1)  # every train batch got its test series
    write_index(folder, refs)
    return refs
