"""workbench.ranking: BOOM / GIFT-Eval statistics over a long (task, model, metric, value) frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.ranking import (
    RankingError,
    RankingSpec,
    breakdown,
    leaderboards,
    mean_rank,
    prepare,
    ranking_tables,
    shifted_gmean,
    split_tasks,
)

BASE = "seasonal_naive"


def _frame(values: dict[tuple[str, str], dict[str, float]], **props: dict[str, object]) -> pd.DataFrame:
    """{(task, model): {metric: value}} -> long frame, with per-task property columns."""
    rows = [
        {"task": task, "model": model, "metric": metric, "value": value}
        for (task, model), metrics in values.items()
        for metric, value in metrics.items()
    ]
    frame = pd.DataFrame(rows)
    for name, by_task in props.items():
        frame[name] = frame["task"].map(by_task)
    return frame


def test_when_values_include_zero_then_shifted_gmean_is_scipys_gmean_shifted():
    x = np.array([0.0, 0.5, 2.0, 1e-7, 3.0])
    assert shifted_gmean(x) == pytest.approx(stats.gmean(x + 1e-5) - 1e-5, rel=1e-12)
    assert shifted_gmean([0.0, 0.0]) == pytest.approx(0.0, abs=1e-15)
    assert shifted_gmean([2.0], epsilon=1.0) == pytest.approx(2.0)
    assert np.isnan(shifted_gmean([]))
    assert np.isnan(shifted_gmean([1.0, np.nan]))  # callers decide what undefined values become


def test_when_scaled_then_each_value_is_divided_by_the_baselines_on_its_task():
    frame = _frame(
        {
            ("t1", "a"): {"mase": 1.0, "crps": 0.2},
            ("t1", BASE): {"mase": 2.0, "crps": 0.4},
            ("t2", "a"): {"mase": 3.0, "crps": 0.9},
            ("t2", BASE): {"mase": 1.5, "crps": 0.3},
        }
    )
    scaled = prepare(frame)["scaled"].set_index(["task", "model", "metric"])["value"]
    assert scaled[("t1", "a", "mase")] == pytest.approx(0.5)
    assert scaled[("t2", "a", "crps")] == pytest.approx(3.0)
    assert scaled[("t2", BASE, "mase")] == pytest.approx(1.0)
    board = leaderboards(frame)["scaled"]
    assert board.loc["a", "mase"] == pytest.approx(shifted_gmean([0.5, 2.0]))
    assert board.loc["a", "crps"] == pytest.approx(shifted_gmean([0.5, 3.0]))
    assert board.loc[BASE, "crps"] == pytest.approx(1.0)
    assert board["n_tasks"].tolist() == [2, 2]


def test_when_the_baselines_mase_is_zero_then_the_task_is_left_unscaled():
    frame = _frame(
        {
            ("t1", "a"): {"mase": 1.0, "crps": 0.2, "mae": 0.1},
            ("t1", BASE): {"mase": 2.0, "crps": 0.4, "mae": 0.2},
            ("t2", "a"): {"mase": 0.5, "crps": 0.03, "mae": 0.01},
            ("t2", BASE): {"mase": 0.0, "crps": 0.0, "mae": 0.0},
        }
    )
    scaled, unscaled = split_tasks(frame, RankingSpec())
    assert (scaled, unscaled) == ({"t1"}, {"t2"})
    boards = leaderboards(frame)
    assert boards["unscaled"].loc["a", "mae"] == pytest.approx(0.01)  # as it is, not divided by 0
    assert boards["unscaled"].loc["a", "crps"] == pytest.approx(0.03)
    assert boards["scaled"].loc["a", "n_tasks"] == 1
    assert boards["unscaled"].loc[BASE, "rank"] == 1.0 and boards["unscaled"].loc["a", "rank"] == 2.0


def test_when_tasks_are_set_apart_by_dataset_then_every_term_of_the_dataset_is_unscaled():
    values = {}
    for task in ("d1/H/short", "d1/H/long", "d2/H/short", "d3/H/short"):
        values[(task, "a")] = {"mase": 1.0, "crps": 0.5}
        values[(task, BASE)] = {"mase": 0.0 if task == "d1/H/long" else 1.0, "crps": 0.5}
    dataset = {t: t.split("/")[0] for t, _ in values}
    frame = _frame(values, dataset_id=dataset)
    spec = RankingSpec(unscaled_by="dataset_id", unscaled_tasks=frozenset({"d3"}))
    scaled, unscaled = split_tasks(frame, spec)
    assert scaled == {"d2/H/short"}
    assert unscaled == {"d1/H/short", "d1/H/long", "d3/H/short"}


def test_when_models_tie_then_model_order_breaks_the_tie_like_boom_and_average_splits_it():
    values = {}
    for task in ("t1", "t2"):
        for model, crps in (("a", 0.5), ("b", 0.5), (BASE, 1.0)):
            values[(task, model)] = {"mase": 1.0, "crps": crps}
    values[("t2", "b")] = {"mase": 1.0, "crps": 0.1}
    frame = _frame(values)
    part = prepare(frame)["scaled"]
    default = mean_rank(part)  # sorted names, baseline last: a before b
    assert default.to_dict() == {"a": 1.5, "b": 1.5, BASE: 3.0}
    flipped = mean_rank(part, RankingSpec(model_order=("b", "a", BASE)))
    assert flipped.to_dict() == {"a": 2.0, "b": 1.0, BASE: 3.0}
    average = mean_rank(part, RankingSpec(ties="average"))
    assert average.to_dict() == {"a": 1.75, "b": 1.25, BASE: 3.0}
    with pytest.raises(RankingError, match="model_order lacks"):
        mean_rank(part, RankingSpec(model_order=("a", BASE)))


def test_when_the_rank_metric_is_higher_or_target_is_better_then_ranks_follow_its_direction_ties_as_boom():
    # a coverage-like score per task: a is on target (0.95), b above it, c below; on t2, a and b tie at 0.05 off
    cov = {("t1", "a"): 0.95, ("t1", "b"): 0.99, ("t1", "c"): 0.80, ("t2", "a"): 0.90, ("t2", "b"): 1.00}
    cov[("t2", "c")] = 0.70
    part = _frame({key: {"cov": value} for key, value in cov.items()})
    target = RankingSpec(rank_metric="cov", baseline="c", rank_direction="target", rank_target=0.95)
    assert mean_rank(part, target).to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}  # the t2 tie: a first (order)
    assert mean_rank(part, replace(target, ties="average")).to_dict() == {"a": 1.25, "b": 1.75, "c": 3.0}
    higher = RankingSpec(rank_metric="cov", baseline="c", rank_direction="higher")
    assert mean_rank(part, higher).to_dict() == {"a": 2.0, "b": 1.0, "c": 3.0}
    assert mean_rank(part, RankingSpec(rank_metric="cov", baseline="c")).to_dict() == {"a": 2.0, "b": 3.0, "c": 1.0}
    with pytest.raises(RankingError, match="rank_direction 'up'"):
        RankingSpec(rank_direction="up")  # type: ignore[arg-type]


def test_when_values_are_undefined_then_they_are_counted_and_filled_with_the_models_mean():
    frame = _frame(
        {
            ("t1", "a"): {"mase": np.nan, "crps": 0.2},
            ("t2", "a"): {"mase": 3.0, "crps": np.inf},
            ("t3", "a"): {"mase": 1.0, "crps": 0.4},
            ("t1", BASE): {"mase": 2.0, "crps": 0.4},
            ("t2", BASE): {"mase": 2.0, "crps": 0.4},
            ("t3", BASE): {"mase": 2.0, "crps": 0.4},
        }
    )
    tables = ranking_tables(frame)
    board = tables["scaled"]
    assert board.loc["a", "n_undefined_mase"] == 1 and board.loc["a", "n_undefined_crps"] == 1
    assert board.loc["a", "mase"] == pytest.approx(shifted_gmean([1.0, 1.5, 0.5]))  # NaN -> mean(3, 1) = 2
    assert board.loc["a", "crps"] == pytest.approx(shifted_gmean([0.5, 0.75, 1.0]))  # inf -> mean(0.2, 0.4)
    counts = tables["undefined"].set_index(["set", "model", "metric"])["n_undefined"]
    assert counts[("scaled", "a", "mase")] == 1 and counts[("scaled", BASE, "mase")] == 0
    dropped = leaderboards(frame, RankingSpec(undefined="drop"))["scaled"]
    assert dropped.loc["a", "mase"] == pytest.approx(shifted_gmean([1.5, 0.5]))
    assert dropped.loc["a", "n_undefined_mase"] == 1


def test_when_the_baseline_crps_is_zero_on_a_scaled_task_then_the_ratio_is_counted_unscalable():
    frame = _frame(
        {
            ("t1", "a"): {"mase": 1.0, "crps": 0.2},
            ("t1", BASE): {"mase": 2.0, "crps": 0.0},
            ("t2", "a"): {"mase": 1.0, "crps": 0.2},
            ("t2", BASE): {"mase": 2.0, "crps": 0.4},
        }
    )
    board = leaderboards(frame)["scaled"]
    assert board.loc["a", "n_unscalable_crps"] == 1
    assert board.loc["a", "crps"] == pytest.approx(0.5)  # the one defined ratio


def test_when_a_property_holds_a_list_then_the_task_counts_in_each_group():
    values = {}
    for task, ratio in (("t1", 0.5), ("t2", 2.0)):
        values[(task, "a")] = {"mase": ratio, "crps": ratio}
        values[(task, BASE)] = {"mase": 1.0, "crps": 1.0}
    frame = _frame(values, domain={"t1": "['Database', 'Security']", "t2": "['Security']"}, type={"t1": "gauge"})
    spec = RankingSpec()
    part = prepare(frame, spec)["scaled"]
    by_domain = breakdown(part, "domain", ("mase",), spec).set_index(["group", "model"])
    assert by_domain.loc[("Database", "a"), "value"] == pytest.approx(0.5)
    assert by_domain.loc[("Security", "a"), "value"] == pytest.approx(shifted_gmean([0.5, 2.0]))
    assert by_domain.loc[("Security", "a"), "n_tasks"] == 2
    by_type = breakdown(part, "type", ("mase",), spec).set_index(["group", "model"])
    assert by_type.loc[("(missing)", "a"), "n_tasks"] == 1  # counted, not dropped
    assert set(ranking_tables(frame)) == {"scaled", "unscaled", "undefined", "by_domain", "by_type"}


def test_when_a_frame_is_malformed_then_the_error_names_the_problem():
    frame = _frame({("t1", "a"): {"mase": 1.0}, ("t1", BASE): {"mase": 1.0}})
    with pytest.raises(RankingError, match="lacks column"):
        prepare(frame.drop(columns="metric"))
    with pytest.raises(RankingError, match="repeat a"):
        prepare(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(RankingError, match="baseline 'naive'"):
        prepare(frame, RankingSpec(baseline="naive"))


def test_when_random_results_are_ranked_then_an_independent_pandas_scipy_computation_agrees():
    rng = np.random.default_rng(7)
    models = ["m1", "m2", "m3", BASE]
    tasks = [f"d{i // 3}/H/{('short', 'medium', 'long')[i % 3]}" for i in range(60)]
    rows = []
    for task in tasks:
        for model in models:
            crps = float(np.round(rng.gamma(2.0, 0.2), 2))  # rounded: ties happen
            mase = 0.0 if (model == BASE and task == "d4/H/long") else float(rng.gamma(2.0, 0.5))
            rows += [(task, model, "mase", mase), (task, model, "crps", crps), (task, model, "mae", mase / 3)]
    frame = pd.DataFrame(rows, columns=["task", "model", "metric", "value"])
    frame["dataset_id"] = frame["task"].str.split("/").str[0]
    frame.loc[(frame["task"] == "d2/H/short") & (frame["model"] == "m1") & (frame["metric"] == "mase"), "value"] = (
        np.nan
    )
    order = ("m3", "m1", "m2", BASE)
    spec = RankingSpec(baseline=BASE, unscaled_by="dataset_id", unscaled_tasks=frozenset({"d7"}), model_order=order)
    boards = leaderboards(frame, spec)

    # independent: wide tables, scipy's gmean, numpy ranks by stable argsort in `order`
    wide = frame.pivot(index=["task", "dataset_id"], columns=["metric", "model"], values="value")
    apart = {"d7", "d4"}
    is_apart = wide.index.get_level_values("dataset_id").isin(list(apart))
    sc, un = wide[~is_apart], wide[is_apart]
    for metric in ("mase", "crps"):
        block = sc[metric].fillna(sc[metric].mean())
        ratio = block.div(block[BASE], axis=0)
        for model in models:
            expected = stats.gmean(ratio[model] + 1e-5) - 1e-5
            assert boards["scaled"].loc[model, metric] == pytest.approx(expected, rel=1e-10)
    tied = False
    for part, board in ((sc, boards["scaled"]), (un, boards["unscaled"])):
        crps = part["crps"][list(order)].to_numpy()
        tied = tied or any(len(set(row)) < len(row) for row in crps)
        ranks = np.empty_like(crps)
        for i, row in enumerate(crps):
            ranks[i, np.argsort(row, kind="stable")] = np.arange(1, len(order) + 1)
        for j, model in enumerate(order):
            assert board.loc[model, "rank"] == pytest.approx(ranks[:, j].mean(), rel=1e-12)
    assert tied  # the data do hold ties, so the order is exercised
    for model in models:
        assert boards["unscaled"].loc[model, "mae"] == pytest.approx(stats.gmean(un["mae"][model] + 1e-5) - 1e-5)
    assert boards["scaled"].loc["m1", "n_undefined_mase"] == 1
    assert int(boards["unscaled"]["n_tasks"].iloc[0]) == 6
