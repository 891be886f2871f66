"""Point and probabilistic models in one grid: a forecast without quantile columns is scored for the
probabilistic metrics as the degenerate distribution at its point forecast (every quantile = y_hat),
its rows flagged `point_as_quantiles`; a quantile forecast lacking a needed level is still an error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import metrics as M
from workbench.data.synthetic import synthetic_panel
from workbench.forecasters import make_forecaster
from workbench.scoring import DECILES, MissingQuantilesError, point_quantile_levels, score_window
from workbench.sequential import evaluate_sequential
from workbench.tasks import Task

RTOL = 1e-12
H, M_SEASON = 12, 24
PROBABILISTIC = ("crps", "coverage", "msis", "scaled_ql")


@pytest.fixture(scope="module")
def window():
    """One rolling window of a seeded 15-series synthetic panel (hourly-like, season 24)."""
    train, _ = synthetic_panel(15, seed=3, min_length=120, max_length=200, season_length=M_SEASON, horizon=H)
    task = Task.for_panel(train, horizon=H, season_length=M_SEASON, metrics=("mase", *PROBABILISTIC))
    return task, next(task.windows())


def _point(window) -> pd.DataFrame:
    """A point forecast that is off by a seeded amount at every step: a frame with no quantile column."""
    truth = window.truth.df
    rng = np.random.default_rng(0)
    return truth[["unique_id", "ds"]].assign(y_hat=truth["y"].to_numpy() + rng.normal(0, 5, len(truth)))


def _arrays(window, forecast: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, y, f, past) as independent numpy arrays: one row per series, sorted by id."""
    truth = window.truth.df.merge(forecast, on=["unique_id", "ds"]).sort_values(["unique_id", "ds"])
    ids = np.array(sorted(truth["unique_id"].unique()))
    y = np.stack([truth.loc[truth["unique_id"] == i, "y"].to_numpy() for i in ids])
    f = np.stack([truth.loc[truth["unique_id"] == i, "y_hat"].to_numpy() for i in ids])
    past = window.past.df
    hist = [past.loc[past["unique_id"] == i].sort_values("ds")["y"].to_numpy() for i in ids]
    scale = np.array([np.mean(np.abs(x[M_SEASON:] - x[:-M_SEASON])) for x in hist])
    return ids, y, f, scale


def _by_metric(scores: pd.DataFrame, name: str) -> pd.DataFrame:
    return scores[scores["metric"] == name].set_index("unique_id").sort_index()


def test_when_a_point_forecast_is_scored_for_probabilistic_metrics_then_its_point_is_every_quantile(window):
    task, w = window
    forecast = _point(w)
    scores = score_window(task, w.past, w.truth, forecast, "point-model")
    assert set(scores["metric"]) == {"mase", *PROBABILISTIC} and len(scores) == 15 * 5
    assert np.isfinite(scores["value"]).all()
    assert scores["point_as_quantiles"].dtype == bool
    assert scores["point_as_quantiles"].to_numpy().tolist() == scores["metric"].isin(PROBABILISTIC).tolist()
    levels = scores.drop_duplicates("metric").set_index("metric")["quantiles"]
    assert pd.isna(levels["mase"])
    assert levels["crps"] == levels["scaled_ql"] == "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
    assert levels["coverage"] == levels["msis"] == "0.025,0.975"

    ids, y, f, scale = _arrays(w, forecast)
    abs_err = np.abs(y - f)
    mase = abs_err.mean(axis=1) / scale
    np.testing.assert_allclose(_by_metric(scores, "mase")["value"].loc[ids], mase, rtol=RTOL)
    # the deciles are symmetric about 0.5: crps of a point is its WAPE, scaled_ql its MASE
    crps = _by_metric(scores, "crps").loc[ids]
    np.testing.assert_allclose(crps["value"], abs_err.sum(axis=1) / np.abs(y).sum(axis=1), rtol=RTOL)
    np.testing.assert_allclose(crps["numerator"], abs_err.sum(axis=1), rtol=RTOL)
    np.testing.assert_allclose(_by_metric(scores, "scaled_ql")["value"].loc[ids], mase, rtol=RTOL)
    # a zero-width 95% interval: the interval score is the penalty 2 / 0.05 |y - f| alone
    np.testing.assert_allclose(_by_metric(scores, "msis")["value"].loc[ids], 40 * mase, rtol=RTOL)
    np.testing.assert_array_equal(_by_metric(scores, "coverage")["value"].loc[ids], (y == f).mean(axis=1))
    assert (_by_metric(scores, "coverage")["value"] == 0).all()  # continuous noise: no actual hit exactly


def test_when_some_actuals_equal_the_point_then_coverage_is_their_share(window):
    task, w = window
    forecast = _point(w)
    hit = forecast.groupby("unique_id").head(3).index  # the first 3 of the 12 steps of every series
    forecast.loc[hit, "y_hat"] = w.truth.df.loc[hit, "y"]
    scores = score_window(task, w.past, w.truth, forecast, "point-model", ["coverage", "coverage@50"])
    np.testing.assert_array_equal(scores["value"], np.full(30, 3 / 12))
    assert scores["point_as_quantiles"].all()
    assert scores.drop_duplicates("metric")["quantiles"].tolist() == ["0.025,0.975", "0.25,0.75"]


@pytest.mark.parametrize(
    "task_levels", [None, (0.1, 0.5, 0.9), (0.05, 0.3, 0.6, 0.7)], ids=["deciles", "symmetric", "skewed"]
)
def test_when_a_point_forecast_is_scored_then_wql_equals_its_absolute_error_plus_the_level_bias(window, task_levels):
    """The identity of the module docstring, against numpy: mean over levels L of QL at a point f is
    |y - f| + (2 mean(L) - 1)(y - f), so wql = wape when mean(L) = 0.5 and carries a bias term else."""
    task, w = window
    task = task.model_copy(update={"quantile_levels": task_levels})
    forecast = _point(w)
    metrics = ["wql", "crps", "scaled_ql", "quantile_loss", "wape", "mae"]
    scores = score_window(task, w.past, w.truth, forecast, "point-model", metrics)
    levels = np.array(task_levels or DECILES)
    assert scores.loc[scores["metric"] == "wql", "quantiles"].iloc[0] == ",".join(f"{q:g}" for q in levels)
    ids, y, f, scale = _arrays(w, forecast)
    # QL written out level by level, independently of workbench.metrics
    ql = np.stack([2 * np.where(y > f, q * (y - f), (1 - q) * (f - y)) for q in levels], axis=-1)
    closed_form = np.abs(y - f) + (2 * levels.mean() - 1) * (y - f)
    np.testing.assert_allclose(ql.mean(axis=-1), closed_form, rtol=RTOL)
    wql = closed_form.sum(axis=1) / np.abs(y).sum(axis=1)
    np.testing.assert_allclose(_by_metric(scores, "wql")["value"].loc[ids], wql, rtol=RTOL)
    np.testing.assert_array_equal(_by_metric(scores, "wql")["value"], _by_metric(scores, "crps")["value"])
    per_step = closed_form.mean(axis=1)
    np.testing.assert_allclose(_by_metric(scores, "scaled_ql")["value"].loc[ids], per_step / scale, rtol=RTOL)
    np.testing.assert_allclose(_by_metric(scores, "quantile_loss")["value"].loc[ids], per_step / 2, rtol=RTOL)
    wape, mae = _by_metric(scores, "wape")["value"].loc[ids], _by_metric(scores, "mae")["value"].loc[ids]
    if np.isclose(levels.mean(), 0.5):
        np.testing.assert_allclose(_by_metric(scores, "wql")["value"].loc[ids], wape, rtol=RTOL)
        np.testing.assert_allclose(_by_metric(scores, "quantile_loss")["value"].loc[ids], mae / 2, rtol=RTOL)
    else:  # a skewed set of levels weighs over- and under-forecasts differently: not the WAPE
        assert not np.allclose(_by_metric(scores, "wql")["value"].loc[ids], wape, rtol=1e-6)


def test_when_levels_are_chosen_for_a_point_forecast_then_the_metric_and_the_task_decide():
    task = Task(dataset="m4", subset="Weekly", metrics=("crps", "msis@80"))
    assert point_quantile_levels(task, M.get_metric("crps")) == DECILES
    assert point_quantile_levels(task, M.get_metric("msis")) == (0.025, 0.975)
    assert point_quantile_levels(task, M.get_metric("coverage@80")) == (0.1, 0.9)
    fixed = task.model_copy(update={"quantile_levels": (0.2, 0.5, 0.8)})
    assert point_quantile_levels(fixed, M.get_metric("scaled_ql")) == (0.2, 0.5, 0.8)
    assert point_quantile_levels(fixed, M.get_metric("msis")) == (0.025, 0.975)  # an interval's own bounds
    with pytest.raises(ValueError, match="'mase' is a point metric"):
        point_quantile_levels(task, M.get_metric("mase"))


def test_when_a_quantile_forecast_lacks_the_interval_levels_then_it_is_still_an_error_naming_the_model(window):
    task, w = window
    forecast = _point(w)
    for level, shift in ((0.1, -3.0), (0.5, 0.0), (0.9, 3.0)):
        forecast[f"q{level:g}"] = forecast["y_hat"] + shift
    with pytest.raises(MissingQuantilesError) as err:
        score_window(task, w.past, w.truth, forecast, "chronos-small", ["crps", "coverage"])
    message = str(err.value)
    assert message.startswith("chronos-small: metric 'coverage' scores the central 95% interval")
    assert "needs quantiles 0.025,0.975; its forecast has 0.1,0.5,0.9" in message
    assert "add 0.025,0.975 to the model's quantile levels" in message
    assert "'coverage@80'" in message and "quantiles=" not in message
    # the levels it has score: crps on its own three, coverage at 80%
    scores = score_window(task, w.past, w.truth, forecast, "chronos-small", ["crps", "coverage@80"])
    assert not scores["point_as_quantiles"].any()
    assert scores.drop_duplicates("metric")["quantiles"].tolist() == ["0.1,0.5,0.9", "0.1,0.9"]
    # no symmetric pair at all: the message says there is no interval to score
    lopsided = forecast.drop(columns=["q0.1"])
    with pytest.raises(MissingQuantilesError) as err:
        score_window(task, w.past, w.truth, lopsided, "chronos-small", ["msis"])
    assert "leave 'msis' out for this model: its forecast has no central interval" in str(err.value)
    assert "quantiles=" not in str(err.value)


def test_when_a_task_declares_levels_a_quantile_forecast_lacks_then_the_error_names_the_model(window):
    task, w = window
    forecast = _point(w)
    forecast["q0.1"], forecast["q0.9"] = forecast["y_hat"] - 1, forecast["y_hat"] + 1
    declared = task.model_copy(update={"quantile_levels": (0.1, 0.5, 0.9)})
    with pytest.raises(MissingQuantilesError, match=r"^tirex: metric 'crps' .* lacks 0\.5 .*model's quantile levels"):
        score_window(declared, w.past, w.truth, forecast, "tirex", ["crps"])


def test_when_point_and_quantile_models_share_a_sequential_grid_then_every_model_scores_every_metric(window):
    task, _ = window
    task = task.model_copy(update={"metrics": ("mase", "crps", "coverage"), "n_windows": 2})
    models = [
        "seasonal_naive",
        "theta",
        {"name": "statsforecast.AutoETS", "params": {"quantiles": [0.025, 0.1, 0.5, 0.9, 0.975]}},
    ]
    frames = []
    for model in models:
        name, params = (model, {}) if isinstance(model, str) else (model["name"], model["params"])
        frames.append(evaluate_sequential(task, name, **params))
    rows = pd.concat(frames, ignore_index=True)
    counts = rows.groupby(["model", "metric"]).size()
    assert counts.to_dict() == {
        (m, k): 15 * 2 for m in ("seasonal_naive", "theta", "statsforecast.AutoETS") for k in task.metrics
    }
    assert rows["value"].notna().all()
    point_model = rows["model"].isin(["seasonal_naive", "theta"])
    expected_flag = point_model & rows["metric"].isin(["crps", "coverage"])
    assert rows["point_as_quantiles"].tolist() == expected_flag.tolist()
    levels = rows.drop_duplicates(["model", "metric"]).set_index(["model", "metric"])["quantiles"]
    assert levels[("theta", "crps")] == ",".join(f"{q:g}" for q in DECILES)
    assert levels[("theta", "coverage")] == levels[("statsforecast.AutoETS", "coverage")] == "0.025,0.975"
    assert levels[("statsforecast.AutoETS", "crps")] == "0.025,0.1,0.5,0.9,0.975"
    # a point model's crps is its WAPE (symmetric deciles): checked on the seasonal naive's own forecasts
    naive = rows[rows["model"] == "seasonal_naive"].set_index(["window", "metric", "unique_id"])["value"].sort_index()
    for w in task.windows():
        f = make_forecaster("seasonal_naive").fit(w.past).predict(task.h)
        ids, y, yhat, _ = _arrays(w, f)
        wape = np.abs(y - yhat).sum(axis=1) / np.abs(y).sum(axis=1)
        np.testing.assert_allclose(naive.loc[(w.index, "crps")].loc[ids], wape, rtol=RTOL)
        np.testing.assert_array_equal(naive.loc[(w.index, "coverage")].loc[ids], (y == yhat).mean(axis=1))
