"""Units of work: what one Dask task computes, and the key that makes reruns resume.

A local model's unit is (task, model, chunk of series), covering every window of the task; a global
model's unit is (task, model, window) over all chunks, since it learns across series. The key
(`workbench.keys`) hashes the resolved task, the model spec, the data fingerprint, the chunk, the
code fingerprint of the model and the scoring core, and the seed, so a unit is recomputed exactly
when something that could change its numbers changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.data.chunks import ChunkRef
from workbench.keys import identity_key, unit_key, unit_payload
from workbench.models.spec import ModelSpec
from workbench.tasks import Task


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
