"""A forecast-residual detector that alerts on a prediction band, the way metric monitors do.

Any registered forecaster (`forecaster`, `forecaster_params`) is rolled over the series: every
`refit_every` rows it is fitted on the previous `context` values and forecasts the next
`refit_every` rows (1 = one-step-ahead forecasts at every row; k = forecasts 1..k steps ahead, k
times fewer fits). All origins of a series go to the forecaster as one panel, so a vectorised
forecaster (seasonal naive, the numba M4 benchmarks, TTM's batches) makes them in one call.

The band at central level `level`:
- from the forecaster's own quantiles where it gives them (the `q<level>` columns the workbench's
  probabilistic scoring reads, `workbench.scoring.quantile_columns`): it is asked for the two
  levels (1 - level) / 2 and (1 + level) / 2;
- else the forecast plus the empirical quantiles of the residuals before the row (a trailing
  window of `calibration` residuals, none seen before it is scored; with `refit_every` > 1 they
  pool the residuals of every step ahead).

Score: u = |y - band centre| / band half-width, mapped to u / (1 + u). A row inside the band scores
at most 0.5 and a row outside more than 0.5, growing with the distance in half-widths, so the
threshold 0.5 is the monitor's own alert (`score > 0.5` ⇔ the observation left the band) and any
other threshold is a wider or narrower band. Rows without a forecast (the first `min_context`,
missing values) score 0. Past only: a forecast never sees its own rows; missing values inside a
context are carried forward from the past.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.anomaly.detectors.base import Detector
from workbench.errors import WorkbenchError
from workbench.registry import ModelParams


class ResidualParams(ModelParams):
    """Parameters of the band detector."""

    forecaster: str = Field(
        "seasonal_naive", description="a registered forecaster (checked when the detector is built)"
    )
    forecaster_params: dict[str, Any] = Field({}, description="the forecaster's parameters")
    level: float = Field(0.95, gt=0, lt=1, description="central coverage of the prediction band")
    context: int = Field(512, ge=1, description="past values each forecast is fitted on")
    refit_every: int = Field(1, ge=1, description="rows between forecast origins; each origin forecasts this many")
    min_context: int = Field(20, ge=1, description="row of the first forecast origin (rows before it score 0)")
    season_length: int = Field(1, ge=1, description="season length of the panel handed to the forecaster")
    band: Literal["auto", "quantiles", "residuals"] = Field(
        "auto", description="auto: the forecaster's quantiles when it takes `quantiles`, else residual quantiles"
    )
    calibration: int = Field(500, ge=2, description="past residuals the empirical band is taken over")
    min_residuals: int = Field(20, ge=2, description="past residuals needed before the empirical band scores")

    @property
    def bounds(self) -> tuple[float, float]:
        """The band's two quantile levels."""
        return round((1 - self.level) / 2, 10), round((1 + self.level) / 2, 10)


class ResidualBand(Detector):
    """Alerts where the observation leaves the forecaster's prediction band (see the module)."""

    name = "forecast_band"
    Params = ResidualParams

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.quantiles = self._band_mode() == "quantiles"
        self._forecaster()  # an unknown forecaster or a misspelt parameter fails here, before any unit runs

    def _forecaster(self) -> Any:
        from workbench.forecasters import make_forecaster

        p = self.params
        kwargs = dict(p.forecaster_params)
        if getattr(self, "quantiles", False) and "quantiles" not in kwargs:
            kwargs["quantiles"] = list(p.bounds)
        return make_forecaster(p.forecaster, seed=self.seed, **kwargs)

    def _band_mode(self) -> str:
        from workbench.forecasters import make_forecaster

        p = self.params
        takes = "quantiles" in type(make_forecaster(p.forecaster, **p.forecaster_params).params).names()
        if p.band == "quantiles" and not takes:
            raise WorkbenchError(f"residual: forecaster {p.forecaster!r} gives no quantiles; use band='residuals'")
        given = p.forecaster_params.get("quantiles")
        if takes and given is not None and p.band != "residuals":
            absent = [q for q in p.bounds if not any(abs(q - g) < 1e-9 for g in given)]
            if absent:
                raise WorkbenchError(
                    f"residual: forecaster_params quantiles {list(given)} lack the band's levels {absent} "
                    f"(level {p.level}); add them or leave `quantiles` out"
                )
        return "quantiles" if takes and p.band != "residuals" else "residuals"

    def bands(self, values: np.ndarray) -> pd.DataFrame:
        """Per row: `forecast`, `lower`, `upper` (NaN where there is none) and the band's `source`."""
        p = self.params
        values = np.asarray(values, dtype=float)
        n = len(values)
        out = pd.DataFrame({"forecast": np.nan, "lower": np.nan, "upper": np.nan}, index=np.arange(n))
        origins = np.arange(p.min_context, n, p.refit_every)
        if not len(origins):
            return out.assign(source="none")
        predicted = self._predict(values, origins)
        k = p.refit_every
        rows = (origins[:, None] + np.arange(k)[None, :]).ravel()
        keep = rows < n
        out.loc[rows[keep], "forecast"] = predicted["y_hat"].to_numpy()[keep]
        if self.quantiles:
            from workbench.scoring import quantile_columns

            columns = quantile_columns(predicted)
            lo, hi = (columns[min(columns, key=lambda q, b=b: abs(q - b))] for b in p.bounds)
            out.loc[rows[keep], "lower"] = predicted[lo].to_numpy()[keep]
            out.loc[rows[keep], "upper"] = predicted[hi].to_numpy()[keep]
            return out.assign(source="quantiles")
        residual = pd.Series(values - out["forecast"].to_numpy())
        past = residual.shift(1).rolling(p.calibration, min_periods=p.min_residuals)
        q_lo, q_hi = p.bounds
        out["lower"] = out["forecast"] + past.quantile(q_lo).to_numpy()
        out["upper"] = out["forecast"] + past.quantile(q_hi).to_numpy()
        return out.assign(source="residuals")

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
            raise WorkbenchError(f"residual: no value before row {bad} to forecast it from")
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
        predicted = self._forecaster().fit(panel).predict(p.refit_every)
        if len(predicted) != len(origins) * p.refit_every:
            raise WorkbenchError(
                f"residual: {p.forecaster} returned {len(predicted)} forecast rows for {len(origins)} origins x "
                f"{p.refit_every} steps"
            )
        return predicted.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        band = self.bands(values)
        centre = (band["lower"] + band["upper"]).to_numpy() / 2
        half = (band["upper"] - band["lower"]).to_numpy() / 2
        finite = np.abs(values[np.isfinite(values)])
        floor = 1e-9 + 1e-6 * (finite.max() if len(finite) else 0.0)
        distance = np.abs(np.asarray(values, dtype=float) - centre) / np.maximum(half, floor)
        score = distance / (1 + distance)
        return np.clip(np.nan_to_num(score, nan=0.0, posinf=1.0), 0.0, 1.0)
