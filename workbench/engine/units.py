"""Units of work: what one Dask task computes, and the key that makes reruns resume.

A local model's unit is (task, model, chunk of series), covering every window of the task; a global
model's unit is (task, model, window) over all chunks, since it learns across series. The key
(`workbench.keys`) hashes the resolved task, the model spec, the data fingerprint, the chunk, the
code fingerprint of the model and the scoring core, and the seed, so a unit is recomputed exactly
when something that could change its numbers changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from workbench.keys import identity_key, unit_key, unit_payload
from workbench.tasks import Task


class ModelSpec(BaseModel):
    """A registered model name and its parameters (a sweep file's `models:` entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: dict[str, Any] = {}

    @field_validator("params")
    @classmethod
    def _no_seed(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "seed" in value:
            raise ValueError(
                "`seed` is the run's (evaluate(seed=...), a grid file's `seed:`), handed to every model; "
                "a model's own generator seed, overriding it, is its `random_state` parameter"
            )
        return value

    @classmethod
    def of(cls, model: str | dict | ModelSpec) -> ModelSpec:
        """A spec from a name, a `{name, params}` mapping or a spec (the forms sweep files and calls use)."""
        return model if isinstance(model, ModelSpec) else cls(name=model) if isinstance(model, str) else cls(**model)

    @property
    def label(self) -> str:
        """`theta`, or `seasonal_naive(season_length=168)` when parameters are given."""
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in sorted(self.params.items()))})"

    def labelled(self, seed: int) -> str:
        """The label that results carry: `mlp (seed 3)` for a run seeded other than 0, so that the runs
        of one model under several seeds are told apart rather than counted as copies of one row."""
        return self.label if seed == 0 else f"{self.label} (seed {seed})"

    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.name, self.params], sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]


def new_run_id() -> str:
    """A run's id: its UTC start time (sortable) and a random suffix (unique across processes)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


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


@dataclass(frozen=True)
class Unit:
    task: Task
    model: ModelSpec
    chunks: tuple[ChunkRef, ...]
    seed: int = 0
    window: int | None = None  # set for global models: one window over all chunks
    code: str = ""  # code fingerprint of the model and the scoring core (set by the planner)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def payload(self) -> dict[str, Any]:
        return unit_payload(
            kind="forecast",
            task=self.task,
            model=self.model.key(),
            data=sorted({c.data_hash for c in self.chunks}),
            seed=self.seed,
            part={"chunks": [c.part() for c in self.chunks], "window": self.window},
        )

    @property
    def identity(self) -> str:
        """The key without the code fingerprint (what `reuse_across_code` matches on)."""
        return identity_key(self.payload)

    @property
    def key(self) -> str:
        return unit_key(self.payload, self.code)
