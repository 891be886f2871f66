"""Detection units on a real Dask cluster (scheduler and two worker processes) and the results store."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.anomaly.engine import detect_on_engine
from workbench.anomaly.run import detect, scoreboard
from workbench.anomaly.task import DetectionTask

ITEMS = ("artificialWithAnomaly/art_daily_jumpsup.csv", "realTraffic/speed_7578.csv", "realTraffic/TravelTime_451.csv")


def test_when_detectors_run_on_the_cluster_then_scores_equal_local_runs_and_a_rerun_resumes(shared_cluster, tmp_path):
    task = DetectionTask(dataset="nab", subsets=("all",), items=ITEMS)
    # a detector that fails on the data (its forecaster needs more history than a block has)
    broken = {"name": "forecast_residual", "params": {"forecaster": "linear", "forecaster_params": {"input_len": 400}}}
    specs = ["windowedGaussian", "rolling_robust_z", broken]
    run = detect_on_engine(task, specs, scheduler=shared_cluster.address, store=tmp_path, chunk_size=2, progress=False)
    assert [d.label for d in run.detections] == ["windowedGaussian", "rolling_robust_z"]
    # the client got the rows' stamps and labels back from the worker, not the series' values
    assert run.data.frame.empty and set(run.data.chunk_files) == set(ITEMS)
    assert len(run.data.rows) == len(task.load().frame)
    (failure,) = run.failures.values()
    assert "fewer than input_len 400" in failure
    for det in run.detections:
        np.testing.assert_array_equal(det.scores, detect(run.data, det.label).scores)
    assert set(run.records["status"]) == {"ok", "error"} and len(run.records) == 3 * 2
    board = scoreboard(run.data, run.detections)
    assert board.loc[board["metric"].str.startswith("nab_"), "tuned_on_test"].all()
    assert not board.loc[board["metric"] == "point_f1", "tuned_on_test"].any()

    again = detect_on_engine(
        task, specs[:2], scheduler=shared_cluster.address, store=tmp_path, chunk_size=2, progress=False
    )
    assert set(again.records["run_id"]) == set(run.records.loc[run.records["model"] != broken["name"], "run_id"])
    np.testing.assert_array_equal(again.detections[0].scores, run.detections[0].scores)


def test_when_the_residual_detector_names_an_unknown_forecaster_then_it_fails_before_any_unit_runs(tmp_path):
    from workbench.errors import UnknownNameError

    task = DetectionTask(dataset="nab", subsets=("all",), items=ITEMS[:1])
    with pytest.raises(UnknownNameError, match="no_such_model"):
        detect_on_engine(
            task, [{"name": "forecast_residual", "params": {"forecaster": "no_such_model"}}], store=tmp_path
        )
    assert not tmp_path.joinpath("units").exists()


def test_when_skab_is_the_task_then_point_labels_become_windows_and_channels_combine(mirror):
    task = DetectionTask(dataset="skab", subsets=("valve2",), labels="points", labels_table="labels",
                         items=("valve2/0", "valve2/1"))  # fmt: skip
    data = task.load()
    assert data.items == ["valve2/0", "valve2/1"] and len(data.windows) >= 2
    assert data.rows["label"].sum() == (data.corpus.window >= 0).sum()
    det = detect(data, "rolling_robust_z")
    assert det.scores.shape == (len(data.rows),) and det.scores.min() >= 0 and det.scores.max() <= 1
    board = scoreboard(data, [det]).set_index("metric")["value"]
    assert board["point_adjusted_f1"] >= board["point_f1"] - 1e-12
    assert {"nab_standard", "auc_pr", "event_f1"} <= set(board.index)


def test_when_a_detection_task_names_an_unknown_item_then_it_is_refused(mirror):
    from workbench.anomaly.errors import LabelError

    with pytest.raises(LabelError, match="nope"):
        DetectionTask(dataset="nab", subsets=("all",), items=("nope.csv",)).load()


def test_when_detection_chunks_are_cut_then_a_file_at_a_time_is_read_and_the_view_equals_the_whole_load(
    mirror, tmp_path, monkeypatch
):
    from workbench.anomaly import engine

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    task = DetectionTask(dataset="nab", subsets=("all",))
    sizes = []
    real = engine._item_batches

    def spy(*args):
        for frame in real(*args):
            sizes.append(frame["item"].nunique())
            yield frame

    monkeypatch.setattr(engine, "_item_batches", spy)
    chunks, view = engine.prepare_item_chunks(task, 8)
    whole = task.load()
    assert len(sizes) == 58 and max(sizes) == 1  # NAB's 58 files, one series per read
    assert [len(c.items) for c in chunks] == [8] * 7 + [2]
    assert view.frame.empty and view.items == whole.items
    np.testing.assert_array_equal(view.rows["label"].to_numpy(), whole.rows["label"].to_numpy())
    item = whole.items[3]
    for channel, values in whole.channels(item).items():
        np.testing.assert_array_equal(view.channels(item)[channel], values)
