"""darts models by class name: `darts.ExponentialSmoothing`, `darts.LinearRegressionModel`, ...

Any forecasting model of `darts.models` with its keyword arguments, fed through the Panel's own
darts conversion. Local models are fitted per series; global models (darts' `GlobalForecastingModel`
that are not local) are trained once across all series of the window, so the engine gives them a
whole (task, window) instead of a chunk. Quantiles come from `num_samples` sampled paths when the
model is probabilistic. A series on which a local model fails is forecast by the declared
`fallback` (named in the `fallback` column); without one, the failure is raised.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import UnknownNameError
from workbench.models.adapter import LibraryAdapter


def _model_class(name: str):
    import darts.models as dm
    from darts.models.forecasting.forecasting_model import ForecastingModel

    cls = getattr(dm, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, ForecastingModel)):
        known = [n for n, c in vars(dm).items() if inspect.isclass(c) and issubclass(c, ForecastingModel)]
        raise UnknownNameError("darts model", name, known)
    return cls


class DartsModel(LibraryAdapter):
    family = "darts"

    def __init__(self, model_class: str, num_samples: int = 200, **kwargs: Any):
        quantiles, fallback = kwargs.pop("quantiles", None), kwargs.pop("fallback", None)
        super().__init__(model_class, quantiles=quantiles, fallback=fallback, num_samples=num_samples, **kwargs)
        self.num_samples = num_samples
        self.kwargs = kwargs
        self.check_arguments(kwargs)

    def resolve(self, name: str) -> type:
        return _model_class(name)

    @property
    def is_global(self) -> bool:
        from darts.models.forecasting.forecasting_model import GlobalForecastingModel, LocalForecastingModel

        return issubclass(self.cls, GlobalForecastingModel) and not issubclass(self.cls, LocalForecastingModel)

    def _frames(self, uid: str, prediction) -> pd.DataFrame:
        values = prediction.all_values()  # (h, 1, samples)
        frame = pd.DataFrame({"unique_id": uid, "ds": prediction.time_index})
        if values.shape[2] > 1:
            frame["y_hat"] = np.median(values[:, 0, :], axis=1)
            for q in self.quantiles:
                frame[f"q{q:g}"] = np.quantile(values[:, 0, :], q, axis=1)
        else:
            frame["y_hat"] = values[:, 0, 0]
        frame["fallback"] = ""
        return frame

    def _samples(self, model) -> int:
        return self.num_samples if self.quantiles and model.supports_probabilistic_prediction else 1

    def predict(self, h: int) -> pd.DataFrame:
        series = self.past_.to_darts()
        ids = [str(s.static_covariates["unique_id"].iloc[0]) for s in series]
        # the id rides along as a string static covariate, which darts' global models refuse
        series = [s.with_static_covariates(None) for s in series]
        if self.is_global:
            model = self.cls(**self.kwargs)
            model.fit(series)
            predictions = model.predict(h, series=series, num_samples=self._samples(model))
            frames = [self._frames(uid, p) for uid, p in zip(ids, predictions, strict=True)]
        else:
            frames = [self._local(uid, s, h) for uid, s in zip(ids, series, strict=True)]
        out = pd.concat(frames, ignore_index=True)
        if not pd.api.types.is_datetime64_any_dtype(self.past_.df["ds"]):
            out["ds"] = out["ds"].astype("int64")
        return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def _local(self, uid: str, series, h: int) -> pd.DataFrame:
        try:
            model = self.cls(**self.kwargs)
            model.fit(series)
            return self._frames(uid, model.predict(h, num_samples=self._samples(model)))
        except Exception as exc:
            if not self.fallback:
                raise
            return self.fallback_forecast(self.past_.df[self.past_.df["unique_id"] == uid], h, exc)
