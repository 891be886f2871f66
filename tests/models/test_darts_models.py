"""darts models by class name: local per series, global across series, quantiles, fallback."""

from __future__ import annotations

import numpy as np
import pytest
from darts.models import ExponentialSmoothing, LinearRegressionModel

from workbench.data import Panel
from workbench.data.synthetic import synthetic_panel
from workbench.engine.runner import is_global
from workbench.errors import ParameterError, UnknownNameError
from workbench.forecasters import make_forecaster
from workbench.models.spec import ModelSpec


@pytest.fixture(scope="module")
def panel() -> Panel:
    train, _ = synthetic_panel(4, seed=3, min_length=80, max_length=120)
    return train


def test_when_a_local_model_runs_then_each_series_equals_darts_directly(panel):
    ours = make_forecaster("darts.ExponentialSmoothing", trend=None, seasonal=None).fit(panel).predict(5)
    for ts in panel.to_darts():
        uid = ts.static_covariates["unique_id"].iloc[0]
        direct = ExponentialSmoothing(trend=None, seasonal=None).fit(ts).predict(5).values()[:, 0]
        np.testing.assert_allclose(ours.loc[ours["unique_id"] == uid, "y_hat"], direct)


def test_when_a_model_is_global_then_it_is_trained_once_across_series(panel):
    model = make_forecaster("darts.LinearRegressionModel", lags=12, scaler="none")  # darts on raw values
    assert model.is_global and is_global(ModelSpec(name="darts.LinearRegressionModel", params={"lags": 12}))
    assert not make_forecaster("darts.NaiveSeasonal").is_global
    ours = model.fit(panel).predict(3)
    series = [s.with_static_covariates(None) for s in panel.to_darts()]
    direct = LinearRegressionModel(lags=12).fit(series).predict(3, series=series)
    np.testing.assert_allclose(ours["y_hat"].to_numpy(), np.concatenate([p.values()[:, 0] for p in direct]))


def test_when_quantiles_are_asked_of_a_probabilistic_model_then_they_are_ordered(panel):
    out = (
        make_forecaster(
            "darts.ExponentialSmoothing",
            trend=None,
            seasonal=None,
            quantiles=[0.1, 0.9],
            num_samples=100,
            random_state=0,
        )
        .fit(panel)
        .predict(4)
    )
    assert (out["q0.1"] <= out["y_hat"]).all() and (out["y_hat"] <= out["q0.9"]).all()


def test_when_a_series_breaks_a_local_model_then_the_fallback_is_used_and_recorded(panel):
    short = Panel(df=panel.df.groupby("unique_id").head(3).reset_index(drop=True), season_length=24)
    out = make_forecaster("darts.ExponentialSmoothing", seasonal_periods=24, fallback="naive").fit(short).predict(2)
    assert out["fallback"].str.startswith("naive").all()
    with pytest.raises(UnknownNameError, match="Did you mean 'ExponentialSmoothing'"):
        make_forecaster("darts.ExponentialSmoothin")


def test_when_a_darts_argument_is_mistyped_or_of_the_wrong_type_then_the_error_names_it_before_fitting():
    with pytest.raises(ParameterError, match=r"darts\.Theta: unknown parameter 'seasonality_periods' \(did you mean "
                                             r"'seasonality_period'.*Valid parameters: .*theta"):  # fmt: skip
        make_forecaster("darts.Theta", seasonality_periods=12)
    with pytest.raises(ParameterError, match=r"unknown parameter 'k'.*'K'"):
        make_forecaster("darts.NaiveSeasonal", k=2)
    with pytest.raises(ParameterError, match="parameter 'n_epochs'"):
        make_forecaster("darts.NLinearModel", input_chunk_length=12, output_chunk_length=6, n_epochs="many")
