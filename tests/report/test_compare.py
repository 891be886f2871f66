"""Statistics of the report against hand-computed values and scipy itself."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.report import compare


def _rows(values: dict[str, list[float]], metric: str = "mase") -> pd.DataFrame:
    """Per-series metric rows of one task: values[model][i] is series i's error."""
    return pd.DataFrame(
        [
            {
                "task_key": "t",
                "dataset": "d",
                "subset": "s",
                "window": 0,
                "unique_id": f"s{i}",
                "model": model,
                "metric": metric,
                "value": v,
            }
            for model, vs in values.items()
            for i, v in enumerate(vs)
        ]
    )


def test_when_a_model_halves_every_error_then_its_skill_is_one_half_with_no_spread():
    base = [1.0, 2.0, 4.0, 8.0]
    skill = compare.skill_scores(_rows({"seasonal_naive": base, "good": [b / 2 for b in base]}), "mase", n_boot=200)
    row = skill.set_index("model").loc["good"]
    assert row["skill"] == pytest.approx(0.5) and row["rel_error"] == pytest.approx(0.5)
    assert row["ci_low"] == pytest.approx(0.5) and row["ci_high"] == pytest.approx(0.5)
    assert row["win_rate"] == 1.0 and row["n_problems"] == 4


def test_when_relative_errors_vary_then_skill_is_one_minus_their_geometric_mean_inside_the_interval():
    rng = np.random.default_rng(1)
    base = rng.uniform(1, 2, 300)
    ratio = rng.lognormal(-0.1, 0.5, 300)
    skill = compare.skill_scores(_rows({"seasonal_naive": base, "m": base * ratio}), "mase", n_boot=500)
    row = skill.iloc[0]
    assert row["skill"] == pytest.approx(1 - stats.gmean(ratio))
    assert row["ci_low"] < row["skill"] < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.96 * 0.5 / math.sqrt(300), rel=0.25)
    assert row["win_rate"] == pytest.approx(np.mean(ratio < 1))


def test_when_an_error_is_zero_then_the_problem_is_excluded_and_counted():
    skill = compare.skill_scores(_rows({"seasonal_naive": [1.0, 0.0, 2.0], "m": [0.5, 0.0, 1.0]}), "mase", n_boot=50)
    assert skill.iloc[0]["n_excluded"] == 1 and skill.iloc[0]["skill"] == pytest.approx(0.5)


def test_when_the_baseline_is_absent_then_the_error_names_it():
    with pytest.raises(KeyError, match="seasonal_naive"):
        compare.skill_scores(_rows({"a": [1.0], "b": [2.0]}), "mase")


def test_when_ranking_then_ties_are_averaged_and_problems_some_model_missed_are_left_out():
    rows = _rows({"a": [1.0, 1.0, 3.0], "b": [2.0, 1.0, 1.0], "c": [3.0, 5.0, 2.0]})
    rows = rows[~((rows["model"] == "c") & (rows["unique_id"] == "s2"))]  # c missed series s2
    ranks = compare.mean_ranks(rows, "mase").set_index("model")
    assert ranks["n_problems"].unique().tolist() == [2]
    assert ranks.loc["a", "mean_rank"] == pytest.approx((1 + 1.5) / 2)
    assert ranks.loc["b", "mean_rank"] == pytest.approx((2 + 1.5) / 2)
    assert ranks.loc["c", "mean_rank"] == pytest.approx(3.0)


def test_when_friedman_runs_then_it_matches_scipy_and_the_nemenyi_cd_matches_demsar():
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 2, 50)
    values = {"a": base, "b": base * 1.1 + rng.normal(0, 0.05, 50), "c": base * 1.3, "d": base * 0.9}
    result = compare.friedman(_rows(values), "mase")
    expected = stats.friedmanchisquare(*values.values())
    assert result.statistic == pytest.approx(expected.statistic) and result.p_value == pytest.approx(expected.pvalue)
    # Demšar (2006), table 5: q_0.05 = 2.569 for k = 4 models
    assert result.critical_difference == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 50)), abs=1e-3)
    assert list(result.ranks.index) == ["d", "a", "b", "c"]


def test_when_friedman_gets_two_models_then_it_refuses():
    with pytest.raises(ValueError, match="at least 3 models"):
        compare.friedman(_rows({"a": [1.0, 2.0], "b": [2.0, 1.0]}), "mase")


def test_when_ranks_are_close_then_cliques_join_them():
    ranks = pd.Series({"a": 1.0, "b": 1.2, "c": 2.5, "d": 2.6, "e": 4.0})
    assert compare.cliques(ranks, 0.5) == [["a", "b"], ["c", "d"]]
    assert compare.cliques(ranks, 2.0) == [["a", "b", "c", "d"], ["c", "d", "e"]]


def test_when_win_rates_are_computed_then_pairs_sum_to_one():
    rates = compare.win_rates(_rows({"a": [1, 2, 3, 4], "b": [2, 2, 1, 5], "c": [0, 9, 9, 9]}), "mase")
    assert rates.loc["a", "b"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    off = ~np.eye(3, dtype=bool)
    assert np.allclose((rates.to_numpy() + rates.to_numpy().T)[off], 1.0)


def test_when_higher_is_better_then_ranks_skill_and_win_rates_flip():
    scores = _rows({"seasonal_naive": [1.0, 2.0, 4.0], "better": [2.0, 4.0, 8.0], "worse": [0.5, 1.0, 2.0]}, "score")
    ranks = compare.mean_ranks(scores, "score", higher_is_better=True).set_index("model")["mean_rank"]
    assert ranks.to_dict() == {"better": 1.0, "seasonal_naive": 2.0, "worse": 3.0}
    skill = compare.skill_scores(scores, "score", higher_is_better=True, n_boot=50).set_index("model")
    assert skill.loc["better", "skill"] == pytest.approx(0.5) and skill.loc["better", "win_rate"] == 1.0
    assert skill.loc["worse", "skill"] == pytest.approx(-1.0) and skill.loc["worse", "win_rate"] == 0.0
    assert list(compare.friedman(scores, "score", higher_is_better=True).ranks.index) == [
        "better",
        "seasonal_naive",
        "worse",
    ]
    assert compare.win_rates(scores, "score", higher_is_better=True).loc["better", "worse"] == 1.0


def test_when_a_value_is_undefined_then_its_problem_is_left_out_and_counted_not_dropped_silently():
    base = [1.0, 2.0, 4.0, 8.0, 3.0]
    other = [0.5, float("nan"), 2.0, float("inf"), 0.0]  # an undefined MASE, an infinite one, a zero error
    rows = _rows({"seasonal_naive": base, "m": other})
    skill = compare.skill_scores(rows, "mase", n_boot=100).set_index("model").loc["m"]
    assert (skill["n_problems"], skill["n_excluded"], skill["n_left_out"]) == (2, 1, 2)
    assert skill["rel_error"] == pytest.approx(0.5)
    ranks = compare.mean_ranks(rows, "mase")
    assert set(ranks["n_problems"]) == {3} and ranks.attrs["n_left_out"] == 2
