"""TimesFM 2.5 (google-research/timesfm): zero-shot point and quantile forecasts behind the registry.

`make_forecaster("timesfm", model="google/timesfm-2.5-200m-pytorch")` loads weights from a hub id or
a local folder; a compiled model object can be passed as `model_object=` (a small test model). The
model's quantile head gives the deciles 0.1..0.9; asked-for quantiles must be among them. Quantiles
are sorted per step (a quantile head is not guaranteed monotone); `y_hat` is the model's point
forecast. The compiled model is loaded once per process for each (weights, context, horizon
bucket) (`workbench.foundation.loading`); its pretraining corpus is not typed here, so its units
record leakage `unknown`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from workbench.foundation import loading
from workbench.foundation.base import PretrainedForecaster, needs_extra, weights_unavailable
from workbench.registry import ModelParams

__all__ = ["DECILES", "TimesFM", "TimesFMParams", "forecast_config", "load_weights"]

DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def forecast_config(max_context: int, horizon: int):
    import timesfm

    return timesfm.ForecastConfig(
        max_context=max_context,
        max_horizon=128 * math.ceil(horizon / 128),
        normalize_inputs=True,
        use_continuous_quantile_head=True,
    )


def load_weights(model: str, max_context: int, horizon: int) -> loading.Loaded:
    """The model compiled for this context and horizon bucket, once per process."""
    try:
        import timesfm
    except ImportError as exc:
        raise needs_extra("timesfm") from exc

    def read() -> Any:
        try:
            loaded = timesfm.TimesFM_2p5_200M_torch.from_pretrained(model, torch_compile=False)
        except Exception as exc:
            raise weights_unavailable("timesfm", model, exc) from exc
        loaded.compile(forecast_config(max_context, horizon))
        return loaded

    bucket = 128 * math.ceil(horizon / 128)  # what the compiled configuration depends on
    return loading.load("timesfm", model, read, device="auto", dtype="model", extra=(max_context, bucket))


class TimesFMParams(ModelParams):
    """Parameters of the TimesFM adapter."""

    model: str = Field("google/timesfm-2.5-200m-pytorch", description="hub id or local folder of the weights")
    quantiles: list[float] = Field([0.1, 0.5, 0.9], description=f"quantile levels, among the deciles {DECILES}")
    max_context: int = Field(1024, ge=1, description="most recent values given as context")
    model_object: Any = Field(None, description="a compiled TimesFM model object (e.g. a small test model)")

    @field_validator("quantiles")
    @classmethod
    def _deciles(cls, value: list[float]) -> list[float]:
        bad = [q for q in value if q not in DECILES]
        if bad:
            raise ValueError(f"timesfm gives the deciles {DECILES}; cannot give quantiles {bad}")
        return value


class TimesFM(PretrainedForecaster):
    """TimesFM 2.5 zero-shot point and decile forecasts (`foundation` extra); deterministic, no seed needed."""

    name = "timesfm"
    Params = TimesFMParams
    ready = "model_object"

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.quantiles = sorted(self.params.quantiles)

    def load_weights(self, h: int) -> loading.Loaded:
        return load_weights(self.params.model, self.params.max_context, h)

    def predict(self, h: int) -> pd.DataFrame:
        max_context = self.params.max_context
        model = self.loaded(h)
        values, lengths, _ = self.past_.to_numpy(pad="left")
        inputs = [row[len(row) - n :][-max_context:] for row, n in zip(values, lengths, strict=True)]
        with self.timed(len(inputs)):
            point, quantiles = model.forecast(horizon=h, inputs=inputs)
        deciles = np.asarray(quantiles)[:, :h, 1:]  # index 0 is the mean
        return self.forecast_frame(h, deciles, DECILES, point=point, keep=self.quantiles)
