"""Metrics: properties that must hold for any input, one shared signature, and agreement with utilsforecast."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import utilsforecast.losses as uf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench import metrics as M
from workbench.errors import UnknownNameError

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


def _panel(n=20, h=6, t=30, seed=0):
    rng = np.random.default_rng(seed)
    past = rng.normal(100, 10, size=(n, t))
    y = rng.normal(100, 10, size=(n, h))
    f = y + rng.normal(0, 5, size=(n, h))
    return past, y, f


@settings(max_examples=60, deadline=None)
@given(arrays(float, (3, 5), elements=finite), arrays(float, (3, 5), elements=finite))
def test_when_any_forecast_is_scored_then_smape_lies_in_0_200_and_is_symmetric(y, f):
    s = M.smape(y, f)
    assert np.all((s >= 0) & (s <= 200 + 1e-9))
    np.testing.assert_allclose(s, M.smape(f, y))


@settings(max_examples=60, deadline=None)
@given(arrays(float, (2, 4), elements=finite))
def test_when_forecast_is_perfect_then_errors_are_zero(y):
    for name in ("smape", "mae", "mse", "rmse"):
        np.testing.assert_array_equal(M.get_metric(name).fn(y, y.copy()), 0.0)


@settings(max_examples=60, deadline=None)
@given(arrays(float, (2, 4), elements=positive), arrays(float, (2, 4), elements=positive), st.floats(0.1, 100))
def test_when_data_is_rescaled_then_scale_free_metrics_do_not_move(y, f, c):
    past = np.abs(y) + np.arange(4)  # any non-constant history
    for name in ("smape", "mape", "wape", "mase", "rmsse"):
        fn = M.get_metric(name).fn
        a = fn(y, f, y_past=past, season_length=1)
        b = fn(c * y, c * f, y_past=c * past, season_length=1)
        # Where f agrees with y to a few ulps the metric is itself round-off (sMAPE 1e-14; MASE 1e-10 at
        # y = 1e6 with a unit scale) and the rescaling moves it by round-off, not by a fraction of itself:
        # there the bound is absolute, the metric of an error of four ulps of y (near zero); everywhere
        # else the relative bound decides.
        roundoff = np.abs(fn(y, y + 4 * np.spacing(y), y_past=past, season_length=1))
        close = np.isclose(a, b, rtol=1e-9, atol=roundoff, equal_nan=True)  # |a - b| <= atol + rtol * |b|
        assert close.all(), f"{name}: {a} against {b} after rescaling by {c}, round-off {roundoff}"


def test_when_mase_is_computed_then_it_uses_the_seasonal_naive_scale_of_the_past():
    past = np.array([[1.0, 2, 3, 4, 5, 6]])
    # lag-2 differences of the past are all 2 → scale 2; MAE 4 → MASE 2
    assert M.mase(np.array([[10.0]]), np.array([[6.0]]), y_past=past, season_length=2)[0] == pytest.approx(2.0)


def test_when_horizons_are_ragged_then_nan_cells_are_ignored():
    y = np.array([[1.0, 2.0, np.nan], [1.0, 1.0, 1.0]])
    f = np.array([[2.0, 2.0, 99.0], [1.0, 1.0, 4.0]])
    np.testing.assert_allclose(M.mae(y, f), [0.5, 1.0])


def _long(y, f, past):
    n, h = y.shape
    test = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), h),
            "ds": np.tile(np.arange(past.shape[1], past.shape[1] + h), n),
            "y": y.ravel(),
            "model": f.ravel(),
        }
    )
    train = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), past.shape[1]),
            "ds": np.tile(np.arange(past.shape[1]), n),
            "y": past.ravel(),
        }
    )
    return test, train


@pytest.mark.parametrize(
    ("ours", "theirs", "factor"),
    [("mae", uf.mae, 1), ("mse", uf.mse, 1), ("rmse", uf.rmse, 1), ("mape", uf.mape, 100), ("smape", uf.smape, 200)],
)
def test_when_compared_with_utilsforecast_then_point_metrics_agree(ours, theirs, factor):
    past, y, f = _panel(seed=3)
    test, _ = _long(y, f, past)
    expected = theirs(test, ["model"])["model"].to_numpy() * factor
    np.testing.assert_allclose(M.get_metric(ours).fn(y, f), expected, rtol=1e-12)


@pytest.mark.parametrize(("ours", "theirs"), [("mase", uf.mase), ("rmsse", uf.rmsse)])
@pytest.mark.parametrize("m", [1, 4])
def test_when_compared_with_utilsforecast_then_scaled_metrics_agree(ours, theirs, m):
    past, y, f = _panel(seed=4)
    test, train = _long(y, f, past)
    expected = theirs(test, ["model"], seasonality=m, train_df=train)["model"].to_numpy()
    np.testing.assert_allclose(M.get_metric(ours).fn(y, f, y_past=past, season_length=m), expected, rtol=1e-12)


def test_when_compared_with_utilsforecast_then_quantile_metrics_agree():
    past, y, f = _panel(seed=5)
    qs = np.array([0.1, 0.5, 0.9])
    q_pred = f[..., None] + np.array([-8.0, 0.0, 8.0])
    test, _ = _long(y, f, past)
    cols = [f"q{int(q * 100)}" for q in qs]
    for j, c in enumerate(cols):
        test[c] = q_pred[..., j].ravel()
    # mean pinball over quantiles per series
    expected = np.mean(
        [uf.quantile_loss(test, {"model": c}, q=q)["model"].to_numpy() for c, q in zip(cols, qs, strict=True)], axis=0
    )
    np.testing.assert_allclose(M.quantile_loss(y, f, q_pred=q_pred, quantiles=qs), expected, rtol=1e-12)


def test_when_interval_is_central_then_coverage_and_msis_follow_their_definitions():
    y = np.array([[0.0, 5.0, 10.0, 20.0]])
    q_pred = np.array([[[1.0, 9.0]] * 4])
    qs = [0.025, 0.975]
    assert M.coverage(y, None, q_pred=q_pred, quantiles=qs)[0] == pytest.approx(0.25)  # only 5 is inside
    past = np.array([0.0, 1.0, 2.0])  # scale 1
    # width 8 each; penalties 2/0.05 * (1 - 0), 2/0.05 * (10 - 9) and 2/0.05 * (20 - 9)
    expected = (4 * 8 + 40 * 1 + 40 * 1 + 40 * 11) / 4
    assert M.msis(y, None, q_pred=q_pred, quantiles=qs, y_past=past)[0] == pytest.approx(expected)


def test_when_a_metric_gets_a_misspelt_keyword_then_it_is_a_type_error():
    past, y, f = _panel(seed=6)
    q_pred, qs = f[..., None] + np.array([-8.0, 0.0, 8.0]), [0.1, 0.5, 0.9]
    with pytest.raises(TypeError, match="quantile"):
        M.crps(y, f, quantile=qs, q_pred=q_pred)
    with pytest.raises(TypeError, match="seasonality"):
        M.mase(y, f, y_past=past, seasonality=4)
    with pytest.raises(TypeError, match="lvl"):
        M.get_metric("coverage@80").fn(y, f, quantiles=qs, q_pred=q_pred, lvl=0.5)
    for metric in M.METRICS.values():  # every metric, point ones too, refuses what it does not declare
        with pytest.raises(TypeError):
            metric.fn(y, f, y_past=past, season_lenght=1, quantiles=qs, q_pred=q_pred)


def test_when_metrics_are_registered_then_they_share_one_explicit_signature():
    shared = ["y_true", "y_pred", "y_past", "season_length", "quantiles", "q_pred"]
    probabilistic = {"crps", "wql", "scaled_ql", "quantile_loss", "msis", "coverage"}
    for metric in M.METRICS.values():
        params = inspect.signature(metric.fn).parameters
        kinds = {p.kind for p in params.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds
        assert list(params)[: len(shared)] == shared, metric.name
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in shared[2:]), metric.name
        assert set(params) - set(shared) == ({"level"} if metric.level is not None else set()), metric.name
        assert metric.probabilistic == (metric.name in probabilistic), metric.name
        assert metric.needs_past == (
            metric.name in {"mase", "mase_fev", "mase_monash", "rmsse", "scaled_ql", "msis"}
        ), metric.name


def test_when_aggregating_then_the_named_rule_is_applied():
    v = np.array([1.0, 4.0])
    assert M.aggregate(v, "mean") == 2.5
    assert M.aggregate(v, "pooled", weights=np.array([3.0, 1.0])) == pytest.approx(1.75)
    assert M.aggregate(v, "gmean_rel", baseline=np.array([2.0, 2.0])) == pytest.approx(1.0)
    with pytest.raises(UnknownNameError, match="Did you mean 'mean'"):
        M.aggregate(v, "mena")


def test_when_owa_is_computed_then_it_averages_relative_smape_and_mase():
    assert M.owa(10.0, 2.0, 20.0, 1.0) == pytest.approx(0.5 * (0.5 + 2.0))


def test_when_metric_name_is_unknown_then_error_suggests_it():
    with pytest.raises(UnknownNameError, match="Did you mean 'smape'"):
        M.get_metric("smap")


def test_when_history_is_padded_or_gapped_then_the_scale_matches_the_per_series_definition():
    from workbench.metrics import seasonal_naive_scale

    rng = np.random.default_rng(5)
    rows = [rng.uniform(1, 10, n) for n in (30, 12, 5, 50)]
    padded = np.full((4, 50), np.nan)
    for i, r in enumerate(rows):
        padded[i, 50 - len(r) :] = r
    padded[3, 20] = np.nan  # a gap inside: the value is dropped before differencing
    expected = [np.mean(np.abs(r[7:] - r[:-7]) ** 2) if len(r) > 7 else np.nan for r in rows[:3]]
    gapped = np.delete(rows[3], 20)
    expected.append(np.mean(np.abs(gapped[7:] - gapped[:-7]) ** 2))
    np.testing.assert_allclose(seasonal_naive_scale(padded, 4, 7, power=2), expected)


def test_when_mase_fev_is_pooled_then_it_is_fev_060s_mase_with_gaps_short_histories_and_zero_scales():
    """fev 0.6.0 (src/fev/metrics.py): scale = nanmean |x_t - x_{t-m}| on the history as stored, 1.0 where
    undefined; scaled errors that are not finite are dropped; the mean pools every cell of the task."""
    m = 2
    pasts = [
        np.array([1.0, 3.0, np.nan, 4.0, 6.0, 5.0]),  # a gap: its pairs are skipped, the others kept
        np.array([2.0, 2.0]),  # not longer than m: scale 1.0
        np.array([5.0, 7.0, 5.0, 7.0]),  # zero scale: its errors are infinite and dropped
        np.array([1.0, 2.0, 4.0, 8.0, 16.0]),
    ]
    y = np.array([[4.0, np.nan, 6.0], [1.0, 2.0, 3.0], [6.0, 6.0, 6.0], [10.0, 20.0, 30.0]])
    f = np.array([[5.0, 5.0, 5.0], [2.0, 2.0, 2.0], [5.0, 7.0, 5.0], [16.0, 8.0, 16.0]])

    def fev_scale(x):  # fev 0.6.0 _abs_seasonal_error, then nan_to_num(nan=1.0)
        d = x[m:] - x[:-m] if len(x) > m else np.array([])
        with np.errstate(all="ignore"):
            v = np.nanmean(np.abs(d)) if len(d) else np.nan
        return 1.0 if np.isnan(v) else v

    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.abs(y - f) / np.array([fev_scale(x) for x in pasts])[:, None]
    expected = float(np.mean(scaled[np.isfinite(scaled)]))  # fev's _safemean over [N, H]
    padded = np.full((4, 6), np.nan)
    for i, x in enumerate(pasts):
        padded[i, 6 - len(x) :] = x
    num, den = M.mase_fev_parts(y, f, y_past=padded, season_length=m)
    assert M.pooled_ratio(num, den) == pytest.approx(expected, rel=1e-12)
    assert list(den) == [2, 3, 0, 3]  # the gap's cell, and the zero-scale series, left out
    per_series = M.mase_fev(y, f, y_past=padded, season_length=m)
    assert np.isnan(per_series[2]) and per_series[1] == pytest.approx(np.mean([1.0, 0.0, 1.0]))
    # the scale of the gappy history: pairs (1,nan) (3,4) (nan,6) (4,5) -> |4-3|, |5-4| -> 1.0
    assert per_series[0] == pytest.approx(np.mean([1.0, 1.0]))
    # the same as a list of histories
    np.testing.assert_allclose(M.mase_fev(y, f, y_past=pasts, season_length=m), per_series, equal_nan=True)
