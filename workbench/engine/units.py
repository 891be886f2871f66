"""Units of work: what one Dask task computes, and the key that makes reruns resume.

A local model's unit is (task, model, chunk of series), covering every window of the task; a global
model's unit is (task, model, window) over all chunks, since it learns across series. The key hashes
the task, the model spec, the data's content hash, the chunk, the workbench version and the seed, so
a unit is recomputed exactly when something that could change its numbers changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from workbench import __version__
from workbench.tasks import Task


class ModelSpec(BaseModel):
    """A registered model name and its parameters (a sweep file's `models:` entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: dict[str, Any] = {}

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

    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.name, self.params], sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]


def new_run_id() -> str:
    """A run's id: its UTC start time (sortable) and a random suffix (unique across processes)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ChunkRef:
    """A slice of a panel's series on disk: train (and, for holdout tasks, test) parquet files."""

    index: int
    n_series: int
    train: str
    test: str | None
    data_hash: str
    first_id: str = ""
    last_id: str = ""


@dataclass(frozen=True)
class Unit:
    task: Task
    model: ModelSpec
    chunks: tuple[ChunkRef, ...]
    seed: int = 0
    window: int | None = None  # set for global models: one window over all chunks
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        payload = {
            "task": self.task.key(),
            "model": self.model.key(),
            "data": sorted({c.data_hash for c in self.chunks}),
            "chunks": [(c.index, c.first_id, c.last_id, c.n_series) for c in self.chunks],
            "window": self.window,
            "version": __version__,
            "seed": self.seed,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]
