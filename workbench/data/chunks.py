"""ChunkRef: where a slice of a panel's series lies on disk.

It belongs to the data layer because sources write and read chunks; the engine only hands them to
its units, so nothing below the engine needs to import the engine for it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChunkRef"]


@dataclass(frozen=True)
class ChunkRef:
    """A slice of a panel's series on disk: train (and, for holdout tasks, test) parquet files.

    Two kinds: a chunk file the workbench wrote (`spec` empty: a Panel parquet holding exactly these
    series), or a part of a user's own file read in place (`spec`: the JSON read options, `row_groups`:
    which of the file's row groups, `key`: the file and row groups, stable when other files come and
    go). Paths may be local or fsspec URLs; `data_hash` is the fingerprint of the data the chunk
    reads (for a user file, that file's own: touching it changes only its units' keys)."""

    index: int
    n_series: int
    train: str
    test: str | None
    data_hash: str
    first_id: str = ""
    last_id: str = ""
    row_groups: tuple[int, ...] | None = None
    spec: str = ""
    key: str = ""
    n_rows: int | None = None

    def __post_init__(self) -> None:
        if self.row_groups is not None and not isinstance(self.row_groups, tuple):
            object.__setattr__(self, "row_groups", tuple(int(i) for i in self.row_groups))

    def part(self) -> tuple:
        """What a unit key records of this chunk: its place among the chunks and its series; for a
        part of a user file, the file and row groups instead of its position (files may be added)."""
        if self.key:
            return (self.key, self.first_id, self.last_id, self.n_series)
        return (self.index, self.first_id, self.last_id, self.n_series)
