"""The Monash archive's DHR-ARIMA: one Fourier pair with ARIMA errors, or its snaive fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.panel import Panel
from workbench.forecasters import make_forecaster
from workbench.models.monash_dhr import dhr_arima, fourier_pair, snaive_lagwalk


def test_when_the_lag_exceeds_the_series_then_snaive_repeats_its_first_values():
    x = np.arange(10.0)
    np.testing.assert_array_equal(snaive_lagwalk(x, 8766, 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(snaive_lagwalk(x, 3, 5), [7, 8, 9, 7, 8])


def test_when_fourier_terms_are_built_then_they_follow_rs_time_index():
    pair = fourier_pair(4.0, 1, 4)  # t = 1..4 over one period of 4
    np.testing.assert_allclose(pair[:, 0], [1, 0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(pair[:, 1], [0, -1, 0, 1], atol=1e-12)


def test_when_a_series_is_one_noisy_sinusoid_then_dhr_arima_continues_it():
    rng = np.random.default_rng(0)
    period, n, h = 365.25 / 7, 300, 13
    t = np.arange(1, n + h + 1)
    signal = 50 + 8 * np.sin(2 * np.pi * t / period)
    y = signal + rng.normal(0, 0.5, n + h)
    forecast = dhr_arima(y[:n], period, h)
    assert np.abs(forecast - signal[n:]).mean() < 1.0
    assert np.abs(snaive_lagwalk(y[:n], 1, h) - signal[n:]).mean() > 2.0  # the naive guess is far worse


def test_when_several_periods_are_given_then_every_series_gets_the_archives_fallback():
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 50),
            "ds": np.tile(pd.date_range("2020-01-01", periods=50, freq="h"), 2),
            "y": np.r_[np.arange(50.0), np.arange(50.0) * 2],
        }
    )
    panel = Panel.from_long(frame, freq="h", season_length=24)
    out = make_forecaster("monash_dhr_arima", periods=[24, 168, 8766]).fit(panel).predict(3)
    np.testing.assert_array_equal(out["y_hat"].to_numpy(), [0, 1, 2, 0, 2, 4])
