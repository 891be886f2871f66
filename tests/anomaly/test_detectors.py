"""Detectors: the registry, the streaming contract, NAB's baselines against its committed raw files."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.anomaly.detectors import Detector, known_detectors, make_detector
from workbench.anomaly.errors import ScoreRangeError
from workbench.anomaly.nab import probationary_length
from workbench.errors import ParameterError, UnknownNameError
from workbench.registry import ModelParams

STREAMING = [
    "random",
    "windowedGaussian",
    "rolling_robust_z",
    {"name": "forecast_residual", "params": {"refit_every": 25}},
]


def _series(n: int = 900, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.sin(np.arange(n) / 20) + 0.1 * rng.normal(size=n)
    values[700] += 4  # a spike
    return values


def _make(spec):
    return make_detector(spec) if isinstance(spec, str) else make_detector(spec["name"], **spec["params"])


def test_when_a_detector_name_is_unknown_then_the_error_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="windowedGaussian"):
        make_detector("windowedGausian")
    assert "pyod.<Class>" in known_detectors()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("windowedGaussian", {"window_sise": 10}, r"unknown parameter 'window_sise' \(did you mean 'window_size'\?\)"),
        ("rolling_robust_z", {"window": "wide"}, r"parameter 'window': .*integer"),
        ("forecast_residual", {"refit_evry": 5}, r"did you mean 'refit_every'.*forecaster, forecaster_params"),
        ("pyod.IForest", {"n_estimator": 5}, r"unknown parameter 'n_estimator' \(did you mean 'n_estimators'"),
        ("random", {"seed": 3, "random_stat": 1}, r"did you mean 'random_state'"),
    ],
)
def test_when_a_detector_parameter_is_unknown_or_mistyped_then_the_error_names_it_and_the_valid_ones(
    name, params, message
):
    with pytest.raises(ParameterError, match=message):
        make_detector(name, **params)


@pytest.mark.parametrize("spec", STREAMING, ids=str)
def test_when_a_streaming_detector_sees_a_different_future_then_past_scores_do_not_change(spec):
    """The NAB contract: row i's score depends on rows 0..i only."""
    values = _series()
    changed = values.copy()
    changed[600:] = 50 - changed[600:]
    a, b = _make(spec).score(values, 135), _make(spec).score(changed, 135)
    assert _make(spec).streaming
    np.testing.assert_array_equal(a[:600], b[:600])
    assert not np.array_equal(a[600:], b[600:]) or spec == "random"


@pytest.mark.parametrize("spec", ["windowedGaussian", "rolling_robust_z", {"name": "forecast_residual", "params": {}}],
                         ids=str)  # fmt: skip
def test_when_a_spike_arrives_then_it_scores_near_the_top(spec):
    scores = _make(spec).score(_series(), 135)
    assert scores[700] >= np.quantile(scores[150:], 0.99)


def test_when_detectors_see_more_than_the_past_then_they_declare_it():
    assert make_detector("relativeEntropy").fitted_on.startswith("file range")
    pyod = make_detector("pyod.IForest", n_estimators=10, random_state=0)
    assert not pyod.streaming and "probationary" in pyod.fitted_on
    scores = pyod.score(_series(), 135)
    assert scores.min() >= 0 and scores.max() <= 1 and scores[700] > 0.9


class _Broken(Detector):
    name = ""

    class Params(ModelParams):
        bad: float

    def score_series(self, values, probationary):
        out = np.zeros(len(values))
        out[3] = self.params.bad
        return out


@pytest.mark.parametrize("bad", [np.nan, 1.01, -1.0])
def test_when_a_detector_returns_nan_or_scores_outside_0_1_then_it_is_refused(bad):
    with pytest.raises(ScoreRangeError, match="NaN or outside"):
        _Broken(bad=bad).score(np.zeros(10), 0, "f.csv")


NAB_FILES = [
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realTraffic/speed_7578.csv",
    "realKnownCause/machine_temperature_system_failure.csv",  # steps back one hour: rows, not times
]


@pytest.mark.parametrize("detector", ["random", "windowedGaussian", "relativeEntropy"])
def test_when_nabs_detectors_are_rerun_then_they_give_the_committed_scores(nab, detector):
    det = make_detector(detector)
    published = nab.results[nab.results["detector"] == detector]
    for uid in NAB_FILES:
        values = nab.data.loc[nab.data["unique_id"] == uid, "y"].to_numpy(float)
        theirs = published.loc[published["unique_id"] == uid, "anomaly_score"].to_numpy(float)
        mine = det.score(values, int(probationary_length(len(values))), uid)
        assert np.max(np.abs(mine - theirs)) < 1e-6, uid
