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


# ---- which model where -----------------------------------------------------------------------------
def _grouped_rows(seed: int = 0) -> pd.DataFrame:
    """Two groups of series (metric_type) over two tasks and two windows: `fast` is best on latency
    series, `steady` on error-count series; `fast` has undefined values on two error-count series."""
    rng = np.random.default_rng(seed)
    scale = {"latency": {"fast": 0.5, "steady": 0.8}, "errors": {"fast": 1.3, "steady": 0.7}}
    rows = []
    for task in ("svc-a", "svc-b"):
        for window in (0, 1):
            for i in range(40):
                kind = "latency" if i % 2 else "errors"
                base = rng.uniform(0.5, 3.0)
                for model, value in (
                    ("seasonal_naive", base),
                    ("fast", base * scale[kind]["fast"] * rng.lognormal(0, 0.2)),
                    ("steady", base * scale[kind]["steady"] * rng.lognormal(0, 0.2)),
                ):
                    rows.append(
                        {
                            "task_key": task,
                            "model": model,
                            "window": window,
                            "unique_id": f"{task}-{i}",
                            "metric": "mase",
                            "value": value,
                            "metric_type": kind,
                            "service": task,
                        }
                    )
    frame = pd.DataFrame(rows)
    undefined = (frame["model"] == "fast") & (frame["unique_id"].isin(["svc-a-0", "svc-b-2"])) & (frame["window"] == 0)
    frame.loc[undefined, "value"] = np.nan
    return frame


def test_when_models_win_different_groups_then_the_table_names_each_groups_best_and_matches_pandas():
    rows = _grouped_rows()
    table = compare.which_model_where(rows, "mase", by=["metric_type"], n_boot=300)
    best = table[table["best"]].set_index("metric_type")["model"].to_dict()
    assert best == {"errors": "steady", "latency": "fast"}
    assert table.groupby("metric_type")["best"].sum().tolist() == [1, 1]
    assert set(table["baseline"]) == {"seasonal_naive"} and table["aggregation"].str.contains("geometric").any()
    # sorted by group, then skill (best first)
    for _, part in table.groupby("metric_type"):
        assert part["skill"].is_monotonic_decreasing
    assert table["metric_type"].tolist() == sorted(table["metric_type"])

    # independently, with pandas: the mean of defined values, and the geometric mean ratio on common problems
    for (kind, model), row in table.set_index(["metric_type", "model"]).iterrows():
        mine = rows[(rows["metric_type"] == kind) & (rows["model"] == model)]
        assert row["mean"] == pytest.approx(mine["value"].mean())  # pandas skips NaN
        assert (
            row["n_values"] == len(mine)
            and row["n_series"] == mine["unique_id"].nunique()
            and row["n_undefined"] == int(mine["value"].isna().sum())
        )
        wide = rows[rows["metric_type"] == kind].pivot_table(
            index=["task_key", "window", "unique_id"], columns="model", values="value", dropna=False
        )
        common = wide.dropna()
        assert row["n_problems"] == len(common) and row["n_left_out"] == len(wide) - len(common)
        ratio = common[model] / common["seasonal_naive"]
        assert row["rel_error"] == pytest.approx(np.exp(np.log(ratio).mean()))
        assert row["skill"] == pytest.approx(1 - np.exp(np.log(ratio).mean()))
        if model != "seasonal_naive":
            assert row["win_rate"] == pytest.approx((ratio < 1).mean())
            assert row["ci_low"] < row["skill"] < row["ci_high"]
    assert table.set_index(["metric_type", "model"]).loc[("errors", "fast"), "n_undefined"] == 2


def test_when_grouped_by_two_columns_then_each_combination_is_a_group():
    table = compare.which_model_where(_grouped_rows(), "mase", by=["service", "metric_type"], n_boot=50)
    assert len(table) == 2 * 2 * 3
    assert table[table["best"]].groupby(["service", "metric_type"]).size().tolist() == [1, 1, 1, 1]


def test_when_every_model_is_worse_than_the_baseline_then_the_baseline_is_best():
    rows = _rows({"seasonal_naive": [1.0, 2.0, 3.0], "m": [2.0, 4.0, 3.5]}).assign(group="g")
    table = compare.which_model_where(rows, "mase", by=["group"], n_boot=20)
    assert table.loc[table["best"], "model"].tolist() == ["seasonal_naive"]
    base = table.set_index("model").loc["seasonal_naive"]
    assert (base["skill"], base["rel_error"]) == (0.0, 1.0)


def test_when_a_model_has_no_defined_value_in_a_group_then_it_is_counted_and_the_others_are_compared():
    rows = _rows({"seasonal_naive": [1.0, 2.0, 3.0], "m": [0.5, 1.0, 1.5], "noq": [np.nan] * 3}).assign(group="g")
    table = compare.which_model_where(rows, "mase", by=["group"], n_boot=20).set_index("model")
    assert table.loc["noq", "n_undefined"] == 3 and np.isnan(table.loc["noq", "skill"])
    assert not table.loc["noq", "best"] and "not compared" in table.loc["noq", "aggregation"]
    assert table.loc["m", "skill"] == pytest.approx(0.5) and table.loc["m", "best"]


def test_when_the_baseline_is_not_given_then_a_seasonal_naive_label_is_found():
    assert compare.seasonal_naive_baseline(["theta", "statsforecast.SeasonalNaive", "seasonal_naive"]) == (
        "seasonal_naive"
    )
    labels = ["statsforecast.SeasonalNaive(season_length=24)", "statsforecast.AutoETS(season_length=24)"]
    assert compare.seasonal_naive_baseline(labels) == labels[0]
    assert compare.seasonal_naive_baseline(["seasonal_naive(season_length=168)", labels[0]]) == (
        "seasonal_naive(season_length=168)"
    )
    with pytest.raises(compare.CompareError, match=r"^no seasonal naive baseline .* statsforecast.AutoETS, theta;"):
        compare.seasonal_naive_baseline(["theta", "statsforecast.AutoETS"])
    with pytest.raises(ValueError, match="several seasonal naive baselines"):
        compare.seasonal_naive_baseline(["seasonal_naive(season_length=24)", "seasonal_naive(season_length=7)"])
    with pytest.raises(KeyError, match="seasonal_naive_2"):
        compare.seasonal_naive_baseline(["seasonal_naive_2"])  # a different model, not a parameterised label
    rows = _rows({"statsforecast.SeasonalNaive(season_length=24)": [1.0, 2.0], "m": [0.5, 1.0]})
    table = compare.which_model_where(rows, "mase", by=[], n_boot=20)
    assert set(table["baseline"]) == {"statsforecast.SeasonalNaive(season_length=24)"}
    assert table.loc[table["best"], "model"].tolist() == ["m"]


def test_when_which_model_where_gets_bad_input_then_the_error_names_it():
    rows = _rows({"seasonal_naive": [1.0], "m": [0.5]})
    with pytest.raises(KeyError, match=r"lack column\(s\) \['service'\]"):
        compare.which_model_where(rows, "mase", by=["service"])
    with pytest.raises(KeyError, match="no 'smape' rows; the rows hold mase"):
        compare.which_model_where(rows, "smape", by=[])
    with pytest.raises(KeyError, match="baseline 'naive2' has no 'mase' rows; models: m, seasonal_naive"):
        compare.which_model_where(rows, "mase", by=[], baseline="naive2")


def test_when_the_baseline_has_no_defined_value_in_a_group_then_that_group_has_no_skill_but_a_best_by_mean():
    good = _rows({"seasonal_naive": [1.0, 2.0], "m": [0.5, 1.0], "n": [2.0, 3.0]}).assign(group="a")
    bad = _rows({"seasonal_naive": [np.nan, np.nan], "m": [3.0, 3.0], "n": [1.0, 2.0]}).assign(group="b")
    table = compare.which_model_where(pd.concat([good, bad]), "mase", by=["group"], n_boot=20)
    b = table[table["group"] == "b"].set_index("model")
    assert b["skill"].isna().all() and b["aggregation"].str.contains("no defined mase value of seasonal_naive").all()
    assert b.index[b["best"]].tolist() == ["n"] and b.loc["seasonal_naive", "n_undefined"] == 2
    assert table.loc[table["best"] & (table["group"] == "a"), "model"].tolist() == ["m"]
