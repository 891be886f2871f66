"""A global MLP forecaster on the native trainer: the simplest neural baseline worth having.

Every series contributes sliding windows of `lags` inputs and `h` targets, each window scaled by the
mean absolute value of its inputs (so series of any level share one model); the last window of each
series is held out for early stopping. One model is trained across all series of the window it is
given, which is why the engine hands it a whole (task, window) rather than a chunk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field
from torch import nn

from workbench.forecasters import _ArrayForecaster
from workbench.neural.trainer import TrainingParams

__all__ = ["MLP", "MLPParams", "windows"]


def windows(values: np.ndarray, lengths: np.ndarray, lags: int, h: int, per_series: int) -> tuple[np.ndarray, ...]:
    """(x, y) training windows and (x, y) validation windows (the last of each series), scaled."""
    xs, ys, xv, yv = [], [], [], []
    width = values.shape[1]
    for row, n in zip(values, lengths, strict=True):
        x = row[width - n :]
        starts = range(max(0, n - lags - h - per_series), n - lags - h + 1)
        for k, s in enumerate(reversed(starts)):
            window, target = x[s : s + lags], x[s + lags : s + lags + h]
            scale = np.abs(window).mean() or 1.0
            (xv if k == 0 else xs).append(window / scale)
            (yv if k == 0 else ys).append(target / scale)

    def stack(a: list, cols: int) -> np.ndarray:
        return np.asarray(a, dtype=np.float32).reshape(-1, cols)

    return stack(xs, lags), stack(ys, h), stack(xv, lags), stack(yv, h)


class MLPParams(TrainingParams):
    """Parameters of the global MLP (the default seed is 0)."""

    lags: int | None = Field(None, ge=1, description="inputs per window; default 2 h")
    hidden: int = Field(64, ge=1, description="width of the two hidden layers")
    windows_per_series: int = Field(20, ge=1, description="training windows cut from the end of each series")
    epochs: int = Field(30, ge=1, description="most training epochs (early stopping may end sooner)")
    batch_size: int = Field(256, ge=1, description="training windows per batch")
    lr: float = Field(1e-3, gt=0, description="Adam's learning rate")
    patience: int = Field(5, ge=1, description="epochs without a better validation loss before stopping")


class MLP(_ArrayForecaster):
    """A global MLP on lag windows (lags -> hidden -> hidden -> h, ReLU), trained across all series."""

    name = "mlp"
    is_global = True
    Params = MLPParams

    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray:
        p = self.params
        lags = p.lags or 2 * h
        hidden = p.hidden
        x, y, xv, yv = windows(values, lengths, lags, h, p.windows_per_series)
        if not len(x) and not len(xv):
            raise ValueError(f"mlp: no series is longer than lags + h = {lags + h}; lower `lags`")
        if not len(x):  # one window per series: train on it, no separate validation
            x, y, xv, yv = xv, yv, None, None
        trainer = p.trainer(self.seed, 0)
        model = nn.Sequential(
            nn.Linear(lags, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, h)
        )
        self.result_ = trainer.fit(model, x, y, xv, yv)
        last = _last_inputs(values, lengths, lags)
        scale = np.abs(last).mean(axis=1, keepdims=True)
        scale[scale == 0] = 1.0
        return trainer.predict(self.result_.model, last / scale) * scale

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.result_.history)


def _last_inputs(values: np.ndarray, lengths: np.ndarray, lags: int) -> np.ndarray:
    """The last `lags` values of each series, left-padded with its first value when shorter."""
    out = values[:, -lags:].copy() if values.shape[1] >= lags else np.pad(values, ((0, 0), (lags - values.shape[1], 0)))
    for i, n in enumerate(lengths):
        if n < lags:
            first = values[i, values.shape[1] - n]
            out[i, : lags - n] = first
    return out
