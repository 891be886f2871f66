"""Tasks, windows and the sequential evaluation path, checked against official M4 numbers."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from workbench.data import Panel, load_table
from workbench.errors import DataFormatError, UnknownNameError
from workbench.forecasters import Forecaster, make_forecaster
from workbench.sequential import evaluate_sequential, summarize
from workbench.tasks import Task, rolling_windows

pytestmark = pytest.mark.usefixtures("mirror")


def test_when_task_is_built_then_it_is_frozen_hashable_and_keyed():
    a, b = Task(dataset="m4", subset="Hourly"), Task(dataset="m4", subset="Hourly")
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    # metrics and quantile levels choose what is scored, not what is forecast: they change the keys of
    # score units (workbench.engine.units), not the task's key nor its forecast units'
    assert Task(dataset="m4", subset="Hourly", metrics=("smape",)).key() == a.key()
    assert Task(dataset="m4", subset="Hourly", quantile_levels=(0.1, 0.5, 0.9)).key() == a.key()
    assert Task(dataset="m4", subset="Hourly", horizon=24).key() != a.key()
    assert (a.h, a.m) == (48, 24)
    with pytest.raises(Exception, match="frozen"):
        a.horizon = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ("smap",)}, "Did you mean 'smape'"),
        ({"horizon": 0}, "horizon must be >= 1"),
        ({"n_windows": 3}, "holdout protocol has exactly one window"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_when_task_is_invalid_then_error_names_the_field(kwargs, message):
    with pytest.raises((ValueError, UnknownNameError), match=message):
        Task(dataset="m4", subset="Hourly", **kwargs)


def test_when_dataset_has_no_test_split_then_holdout_is_refused():
    with pytest.raises(ValueError, match="no test split: use protocol='rolling'"):
        Task(dataset="ett", subset="ETTh1")


def _panel(lengths):
    return Panel.from_long(
        pd.concat(
            [
                pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(n), "y": np.arange(n, dtype=float)})
                for i, n in enumerate(lengths)
            ]
        ),
        name="toy",
    )


def test_when_rolling_then_each_window_past_ends_where_its_truth_begins():
    windows = list(rolling_windows(_panel([20, 30]), horizon=4, n_windows=3, step=2))
    assert len(windows) == 3
    for k, w in enumerate(windows):
        last_past = w.past.df.groupby("unique_id")["ds"].max()
        first_truth = w.truth.df.groupby("unique_id")["ds"].min()
        assert (first_truth == last_past + 1).all()
        assert (w.truth.lengths() == 4).all()
        assert last_past["s0"] == 20 - 4 - (2 - k) * 2 - 1


def test_when_sliding_then_past_keeps_train_length_points():
    (w,) = rolling_windows(_panel([20]), horizon=4, n_windows=1, step=4, train_length=5)
    assert w.past.df["ds"].tolist() == [11, 12, 13, 14, 15]


def test_when_series_is_shorter_than_horizon_then_error_names_it():
    with pytest.raises(DataFormatError, match=r"series 's1' has 3 points, fewer than the 5"):
        list(rolling_windows(_panel([20, 3]), horizon=4, n_windows=1, step=4))


class _Spy(Forecaster):
    """Records what it was shown: the test checks no window hands over its truth."""

    name = "_spy"
    seen: ClassVar[list[pd.DataFrame]] = []

    def fit(self, past):
        _Spy.seen.append(past.df)
        return super().fit(past)

    def predict(self, h):
        return make_forecaster("naive").fit(self.past_).predict(h)


def test_when_evaluated_then_the_model_never_sees_the_truth():
    _Spy.seen.clear()
    task = Task(dataset="m4", subset="Weekly", protocol="rolling", n_windows=2, horizon=13)
    evaluate_sequential(task, "_spy")
    for w, seen in zip(task.windows(), _Spy.seen, strict=True):
        merged = seen.merge(w.truth.df, on=["unique_id", "ds"])
        assert merged.empty


def test_when_model_name_is_unknown_then_error_suggests_it():
    with pytest.raises(UnknownNameError, match="Did you mean 'naive'"):
        make_forecaster("naiv")


@pytest.mark.parametrize(("model", "method"), [("naive", "Naive"), ("seasonal_naive", "sNaive")])
@pytest.mark.parametrize("subset", ["Hourly", "Weekly"])
def test_when_naive_benchmarks_run_on_m4_then_official_scores_are_reproduced(model, method, subset):
    official = load_table("m4", "point_scores")
    scores = summarize(evaluate_sequential(Task(dataset="m4", subset=subset), model)).set_index("metric")["value"]
    for metric, name in (("smape", "sMAPE"), ("mase", "MASE")):
        rows = official[
            (official["method"] == method) & (official["metric"] == name) & (official["frequency"] == subset)
        ]
        claimed = rows["value"].item()
        assert abs(round(scores[metric], 3) - claimed) < 5e-4, (metric, scores[metric], claimed)


@pytest.mark.usefixtures("mirror")
def test_when_a_rolling_task_sets_a_season_length_then_every_window_carries_it():
    task = Task(dataset="m4", subset="Hourly", protocol="rolling", n_windows=2, season_length=168)
    assert {w.past.season_length for w in task.windows()} == {168}
    scores = summarize(evaluate_sequential(task, "seasonal_naive")).set_index("metric")["value"]
    assert np.isfinite(scores).all()
