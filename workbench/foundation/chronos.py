"""Chronos (amazon-science/chronos-forecasting): zero-shot quantile forecasts behind the registry.

`make_forecaster("chronos", model="amazon/chronos-bolt-small")` loads weights from a hub id or a
local folder (`model` may be a path); a ready pipeline object can be passed as `pipeline=`. Quantiles
are sorted per step, since a quantile head is not guaranteed monotone; `y_hat` is the median.
Nothing is trained, so the engine runs it per chunk of series like a local model. Chronos-Bolt's
quantile head is deterministic; the original Chronos samples paths, from torch's generator seeded
with `random_state`, else the run's seed, else 0 (torch's global state is restored afterwards).
The pipeline is loaded once per process (`workbench.foundation.loading`) and shared by the units a
worker computes; without a `device` it runs on a GPU when the process has one (the engine routes
its units to workers that advertise one), else on the CPU. Its pretraining corpus is not typed
here, so its units record leakage `unknown`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.foundation import loading
from workbench.foundation.base import PretrainedForecaster, needs_extra, weights_unavailable
from workbench.registry import ModelParams, Quantile, resolve_seed

__all__ = ["DEFAULT_QUANTILES", "Chronos", "ChronosParams", "load_weights"]

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


def load_weights(model: str, device: str | None = None) -> loading.Loaded:
    """The pipeline on `device` (default: a GPU when there is one) through the process's cache."""
    try:
        from chronos import BaseChronosPipeline
    except ImportError as exc:
        raise needs_extra("chronos") from exc
    from workbench.neural.trainer import pick_device

    where = str(pick_device(device))

    def read() -> Any:
        try:
            return BaseChronosPipeline.from_pretrained(model, device_map=where)
        except Exception as exc:
            raise weights_unavailable("chronos", model, exc) from exc

    return loading.load("chronos", model, read, device=where, dtype="model")


class ChronosParams(ModelParams):
    """Parameters of the Chronos adapter."""

    model: str = Field("amazon/chronos-bolt-small", description="hub id or local folder of the weights")
    quantiles: list[Quantile] = Field(list(DEFAULT_QUANTILES), description="quantile levels (0.5 is always added)")
    context_length: int | None = Field(None, ge=1, description="most recent values given as context; default: all")
    batch_size: int = Field(256, ge=1, description="series per forward pass")
    device: str | None = Field(None, description="torch device map; default: a GPU when there is one, else the CPU")
    random_state: int | None = Field(
        None, description="seed of sampled paths (original Chronos); default: the run's seed, else 0"
    )
    pipeline: Any = Field(None, description="a loaded Chronos pipeline object (e.g. a small test model)")


class Chronos(PretrainedForecaster):
    """Chronos / Chronos-Bolt zero-shot quantile forecasts (`foundation` extra)."""

    name = "chronos"
    Params = ChronosParams
    ready = "pipeline"

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.quantiles = sorted({*self.params.quantiles, 0.5})

    def load_weights(self) -> loading.Loaded:
        return load_weights(self.params.model, self.params.device)

    def torch_module(self) -> Any:
        return getattr(self._loaded, "model", None)

    def runtime_facts(self) -> dict[str, Any]:
        return {"batch_size": self.params.batch_size}

    def predict(self, h: int) -> pd.DataFrame:
        import torch

        values, lengths, _ = self.past_.to_numpy(pad="left")
        context = self.params.context_length
        batch = self.params.batch_size
        rows = []
        pipeline = self.loaded()
        with self.timed(len(values)), torch.random.fork_rng():  # the caller's generator state is left as it was
            torch.manual_seed(resolve_seed(self.params.random_state, self.seed, 0))
            for start in range(0, len(values), batch):
                contexts = []
                for row, n in zip(values[start : start + batch], lengths[start : start + batch], strict=True):
                    series = row[len(row) - n :]
                    contexts.append(torch.tensor(series[-context:] if context else series, dtype=torch.float32))
                with torch.no_grad():
                    q, _ = pipeline.predict_quantiles(contexts, prediction_length=h, quantile_levels=self.quantiles)
                rows.append(q.float().cpu().numpy())  # (series, h, quantiles)
        return self.forecast_frame(h, np.concatenate(rows, axis=0), self.quantiles)
