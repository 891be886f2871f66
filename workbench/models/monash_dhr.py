"""The Monash archive's "(DHR-)ARIMA" for weekly and sub-daily data, as its R code behaves.

The archive (`models/local_univariate_models.R::get_dhr_arima_forecasts`, forecast 8.12) fits
`auto.arima(x, xreg = fourier(x, K = 1), seasonal = FALSE)` on an `msts` series and falls back to
`snaive(x)` on any error. Two consequences are reproduced on purpose:

* One seasonal period (weekly data, 365.25/7): a regression on one sine/cosine pair of that period
  with non-seasonal ARIMA errors (statsforecast's AutoARIMA with the pair as exogenous inputs).
* Several periods (hourly data: 24, 168 and 8766): `fourier(x, K = 1)` stops ("Number of periods does
  not match number of orders"), so every series gets `snaive` at the msts frequency
  floor(max(periods)) = 8766. Shorter series than that lag repeat their *first* h values
  (`rep(tail(x, lag), ...)[1:h]`). This is what the archive's M4 Hourly ARIMA cell measured: the
  workbench reproduces its 13.557 to 3 decimals this way, against 1.19 for a 24-hour seasonal naive.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from workbench.forecasters import _ArrayForecaster
from workbench.registry import ModelParams

__all__ = ["DHRParams", "MonashDHRArima", "dhr_arima", "fourier_pair", "snaive_lagwalk"]


def fourier_pair(period: float, start: int, n: int) -> np.ndarray:
    """R's `fourier(x, K = 1)` columns S1, C1 at times start..start+n-1 (1-based, as R counts)."""
    t = np.arange(start, start + n, dtype=float)
    return np.column_stack([np.sin(2 * math.pi * t / period), np.cos(2 * math.pi * t / period)])


def snaive_lagwalk(series: np.ndarray, lag: int, h: int) -> np.ndarray:
    """R forecast's `snaive` via `lagwalk`: the last `lag` values repeated, all values if fewer."""
    tail = series[-lag:]
    return np.tile(tail, -(-h // len(tail)))[:h]


def dhr_arima(series: np.ndarray, period: float, h: int) -> np.ndarray:
    """Regression on one Fourier pair with non-seasonal AutoARIMA errors; snaive on failure."""
    from statsforecast.models import AutoARIMA

    n = len(series)
    try:
        fit = AutoARIMA(seasonal=False).forecast(
            y=series.astype(float), h=h, X=fourier_pair(period, 1, n), X_future=fourier_pair(period, n + 1, h)
        )
        forecast = np.asarray(fit["mean"], dtype=float)
        if forecast.shape == (h,) and np.isfinite(forecast).all():
            return forecast
    except Exception:  # the archive falls back on any error, and so does its reproduction
        pass
    return snaive_lagwalk(series, max(int(period), 1), h)


class DHRParams(ModelParams):
    """Parameters of the Monash (DHR-)ARIMA."""

    periods: list[float] | None = Field(
        None,
        min_length=1,
        description="the msts seasonal periods, e.g. [52.1786] weekly, [24, 168, 8766] hourly; default: the panel's",
    )


class MonashDHRArima(_ArrayForecaster):
    """The Monash archive's (DHR-)ARIMA: AutoARIMA on one Fourier pair, its snaive where R's code falls back."""

    name = "monash_dhr_arima"
    Params = DHRParams

    def forecast_array(self, values, lengths, h):
        periods = sorted(float(p) for p in (self.params.periods or [self.past_.season_length or 1]))
        out = np.empty((len(values), h))
        for i, (row, n) in enumerate(zip(values, lengths, strict=True)):
            series = row[len(row) - n :]
            if len(periods) > 1:  # fourier(K = 1) cannot take several periods: the archive's snaive
                out[i] = snaive_lagwalk(series, math.floor(periods[-1]), h)
            else:
                out[i] = dhr_arima(series, periods[0], h)
        return out
