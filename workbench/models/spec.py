"""ModelSpec: a registered model's name and parameters, the form sweep files and calls name models in.

It lives with the models (not the engine) because the registry, leakage facts and paper drivers name
models this way without running anything on the engine.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["ModelSpec"]


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
