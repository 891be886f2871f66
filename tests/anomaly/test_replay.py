"""Streaming replay: detectors fed one stamp at a time across a chunk's series give the batch path's
scores, on synthetic series, real NAB and SKAB files and through the engine, where a replay task is
a task of its own (its own key, the batch task's key unchanged) whose unit records carry the replay's
stats; detectors without a streaming form are refused up front."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.anomaly.detectors import Detector, make_detector
from workbench.anomaly.detectors.base import DetectorStream
from workbench.anomaly.replay import NotStreamingError, check_replayable, replay
from workbench.anomaly.run import detect, score_item
from workbench.anomaly.task import DetectionTask
from workbench.fingerprint import digest

STREAMING = [
    ("null", {}),
    ("null", {"value": 0.2}),
    ("random", {}),
    ("random", {"random_state": None}),
    ("windowedGaussian", {}),
    ("windowedGaussian", {"window_size": 64, "step_size": 5}),
    ("windowedGaussian", {"window_size": 1, "step_size": 1}),
    ("rolling_robust_z", {}),
    ("rolling_robust_z", {"window": 40}),
    ("rolling_robust_z", {"window": 1}),
]
NOT_STREAMING = [
    ("relativeEntropy", {}, "file range"),
    ("pyod.IForest", {"n_estimators": 5}, "probationary rows"),
    ("shesd", {"period": 24}, "whole series"),
    ("forecast_residual", {}, "no streaming implementation"),
]
NAB_ITEMS = (
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAdExchange/exchange-2_cpc_results.csv",  # a stamp repeated
    "realKnownCause/ec2_request_latency_system_failure.csv",  # a run of repeated stamps
    "realTraffic/speed_7578.csv",
)


def _series(n: int, seed: int) -> np.ndarray:
    """A noisy seasonal series with a spike, a level shift and a flat stretch (MAD 0: the floor binds)."""
    rng = np.random.default_rng(seed)
    values = 10 + np.sin(np.arange(n) / 15) + 0.2 * rng.normal(size=n)
    values[n // 3] += 6
    values[n // 2 :] += 3
    values[n - 120 : n - 40] = np.round(values[n - 120], 1)
    values[n - 60] += 0.001  # a small step inside the flat stretch
    return values


def _fed(stream: DetectorStream, values: np.ndarray) -> np.ndarray:
    return np.array([stream.update(x) for x in values.tolist()])


def _chunk() -> pd.DataFrame:
    """Three items: one channel hourly; three channels on the same stamps; one channel every 2 hours
    from a later start (so stamps interleave and some have fewer series)."""
    hours = pd.date_range("2024-01-01", periods=700, freq="h")
    frames = [pd.DataFrame({"item": "solo", "unique_id": "solo", "ds": hours, "y": _series(700, 1)})]
    for c in range(3):
        frames.append(pd.DataFrame({"item": "multi", "unique_id": f"sensor{c}", "ds": hours, "y": _series(700, 2 + c)}))
    sparse = pd.date_range("2024-01-03", periods=400, freq="2h")
    frames.append(pd.DataFrame({"item": "sparse", "unique_id": "sparse", "ds": sparse, "y": _series(400, 9)}))
    return pd.concat(frames, ignore_index=True)


def _batch(detector: Detector, frame: pd.DataFrame, percent: float) -> dict[str, np.ndarray]:
    """The batch path's scores of each item (`score_item`, as the engine runs it)."""
    out = {}
    for item, sub in frame.groupby("item", sort=False):
        channels = {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
        out[item] = score_item(detector, channels, item, percent)
    return out


@pytest.mark.parametrize(("name", "params"), STREAMING, ids=str)
def test_when_a_streaming_detector_is_fed_row_by_row_then_its_scores_are_the_batch_scores_bit_for_bit(name, params):
    for seed, n in [(0, 1500), (1, 90), (2, 7)]:
        values = _series(n, seed) if n > 10 else np.arange(n, dtype=float)
        detector = make_detector(name, seed=seed, **params)
        streamed = _fed(detector.stream(int(0.15 * n)), values)
        np.testing.assert_array_equal(streamed, detector.score(values, int(0.15 * n)))


@pytest.mark.parametrize("window", [500, 25])
def test_when_rolling_robust_z_meets_missing_values_then_the_stream_skips_them_as_pandas_does(window):
    values = _series(900, 4)
    values[[0, 1, 50, 51, 52, 400]] = np.nan
    values[600:640] = np.nan
    detector = make_detector("rolling_robust_z", window=window)
    np.testing.assert_array_equal(_fed(detector.stream(0), values), detector.score_series(values, 0))


def test_when_rolling_robust_z_scores_a_row_then_a_larger_later_value_does_not_change_it():
    """The MAD floor reads the values so far: a later spike cannot change a flat stretch's scores."""
    values = np.r_[np.full(100, 5.0), np.full(20, 5.001), np.full(50, 5.0)]
    later = np.r_[values, 1e6]
    detector = make_detector("rolling_robust_z", window=60)
    np.testing.assert_array_equal(detector.score(later, 0)[: len(values)], detector.score(values, 0))


@pytest.mark.parametrize(("name", "params"), STREAMING, ids=str)
def test_when_a_chunk_is_replayed_stamp_by_stamp_then_each_item_scores_as_the_batch_path(name, params):
    frame = _chunk()
    detector = make_detector(name, seed=3, **params)
    scores, stats = replay(detector, frame, 0.15)
    expected = _batch(detector, frame, 0.15)
    assert list(scores) == list(expected) == ["solo", "multi", "sparse"]
    for item, s in expected.items():
        np.testing.assert_array_equal(scores[item], s)
    assert (stats.n_series, stats.n_points, stats.n_late) == (5, len(frame), 0)
    assert stats.n_stamps == frame["ds"].nunique()
    assert 0 <= stats.latency_p50_s <= stats.latency_p99_s and stats.cpu_s > 0 and stats.points_per_cpu_s > 0
    assert 0 < stats.state_bytes_mean <= stats.state_bytes_max
    record = stats.as_record()
    assert record["n_points"] == len(frame) and isinstance(record["state_bytes_max"], int)


class _Recorder(Detector):
    """Logs what each of its streams is fed, to check the order of the feed (not registered: no name)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, float]] = []
        self.n_streams = 0

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        return np.zeros(len(values))

    def stream(self, probationary: int) -> DetectorStream:
        self.n_streams += 1
        return _RecorderStream(self.log, self.n_streams - 1)


class _RecorderStream(DetectorStream):
    def __init__(self, log: list[tuple[int, float]], index: int) -> None:
        self.log, self.index = log, index

    def update(self, x: float) -> float:
        self.log.append((self.index, x))
        return 0.0

    def state_nbytes(self) -> int:
        return 0


def test_when_stamps_are_fed_then_every_series_with_a_stamp_is_updated_before_the_next_and_late_rows_on_arrival():
    frame = _chunk()
    solo = frame.index[frame["item"] == "solo"]
    frame.loc[solo[300], "ds"] -= pd.Timedelta(hours=6)  # a clock that goes back: 5 hours before row 299
    frame["y"] = (frame["ds"] - frame["ds"].min()) / pd.Timedelta(hours=1)  # each value is its stamp, in hours
    recorder = _Recorder()
    _, stats = replay(recorder, frame, 0.15)
    streams = np.array([k for k, _ in recorder.log])
    streams -= streams.min()  # the series' streams in order (0: solo, 1-3: multi's sensors, 4: sparse)
    fed = np.array([x for _, x in recorder.log])
    at = np.flatnonzero(streams == 0)[300]  # where solo's row 300 was fed
    assert fed[at] == frame.loc[solo[299], "y"] - 5
    assert (np.diff(np.delete(fed, at)) >= 0).all()  # stamp by stamp across all series
    # the late row arrives right after row 299, and is fed then, before the other series' rows of that stamp
    assert (streams[at - 1], fed[at - 1]) == (0, frame.loc[solo[299], "y"])
    assert streams[at + 1] == 1 and fed[at + 1] == fed[at - 1]
    assert stats.n_late == 1 and stats.n_stamps == frame["ds"].nunique()  # its own stamp is another row's
    for k, (_, rows) in enumerate(frame.groupby(["item", "unique_id"], sort=False)):
        np.testing.assert_array_equal(fed[streams == k], rows["y"].to_numpy())  # each series in row order


def test_when_a_replay_meets_channels_of_unequal_length_then_it_refuses_as_the_batch_path_does():
    from workbench.errors import DataFormatError

    frame = _chunk()
    frame = frame.drop(frame.index[(frame["unique_id"] == "sensor1")][-1:])
    with pytest.raises(DataFormatError, match="multi: channels of different lengths"):
        replay(make_detector("null"), frame, 0.15)


def test_when_detectors_have_no_streaming_form_then_a_replay_names_each_and_what_it_is_fitted_on():
    detectors = [make_detector(name, **params) for name, params, _ in NOT_STREAMING]
    with pytest.raises(NotStreamingError) as caught:
        check_replayable([make_detector("windowedGaussian"), *detectors])
    message = str(caught.value)
    for detector, (_, _, why) in zip(detectors, NOT_STREAMING, strict=True):
        assert f"{detector.label}: " in message and why in message
    assert "windowedGaussian" not in message
    with pytest.raises(NotStreamingError, match="relativeEntropy"):
        replay(detectors[0], _chunk(), 0.15)


def test_when_a_replay_task_names_a_non_streaming_detector_then_it_fails_before_any_unit_runs(tmp_path):
    from workbench.anomaly.engine import detect_on_engine

    task = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS[:1], mode="replay")
    with pytest.raises(NotStreamingError, match=r"relativeEntropy: its scores are fitted on the file range"):
        detect_on_engine(task, ["windowedGaussian", "relativeEntropy"], store=tmp_path, progress=False)
    assert not tmp_path.joinpath("units").exists()


def test_when_a_task_is_batch_then_its_key_is_the_one_before_the_mode_existed_and_a_replay_task_has_its_own():
    batch = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS)
    replayed = batch.model_copy(update={"mode": "replay"})
    assert "mode" not in batch.resolved() and replayed.resolved()["mode"] == "replay"
    # the key from the fields a task had before `mode` (and `gap_policy`, popped when None) existed
    before = {k: v for k, v in batch.model_dump(mode="json").items() if k not in ("mode", "gap_policy")}
    assert batch.key() == digest({"kind": "detection", **before}, 16)
    assert replayed.key() != batch.key()
    assert "replay" in replayed.describe() and "replay" not in batch.describe()


@pytest.mark.parametrize(("name", "params"), [s for s in STREAMING if s[1] == {}], ids=str)
def test_when_real_nab_and_skab_files_are_replayed_then_the_scores_are_the_batch_scores(mirror, name, params):
    late = "realKnownCause/machine_temperature_system_failure.csv"  # its clock goes back an hour once
    nab = DetectionTask(dataset="nab", subsets=("all",), items=(*NAB_ITEMS, late))
    skab = DetectionTask(
        dataset="skab", subsets=("valve2",), labels="points", labels_table="labels", items=("valve2/0",)
    )  # fmt: skip  (8 sensor channels)
    for task in (nab, skab):
        frame = task.load().frame
        detector = make_detector(name, **params)
        scores, stats = replay(detector, frame, task.probationary_percent)
        for item, s in _batch(detector, frame, task.probationary_percent).items():
            np.testing.assert_array_equal(scores[item], s, err_msg=f"{name} on {item}")
        assert stats.n_points == len(frame) and stats.n_late == (11 if task is nab else 0)
    assert skab.load().frame["unique_id"].nunique() == 8


def test_when_a_replay_task_runs_on_the_engine_then_its_stored_scores_are_the_batch_tasks_and_records_carry_stats(
    shared_cluster, tmp_path
):
    from workbench.anomaly.engine import detect_on_engine

    specs = ["null", "random", {"name": "windowedGaussian", "params": {"window_size": 500}}, "rolling_robust_z"]
    batch = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS)
    replayed = batch.model_copy(update={"mode": "replay"})
    kwargs = {"scheduler": shared_cluster.address, "store": tmp_path, "chunk_size": 3, "progress": False}
    runs = {task.mode: detect_on_engine(task, specs, **kwargs) for task in (batch, replayed)}
    assert batch.key() != replayed.key()
    for det_b, det_r in zip(runs["batch"].detections, runs["replay"].detections, strict=True):
        np.testing.assert_array_equal(det_r.scores, det_b.scores, err_msg=det_b.label)
    stored = {}
    for mode, run in runs.items():
        keys = list(run.records["key"])
        table = run.store.read_table("detection_scores", keys)
        assert set(table["task_key"]) == {(batch if mode == "batch" else replayed).key()}
        stored[mode] = table.sort_values(["model", "unique_id", "row"]).reset_index(drop=True)
    assert list(stored["batch"].columns) == list(stored["replay"].columns)
    same = ["model", "unique_id", "row", "anomaly_score"]
    pd.testing.assert_frame_equal(stored["replay"][same], stored["batch"][same])

    records = runs["replay"].records
    assert len(records) == len(specs) * 2 and set(records["status"]) == {"ok"}
    for record in records.to_dict("records"):
        stats = record["replay"]
        n_rows = record["tables"]["detection_scores"]["n_rows"]
        assert stats["n_points"] == n_rows and stats["n_series"] == record["n_series"]
        assert stats["latency_p99_s"] >= stats["latency_p50_s"] >= 0 and stats["points_per_cpu_s"] > 0
        assert stats["state_bytes_max"] >= stats["state_bytes_mean"] > 0
    batch_records = runs["batch"].records
    assert batch_records["item_seconds"].map(bool).all()
    assert "replay" not in batch_records or batch_records["replay"].isna().all()


def test_when_a_replay_task_is_detected_locally_then_its_scores_are_the_batch_paths(mirror):
    items = ("realKnownCause/nyc_taxi.csv", "artificialWithAnomaly/art_daily_jumpsup.csv")
    batch = DetectionTask(dataset="nab", subsets=("all",), items=items).load()
    streamed = DetectionTask(dataset="nab", subsets=("all",), items=items, mode="replay").load()
    for name in ("windowedGaussian", "rolling_robust_z"):
        np.testing.assert_array_equal(detect(streamed, name).scores, detect(batch, name).scores)
    with pytest.raises(NotStreamingError, match="relativeEntropy"):
        detect(streamed, "relativeEntropy")
