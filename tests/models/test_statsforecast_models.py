"""statsforecast models by class name, behind the Forecaster interface."""

from __future__ import annotations

import numpy as np
import pytest
from statsforecast import StatsForecast
from statsforecast.models import AutoETS

from workbench.data.synthetic import synthetic_panel
from workbench.errors import UnknownNameError
from workbench.forecasters import make_forecaster


@pytest.fixture(scope="module")
def panel():
    train, _ = synthetic_panel(6, seed=2, min_length=60, max_length=90)
    return train


def test_when_a_model_is_named_by_class_then_forecasts_equal_statsforecast_directly(panel):
    ours = make_forecaster("statsforecast.AutoETS", model="ZZN").fit(panel).predict(12)
    direct = StatsForecast(models=[AutoETS(season_length=24, model="ZZN")], freq=1).forecast(df=panel.df, h=12)
    np.testing.assert_allclose(ours["y_hat"].to_numpy(), direct["AutoETS"].to_numpy())
    assert list(ours.columns[:3]) == ["unique_id", "ds", "y_hat"]


def test_when_quantiles_are_asked_then_they_are_ordered_around_the_median(panel):
    out = make_forecaster("statsforecast.AutoARIMA", quantiles=[0.1, 0.5, 0.9]).fit(panel).predict(6)
    assert (out["q0.1"] <= out["q0.5"]).all() and (out["q0.5"] <= out["q0.9"]).all()
    np.testing.assert_allclose(out["q0.5"], out["y_hat"])


def test_when_a_series_breaks_the_model_then_the_declared_fallback_forecasts_it_and_is_recorded(panel):
    df = panel.df.copy()
    df.loc[df["unique_id"] == df["unique_id"].iloc[0], "y"] *= -1  # log of negative values fails
    broken = type(panel)(df=df, season_length=24)
    out = make_forecaster("statsforecast.AutoARIMA", log=True, fallback="seasonal_naive").fit(broken).predict(4)
    fell_back = out.groupby("unique_id")["fallback"].first()
    assert fell_back.iloc[0].startswith("seasonal_naive") and (fell_back.iloc[1:] == "").all()
    with pytest.raises(ValueError, match="positive"):
        make_forecaster("statsforecast.AutoARIMA", log=True).fit(broken).predict(4)


def test_when_class_or_parameter_is_unknown_then_error_names_it():
    with pytest.raises(UnknownNameError, match="Did you mean 'AutoETS'"):
        make_forecaster("statsforecast.AutoETZ")
    with pytest.raises(TypeError, match=r"statsforecast\.AutoETS"):
        make_forecaster("statsforecast.AutoETS", seasonlength=12)
    with pytest.raises(UnknownNameError, match="model"):
        make_forecaster("statsforecast.AutoETS", fallback="naiive")
