"""darts models by class name: `darts.ExponentialSmoothing`, `darts.LinearRegressionModel`, ...

Any forecasting model of `darts.models` with its keyword arguments, fed through the Panel's own
darts conversion. Local models are fitted per series; global models (darts' `GlobalForecastingModel`
that are not local) are trained once across all series of the window, so the engine gives them a
whole (task, window) instead of a chunk. Quantiles come from `num_samples` sampled paths when the
model is probabilistic. A series on which a local model fails is forecast by the declared
`fallback` (named in the `fallback` column); without one, the failure is raised. A class that takes
`random_state` (torch models seed torch with it, in training and sampling) gets the run's seed
unless the caller gave `random_state` itself.

A global model fitted on raw values learns one mapping for series of every level: across series of
scale 5 and 5,000 one linear regression serves the large series and misses the small ones by
far. So a global model sees each series scaled by darts' own `Scaler`, fitted per series on the
window's past only (never on the horizon), and its forecast, every sampled path with it (hence
every quantile), is transformed back. `scaler` picks the scaling: `minmax` (the default, darts'
own: each past onto [0, 1]), `standard` (mean 0, variance 1) or `none` (raw values, as before).
A series whose past is constant is shifted, not divided by its zero range (sklearn's scalers
take a scale of 1 there). A penalty is then applied to coefficients on the scaled values:
`LinearRegressionModel(likelihood="quantile")` fits sklearn's `QuantileRegressor`, whose L1
penalty `alpha` defaults to 1 and on [0, 1] values shrinks every lag to nothing (give `alpha=0`).
Local models fit each series on its own and are never scaled; giving one a scaler other than
`none` is an error. Arguments are checked against the class's
constructor (for torch models also `TorchForecastingModel`'s and the Lightning module's) when the
adapter is built; classes whose `**kwargs` go to another library (sklearn, statsmodels) accept
further names unchecked.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.errors import ParameterError, UnknownNameError
from workbench.models.adapter import AdapterParams, LibraryAdapter

__all__ = ["DartsModel", "DartsParams"]


def _model_class(name: str):
    import darts.models as dm
    from darts.models.forecasting.forecasting_model import ForecastingModel

    cls = getattr(dm, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, ForecastingModel)):
        # darts.models loads its classes lazily: list them by name, not from the module's __dict__
        known = [n for n in dir(dm) if inspect.isclass(c := getattr(dm, n, None)) and issubclass(c, ForecastingModel)]
        raise UnknownNameError("darts model", name, known)
    return cls


class DartsParams(AdapterParams):
    """The darts adapter's parameters, beside the class's own."""

    num_samples: int = Field(200, ge=1, description="sampled paths for quantiles of a probabilistic model")
    scaler: Literal["minmax", "standard", "none"] = Field(
        "minmax",
        description="global models only: each series scaled on its past (darts' Scaler), forecasts scaled back; "
        "none: raw values",
    )


def _scaler(kind: str) -> Any:
    """darts' `Scaler` around the sklearn scaler `kind` names, fitted per series (not one fit across them)."""
    from darts.dataprocessing.transformers import Scaler
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    return Scaler(MinMaxScaler() if kind == "minmax" else StandardScaler(), global_fit=False)


class DartsModel(LibraryAdapter):
    """Any forecasting model of `darts.models` by name: local per series, global across the window's series.

    A global model sees each series scaled on the window's past (`scaler`); a local one never does."""

    family = "darts"
    Params = DartsParams
    exclude = ("train_sample_shape",)  # set by darts itself, not a user argument

    def __init__(self, model_class: str, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(model_class, seed=seed, **params)
        if not self.is_global and self.params.scaler != "none" and "scaler" in self.params.model_fields_set:
            raise ParameterError(
                self.name,
                [
                    f"parameter 'scaler': {self.params.scaler!r} applies to global models only; a local model "
                    "fits each series on its own scale (drop `scaler` or give 'none')"
                ],
                sorted(self.params.names()),
            )

    @classmethod
    def resolve(cls, name: str) -> type:
        return _model_class(name)

    @classmethod
    def also(cls, library_class: type) -> list:
        """A torch model's `**kwargs` go to `TorchForecastingModel` and to its Lightning module."""
        from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
        from darts.models.forecasting.torch_forecasting_model import TorchForecastingModel

        if issubclass(library_class, TorchForecastingModel):
            return [TorchForecastingModel.__init__, PLForecastingModule.__init__]
        return []

    @staticmethod
    def global_class(library_class: type) -> bool:
        """Whether darts trains `library_class` across series (global) rather than per series."""
        from darts.models.forecasting.forecasting_model import GlobalForecastingModel as Global
        from darts.models.forecasting.forecasting_model import LocalForecastingModel as Local

        return issubclass(library_class, Global) and not issubclass(library_class, Local)

    @property
    def is_global(self) -> bool:
        return self.global_class(self.cls)

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
        return self.params.num_samples if self.quantiles and model.supports_probabilistic_prediction else 1

    def predict(self, h: int) -> pd.DataFrame:
        series = self.past_.to_darts()
        ids = [str(s.static_covariates["unique_id"].iloc[0]) for s in series]
        # the id rides along as a string static covariate, which darts' global models refuse
        series = [s.with_static_covariates(None) for s in series]
        if self.is_global:
            predictions = self._global(series, h)
            frames = [self._frames(uid, p) for uid, p in zip(ids, predictions, strict=True)]
        else:
            frames = [self._local(uid, s, h) for uid, s in zip(ids, series, strict=True)]
        out = pd.concat(frames, ignore_index=True)
        if not pd.api.types.is_datetime64_any_dtype(self.past_.df["ds"]):
            out["ds"] = out["ds"].astype("int64")
        return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def _global(self, series: list, h: int) -> list:
        """One model fitted across `series` (scaled per series on their past unless `scaler` is none);
        its forecasts, every sampled path included, in the series' own units."""
        scaler = None if self.params.scaler == "none" else _scaler(self.params.scaler)
        if scaler is not None:
            series = scaler.fit_transform(series)
        model = self.cls(**self.seeded(self.kwargs))
        model.fit(series)
        predictions = model.predict(h, series=series, num_samples=self._samples(model))
        return predictions if scaler is None else scaler.inverse_transform(predictions)

    def _local(self, uid: str, series, h: int) -> pd.DataFrame:
        try:
            model = self.cls(**self.seeded(self.kwargs))
            model.fit(series)
            return self._frames(uid, model.predict(h, num_samples=self._samples(model)))
        except Exception as exc:
            if not self.fallback:
                raise
            return self.fallback_forecast(self.past_.df[self.past_.df["unique_id"] == uid], h, exc)
