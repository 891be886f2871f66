"""Detectors beyond NAB's: a forecast-residual detector on any registered forecaster, pyod models,
and a rolling robust z-score.

Scores are squashed to [0, 1] with 2 Phi(z) - 1 = erf(z / sqrt 2) of a standardised deviation, the
same map for all, so that thresholds mean the same thing across detectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import erf

from workbench.anomaly.detectors.base import Detector
from workbench.errors import WorkbenchError


def _squash(z: np.ndarray) -> np.ndarray:
    """|z| -> erf(|z| / sqrt 2): 0 at no deviation, towards 1 far in the tail; NaN (no past yet) -> 0."""
    out = erf(np.abs(z) / np.sqrt(2.0))
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0), 0.0, 1.0)


def _past_scale(deviation: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """The std of the deviations strictly before each row (a trailing window): row i never sees itself."""
    return pd.Series(deviation).shift(1).rolling(window, min_periods=min_periods).std().to_numpy()


class RollingRobustZ(Detector):
    """|x - median| / (1.4826 MAD) over the previous `window` values: cheap, streaming, robust to
    the spikes it is looking for."""

    name = "rolling_robust_z"

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        window = int(self.params.get("window", 500))
        past = pd.Series(values).shift(1).rolling(window, min_periods=min(30, window))
        median = past.median().to_numpy()
        mad = (pd.Series(np.abs(values - median)).shift(1).rolling(window, min_periods=min(30, window))).median()
        scale = 1.4826 * mad.to_numpy()
        floor = 1e-9 + 1e-6 * np.nanmax(np.abs(values)) if len(values) else 1e-9
        return _squash((values - median) / np.maximum(scale, floor))


class ForecastResidual(Detector):
    """Residuals of a registered forecaster, standardised by the past residuals.

    Every `block` rows the forecaster is fitted on the previous `history` values and forecasts the
    next `block` rows (all blocks of a series go to the forecaster as one panel, so a vectorised
    forecaster fits them in one call); each row's residual is divided by the std of the residuals
    before it. Past only: a block's forecast never sees its own rows.
    """

    name = "forecast_residual"

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        from workbench.data import Panel
        from workbench.forecasters import make_forecaster

        model = str(self.params.get("model", "ses"))
        block = int(self.params.get("block", 50))
        history = int(self.params.get("history", 500))
        min_history = int(self.params.get("min_history", 20))
        n = len(values)
        starts = np.arange(min_history, n, block)
        forecast = np.full(n, np.nan)
        if len(starts):
            frames = []
            for b in starts:
                past = values[max(0, b - history) : b]
                frames.append(pd.DataFrame({"unique_id": f"{b:09d}", "ds": np.arange(len(past)), "y": past}))
            panel = Panel.from_long(pd.concat(frames, ignore_index=True), name=f"{self.name} blocks", season_length=1)
            params: dict[str, Any] = dict(self.params.get("model_params", {}))
            predicted = make_forecaster(model, **params).fit(panel).predict(block)
            y_hat = predicted.sort_values(["unique_id", "ds"])["y_hat"].to_numpy().reshape(len(starts), block)
            for b, row in zip(starts, y_hat, strict=True):
                forecast[b : b + block] = row[: n - b]
        residual = values - forecast
        scale = _past_scale(residual, history, min_periods=10)
        return _squash(residual / np.where(scale > 0, scale, np.nan))


class PyodDetector(Detector):
    """A pyod model on lag windows (row i sees values i - lags + 1 .. i), fitted on the probationary
    rows of each series only; a score is the share of training scores it exceeds, so it lies in [0, 1]."""

    family = "pyod"
    fitted_on = "probationary rows of each series"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.label = f"pyod.{params.get('model_class', '')}"

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        try:
            import pyod.models  # noqa: F401
        except ImportError as exc:  # pragma: no cover - pyod is a declared dependency
            raise WorkbenchError("pyod detectors need the `pyod` package (pip install pyod)") from exc
        import importlib

        params = dict(self.params)
        cls_name = params.pop("model_class")
        lags = int(params.pop("lags", 10))
        fit_rows = max(int(probationary), lags + 10)
        module = importlib.import_module(f"pyod.models.{_PYOD_MODULES.get(cls_name, cls_name.lower())}")
        model = getattr(module, cls_name)(**params)
        padded = np.r_[np.full(lags - 1, values[0]), values]
        features = np.lib.stride_tricks.sliding_window_view(padded, lags)
        features = features - features[:, -1:]  # shape, not level: a window relative to its last value
        features = np.c_[features[:, :-1], np.r_[0.0, np.diff(values)]]
        model.fit(features[:fit_rows])
        train = np.sort(model.decision_function(features[:fit_rows]))
        raw = model.decision_function(features)
        return np.searchsorted(train, raw, side="right") / len(train)


_PYOD_MODULES = {"IForest": "iforest", "KNN": "knn", "LOF": "lof", "HBOS": "hbos", "ECOD": "ecod", "PCA": "pca"}
