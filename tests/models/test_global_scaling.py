"""Global models see each series scaled on its past: darts' global models through darts' `Scaler`,
the workbench's MLP through `SeriesScaler`; forecasts and quantiles come back in the series' units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from darts.dataprocessing.transformers import Scaler
from darts.models import LinearRegressionModel
from typer.testing import CliRunner

from workbench.cli import app
from workbench.data import Panel
from workbench.data.synthetic import synthetic_panel
from workbench.errors import ParameterError
from workbench.forecasters import make_forecaster
from workbench.metrics import mase
from workbench.models.darts_models import DartsModel
from workbench.neural.mlp import MLPParams, SeriesScaler

H = 24
N = 400


def two_scales(level: float = 0.0, seed: int = 0) -> tuple[Panel, pd.DataFrame]:
    """Hourly series `small` (scale 5) and `large` (scale 5,000) of one shape: `level` + a sine of
    period 24 + noise of a tenth of the amplitude. The past (N points) and the next H points."""
    rng = np.random.default_rng(seed)
    t = np.arange(N + H)
    ds = pd.date_range("2024-01-01", periods=N + H, freq="h")
    shape = level + np.sin(2 * np.pi * t / 24)
    frames = [
        pd.DataFrame({"unique_id": uid, "ds": ds, "y": scale * (shape + 0.1 * rng.normal(size=t.size))})
        for uid, scale in (("small", 5.0), ("large", 5000.0))
    ]
    df = pd.concat(frames, ignore_index=True)
    past = Panel.from_long(df[df["ds"] < ds[N]], freq="h", season_length=24)
    return past, df[df["ds"] >= ds[N]]


def small_mase(out: pd.DataFrame, past: Panel, future: pd.DataFrame, uid: str = "small") -> float:
    truth = future.loc[future["unique_id"] == uid, "y"].to_numpy()
    forecast = out.loc[out["unique_id"] == uid, "y_hat"].to_numpy()
    history = past.df.loc[past.df["unique_id"] == uid, "y"].to_numpy()
    return float(mase(truth[None, :], forecast[None, :], y_past=[history], season_length=24)[0])


@pytest.fixture(scope="module")
def panel() -> tuple[Panel, pd.DataFrame]:
    return two_scales()


def test_when_series_differ_a_thousandfold_in_scale_then_the_scaled_global_model_forecasts_the_small_one(panel):
    past, _ = panel
    scores = {
        scaler: small_mase(make_forecaster("darts.LinearRegressionModel", lags=48, **kw).fit(past).predict(H), *panel)
        for scaler, kw in (("default", {}), ("standard", {"scaler": "standard"}), ("none", {"scaler": "none"}))
    }
    print(f"MASE of the small series, darts.LinearRegressionModel(lags=48): {scores}")
    # measured: default (minmax) 0.94, standard 0.95, none 19.0: unscaled, one regression serves the large series
    assert scores["default"] < 1.5 and scores["standard"] < 1.5
    assert scores["none"] > 10 * scores["default"]


def test_when_a_global_darts_model_scales_then_it_equals_darts_scaler_fitted_on_the_past_around_the_model():
    train, _ = synthetic_panel(4, seed=3, min_length=80, max_length=120)
    model = make_forecaster("darts.LinearRegressionModel", lags=12)
    assert model.params.scaler == "minmax"  # the default, recorded in the model's parameters
    ours = model.fit(train).predict(3)
    series = [s.with_static_covariates(None) for s in train.to_darts()]
    scaler = Scaler(global_fit=False)  # darts' default: sklearn's MinMaxScaler, one per series
    scaled = scaler.fit_transform(series)
    direct = scaler.inverse_transform(LinearRegressionModel(lags=12).fit(scaled).predict(3, series=scaled))
    np.testing.assert_allclose(ours["y_hat"].to_numpy(), np.concatenate([p.values()[:, 0] for p in direct]))
    raw = make_forecaster("darts.LinearRegressionModel", lags=12, scaler="none").fit(train).predict(3)
    unscaled = LinearRegressionModel(lags=12).fit(series).predict(3, series=series)
    np.testing.assert_allclose(raw["y_hat"].to_numpy(), np.concatenate([p.values()[:, 0] for p in unscaled]))


def test_when_quantiles_are_asked_of_a_scaled_global_model_then_they_come_back_ordered_in_each_series_units(panel):
    past, future = panel
    # alpha=0: sklearn's QuantileRegressor otherwise puts an L1 penalty of 1 on coefficients fitted to [0, 1] values
    out = (
        make_forecaster(
            "darts.LinearRegressionModel",
            lags=48,
            likelihood="quantile",
            alpha=0,
            quantiles=[0.1, 0.9],
            num_samples=100,
            random_state=0,
        )
        .fit(past)
        .predict(H)
    )
    assert (out["q0.1"] <= out["y_hat"]).all() and (out["y_hat"] <= out["q0.9"]).all()
    width = out.assign(w=out["q0.9"] - out["q0.1"]).groupby("unique_id")["w"].mean()
    # the noise has standard deviation 0.5 (small) and 500 (large): an 80% band about 1.28 and 1,280 wide
    assert 0.6 < width["small"] < 2.5 and 600 < width["large"] < 2500
    assert small_mase(out, past, future) < 1.5
    truth = future.loc[future["unique_id"] == "small", "y"].to_numpy()
    small = out[out["unique_id"] == "small"]
    assert ((small["q0.1"].to_numpy() <= truth) & (truth <= small["q0.9"].to_numpy())).mean() >= 0.5


@pytest.mark.parametrize("scaler", ["minmax", "standard"])
def test_when_a_series_past_is_constant_then_it_is_shifted_not_divided_by_zero(panel, scaler):
    past, _ = panel
    df = past.df.copy()
    df.loc[df["unique_id"] == "small", "y"] = 7.0
    flat = Panel.from_long(df, freq="h", season_length=24)
    out = make_forecaster("darts.LinearRegressionModel", lags=48, scaler=scaler).fit(flat).predict(H)
    small = out.loc[out["unique_id"] == "small", "y_hat"].to_numpy()
    assert np.isfinite(out["y_hat"]).all()
    np.testing.assert_allclose(small, 7.0, atol=0.05)  # measured: within 1e-4 (minmax), 0.012 (standard)


def test_when_a_local_darts_model_is_given_a_scaler_then_the_error_names_it_and_none_is_accepted():
    with pytest.raises(ParameterError, match=r"darts\.ExponentialSmoothing: parameter 'scaler'.*global models only"):
        make_forecaster("darts.ExponentialSmoothing", scaler="standard")
    assert make_forecaster("darts.ExponentialSmoothing", scaler="none").params.scaler == "none"
    with pytest.raises(ParameterError, match=r"parameter 'scaler'"):
        make_forecaster("darts.LinearRegressionModel", lags=12, scaler="robust")


def test_when_the_models_are_described_then_the_scaler_and_its_default_are_in_their_parameters():
    field = DartsModel.params_model("LinearRegressionModel").model_fields["scaler"]
    assert field.default == "minmax" and "global models only" in (field.description or "")
    assert MLPParams.model_fields["scaler"].default == "standard"
    runner = CliRunner()
    for name, default in (("darts.LinearRegressionModel", "'minmax'"), ("mlp", "'standard'")):
        result = runner.invoke(app, ["models", "info", name], env={"COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        row = next(line for line in result.output.splitlines() if "│ scaler" in line)
        assert default in row and "'none'" in row


def test_when_the_mlp_sees_series_far_from_zero_then_scaling_each_on_its_past_is_what_lets_it_learn():
    past, future = two_scales(level=3.0)
    scores = {}
    for scaler in ("standard", "none"):
        model = make_forecaster("mlp", lags=48, epochs=30, windows_per_series=300, scaler=scaler, seed=0)
        out = model.fit(past).predict(H)
        scores[scaler] = (small_mase(out, past, future), small_mase(out, past, future, "large"))
        if scaler == "standard":  # the forecast is in each series' own units: around 15 and 15,000
            for uid, scale in (("small", 5.0), ("large", 5000.0)):
                values = out.loc[out["unique_id"] == uid, "y_hat"]
                assert 2 * scale < values.mean() < 4 * scale and values.max() - values.min() > scale
    print(f"MASE (small, large) of the mlp on level 3 + sine: {scores}")
    # measured: standard (0.93, 0.56), none (4.9, 4.9)
    assert max(scores["standard"]) < 1.5
    assert min(scores["none"]) > 2 * max(scores["standard"])


def test_when_a_series_scaler_is_fitted_then_padding_is_ignored_and_a_constant_past_is_only_shifted():
    values = np.array([[np.nan, 1.0, 2.0, 3.0], [4.0, 4.0, 4.0, 4.0], [np.nan] * 4, [0.0, 10.0, 20.0, 30.0]])
    standard = SeriesScaler.fit("standard", values)
    np.testing.assert_allclose(standard.shift[:, 0], [2.0, 4.0, 0.0, 15.0])
    np.testing.assert_allclose(standard.scale[:, 0], [np.sqrt(2 / 3), 1.0, 1.0, np.sqrt(125)])
    np.testing.assert_allclose(standard.transform(values)[1], 0.0)
    minmax = SeriesScaler.fit("minmax", values)
    np.testing.assert_allclose(minmax.transform(values)[3], [0.0, 1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(minmax.transform(values)[0, 1:], [0.0, 0.5, 1.0])
    for scaler in (standard, minmax, SeriesScaler.fit("none", values)):
        np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(SeriesScaler.fit("none", values).transform(values), values)
    with pytest.raises(ValueError, match="unknown scaler 'robust'"):
        SeriesScaler.fit("robust", values)  # type: ignore[arg-type]
