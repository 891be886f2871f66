"""S-H-ESD against Twitter's AnomalyDetection (commit 1f5deaa1): its test counts on `raw_data`, its
options, its R stl, and the detector through the detection entry point."""

from __future__ import annotations

import ast
import csv
import operator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.anomaly.rstl import _seqsum, stl_periodic, stl_spans
from workbench.anomaly.shesd import SHESDError, hybrid_esd, shesd
from workbench.errors import ParameterError, WorkbenchError

# the claims' source: the R package's testthat expectations, as ../shared/papers (beside the data mirror) lists them
CLAIMS = "twitter_shesd_tests.csv"
_OPS = {ast.Mult: operator.mul, ast.Add: operator.add}


def _r_value(node: ast.expr):
    """An R literal of the claims' `arguments` column: TRUE/FALSE, numbers, strings, 1440*14."""
    if isinstance(node, ast.Name) and node.id in ("TRUE", "FALSE"):
        return node.id == "TRUE"
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_r_value(node.left), _r_value(node.right))
    return ast.literal_eval(node)


def _r_arguments(text: str) -> dict:
    call = ast.parse(f"f({text})", mode="eval").body
    return {kw.arg: _r_value(kw.value) for kw in call.keywords}


def _claims(mirror: Path) -> list[dict]:
    path = Path(mirror).parent / "papers" / CLAIMS
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def raw_data(mirror):
    from workbench.data.catalog import load_panel

    df = load_panel("twitter_raw_data", "raw_data").df
    return df["y"].to_numpy(float), df["ds"].to_numpy()


def _run(function: str, raw, **kwargs):
    values, stamps = raw
    return shesd(values, stamps if function == "AnomalyDetectionTs" else None, **kwargs)


def test_when_the_r_packages_test_calls_are_rerun_on_raw_data_then_the_anomaly_counts_are_its_counts(mirror, raw_data):
    claims = _claims(mirror)
    assert len(claims) == 4
    for claim in claims:
        kwargs = _r_arguments(claim["arguments"])
        found = _run(claim["function"], raw_data, **kwargs)
        assert len(found) == int(claim["expected_anomalies"]), claim
        if kwargs.get("e_value"):
            assert found.expected is not None and len(found.expected) == len(found)
            assert np.isfinite(found.expected).all() and (found.expected == np.trunc(found.expected)).all()


@pytest.mark.parametrize(
    ("function", "kwargs", "expected"),
    [
        # twitter/AnomalyDetection@1f5deaa1 tests/testthat/test-ts.R: threshold="med_max" -> 4 anomalies
        ("AnomalyDetectionTs", {"threshold": "med_max", "e_value": True}, 4),
        # tests/testthat/test-vec.R: the vector form groups maxima per 1440 rows, not per calendar day -> 6
        ("AnomalyDetectionVec", {"period": 1440, "threshold": "med_max", "e_value": True}, 6),
    ],
)
def test_when_threshold_is_med_max_then_the_r_tests_counts_follow(raw_data, function, kwargs, expected):
    assert len(_run(function, raw_data, max_anoms=0.02, direction="both", **kwargs)) == expected


@pytest.mark.parametrize("function", ["AnomalyDetectionTs", "AnomalyDetectionVec"])
def test_when_leading_and_trailing_values_are_missing_then_they_are_dropped_as_r_does(raw_data, function):
    """tests/testthat/test-NAs.R: rows 1-10 and the last row NA -> still 131 anomalies."""
    values, stamps = raw_data
    gappy = values.copy()
    gappy[:10] = np.nan
    gappy[-1] = np.nan
    period = {"period": 1440} if function == "AnomalyDetectionVec" else {}
    found = _run(function, (gappy, stamps), max_anoms=0.02, direction="both", **period)
    assert len(found) == 131 and not np.isnan(found.values).any()


def test_when_a_value_inside_the_series_is_missing_then_the_error_names_series_and_row(raw_data):
    values, stamps = raw_data
    gappy = values.copy()
    gappy[len(values) // 2] = np.nan
    with pytest.raises(SHESDError, match=rf"raw_data: missing value at row {len(values) // 2} inside"):
        shesd(gappy, stamps, max_anoms=0.02, direction="both", name="raw_data")
    assert issubclass(SHESDError, WorkbenchError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": 24, "threshold": "p90"}, r"unknown threshold 'p90'; options are None, med_max, p95, p99"),
        ({"period": 24, "direction": "up"}, r"unknown direction 'up'; options are pos, neg, both"),
        ({"period": 24, "max_anoms": 0.5}, r"max_anoms must be less than 50%"),
        ({}, r"period must be set"),
        ({"period": 24, "only_last": "day"}, r"only_last must be True or False without timestamps"),
    ],
)
def test_when_an_option_is_unknown_then_the_error_names_it(kwargs, message):
    with pytest.raises(SHESDError, match=message):
        shesd(np.arange(100.0), None, name="s", **kwargs)


def test_when_a_series_is_shorter_than_two_periods_then_it_is_refused():
    with pytest.raises(SHESDError, match=r"short: S-H-ESD needs at least 2 periods of rows \(48\); got 47"):
        shesd(np.arange(47.0), None, period=24, name="short")
    with pytest.raises(SHESDError, match=r"stl needs more than 2 periods"):  # R's stl wants n > 2 * period
        shesd(np.arange(48.0), None, period=24)


def test_when_the_series_is_constant_then_nothing_is_reported():
    """tests/testthat/test-edge.R: rep(1, 1000), period 14, direction both runs without error."""
    assert len(shesd(np.ones(1000), None, period=14, direction="both")) == 0


def test_when_direction_is_one_sided_then_the_anomalies_are_the_extreme_residuals_on_that_side(raw_data):
    values, stamps = raw_data
    residual = values - stl_periodic(values, 1440).seasonal - np.median(values)
    pos, neg = (set(shesd(values, stamps, max_anoms=0.02, direction=d).indices) for d in ("pos", "neg"))
    both = set(shesd(values, stamps, max_anoms=0.02, direction="both").indices)
    order = np.argsort(residual, kind="stable")
    assert pos == set(order[::-1][: len(pos)]) and neg == set(order[: len(neg)])
    assert pos and neg and not pos & neg
    assert both <= set(order[::-1][: len(both)]) | set(order[: len(both)])


def test_when_a_threshold_is_set_then_only_anomalies_at_or_above_it_remain(raw_data):
    values, stamps = raw_data
    found = {t: shesd(values, stamps, max_anoms=0.02, direction="both", threshold=t) for t in
             ("None", "med_max", "p95", "p99")}  # fmt: skip
    sets = {t: set(f.indices) for t, f in found.items()}
    assert sets["p99"] <= sets["p95"] <= sets["med_max"] < sets["None"]
    daily_max = pd.Series(values).groupby(pd.DatetimeIndex(stamps).normalize()).max()
    assert (found["med_max"].values >= daily_max.median()).all()
    dropped = sorted(sets["None"] - sets["med_max"])
    assert (values[dropped] < daily_max.median()).all()


def test_when_only_last_is_set_then_the_anomalies_are_those_of_the_last_day_or_hour(raw_data):
    values, stamps = raw_data
    every = shesd(values, stamps, max_anoms=0.02, direction="both")
    day = shesd(values, stamps, max_anoms=0.02, direction="both", only_last="day")
    hour = shesd(values, stamps, max_anoms=0.02, direction="both", only_last="hr")
    last = stamps[-1]
    assert set(hour.indices) <= set(day.indices) <= set(every.indices)
    assert set(day.indices) == {i for i in every.indices if stamps[i] > last - np.timedelta64(1, "D")}
    assert set(hour.indices) == {i for i in every.indices if stamps[i] > last - np.timedelta64(1, "h")}
    vec = shesd(values, None, period=1440, max_anoms=0.02, direction="both", only_last=True)
    assert set(vec.indices) == {i for i in every.indices if i >= len(values) - 1440}


def _esd_reference(residual, max_outliers, alpha, direction):
    """detect_anoms' loop as written in R: median, MAD, arg-max removal, recomputed every step."""
    from scipy import stats

    rows, data = np.arange(len(residual)), residual.astype(float)
    n, removed, num = len(residual), [], 0
    for i in range(1, max_outliers + 1):
        med = np.median(data)
        dev = {"pos": data - med, "neg": med - data, "both": np.abs(data - med)}[direction]
        sigma = 1.4826 * np.median(np.abs(data - med))
        if sigma == 0:
            break
        ares = dev / sigma
        at = int(np.flatnonzero(ares == ares.max())[0])
        removed.append(int(rows[at]))
        stat = ares[at]
        rows, data = np.delete(rows, at), np.delete(data, at)
        p = 1 - alpha / (2 * (n - i + 1)) if direction == "both" else 1 - alpha / (n - i + 1)
        t = stats.t.ppf(p, n - i - 1)
        if stat > t * (n - i) / np.sqrt((n - i - 1 + t**2) * (n - i + 1)):
            num = i
    return removed[:num]


@pytest.mark.parametrize("direction", ["pos", "neg", "both"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_when_the_incremental_esd_runs_then_it_removes_the_rows_the_plain_loop_removes(direction, seed):
    rng = np.random.default_rng(seed)
    residual = rng.standard_t(3, size=400).round(1)  # heavy tails, many ties
    residual[rng.choice(400, 6, replace=False)] += rng.choice([-1, 1], 6) * 12
    mine = hybrid_esd(residual, 40, 0.05, direction).tolist()
    assert mine == _esd_reference(residual, 40, 0.05, direction)
    assert len(mine) >= 3


def test_when_rs_stl_settings_are_ones_statsmodels_takes_then_both_decompositions_agree():
    statsmodels = pytest.importorskip("statsmodels.tsa.seasonal")
    rng = np.random.default_rng(3)
    n, period = 24 * 30, 24
    x = 10 * np.sin(2 * np.pi * np.arange(n) / period) + np.arange(n) / 50 + rng.normal(size=n)
    x[rng.choice(n, 10, replace=False)] += 25
    sp = stl_spans(n, period)
    assert (sp["s_window"], sp["t_window"], sp["l_window"]) == (10 * n + 1, 37, 25)
    assert (sp["s_jump"], sp["t_jump"], sp["l_jump"]) == (n + 1, 4, 3)
    theirs = statsmodels.STL(x, period=period, seasonal=sp["s_window"], trend=sp["t_window"], low_pass=sp["l_window"],
                             seasonal_deg=0, robust=True, seasonal_jump=sp["s_jump"], trend_jump=sp["t_jump"],
                             low_pass_jump=sp["l_jump"]).fit(inner_iter=1, outer_iter=15)  # fmt: skip
    mine = stl_periodic(x, period)
    cycle_mean = pd.Series(np.asarray(theirs.seasonal)).groupby(np.arange(n) % period).transform("mean").to_numpy()
    np.testing.assert_allclose(mine.trend, theirs.trend, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine.seasonal, cycle_mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine.weights, theirs.weights, rtol=0, atol=1e-9)
    assert (mine.weights < 0.5).sum() >= 10  # the robustness passes down-weighted the spikes


def test_when_the_period_is_odd_then_stl_runs_with_the_low_pass_span_equal_to_the_period():
    """R's l.window = nextodd(7) = 7, which statsmodels' STL refuses (low_pass must exceed period)."""
    x = np.tile([1.0, 3, 2, 5, 4, 0, 9], 8) + np.arange(56) / 10
    fit = stl_periodic(x, 7)
    assert stl_spans(56, 7)["l_window"] == 7
    np.testing.assert_allclose(fit.seasonal[:7], fit.seasonal[7:14])
    np.testing.assert_allclose(fit.seasonal + fit.trend + fit.remainder, x)


@pytest.mark.parametrize("shape", [(1, 2161, 67), (1440, 10, 2), (1440, 10, 1), (1, 25, 600)])
def test_when_loess_sums_are_taken_then_they_add_left_to_right_as_the_fortran(shape):
    a = np.random.default_rng(4).normal(size=shape) * 10.0 ** np.random.default_rng(5).uniform(-6, 6, size=shape)
    sequential = np.zeros((shape[0], shape[2]))
    for row in range(shape[1]):
        sequential = sequential + a[:, row, :]
    np.testing.assert_array_equal(_seqsum(a), sequential)


def test_when_the_detector_gets_an_unknown_or_bad_parameter_then_it_is_refused():
    from workbench.anomaly.detectors import make_detector

    with pytest.raises(ParameterError, match=r"unknown parameter 'bogus'"):
        make_detector("shesd", period=24, bogus=1)
    with pytest.raises(ParameterError, match=r"direction"):
        make_detector("shesd", period=24, direction="up")
    with pytest.raises(ParameterError, match=r"missing parameter 'period'"):
        make_detector("shesd")


def test_when_the_detector_runs_on_a_nab_file_then_it_flags_rows_of_the_labelled_jump(mirror):
    from workbench.anomaly.run import detect
    from workbench.anomaly.task import DetectionTask

    item = "artificialWithAnomaly/art_daily_jumpsup.csv"
    data = DetectionTask(dataset="nab", subsets=("all",), items=(item,)).load()
    det = detect(data, {"name": "shesd", "params": {"period": 288, "max_anoms": 0.05}})  # 5-minute rows: a day
    labels = data.rows["label"].to_numpy(bool)
    assert set(np.unique(det.scores)) == {0.0, 1.0} and det.fitted_on.startswith("whole series")
    assert det.scores[labels].sum() > 0
    assert det.scores.sum() <= int(0.05 * len(det.scores))
    (values,) = data.channels(item).values()
    assert len(shesd(values, None, period=288, max_anoms=0.05)) == det.scores.sum()


def test_when_longterm_is_set_then_each_two_week_window_is_tested_on_its_own_and_the_last_reaches_back():
    rng = np.random.default_rng(6)
    n = 24 * 7 * 5 + 30  # five weeks and 30 hours of hourly rows: windows of 336 rows, the last one reaching back
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 24) + np.arange(n) / 20 + rng.normal(size=n)
    values[rng.choice(n, 12, replace=False)] += 30
    stamps = np.datetime64("2024-01-01T00:00") + np.arange(n) * np.timedelta64(1, "h")
    found = shesd(values, stamps, longterm=True)
    windows = [range(0, 336), range(336, 672), range(n - 336, n)]
    union = set()
    for w in windows:
        part = shesd(values[list(w)], None, period=24, max_anoms=0.10)
        union |= {w[i] for i in part.indices}
    assert set(found.indices) == union and len(union) >= 12
    assert set(found.indices) != set(shesd(values, stamps).indices)  # one window over the whole series differs


def test_when_stamps_are_daily_hourly_or_secondly_then_the_period_follows_rs_granularity_rule():
    rng = np.random.default_rng(7)
    values = np.tile([5.0, 6, 7, 6, 5, 2, 1], 12) + rng.normal(size=84) * 0.3
    values[[20, 70]] += 6
    days = np.datetime64("2024-01-01") + np.arange(84) * np.timedelta64(1, "D")
    daily = shesd(values, days, only_last="hr")  # 'hr' on daily rows means 'day', as in R
    assert daily.period == 7
    assert daily.indices.tolist() == shesd(values, days, only_last="day").indices.tolist()
    hours = np.datetime64("2024-01-01T00") + np.arange(84) * np.timedelta64(1, "h")
    assert shesd(values, hours).period == 24
    seconds = np.datetime64("2024-01-01T00:00:00") + np.arange(84) * np.timedelta64(1, "s")
    with pytest.raises(SHESDError, match="sec granularity has no S-H-ESD period"):
        shesd(values, seconds)
    with pytest.raises(SHESDError, match=r"strictly increasing .*row 3"):
        shesd(values, np.r_[hours[:3], hours[2:83]])
