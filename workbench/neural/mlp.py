"""A global MLP forecaster on the native trainer: the simplest neural baseline worth having.

Every series contributes sliding windows of `lags` inputs and `h` targets, cut from the series
scaled on its own past (`scaler`, standardised by default: `SeriesScaler`), so series of any level
share one model; the forecast is scaled back. The last window of each series is held out for early
stopping. One model is trained across all series of the window it is given, which is why the engine
hands it a whole (task, window) rather than a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field
from torch import nn

from workbench.forecasters import _ArrayForecaster
from workbench.neural.trainer import TrainingParams

__all__ = ["MLP", "MLPParams", "Scaling", "SeriesScaler", "windows"]


def windows(values: np.ndarray, lengths: np.ndarray, lags: int, h: int, per_series: int) -> tuple[np.ndarray, ...]:
    """(x, y) training windows and (x, y) validation windows (the last of each series) of the
    left-padded `values` (scaled by the caller: the windows are cut as they are)."""
    xs, ys, xv, yv = [], [], [], []
    width = values.shape[1]
    for row, n in zip(values, lengths, strict=True):
        x = row[width - n :]
        starts = range(max(0, n - lags - h - per_series), n - lags - h + 1)
        for k, s in enumerate(reversed(starts)):
            (xv if k == 0 else xs).append(x[s : s + lags])
            (yv if k == 0 else ys).append(x[s + lags : s + lags + h])

    def stack(a: list, cols: int) -> np.ndarray:
        return np.asarray(a, dtype=np.float32).reshape(-1, cols)

    return stack(xs, lags), stack(ys, h), stack(xv, lags), stack(yv, h)


Scaling = Literal["standard", "minmax", "none"]


@dataclass(frozen=True)
class SeriesScaler:
    """Per-series affine scaling, `(x - shift) / scale`, fitted on each series' past.

    A global model trained on raw values learns one mapping for series of every level, so the
    large series dominate its loss and the small ones are forecast badly; scaling each series on its
    own past (never on the horizon) puts them on one footing, as darts' `Scaler` does for darts'
    global models. `standard` (mean 0, standard deviation 1) suits a network trained on squared
    error: an outlier stretches the scale less than it stretches a min-max range, and the output
    layer is unbounded anyway. `minmax` maps each past onto [0, 1]; `none` leaves the values as they
    are. A past that is constant (or empty) gets a scale of 1, as sklearn's scalers give it: the
    series is shifted, never divided by zero.

    It lives beside the MLP, not in the trainer that the LTSF reproductions share, so that those
    units' code fingerprint does not change with it; a further global model of the workbench's own
    imports it from here."""

    shift: np.ndarray  # (n_series, 1)
    scale: np.ndarray  # (n_series, 1), positive

    @classmethod
    def fit(cls, kind: Scaling, values: np.ndarray) -> SeriesScaler:
        """The scaler of each row of `values` (n_series, time; NaN where a row is padded or missing).

        Parameters
        ----------
        kind
            `standard`, `minmax` or `none` (see the class docstring).
        values
            the series' past, one row per series; NaNs are left out of the statistics.
        """
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        if kind == "none":
            return cls(np.zeros((n, 1)), np.ones((n, 1)))
        if kind not in ("standard", "minmax"):
            raise ValueError(f"unknown scaler {kind!r}; use 'standard', 'minmax' or 'none'")
        present = ~np.isnan(values)
        empty = ~present.any(axis=1, keepdims=True)
        filled = np.where(empty, 0.0, values)  # an all-NaN row: shift 0, scale 1 (no warning from nan-reductions)
        if kind == "standard":
            shift, scale = np.nanmean(filled, axis=1, keepdims=True), np.nanstd(filled, axis=1, keepdims=True)
        else:
            low = np.nanmin(filled, axis=1, keepdims=True)
            shift, scale = low, np.nanmax(filled, axis=1, keepdims=True) - low
        # a constant past, up to rounding relative to its level: shift only
        flat = ~(scale > 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(shift)))
        return cls(shift, np.where(flat, 1.0, scale))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """`values` (n_series, k) on the fitted scale, each row with its own series' shift and scale."""
        return (values - self.shift) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Scaled `values` (n_series, k), a forecast say, back in each series' own units."""
        return values * self.scale + self.shift


class MLPParams(TrainingParams):
    """Parameters of the global MLP (the default seed is 0)."""

    lags: int | None = Field(None, ge=1, description="inputs per window; default 2 h")
    hidden: int = Field(64, ge=1, description="width of the two hidden layers")
    windows_per_series: int = Field(20, ge=1, description="training windows cut from the end of each series")
    epochs: int = Field(30, ge=1, description="most training epochs (early stopping may end sooner)")
    batch_size: int = Field(256, ge=1, description="training windows per batch")
    lr: float = Field(1e-3, gt=0, description="Adam's learning rate")
    patience: int = Field(5, ge=1, description="epochs without a better validation loss before stopping")
    scaler: Scaling = Field(
        "standard", description="each series scaled on its past, forecasts scaled back: standard, minmax or none"
    )


class MLP(_ArrayForecaster):
    """A global MLP on lag windows (lags -> hidden -> hidden -> h, ReLU), trained across all series."""

    name = "mlp"
    is_global = True
    Params = MLPParams

    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray:
        p = self.params
        lags = p.lags or 2 * h
        hidden = p.hidden
        scaler = SeriesScaler.fit(p.scaler, values)
        values = scaler.transform(values)
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
        return scaler.inverse(trainer.predict(self.result_.model, last))

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
