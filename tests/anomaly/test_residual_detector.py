"""The band detector: spikes far outside the forecaster's band are flagged, noise inside it is not,
the band comes from the forecaster's quantiles when it gives them, scores use the past only."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.anomaly.detectors import make_detector
from workbench.errors import ParameterError, UnknownNameError, WorkbenchError


def _noise(n: int = 1200, seed: int = 0) -> np.ndarray:
    return 10 + np.random.default_rng(seed).normal(0, 1, n)


@pytest.mark.parametrize("forecaster", ["seasonal_naive", "ses", "theta"])
def test_when_a_spike_leaves_the_band_then_it_scores_highest_and_noise_stays_inside(forecaster):
    x = _noise()
    x[900] += 15
    det = make_detector("forecast_band", forecaster=forecaster, refit_every=10, context=200)
    scores = det.score(x)
    assert not det.quantiles  # these forecasters give no quantiles: the residuals' empirical band
    assert int(np.argmax(scores)) == 900 and scores[900] > 0.8
    noise = np.delete(scores, 900)[100:]
    assert (noise > 0.8).sum() == 0  # nothing else is 4 half-widths away
    outside = (noise > 0.5).mean()  # the alert: outside a 95% band about 5% of the time
    assert 0.02 < outside < 0.09


def test_when_the_series_is_flat_then_nothing_is_flagged():
    scores = make_detector("forecast_band", forecaster="seasonal_naive").score(np.full(300, 4.0))
    assert (scores == 0).all()


def test_when_the_forecaster_gives_quantiles_then_the_band_is_its_own():
    x = _noise(500)
    x[400] -= 12
    det = make_detector(
        "forecast_band",
        forecaster="statsforecast.AutoETS",
        forecaster_params={"model": "ANN"},
        refit_every=25,
        context=150,
        level=0.9,
    )
    assert det.quantiles
    band = det.bands(x)
    assert (band["source"] == "quantiles").all()
    assert (band["upper"] > band["lower"]).iloc[20:].all()
    scores = det.score(x)
    assert int(np.argmax(scores)) == 400
    assert 0.03 < (scores[20:] > 0.5).mean() < 0.2  # a 90% band
    with pytest.raises(WorkbenchError, match=r"lack the band's levels \[0\.05, 0\.95\]"):
        make_detector(
            "forecast_band", forecaster="statsforecast.AutoETS", forecaster_params={"quantiles": [0.5]}, level=0.9
        )


def test_when_later_rows_change_then_earlier_scores_do_not():
    x = _noise(600)
    det = make_detector("forecast_band", forecaster="theta", refit_every=7, context=100)
    before = det.score(x)
    y = x.copy()
    y[400:] += 50
    after = det.score(y)
    np.testing.assert_array_equal(before[:400], after[:400])
    assert after[400] > 0.9


def test_when_values_are_missing_then_they_score_zero_and_the_past_carries_forward():
    x = _noise(400)
    x[[150, 151, 300]] = np.nan
    scores = make_detector("forecast_band", forecaster="ses", refit_every=5, context=100).score(x)
    assert np.isfinite(scores).all() and (scores[[150, 151, 300]] == 0).all()


def test_when_the_forecaster_is_unknown_then_error_names_it():
    with pytest.raises(UnknownNameError, match=r"unknown model 'thetaa'.*Did you mean 'theta'"):
        make_detector("forecast_band", forecaster="thetaa")
    with pytest.raises(ParameterError, match=r"unknown parameter 'season_lenght'"):
        make_detector("forecast_band", forecaster="seasonal_naive", forecaster_params={"season_lenght": 3})
    with pytest.raises(ParameterError, match=r"forecast_band: unknown parameter 'levl'"):
        make_detector("forecast_band", levl=0.9)
    with pytest.raises(WorkbenchError, match=r"'theta' gives no quantiles"):
        make_detector("forecast_band", forecaster="theta", band="quantiles")


def test_when_run_twice_with_a_seed_then_scores_are_identical_and_the_seed_reaches_the_forecaster():
    x = _noise(400, seed=3)
    params = {"forecaster": "statsforecast.AutoETS", "forecaster_params": {"model": "ANN"}, "refit_every": 40}
    first = make_detector("forecast_band", seed=7, **params)
    np.testing.assert_array_equal(first.score(x), make_detector("forecast_band", seed=7, **params).score(x))
    assert first._forecaster().seed == 7


def test_when_the_residual_rules_share_one_vocabulary_then_old_names_are_refused_naming_the_new_ones():
    with pytest.raises(ParameterError, match=r"forecast_residual: parameter 'model' is now called 'forecaster'"):
        make_detector("forecast_residual", model="ses")
    with pytest.raises(ParameterError, match=r"'block' is now called 'refit_every'; parameter 'history' is now"):
        make_detector("forecast_residual", block=10, history=100)
    x = _noise(300)
    x[250] += 10
    for name in ("forecast_residual", "forecast_band"):
        scores = make_detector(name, forecaster="ses", refit_every=10, context=100).score(x)
        assert int(np.argmax(scores)) == 250
