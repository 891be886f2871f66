"""Probabilistic metrics and their scoring path: agreement with utilsforecast (always installed) and
gluonts.ev (GIFT-Eval's and BOOM's evaluation code, when installed), on random and real forecasts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import utilsforecast.losses as uf

from workbench import metrics as M
from workbench.data import load_holdout
from workbench.errors import UnknownNameError
from workbench.forecasters import make_forecaster
from workbench.scoring import MissingQuantilesError, quantile_columns, score_window
from workbench.tasks import Task

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
LEVELS = [0.025, *DECILES, 0.975]
RTOL = 1e-10
PROBABILISTIC = ("crps", "wql", "scaled_ql", "msis", "coverage")
M4_METRICS = ("smape", "mase", *PROBABILISTIC)


# ---- random inputs in both layouts: padded arrays (ours) and long frames (the peers') ------------
def _random(seed: int, ragged: bool, n: int = 12, h: int = 8, t: int = 40):
    """(past left-padded, y right-padded, point forecast, q_pred) with NaN padding when ragged."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(5, 50, size=(n, 1))
    past = level + rng.normal(0, 4, size=(n, t))
    y = level + rng.normal(0, 4, size=(n, h))
    f = y + rng.normal(0, 3, size=(n, h))
    spread = np.sort(rng.normal(0, 3, size=(n, h, len(LEVELS))), axis=-1) + 3 * (np.array(LEVELS) - 0.5)
    q_pred = f[..., None] + spread  # some actuals fall outside the 95% interval, most inside
    if ragged:
        for i in range(n):
            past[i, : rng.integers(0, t - 10)] = np.nan  # histories of different lengths (left padding)
            y[i, h - rng.integers(0, h - 1) :] = np.nan  # horizons of different lengths (right padding)
        f[np.isnan(y)] = np.nan
        q_pred[np.isnan(y)] = np.nan
    return past, y, f, q_pred


def _frames(past, y, f, q_pred, levels=LEVELS):
    """utilsforecast's long frames; padding cells are simply absent rows."""
    n, h = y.shape
    test = pd.DataFrame({"unique_id": np.repeat(np.arange(n), h), "ds": np.tile(np.arange(h), n), "y": y.ravel()})
    test["model"] = f.ravel()
    for j, q in enumerate(levels):
        test[f"q{q:g}"] = q_pred[..., j].ravel()
    test = test[~np.isnan(test["y"])].reset_index(drop=True)
    test["ds"] += past.shape[1]
    train = pd.DataFrame(
        {"unique_id": np.repeat(np.arange(n), past.shape[1]), "ds": np.tile(np.arange(past.shape[1]), n)}
    )
    train["y"] = past.ravel()
    return test, train[~np.isnan(train["y"])].reset_index(drop=True)


def _per_id(frame: pd.DataFrame, column: str = "model") -> pd.Series:
    return frame.set_index("unique_id")[column].astype(float).sort_index()


def _uf_scale(test: pd.DataFrame, train: pd.DataFrame, m: int) -> pd.Series:
    """utilsforecast's seasonal naive MAE of each history: MASE of a forecast that is off by exactly 1."""
    shifted = test.assign(one_off=test["y"] + 1.0)
    return 1.0 / _per_id(uf.mase(shifted, ["one_off"], seasonality=m, train_df=train), "one_off")


def _utilsforecast(name: str, test: pd.DataFrame, train: pd.DataFrame, m: int, levels=LEVELS) -> np.ndarray:
    """The peer's per-series values, in sorted id order (the order of our rows)."""
    cols, qs = [f"q{q:g}" for q in levels], np.array(levels)
    if name in ("crps", "wql"):
        out = _per_id(uf.scaled_crps(test, {"model": cols}, qs))
    elif name == "scaled_ql":  # fev's SQL carries gluonts' factor 2 on the pinball loss
        out = 2 * _per_id(uf.scaled_mqloss(test, {"model": cols}, qs, seasonality=m, train_df=train))
    elif name == "quantile_loss":
        out = _per_id(uf.mqloss(test, {"model": cols}, qs))
    else:
        lo_hi = test.assign(**{"model-lo-95": test["q0.025"], "model-hi-95": test["q0.975"]})
        if name == "coverage":
            out = _per_id(uf.coverage(lo_hi, ["model"], level=95))
        elif name == "msis":
            out = _per_id(uf.winkler_score(lo_hi, ["model"], level=95)) / _uf_scale(test, train, m)
        else:
            raise KeyError(name)
    return out.to_numpy()


def _ours(name, past, y, f, q_pred, m, levels=LEVELS):
    return M.get_metric(name).fn(y, f, y_past=past, season_length=m, quantiles=levels, q_pred=q_pred)


@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("m", [1, 4])
@pytest.mark.parametrize("name", [*PROBABILISTIC, "quantile_loss"])
def test_when_compared_with_utilsforecast_then_probabilistic_metrics_agree(name, m, ragged):
    for seed in range(3):
        past, y, f, q_pred = _random(seed, ragged)
        test, train = _frames(past, y, f, q_pred)
        expected = _utilsforecast(name, test, train, m)
        np.testing.assert_allclose(_ours(name, past, y, f, q_pred, m), expected, rtol=RTOL, err_msg=name)


def test_when_wql_and_crps_are_computed_then_they_are_the_same_number_per_series_and_pooled():
    past, y, f, q_pred = _random(7, ragged=True)
    np.testing.assert_array_equal(_ours("wql", past, y, f, q_pred, 1), _ours("crps", past, y, f, q_pred, 1))
    # fev's definition written out: mean of QL over all observed cells / mean |y|, pooled over series
    ql = 2 * np.abs((y[..., None] - q_pred) * ((y[..., None] <= q_pred) - np.array(LEVELS)))
    fev_wql = np.nanmean(ql) / np.nanmean(np.abs(y))
    num, den = M.crps_parts(y, q_pred, LEVELS)
    assert M.pooled_ratio(num, den) == pytest.approx(fev_wql, rel=RTOL)


# ---- gluonts.ev: the code GIFT-Eval and BOOM report CRPS and MSIS with --------------------------
def _gluonts_data(y, q_pred, levels, seasonal_error=None) -> dict:
    data = {"label": y, **{str(float(q)): q_pred[..., j] for j, q in enumerate(levels)}}
    if seasonal_error is not None:
        data["seasonal_error"] = seasonal_error[:, None]
    return data


def _gluonts_seasonal_error(past, m):
    from gluonts.ev.ts_stats import seasonal_error

    return np.array([seasonal_error(row[~np.isnan(row)], m)[0] for row in past])


@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_when_compared_with_gluonts_then_crps_msis_and_scaled_ql_agree_per_series_and_pooled(ragged):
    ev = pytest.importorskip("gluonts.ev")
    past, y, f, q_pred = _random(11, ragged)
    m = 4
    data = _gluonts_data(y, q_pred, LEVELS, _gluonts_seasonal_error(past, m))

    def gl(definition, axis):
        return definition(axis=axis).update(data).get()

    crps_def = ev.metrics.MeanWeightedSumQuantileLoss(quantile_levels=LEVELS)
    np.testing.assert_allclose(_ours("crps", past, y, f, q_pred, m), gl(crps_def, 1), rtol=RTOL)
    num, den = M.crps_parts(y, q_pred, LEVELS)
    assert M.pooled_ratio(num, den) == pytest.approx(float(gl(crps_def, None)), rel=RTOL)  # GIFT-Eval's number
    sql_def = ev.metrics.AverageMeanScaledQuantileLoss(quantile_levels=LEVELS)
    np.testing.assert_allclose(_ours("scaled_ql", past, y, f, q_pred, m), gl(sql_def, 1), rtol=RTOL)
    np.testing.assert_allclose(_ours("msis", past, y, f, q_pred, m), gl(ev.metrics.MSIS(alpha=0.05), 1), rtol=RTOL)


def test_when_a_series_sums_to_zero_then_its_crps_is_nan_and_the_pooled_value_still_counts_its_loss():
    _, y, f, q_pred = _random(3, ragged=False)
    y[2] = 0.0
    values = M.crps(y, f, quantiles=LEVELS, q_pred=q_pred)
    assert np.isnan(values[2]) and np.isfinite(np.delete(values, 2)).all()
    num, den = M.crps_parts(y, q_pred, LEVELS)
    assert num[2] > 0 and den[2] == 0
    ql = 2 * np.abs((y[..., None] - q_pred) * ((y[..., None] <= q_pred) - np.array(LEVELS)))
    assert M.pooled_ratio(num, den) == pytest.approx(ql.sum() / len(LEVELS) / np.abs(y).sum(), rel=RTOL)
    ev = pytest.importorskip("gluonts.ev")
    pooled = ev.metrics.MeanWeightedSumQuantileLoss(quantile_levels=LEVELS)(axis=None)
    assert M.pooled_ratio(num, den) == pytest.approx(float(pooled.update(_gluonts_data(y, q_pred, LEVELS)).get()))


def test_when_the_history_is_constant_then_scaled_metrics_are_nan_not_infinite():
    past, y, f, q_pred = _random(4, ragged=False)
    past[1] = 7.0
    for name in ("scaled_ql", "msis"):
        values = _ours(name, past, y, f, q_pred, 1)
        assert np.isnan(values[1]) and np.isfinite(np.delete(values, 1)).all(), name


def test_when_a_series_has_no_quantiles_then_its_values_are_nan_and_the_pooled_crps_too():
    past, y, f, q_pred = _random(5, ragged=False)
    q_pred[3] = np.nan  # a series forecast by a fallback model without quantiles
    for name in PROBABILISTIC:
        values = _ours(name, past, y, f, q_pred, 1)
        assert np.isnan(values[3]) and not np.isnan(np.delete(values, 3)).any(), name
    assert np.isnan(M.pooled_ratio(*M.crps_parts(y, q_pred, LEVELS)))


def test_when_an_interval_level_is_named_then_its_bounding_quantiles_are_scored():
    past, y, f, q_pred = _random(6, ragged=False)
    metric = M.get_metric("coverage@80")
    assert metric.level == pytest.approx(0.8) and metric.levels_used(LEVELS) == (0.1, 0.9)
    lo, hi = q_pred[..., LEVELS.index(0.1)], q_pred[..., LEVELS.index(0.9)]
    expected = ((y >= lo) & (y <= hi)).mean(axis=1)
    np.testing.assert_allclose(metric.fn(y, f, quantiles=LEVELS, q_pred=q_pred), expected, rtol=RTOL)
    np.testing.assert_allclose(
        M.get_metric("msis@80").fn(y, f, y_past=past, quantiles=LEVELS, q_pred=q_pred),
        M.msis(y, f, y_past=past, quantiles=LEVELS, q_pred=q_pred, level=0.8),
    )
    assert Task(dataset="m4", subset="Weekly", metrics=("msis@80",)).metrics == ("msis@80",)
    with pytest.raises(ValueError, match="percentage"):
        M.get_metric("msis@x")
    with pytest.raises(UnknownNameError):
        M.get_metric("crps@80")


# ---- the scoring path on real data: statsforecast AutoETS on M4 Weekly ----------------------------
@pytest.fixture(scope="module")
def m4_weekly(mirror):
    """The first 20 series of M4 Weekly (train and test), one holdout window."""
    train, test = load_holdout("m4", "Weekly")
    ids = sorted(train.df["unique_id"].unique())[:20]
    train = replace(train, df=train.df[train.df["unique_id"].isin(ids)].reset_index(drop=True))
    test = replace(test, df=test.df[test.df["unique_id"].isin(ids)].reset_index(drop=True))
    return train, test


@pytest.fixture(scope="module")
def autoets_window(m4_weekly):
    task = Task(dataset="m4", subset="Weekly", metrics=M4_METRICS)
    window = next(task.windows_of(*m4_weekly))
    forecast = make_forecaster("statsforecast.AutoETS", quantiles=LEVELS).fit(window.past).predict(task.h)
    return task, window, forecast


def test_when_autoets_gives_quantiles_on_m4_weekly_then_scores_equal_utilsforecast(autoets_window):
    task, window, forecast = autoets_window
    assert list(quantile_columns(forecast)) == LEVELS
    scores = score_window(task, window.past, window.truth, forecast, "statsforecast.AutoETS")
    assert set(scores["metric"]) == set(M4_METRICS)
    # the peers read the truth and the forecast frame joined by (unique_id, ds), not our arrays
    test = window.truth.df.merge(forecast.rename(columns={"y_hat": "model"}), on=["unique_id", "ds"])
    train = window.past.df[["unique_id", "ds", "y"]]
    for name in PROBABILISTIC:
        rows = scores[scores["metric"] == name].set_index("unique_id")
        expected = _utilsforecast(name, test, train, task.m)
        np.testing.assert_allclose(rows["value"].to_numpy(), expected, rtol=RTOL, err_msg=name)
        assert rows["value"].notna().all(), name
    levels = scores.drop_duplicates("metric").set_index("metric")["quantiles"]
    assert levels["crps"] == levels["wql"] == levels["scaled_ql"] == "0.025,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.975"
    assert levels["msis"] == levels["coverage"] == "0.025,0.975"
    assert levels[["smape", "mase"]].isna().all()
    crps = scores[scores["metric"] == "crps"]
    np.testing.assert_allclose(crps["numerator"] / crps["denominator"], crps["value"], rtol=RTOL)
    assert scores.loc[scores["metric"] == "msis", "numerator"].isna().all()


def test_when_autoets_gives_quantiles_on_m4_weekly_then_scores_equal_gluonts(autoets_window):
    ev = pytest.importorskip("gluonts.ev")
    task, window, forecast = autoets_window
    scores = score_window(task, window.past, window.truth, forecast, "statsforecast.AutoETS")
    y, _, ids = window.truth.to_numpy(pad="right")
    q_pred = np.stack([window.truth.scatter(forecast[f"q{q:g}"].to_numpy(), pad="right") for q in LEVELS], axis=-1)
    past, _, _ = window.past.to_numpy(pad="left")
    data = _gluonts_data(y, q_pred, LEVELS, _gluonts_seasonal_error(past, task.m))
    expected = {
        "crps": ev.metrics.MeanWeightedSumQuantileLoss(quantile_levels=LEVELS),
        "scaled_ql": ev.metrics.AverageMeanScaledQuantileLoss(quantile_levels=LEVELS),
        "msis": ev.metrics.MSIS(alpha=0.05),
    }
    for name, definition in expected.items():
        rows = scores[scores["metric"] == name].set_index("unique_id").loc[ids]
        np.testing.assert_allclose(rows["value"], definition(axis=1).update(data).get(), rtol=RTOL, err_msg=name)
    crps = scores[scores["metric"] == "crps"]
    pooled = expected["crps"](axis=None).update(data).get()
    assert M.pooled_ratio(crps["numerator"], crps["denominator"]) == pytest.approx(float(pooled), rel=RTOL)


def test_when_forecast_rows_come_shuffled_then_quantiles_follow_their_rows(autoets_window):
    task, window, forecast = autoets_window
    ordered = score_window(task, window.past, window.truth, forecast, "m")
    shuffled = forecast.sample(frac=1.0, random_state=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(score_window(task, window.past, window.truth, shuffled, "m"), ordered)


def test_when_a_point_model_is_scored_on_m4_weekly_then_utilsforecast_agrees_with_its_point_as_every_quantile(
    autoets_window,
):
    task, window, _ = autoets_window
    point = make_forecaster("naive").fit(window.past).predict(task.h)
    assert not quantile_columns(point)
    scores = score_window(task, window.past, window.truth, point, "naive")
    assert set(scores["metric"]) == set(M4_METRICS) and scores["value"].notna().all()
    assert scores["point_as_quantiles"].tolist() == scores["metric"].isin(PROBABILISTIC).tolist()
    levels = scores.drop_duplicates("metric").set_index("metric")["quantiles"]
    assert levels["crps"] == levels["wql"] == levels["scaled_ql"] == ",".join(f"{q:g}" for q in DECILES)
    assert levels["msis"] == levels["coverage"] == "0.025,0.975"
    # the peer scores the same point copied into each level's column, as fev's point baselines do
    test = window.truth.df.merge(point.rename(columns={"y_hat": "model"}), on=["unique_id", "ds"])
    test = test.assign(**{f"q{q:g}": test["model"] for q in LEVELS})
    train = window.past.df[["unique_id", "ds", "y"]]
    for name in PROBABILISTIC:
        rows = scores[scores["metric"] == name].set_index("unique_id")
        used = DECILES if name in ("crps", "wql", "scaled_ql") else LEVELS
        expected = _utilsforecast(name, test, train, task.m, used)
        np.testing.assert_allclose(rows["value"].to_numpy(), expected, rtol=RTOL, err_msg=name)
    # the deciles are symmetric about 0.5, so the point's CRPS is its WAPE and its scaled QL its MASE
    by_metric = scores.set_index(["metric", "unique_id"])["value"]
    wape = score_window(task, window.past, window.truth, point, "naive", ["wape"]).set_index("unique_id")["value"]
    np.testing.assert_allclose(by_metric["crps"], wape, rtol=RTOL)
    np.testing.assert_allclose(by_metric["scaled_ql"], by_metric["mase"], rtol=RTOL)


def test_when_a_forecast_lacks_the_interval_quantiles_then_the_error_names_them(autoets_window):
    task, window, forecast = autoets_window
    deciles = forecast.drop(columns=["q0.025", "q0.975"])
    with pytest.raises(MissingQuantilesError, match=r"AutoETS: metric 'msis' .*95%.*0\.025,0\.975.*'msis@80'") as err:
        score_window(task, window.past, window.truth, deciles, "statsforecast.AutoETS")
    assert "add 0.025,0.975 to the model's quantile levels" in str(err.value)
    assert "'msis@80', 'msis@60', 'msis@40', 'msis@20'" in str(err.value) and "quantiles=" not in str(err.value)
    at_80 = task.model_copy(update={"metrics": ("crps", "msis@80", "coverage@80")})
    scores = score_window(at_80, window.past, window.truth, deciles, "statsforecast.AutoETS")
    assert scores.drop_duplicates("metric").set_index("metric")["quantiles"].to_dict() == {
        "crps": ",".join(f"{q:g}" for q in DECILES),
        "msis@80": "0.1,0.9",
        "coverage@80": "0.1,0.9",
    }


def test_when_the_task_declares_quantile_levels_then_crps_scores_those_levels_only(autoets_window):
    task, window, forecast = autoets_window
    on_deciles = task.model_copy(update={"metrics": ("crps", "msis"), "quantile_levels": tuple(DECILES)})
    scores = score_window(on_deciles, window.past, window.truth, forecast, "statsforecast.AutoETS")
    deciles_only = forecast.drop(columns=["q0.025", "q0.975"])
    plain = score_window(
        task.model_copy(update={"metrics": ("crps",)}), window.past, window.truth, deciles_only, "m"
    ).set_index("unique_id")
    crps = scores[scores["metric"] == "crps"].set_index("unique_id")
    np.testing.assert_allclose(crps["value"], plain["value"], rtol=RTOL)  # the extra levels no longer count
    assert crps["quantiles"].iloc[0] == ",".join(f"{q:g}" for q in DECILES)
    assert scores.loc[scores["metric"] == "msis", "quantiles"].iloc[0] == "0.025,0.975"
    coarse = task.model_copy(update={"metrics": ("crps",), "quantile_levels": (0.05, 0.5)})
    with pytest.raises(MissingQuantilesError, match=r"lacks 0\.05"):
        score_window(coarse, window.past, window.truth, forecast, "statsforecast.AutoETS")
    assert Task(dataset="m4", subset="Weekly", quantile_levels=(0.9, 0.1)).quantile_levels == (0.1, 0.9)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Task(dataset="m4", subset="Weekly", quantile_levels=(0.0, 0.5))


# ---- the Dask engine stores the probabilistic rows --------------------------------------------------
def test_when_the_engine_scores_quantile_forecasts_then_the_store_holds_them_with_their_levels(tmp_path, m4_weekly):
    from workbench.data.chunks import ChunkRef
    from workbench.engine.runner import evaluate
    from workbench.store.results_store import ResultsStore
    from workbench.store.sql import leaderboard

    train, test = m4_weekly
    train.to_parquet(tmp_path / "train-0.parquet")
    test.to_parquet(tmp_path / "test-0.parquet")
    ids = sorted(train.df["unique_id"].unique())
    ref = ChunkRef(
        0, len(ids), str(tmp_path / "train-0.parquet"), str(tmp_path / "test-0.parquet"), "m4w20", ids[0], ids[-1]
    )
    task = Task(dataset="m4", subset="Weekly", metrics=M4_METRICS)
    model = {"name": "statsforecast.AutoETS", "params": {"quantiles": LEVELS}}
    store = tmp_path / "store"
    summary = evaluate(task, [model, "naive"], store=store, n_workers=1, progress=False, chunks={task.key(): [ref]})
    records = summary.records.set_index("model_name")
    # naive gives no quantiles: every one of its score units is scored, its point as every quantile
    assert records.loc["statsforecast.AutoETS", "status"] == "ok" and records.loc["naive", "status"] == "ok"
    assert set(summary.score_records["status"]) == {"ok"} and len(summary.score_records) == 2 * len(M4_METRICS)
    stored = ResultsStore(store).metrics()
    naive = stored[stored["model"] == "naive"]
    assert len(naive) == len(M4_METRICS) * 20 and naive["value"].notna().all()
    assert naive["point_as_quantiles"].tolist() == naive["metric"].isin(PROBABILISTIC).tolist()
    rows = stored[stored["model"].str.startswith("statsforecast.AutoETS")]
    assert len(rows) == len(M4_METRICS) * 20 and not rows["point_as_quantiles"].any()
    by_metric = rows.drop_duplicates("metric").set_index("metric")
    assert by_metric.loc["crps", "quantiles"] == ",".join(f"{q:g}" for q in LEVELS)
    assert by_metric.loc["msis", "quantiles"] == "0.025,0.975" and pd.isna(by_metric.loc["smape", "quantiles"])
    # the stored values are the ones the sequential scorer gives
    window = next(task.windows_of(train, test))
    forecast = make_forecaster("statsforecast.AutoETS", quantiles=LEVELS).fit(window.past).predict(task.h)
    direct = score_window(task, window.past, window.truth, forecast, "statsforecast.AutoETS")
    merged = rows.merge(direct, on=["unique_id", "metric"], suffixes=("", "_direct"))
    np.testing.assert_allclose(merged["value"], merged["value_direct"], rtol=RTOL)
    board = leaderboard(store).set_index(["model", "metric"])["value"]
    assert board[(rows["model"].iloc[0], "crps")] == pytest.approx(rows.loc[rows["metric"] == "crps", "value"].mean())
    assert board[("naive", "crps")] == pytest.approx(naive.loc[naive["metric"] == "crps", "value"].mean())


def test_when_quantile_columns_are_named_then_only_levels_between_0_and_1_count():
    frame = pd.DataFrame(columns=["unique_id", "ds", "y_hat", "q0.9", "q0.025", "q1", "q50", "quality", "fallback"])
    assert quantile_columns(frame) == {0.025: "q0.025", 0.9: "q0.9"}
