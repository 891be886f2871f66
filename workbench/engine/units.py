"""Units of work: what one Dask task computes, and the key that makes reruns resume.

One type, `Unit`, for every kind the engine computes (`kind`):

- `forecast`: a local model's unit is (task, model, chunk of series), covering every window of the
  task; a global model's unit is (task, model, window) over all chunks, since it learns across
  series. It stores the forecasts (point and the model's quantile columns), never scores.
- `score`: one metric (with its parameters: the quantile levels a probabilistic metric scores) of
  one forecast unit, computed from its stored forecasts and the chunk's data. Its key names the
  forecast unit, so a rerun that asks for one more metric plans only that metric's units and fits
  nothing; its identity names the forecast unit's identity, so scores of a forecast recomputed by
  other code supersede the old ones with it.
- `detection`: (detection task, detector spec, chunk of items: `ItemChunk`).
- `series`: what the series of one chunk of a task are (their per-series metadata: a user card's
  `metadata_cols` and hive keys, the declared metric type, the number of observations), with no
  model: stored once per task and chunk, whatever the models, so every result can be broken down by
  what its series measure (`workbench.engine.series`).

The key (`workbench.keys`) hashes the resolved task (without its scoring fields), the model spec,
the data fingerprint, the part of the data (chunks, window, items), the code fingerprint and the
seed, so a unit is recomputed exactly when something that could change its numbers changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.data.chunks import ChunkRef
from workbench.keys import TaskIdentity, identity_key, unit_key, unit_payload
from workbench.models.spec import ModelSpec

__all__ = ["KINDS", "ItemChunk", "Unit"]

KINDS = ("forecast", "score", "detection", "series")


@dataclass(frozen=True)
class ItemChunk:
    """Some items of a detection task, on disk (item, unique_id, y in row order)."""

    index: int
    items: tuple[str, ...]
    path: str
    data_hash: str

    @property
    def n_series(self) -> int:
        """Items count as series in a unit's record, as a forecast chunk's series do."""
        return len(self.items)


@dataclass(frozen=True)
class Unit:
    """One unit of work of any kind (see the module docstring).

    `chunks` are the data it covers: chunk refs (forecast and score units) or one `ItemChunk`
    (detection). `window` is set for a global model's units (one window over all chunks). `code`
    is the code fingerprint, set by the planner (for a score unit: of the scoring core and the
    forecast unit's key). A score unit also names its forecast unit (`forecast`: key,
    `forecast_identity`) and its metric with the metric's parameters (`metric`)."""

    task: TaskIdentity
    model: ModelSpec | None
    chunks: tuple[ChunkRef | ItemChunk, ...]
    seed: int = 0
    window: int | None = None
    code: str = ""
    kind: str = "forecast"
    forecast: str | None = None
    forecast_identity: str | None = None
    metric: dict[str, Any] | None = field(default=None, hash=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unit kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "score" and (not self.forecast or not self.forecast_identity or not self.metric):
            raise ValueError("a score unit names its forecast unit (key and identity) and its metric")
        if (self.model is None) != (self.kind == "series"):
            raise ValueError("a series unit has no model; every other kind of unit has one")

    @property
    def payload(self) -> dict[str, Any]:
        """Everything but the code that determines the unit's numbers."""
        if self.kind == "detection":
            (chunk,) = self.chunks
            return unit_payload(
                kind="detection",
                task=self.task,
                model=self.model.key(),
                data=chunk.data_hash,
                seed=self.seed,
                part=list(chunk.items),
            )
        if self.kind == "series":
            (chunk,) = self.chunks
            return unit_payload(
                kind="series", task=self.task, model=None, data=chunk.data_hash, seed=0, part=chunk.part()
            )
        assert self.model is not None
        if self.kind == "score":
            return unit_payload(
                kind="score",
                task=self.task,
                model=self.model.key(),
                data=self.forecast_identity,
                seed=self.seed,
                part=dict(self.metric or {}),
            )
        return unit_payload(
            kind="forecast",
            task=self.task,
            model=self.model.key(),
            data=sorted({c.data_hash for c in self.chunks}),
            seed=self.seed,
            part={"chunks": [c.part() for c in self.chunks], "window": self.window},  # type: ignore[union-attr]
        )

    @property
    def identity(self) -> str:
        """The key without the code fingerprint (what `reuse_across_code` matches on)."""
        return identity_key(self.payload)

    @property
    def key(self) -> str:
        return unit_key(self.payload, self.code)

    @property
    def label(self) -> str:
        """The model's label with the seed where it matters; empty for a series unit (no model)."""
        return self.model.labelled(self.seed) if self.model is not None else ""

    @property
    def metric_name(self) -> str:
        """A score unit's metric."""
        return str((self.metric or {})["metric"])
