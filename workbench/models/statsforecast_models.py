"""statsforecast models by class name: `statsforecast.AutoETS`, `statsforecast.AutoARIMA`, ...

Any class of `statsforecast.models` with its keyword arguments; `season_length` defaults to the
panel's when the class takes one. Quantiles (`quantiles=[0.1, 0.9]`) come from the model's
prediction intervals where it has them. `log=True` fits on log y and back-transforms (R's
`lambda = 0`). A series on which the model fails is forecast by the declared `fallback` model
(default: none; the failure is raised and the engine records the unit as failed); the series that
fell back are named in the forecast's `fallback` column, and their quantiles are the fallback's own
where it gives them (`fallback="statsforecast.SeasonalNaive"`: its intervals, as statsforecast's own
`fallback_model` does). `missing` fills gaps in the history first (statsforecast refuses NaN), and
`max_context_length` keeps the last points of each series only: fev's runs use `ffill_zero` and 2500.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.data.panel import MissingPolicy
from workbench.errors import UnknownNameError
from workbench.models.adapter import AdapterParams, LibraryAdapter

__all__ = ["StatsForecastModel", "StatsForecastParams"]


def _model_class(name: str):
    import statsforecast.models as sfm

    cls = getattr(sfm, name, None)
    if not inspect.isclass(cls) or name.startswith("_"):
        known = [
            n for n, c in vars(sfm).items() if inspect.isclass(c) and hasattr(c, "forecast") and not n.startswith("_")
        ]
        raise UnknownNameError("statsforecast model", name, known)
    return cls


class StatsForecastParams(AdapterParams):
    """The statsforecast adapter's parameters, beside the class's own."""

    log: bool = Field(False, description="fit on log y and back-transform by exp (R's lambda = 0)")
    missing: MissingPolicy = Field(
        "refuse",
        description="missing values in the history: refuse (statsforecast's own error), ffill_zero (carried "
        "forward, a leading gap 0: as fev runs statsforecast) or last_value (a leading gap the first observation)",
    )
    max_context_length: int | None = Field(
        None, ge=1, description="fit on the last this many points of each series only (fev's runs: 2500); None: all"
    )


class StatsForecastModel(LibraryAdapter):
    """Any class of `statsforecast.models` by name, per series; quantiles from its prediction intervals."""

    family = "statsforecast"
    Params = StatsForecastParams
    exclude = ("alias",)  # the adapter names the model's column itself
    optional = ("season_length",)  # the panel's when not given

    @classmethod
    def resolve(cls, name: str) -> type:
        return _model_class(name)

    def _instance(self):
        kwargs = dict(self.kwargs)
        if "season_length" in self.params.library_fields and "season_length" not in kwargs:
            kwargs["season_length"] = int(self.past_.season_length or 1)
        kwargs["alias"] = "model"  # one fixed column name whatever the class
        return self.cls(**self.seeded(kwargs))

    def _levels(self) -> list[int]:
        levels = {round(100 * abs(1 - 2 * q)) for q in self.quantiles if q != 0.5}
        return sorted(levels)

    def _run(self, df: pd.DataFrame, h: int) -> pd.DataFrame:
        from statsforecast import StatsForecast

        freq = self.past_.freq if pd.api.types.is_datetime64_any_dtype(df["ds"]) else 1
        sf = StatsForecast(models=[self._instance()], freq=freq, n_jobs=1)
        levels = self._levels()
        if self.params.log:  # R's lambda = 0: fit on log y, back-transform by exp (no bias adjustment)
            if (df["y"] <= 0).any():
                raise ValueError("log transform needs positive values")
            df = df.assign(y=np.log(df["y"].to_numpy()))
        out = sf.forecast(df=df, h=h, level=levels or None)
        if self.params.log:
            value_cols = [c for c in out.columns if c.startswith("model")]
            out[value_cols] = np.exp(out[value_cols].to_numpy())
        result = out[["unique_id", "ds"]].copy()
        result["y_hat"] = out["model"].to_numpy()
        for q in self.quantiles:
            if q == 0.5:
                result["q0.5"] = result["y_hat"]
                continue
            level = round(100 * abs(1 - 2 * q))
            side = "lo" if q < 0.5 else "hi"
            result[f"q{q:g}"] = out[f"model-{side}-{level}"].to_numpy()
        return result

    def predict(self, h: int) -> pd.DataFrame:
        df = self.past_.fill_missing(self.params.missing).df[["unique_id", "ds", "y"]]
        if self.params.max_context_length is not None:
            df = df.groupby("unique_id", sort=False).tail(self.params.max_context_length).reset_index(drop=True)
        try:
            result = self._run(df, h)
            result["fallback"] = ""
        except Exception:
            if not self.fallback:
                raise
            result = self._per_series(df, h)
        result["unique_id"] = result["unique_id"].astype(str)
        return result.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def _per_series(self, df: pd.DataFrame, h: int) -> pd.DataFrame:
        """Series one by one; those that fail get the fallback model, named in `fallback`."""
        frames = []
        for _, g in df.groupby("unique_id", sort=True):
            try:
                frame = self._run(g, h)
                frame["fallback"] = ""
            except Exception as exc:
                frame = self.fallback_forecast(g, h, exc)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)
