"""Forecast-residual detectors: one rolled forecaster, two scoring rules.

Any registered forecaster (`forecaster`, `forecaster_params`) is rolled over the series: every
`refit_every` rows it is fitted on the previous `context` values and forecasts the next
`refit_every` rows (1 = one-step-ahead forecasts at every row; k = forecasts 1..k steps ahead, k
times fewer fits), the first origin at row `min_context`. All origins of a series go to the
forecaster as one panel, so a vectorised forecaster (seasonal naive, the numba M4 benchmarks, TTM's
batches) makes them in one call. Past only: a forecast never sees its own rows; missing values
inside a context are carried forward from the past. Both rules read the residuals before a row
over a trailing window of `calibration` rows and score nothing until `min_residuals` of them exist.

The two rules (both registered, since results are stored under either name):

- `forecast_residual` (`ForecastResidual`): the residual standardised by the std of the past
  residuals, squashed to [0, 1] with erf(|z| / sqrt 2), the map the other detectors beyond NAB's
  use (`workbench.anomaly.detectors.extra`).
- `forecast_band` (`ResidualBand`): alerts on a prediction band, the way metric monitors do. The
  band at central level `level` comes from the forecaster's own quantiles where it gives them (the
  `q<level>` columns the workbench's probabilistic scoring reads, `workbench.scoring.quantile_columns`:
  it is asked for (1 - level) / 2 and (1 + level) / 2), else from the forecast plus the empirical
  quantiles of the past residuals (with `refit_every` > 1 they pool the residuals of every step
  ahead). Score: u = |y - band centre| / band half-width, mapped to u / (1 + u): a row inside the
  band scores at most 0.5 and a row outside more than 0.5, growing with the distance in
  half-widths, so the threshold 0.5 is the monitor's own alert (`score > 0.5` ⇔ the observation left
  the band) and any other threshold is a wider or narrower band.

Rows without a forecast (the first `min_context`, missing values) score 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.anomaly.detectors.base import Detector
from workbench.anomaly.detectors.extra import squash
from workbench.errors import ParameterError, WorkbenchError
from workbench.registry import ModelParams

__all__ = [
    "RENAMED",
    "BandParams",
    "ForecastResidual",
    "ForecastResidualParams",
    "ResidualBand",
    "RollingForecastDetector",
    "RollingForecastParams",
]

# parameter names of the standardised-residual rule before both rules shared one vocabulary
RENAMED = {
    "model": "forecaster",
    "model_params": "forecaster_params",
    "block": "refit_every",
    "history": "context",
    "min_history": "min_context",
}


class RollingForecastParams(ModelParams):
    """The vocabulary both rules share: which forecaster, rolled how, calibrated on which residuals."""

    forecaster: str = Field(
        "seasonal_naive", description="a registered forecaster (checked when the detector is built)"
    )
    forecaster_params: dict[str, Any] = Field({}, description="the forecaster's parameters")
    context: int = Field(512, ge=1, description="past values each forecast is fitted on")
    refit_every: int = Field(1, ge=1, description="rows between forecast origins; each origin forecasts this many")
    min_context: int = Field(20, ge=1, description="row of the first forecast origin (rows before it score 0)")
    season_length: int = Field(1, ge=1, description="season length of the panel handed to the forecaster")
    calibration: int = Field(500, ge=2, description="past residuals the scale or band is taken over")
    min_residuals: int = Field(20, ge=2, description="past residuals needed before a row scores")

    @classmethod
    def parse(cls, owner: str, params: Mapping[str, Any]) -> ModelParams:
        """As `ModelParams.parse`, refusing the old names with the new one (a stored spec that used
        them is not silently read as something else)."""
        old = [name for name in params if name in RENAMED]
        if old:
            problems = [f"parameter {name!r} is now called {RENAMED[name]!r}" for name in old]
            raise ParameterError(owner, problems, sorted(cls.names()))
        return super().parse(owner, params)


class ForecastResidualParams(RollingForecastParams):
    """The standardised-residual rule: a cheap forecaster refitted in blocks by default."""

    forecaster: str = Field("ses", description="a registered forecaster (checked when the detector is built)")
    context: int = Field(500, ge=1, description="past values each forecast is fitted on")
    refit_every: int = Field(50, ge=1, description="rows between forecast origins; each origin forecasts this many")
    min_residuals: int = Field(10, ge=2, description="past residuals needed before a row scores")


class BandParams(RollingForecastParams):
    """The band rule: the band's level and where it comes from."""

    level: float = Field(0.95, gt=0, lt=1, description="central coverage of the prediction band")
    band: Literal["auto", "quantiles", "residuals"] = Field(
        "auto", description="auto: the forecaster's quantiles when it takes `quantiles`, else residual quantiles"
    )

    @property
    def bounds(self) -> tuple[float, float]:
        """The band's two quantile levels."""
        return round((1 - self.level) / 2, 10), round((1 + self.level) / 2, 10)


class RollingForecastDetector(Detector):
    """The forecaster rolled over a series (see the module); subclasses turn its forecasts into scores."""

    Params = RollingForecastParams

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        # an unknown forecaster or a misspelt parameter fails here, before any unit runs
        self._forecaster(**self._forecaster_extra())

    def _forecaster(self, **extra: Any) -> Any:
        """The forecaster with the run's seed; `extra` parameters only where the caller gave none."""
        from workbench.forecasters import make_forecaster

        p = self.params
        return make_forecaster(p.forecaster, seed=self.seed, **{**extra, **p.forecaster_params})

    def rolled(self, values: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
        """The rows forecast and their forecasts (`y_hat` and any quantile columns), in row order."""
        p = self.params
        n = len(values)
        origins = np.arange(p.min_context, n, p.refit_every)
        if not len(origins):
            return np.arange(0), pd.DataFrame({"y_hat": np.zeros(0)})
        predicted = self._predict(np.asarray(values, dtype=float), origins)
        rows = (origins[:, None] + np.arange(p.refit_every)[None, :]).ravel()
        keep = rows < n
        return rows[keep], predicted[keep].reset_index(drop=True)

    def _predict(self, values: np.ndarray, origins: np.ndarray) -> pd.DataFrame:
        """The forecaster's `refit_every`-step forecasts from every origin, in origin then step order."""
        from workbench.data import Panel

        p = self.params
        filled = pd.Series(values).ffill().to_numpy()
        first_valid = int(np.argmax(~np.isnan(filled))) if (~np.isnan(filled)).any() else len(filled)
        starts = np.maximum(origins - p.context, first_valid)
        lengths = np.maximum(origins - starts, 0)
        if (lengths < 1).any():
            bad = int(origins[np.argmax(lengths < 1)])
            raise WorkbenchError(f"{self.name}: no value before row {bad} to forecast it from")
        ids = np.repeat(np.arange(len(origins)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        frame = pd.DataFrame(
            {
                "unique_id": [f"{o:010d}" for o in origins[ids]],
                "ds": offsets,
                "y": filled[np.repeat(starts, lengths) + offsets],
            }
        )
        panel = Panel.from_long(frame, name=f"{self.name} origins", season_length=p.season_length)
        predicted = self._forecaster(**self._forecaster_extra()).fit(panel).predict(p.refit_every)
        if len(predicted) != len(origins) * p.refit_every:
            raise WorkbenchError(
                f"{self.name}: {p.forecaster} returned {len(predicted)} forecast rows for {len(origins)} origins x "
                f"{p.refit_every} steps"
            )
        return predicted.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def _forecaster_extra(self) -> dict[str, Any]:
        """Parameters the rule adds to the forecaster's own (the band's quantile levels)."""
        return {}

    def _past_residuals(self, residual: np.ndarray) -> Any:
        """The trailing window of residuals strictly before each row (row i never sees itself)."""
        p = self.params
        return pd.Series(residual).shift(1).rolling(p.calibration, min_periods=p.min_residuals)


class ForecastResidual(RollingForecastDetector):
    """Residuals of a registered forecaster, standardised by the std of the past residuals."""

    name = "forecast_residual"
    Params = ForecastResidualParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        rows, predicted = self.rolled(values)
        forecast = np.full(len(values), np.nan)
        forecast[rows] = predicted["y_hat"].to_numpy()
        residual = values - forecast
        scale = self._past_residuals(residual).std().to_numpy()
        return squash(residual / np.where(scale > 0, scale, np.nan))


class ResidualBand(RollingForecastDetector):
    """Alerts where the observation leaves the forecaster's prediction band (see the module)."""

    name = "forecast_band"
    Params = BandParams

    @cached_property
    def quantiles(self) -> bool:
        """Whether the band is the forecaster's own quantiles (else the past residuals' quantiles)."""
        return self._band_mode() == "quantiles"

    def _forecaster_extra(self) -> dict[str, Any]:
        return {"quantiles": list(self.params.bounds)} if self.quantiles else {}

    def _band_mode(self) -> str:
        from workbench.forecasters import make_forecaster

        p = self.params
        takes = "quantiles" in type(make_forecaster(p.forecaster, **p.forecaster_params).params).names()
        if p.band == "quantiles" and not takes:
            raise WorkbenchError(f"{self.name}: forecaster {p.forecaster!r} gives no quantiles; use band='residuals'")
        given = p.forecaster_params.get("quantiles")
        if takes and given is not None and p.band != "residuals":
            absent = [q for q in p.bounds if not any(abs(q - g) < 1e-9 for g in given)]
            if absent:
                raise WorkbenchError(
                    f"{self.name}: forecaster_params quantiles {list(given)} lack the band's levels {absent} "
                    f"(level {p.level}); add them or leave `quantiles` out"
                )
        return "quantiles" if takes and p.band != "residuals" else "residuals"

    def bands(self, values: np.ndarray) -> pd.DataFrame:
        """Per row: `forecast`, `lower`, `upper` (NaN where there is none) and the band's `source`."""
        p = self.params
        values = np.asarray(values, dtype=float)
        out = pd.DataFrame({"forecast": np.nan, "lower": np.nan, "upper": np.nan}, index=np.arange(len(values)))
        if p.min_context >= len(values):
            return out.assign(source="none")
        rows, predicted = self.rolled(values)
        out.loc[rows, "forecast"] = predicted["y_hat"].to_numpy()
        if self.quantiles:
            from workbench.scoring import quantile_columns

            columns = quantile_columns(predicted)
            lo, hi = (columns[min(columns, key=lambda q, b=b: abs(q - b))] for b in p.bounds)
            out.loc[rows, "lower"] = predicted[lo].to_numpy()
            out.loc[rows, "upper"] = predicted[hi].to_numpy()
            return out.assign(source="quantiles")
        past = self._past_residuals(values - out["forecast"].to_numpy())
        q_lo, q_hi = p.bounds
        out["lower"] = out["forecast"] + past.quantile(q_lo).to_numpy()
        out["upper"] = out["forecast"] + past.quantile(q_hi).to_numpy()
        return out.assign(source="residuals")

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        band = self.bands(values)
        centre = (band["lower"] + band["upper"]).to_numpy() / 2
        half = (band["upper"] - band["lower"]).to_numpy() / 2
        finite = np.abs(values[np.isfinite(values)])
        floor = 1e-9 + 1e-6 * (finite.max() if len(finite) else 0.0)
        distance = np.abs(np.asarray(values, dtype=float) - centre) / np.maximum(half, floor)
        score = distance / (1 + distance)
        return np.clip(np.nan_to_num(score, nan=0.0, posinf=1.0), 0.0, 1.0)
