"""What is better is the metric's own declaration: ranks, win rates, skill, Friedman and the BOOM-style
ranking all read it, so a coverage board puts the best-calibrated model first without being told."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import metrics as wm
from workbench.ranking import RankingError, RankingSpec, mean_rank
from workbench.report import compare
from workbench.report.ranking import ranking_spec

# z such that N(0, 1) falls inside [-z, z] with probability 0.95, 0.84 and 0.99
Z = {"calibrated": stats.norm.ppf(0.975), "seasonal_naive": stats.norm.ppf(0.92), "wide": stats.norm.ppf(0.995)}
N_SERIES, HORIZON, N_TASKS = 240, 48, 8  # 48 steps: a coverage of exactly 0.95 (a loss of 0) cannot occur


def _coverage_rows(seed: int = 0) -> pd.DataFrame:
    """Per-series coverage rows of three models scored by `workbench.metrics.coverage` on real quantile
    forecasts of N(0, 1) actuals: intervals whose true coverage is 0.95, 0.84 and 0.99."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((N_SERIES, HORIZON))
    quantiles = [0.025, 0.5, 0.975]
    frames = []
    for model, z in Z.items():
        q_pred = np.broadcast_to(np.array([-z, 0.0, z]), (N_SERIES, HORIZON, 3))
        values = wm.coverage(y, np.zeros_like(y), quantiles=quantiles, q_pred=q_pred)
        frames.append(
            pd.DataFrame(
                {
                    "task_key": [f"t{i % N_TASKS}" for i in range(N_SERIES)],
                    "dataset": "synthetic",
                    "subset": "normal",
                    "window": 0,
                    "unique_id": [f"s{i}" for i in range(N_SERIES)],
                    "model": model,
                    "metric": "coverage",
                    "value": values,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _rows(values: dict[str, list[float]], metric: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"task_key": "t", "window": 0, "unique_id": f"s{i}", "model": model, "metric": metric, "value": v}
            for model, vs in values.items()
            for i, v in enumerate(vs)
        ]
    )


# ---- the declaration ----------------------------------------------------------------------------
def test_when_metrics_are_registered_then_errors_are_lower_and_coverage_aims_at_its_level():
    assert {name for name, m in wm.METRICS.items() if m.direction != "lower"} == {"coverage"}
    assert (wm.get_metric("coverage").direction, wm.get_metric("coverage").target) == ("target", 0.95)
    assert wm.get_metric("coverage@80").target == pytest.approx(0.80)
    assert wm.get_metric("coverage@50").loss([0.5, 0.4, 0.7]) == pytest.approx([0.0, 0.1, 0.2])
    assert (wm.get_metric("msis@80").direction, wm.get_metric("msis@80").target) == ("lower", None)


def test_when_values_are_mapped_to_losses_then_each_direction_orders_them_and_nan_stays():
    values = np.array([0.9, 0.99, np.nan, 0.95])
    assert wm.get_metric("mase").loss(values)[[0, 1, 3]] == pytest.approx([0.9, 0.99, 0.95])
    loss = wm.get_metric("coverage").loss(values)
    assert loss[[0, 1, 3]] == pytest.approx([0.05, 0.04, 0.0]) and np.isnan(loss[2])
    score = wm.Metric("hit_rate", wm.mae, direction="higher")
    assert score.loss([1.0, 2.0]) == pytest.approx([-1.0, -2.0])
    assert wm.metric_loss("coverage", [0.84, 0.99]) == pytest.approx([0.11, 0.04])
    assert wm.metric_loss("nab_score", [3.0], higher_is_better=True) == pytest.approx([-3.0])
    tied = wm.metric_loss("coverage", [0.90, 1.00])  # equally far either side: a tie, not float noise
    assert tied[0] == tied[1]
    rows = _rows({"seasonal_naive": [0.90, 0.80], "m": [1.00, 0.99]}, "coverage")
    assert compare.win_rates(rows, "coverage").loc["m", "seasonal_naive"] == pytest.approx((0.5 + 1) / 2)


def test_when_a_direction_or_target_is_inconsistent_then_the_metric_is_refused():
    with pytest.raises(ValueError, match="direction 'best'"):
        wm.Metric("x", wm.mae, direction="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target is given exactly when"):
        wm.Metric("x", wm.mae, direction="target")
    with pytest.raises(ValueError, match="target is given exactly when"):
        wm.Metric("x", wm.mae, target=0.5)


def test_when_higher_is_better_contradicts_a_registered_metric_then_it_is_an_error():
    with pytest.raises(ValueError, match="'coverage' is registered with direction 'target'"):
        wm.metric_direction("coverage", True)
    with pytest.raises(ValueError, match="'mase' is registered with direction 'lower'"):
        wm.metric_direction("mase", True)
    assert wm.metric_direction("mase", False) == ("lower", None)
    assert wm.metric_direction("coverage@90", False) == ("target", pytest.approx(0.9))
    assert wm.metric_direction("nab_score", True) == ("higher", None)  # not registered: as the caller says
    assert wm.metric_direction("nab_score") == ("lower", None)
    rows = _rows({"seasonal_naive": [1.0, 2.0], "m": [0.5, 1.0]}, "mase")
    for call in (
        lambda: compare.mean_ranks(rows, "mase", higher_is_better=True),
        lambda: compare.skill_scores(rows, "mase", higher_is_better=True, n_boot=10),
        lambda: compare.win_rates(rows, "mase", higher_is_better=True),
        lambda: compare.wide_ranks(compare.problem_matrix(rows, "mase"), True),
    ):
        with pytest.raises(ValueError, match="contradicts"):
            call()


# ---- the best-calibrated model ranks first everywhere ----------------------------------------------
def test_when_coverage_is_compared_then_the_best_calibrated_model_is_first_in_every_statistic():
    rows = _coverage_rows()
    means = rows.groupby("model")["value"].mean()
    # the panel is what it claims: true coverages 0.95, 0.84, 0.99
    assert means.to_dict() == pytest.approx({"calibrated": 0.95, "seasonal_naive": 0.84, "wide": 0.99}, abs=0.01)

    ranks = compare.mean_ranks(rows, "coverage").set_index("model")["mean_rank"]
    assert ranks.idxmin() == "calibrated"
    # what ranking the raw values as errors would have said (the bug this guards against)
    naive = stats.rankdata(compare.problem_matrix(rows, "coverage").to_numpy(), axis=1).mean(axis=0)
    assert dict(zip(compare.problem_matrix(rows, "coverage").columns, naive, strict=True))["seasonal_naive"] == 1.0

    wide = compare.problem_matrix(rows, "coverage")
    assert compare.wide_ranks(wide).index[0] == "calibrated"  # the metric comes with the matrix
    assert compare.wide_ranks(wide.copy(), metric="coverage").index[0] == "calibrated"

    rates = compare.win_rates(rows, "coverage")
    assert (rates.loc["calibrated"].drop("calibrated") > 0.5).all()
    distance = (wide - 0.95).abs()
    assert rates.loc["calibrated", "wide"] == pytest.approx(
        np.mean(distance["calibrated"] < distance["wide"]) + 0.5 * np.mean(distance["calibrated"] == distance["wide"])
    )

    skill = compare.skill_scores(rows, "coverage", n_boot=200).set_index("model")
    assert skill["skill"].idxmax() == "calibrated" and skill.loc["calibrated", "ci_low"] > 0
    ratio = distance["calibrated"] / distance["seasonal_naive"]
    assert skill.loc["calibrated", "skill"] == pytest.approx(1 - stats.gmean(ratio))
    assert skill.loc["calibrated", "n_excluded"] == 0
    assert "|coverage - 0.95|" in skill.loc["calibrated", "aggregation"]

    result = compare.friedman(rows, "coverage")
    assert result.ranks.index[0] == "calibrated"
    assert result.statistic == pytest.approx(stats.friedmanchisquare(*distance.to_numpy().T).statistic)

    where = compare.which_model_where(rows, "coverage", by=["dataset"], n_boot=100)
    assert where.loc[where["best"], "model"].tolist() == ["calibrated"]

    # BOOM style: per task coverage, ranked over tasks with the direction the registry declares
    per_task = rows.groupby(["task_key", "model"], as_index=False)["value"].mean()
    part = per_task.rename(columns={"task_key": "task"}).assign(metric="coverage")
    spec = ranking_spec(rank_metric="coverage", scaled_metrics=("mase",), unscaled_metrics=("mae",))
    assert (spec.rank_direction, spec.rank_target) == ("target", 0.95)
    ranked = mean_rank(part, spec)
    assert ranked.to_dict() == {"calibrated": 1.0, "seasonal_naive": 3.0, "wide": 2.0}


def test_when_a_coverage_is_ranked_boom_style_then_a_contradicting_or_scaled_spec_is_refused():
    with pytest.raises(RankingError, match="contradicts"):
        ranking_spec(rank_metric="coverage", rank_direction="lower", scaled_metrics=("mase",))
    with pytest.raises(RankingError, match="unscaled_metrics"):
        RankingSpec(rank_metric="coverage", rank_direction="target", rank_target=0.95, scaled_metrics=("coverage",))
    with pytest.raises(RankingError, match="rank_target is given exactly when"):
        RankingSpec(rank_metric="coverage", rank_direction="target")
    # an unregistered rank metric keeps what is passed; a registered lower one is lower
    assert ranking_spec(rank_metric="MASE", rank_direction="higher").rank_direction == "higher"
    assert ranking_spec().rank_direction == "lower"


def test_when_a_coverage_at_another_level_is_ranked_then_its_own_level_is_the_target():
    rows = _rows({"seasonal_naive": [0.95, 0.9, 0.92], "m": [0.8, 0.79, 0.83]}, "coverage@80")
    assert compare.mean_ranks(rows, "coverage@80").set_index("model")["mean_rank"].to_dict() == {
        "m": 1.0,
        "seasonal_naive": 2.0,
    }
    skill = compare.skill_scores(rows, "coverage@80", n_boot=20).set_index("model")
    assert skill.loc["m", "n_excluded"] == 1  # exactly on target: no ratio
    assert skill.loc["m", "skill"] == pytest.approx(1 - stats.gmean([0.01 / 0.1, 0.03 / 0.12]))


# ---- lower and higher still work ----------------------------------------------------------------------
def test_when_a_metric_is_lower_is_better_then_nothing_changes():
    rows = _rows({"seasonal_naive": [2.0, 4.0, 8.0], "good": [1.0, 2.0, 4.0], "bad": [4.0, 8.0, 9.0]}, "mase")
    assert compare.mean_ranks(rows, "mase")["model"].tolist() == ["good", "seasonal_naive", "bad"]
    assert compare.skill_scores(rows, "mase", n_boot=20).set_index("model").loc["good", "skill"] == pytest.approx(0.5)
    assert list(compare.friedman(rows, "mase").ranks.index) == ["good", "seasonal_naive", "bad"]
    assert compare.win_rates(rows, "mase", higher_is_better=False).loc["good", "bad"] == 1.0


def test_when_a_registered_metric_is_higher_is_better_then_it_needs_no_flag(monkeypatch):
    monkeypatch.setitem(wm.METRICS, "hit_rate", wm.Metric("hit_rate", wm.mae, direction="higher"))
    rows = _rows({"seasonal_naive": [1.0, 2.0, 4.0], "better": [2.0, 4.0, 8.0], "worse": [0.5, 1.0, 2.0]}, "hit_rate")
    ranks = compare.mean_ranks(rows, "hit_rate").set_index("model")["mean_rank"]
    assert ranks.to_dict() == {"better": 1.0, "seasonal_naive": 2.0, "worse": 3.0}
    skill = compare.skill_scores(rows, "hit_rate", n_boot=20).set_index("model")
    assert skill.loc["better", "skill"] == pytest.approx(0.5) and skill.loc["worse", "skill"] == pytest.approx(-1.0)
    assert "seasonal_naive / model hit_rate" in skill.loc["better", "aggregation"]
    assert list(compare.friedman(rows, "hit_rate").ranks.index) == ["better", "seasonal_naive", "worse"]
    assert compare.win_rates(rows, "hit_rate").loc["better", "worse"] == 1.0
    assert compare.mean_ranks(rows, "hit_rate", higher_is_better=True)["model"].iloc[0] == "better"
    with pytest.raises(ValueError, match="'hit_rate' is registered with direction 'higher'"):
        compare.mean_ranks(rows, "hit_rate", higher_is_better=False)
    spec = ranking_spec(rank_metric="hit_rate", scaled_metrics=("mase",))
    part = rows.rename(columns={"task_key": "task"}).assign(task=lambda f: f["unique_id"])
    assert mean_rank(part, spec).to_dict() == {"better": 1.0, "seasonal_naive": 2.0, "worse": 3.0}
