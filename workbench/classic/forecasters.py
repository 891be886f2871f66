"""The M4 benchmarks as registered forecasters: `naive2`, `ses`, `holt`, `damped`, `theta`, `comb`.

Each runs the compiled kernel of `workbench.classic.benchmarks` over the whole panel with the panel's
season length (or `season_length=`), so `make_forecaster("theta")` gives the organisers' Theta.
"""

from __future__ import annotations

import numpy as np

from workbench.classic.benchmarks import METHODS, m4_benchmarks
from workbench.forecasters import SeasonParams, _ArrayForecaster

__all__ = ["SES", "Comb", "Damped", "Holt", "MonashSES", "MonashTheta", "Naive2", "Theta"]


class _M4Benchmark(_ArrayForecaster):
    method = ""
    Params = SeasonParams

    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray:
        m = int(self.params.season_length or self.past_.season_length or 1)
        out, _ = m4_benchmarks(values, lengths, m, h, methods=(self.method,))
        return out[:, METHODS.index(self.method), :]


class Naive2(_M4Benchmark):
    """Naive on the seasonally adjusted series, reseasonalised (M4's OWA reference)."""

    name = method = "naive2"


class SES(_M4Benchmark):
    """Simple exponential smoothing, forecast 8.2 `ses()` on the seasonally adjusted series."""

    name = method = "ses"


class Holt(_M4Benchmark):
    """Holt's linear trend, forecast 8.2 `holt()` on the seasonally adjusted series."""

    name = method = "holt"


class Damped(_M4Benchmark):
    """Damped trend, forecast 8.2 `holt(damped = TRUE)` on the seasonally adjusted series."""

    name = method = "damped"


class Theta(_M4Benchmark):
    """The classic Theta method (`Theta.classic` of the M4 code): SES on the theta line plus the OLS line."""

    name = method = "theta"


class Comb(_M4Benchmark):
    """Mean of SES, Holt and Damped (M4's `Com`)."""

    name = method = "comb"


class _Monash(_ArrayForecaster):
    theta = False
    Params = SeasonParams

    def forecast_array(self, values, lengths, h):
        from workbench.classic.monash import monash_panel

        m = int(self.params.season_length or self.past_.season_length or 1)
        return monash_panel(np.ascontiguousarray(values), lengths.astype(np.int64), m, h, self.theta)


class MonashSES(_Monash):
    """`ses()` of R forecast 8.12 on the raw series, as the Monash archive's baselines ran it."""

    name = "monash_ses"


class MonashTheta(_Monash):
    """`thetaf()` of R forecast 8.12 (SES with drift on the seasonally adjusted series)."""

    name = "monash_theta"
    theta = True
