"""The compiled pieces of the M4 benchmarks, each checked against an independent implementation
(statsmodels' acf and decomposition, numpy's least squares) or against its defining property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import acf as sm_acf

from workbench.classic.benchmarks import ets_forecast, theta_classic
from workbench.classic.ets import (
    ALPHA0,
    PHI0,
    ets_mse,
    forecast_path,
    initial_states,
    run_filter,
    start_parameters,
)
from workbench.classic.nelder_mead import nmmin_ets
from workbench.classic.seasonality import acf, deseasonalise, seasonal_indices, seasonality_test

series = st.lists(st.floats(1.0, 1000.0), min_size=12, max_size=120).map(np.array)


def _seasonal(n: int, m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.3 * t + 20 * np.sin(2 * np.pi * t / m) + rng.normal(0, 1, n)


def test_when_acf_is_computed_then_it_equals_statsmodels():
    x = _seasonal(200, 12)
    expected = sm_acf(x, nlags=23, adjusted=False, fft=False)[1:]
    np.testing.assert_allclose(acf(x, 23), expected, rtol=1e-12)


@pytest.mark.parametrize("m", [4, 7, 12, 24])
def test_when_decomposing_then_indices_equal_statsmodels_multiplicative(m):
    x = _seasonal(10 * m + 3, m, seed=m)
    ours = seasonal_indices(x, m)
    theirs = seasonal_decompose(x, model="multiplicative", period=m, two_sided=True).seasonal[:m]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours.mean() == pytest.approx(1.0)


def test_when_series_is_too_short_or_season_exceeds_lag_max_then_it_is_not_seasonal():
    x = _seasonal(500, 24)
    assert seasonality_test(x, 24)
    assert not seasonality_test(x[:71], 24)  # n < 3m
    # n = 200: lag.max = floor(10 log10 200) = 23 < 24, R's acf has no lag 24 -> not seasonal
    assert not seasonality_test(x[:200], 24)
    assert not seasonality_test(x, 1)


def test_when_series_has_zeros_then_it_is_left_unadjusted():
    x = _seasonal(500, 24)
    x[10] = 0.0
    des, si_out, seasonal = deseasonalise(x, 24, 48)
    assert not seasonal and np.array_equal(des, x) and np.all(si_out == 1)


def test_when_seasonal_then_out_of_sample_indices_continue_the_cycle():
    x = _seasonal(24 * 20 + 5, 24)
    des, si_out, seasonal = deseasonalise(x, 24, 48)
    figure = seasonal_indices(x, 24)
    assert seasonal
    np.testing.assert_allclose(des * figure[np.arange(len(x)) % 24], x)
    np.testing.assert_array_equal(si_out, figure[(len(x) + np.arange(48)) % 24])


def test_when_starting_then_values_are_forecast_82s():
    assert pytest.approx((0.5, 0.9782)) == (ALPHA0, PHI0)
    y = np.array([3.0, 5, 4, 6, 8, 7, 9, 11, 10, 12, 50, 60])
    np.testing.assert_allclose(start_parameters(y, False, False), [0.5, y[:10].mean()])
    slope, level = np.polyfit(np.arange(1, 11), y[:10], 1)
    np.testing.assert_allclose(initial_states(y, True), (level, slope))
    np.testing.assert_allclose(start_parameters(y, True, True), [0.5, 0.05009, 0.9782, level, slope])


def test_when_parameters_leave_the_bounds_then_the_objective_is_infinite():
    y = _seasonal(60, 1)
    assert np.isinf(ets_mse(np.array([1.2, 100.0]), y, False, False))
    assert np.isinf(ets_mse(np.array([0.3, 0.4, 100.0, 1.0]), y, True, False))  # beta > alpha
    assert np.isinf(ets_mse(np.array([0.3, 0.1, 0.99, 100.0, 1.0]), y, True, True))  # phi > 0.98
    assert np.isfinite(ets_mse(np.array([0.3, 0.1, 0.95, 100.0, 1.0]), y, True, True))


def test_when_mse_is_evaluated_then_it_is_the_mean_squared_one_step_error():
    y = _seasonal(80, 1, seed=3)
    par = np.array([0.4, 0.1, 0.9, 95.0, 0.5])
    errors = y - run_filter(par, y, True, True)[0]
    assert ets_mse(par, y, True, True) == pytest.approx(np.mean(errors**2), rel=1e-12)


def test_when_damped_then_forecasts_add_phi_powers_of_the_slope():
    path = forecast_path(10.0, 2.0, 0.9, True, 4)
    expected = [10 + 2 * sum(0.9**j for j in range(1, k + 1)) for k in range(1, 5)]
    np.testing.assert_allclose(path, expected)
    np.testing.assert_allclose(forecast_path(10.0, 2.0, 1.0, True, 3), [12, 14, 16])
    np.testing.assert_allclose(forecast_path(10.0, 2.0, 1.0, False, 3), [10, 10, 10])


@settings(max_examples=40, deadline=None)
@given(series, st.sampled_from([(False, False), (True, False), (True, True)]))
def test_when_fitted_then_parameters_are_admissible_and_mse_not_worse_than_start(y, model):
    trend, damped = model
    start = start_parameters(y, trend, damped)
    par, fmin, evaluations, fail = nmmin_ets(start, y, trend, damped)
    assert fail in (0, 10) and evaluations <= 2001
    assert fmin <= ets_mse(start, y, trend, damped) + 1e-9
    assert 1e-4 <= par[0] <= 0.9999
    if trend:
        assert 1e-4 <= par[1] <= par[0]
    if damped:
        assert 0.8 <= par[2] <= 0.98
    _, level, slope = run_filter(par, y, trend, damped)
    assert np.isfinite(level) and np.isfinite(slope)


@settings(max_examples=30, deadline=None)
@given(series)
def test_when_theta_forecasts_then_they_are_never_negative(y):
    falling = y[::-1].cumsum()[::-1]  # strictly decreasing to a small value: the OLS line goes negative
    out = theta_classic(falling, 30)
    assert np.all(out >= 0) and np.all(np.isfinite(out))


def test_when_series_is_too_short_for_ets_then_the_last_value_is_repeated():
    y = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0])  # 9 <= 5 + 4: R would use HoltWinters
    np.testing.assert_array_equal(ets_forecast(y, 3, True, True), [13.0, 13.0, 13.0])
    assert ets_forecast(y, 3, True, False)[0] != 13.0  # 9 > 4 + 4: Holt is fitted


def test_when_series_is_constant_then_every_method_forecasts_the_constant():
    y = np.full(40, 7.5)
    for trend, damped in ((False, False), (True, False), (True, True)):
        np.testing.assert_allclose(ets_forecast(y, 5, trend, damped), 7.5)
    np.testing.assert_allclose(theta_classic(y, 5), 7.5)
