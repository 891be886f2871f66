"""darts models by class name: `darts.ExponentialSmoothing`, `darts.LinearRegressionModel`, ...

Any forecasting model of `darts.models` with its keyword arguments, fed through the Panel's own
darts conversion. Local models are fitted per series; global models (darts' `GlobalForecastingModel`
that are not local) are trained once across all series of the window, so the engine gives them a
whole (task, window) instead of a chunk. Quantiles come from `num_samples` sampled paths when the
model is probabilistic. A series on which a local model fails is forecast by the declared
`fallback` (named in the `fallback` column); without one, the failure is raised. A class that takes
`random_state` (torch models seed torch with it, in training and sampling) gets the run's seed
unless the caller gave `random_state` itself. Arguments are checked against the class's
constructor (for torch models also `TorchForecastingModel`'s and the Lightning module's) when the
adapter is built; classes whose `**kwargs` go to another library (sklearn, statsmodels) accept
further names unchecked.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.errors import UnknownNameError
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


class DartsModel(LibraryAdapter):
    """Any forecasting model of `darts.models` by name: local per series, global across the window's series."""

    family = "darts"
    Params = DartsParams
    exclude = ("train_sample_shape",)  # set by darts itself, not a user argument

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
            model = self.cls(**self.seeded(self.kwargs))
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
            model = self.cls(**self.seeded(self.kwargs))
            model.fit(series)
            return self._frames(uid, model.predict(h, num_samples=self._samples(model)))
        except Exception as exc:
            if not self.fallback:
                raise
            return self.fallback_forecast(self.past_.df[self.past_.df["unique_id"] == uid], h, exc)
