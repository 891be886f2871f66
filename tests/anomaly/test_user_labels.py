"""A user's own anomaly labels through a user card: read, checked against the series, detected on (in
process and on the engine), scored with one row per detector configuration; bad labels files refused
naming the file and the row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.anomaly.errors import DetectionInputError, LabelError
from workbench.anomaly.run import Detection, detect, detection_labels, distinct_labels, scoreboard
from workbench.anomaly.task import DetectionTask

BAND = {"context": 96, "min_context": 48, "season_length": 24, "calibration": 100}
FORECASTERS = ("seasonal_naive", "theta")


def _band(forecaster: str) -> dict:
    return {"name": "forecast_band", "params": {"forecaster": forecaster, **BAND}}


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """A small seeded fleet (20 series, 10 days hourly, 5 gaps, 6 spikes) whose card declares its labels."""
    from workbench.config import use_catalog
    from workbench.data.synthetic import write_fleet

    monkeypatch.setenv("WORKBENCH_CATALOG", "")
    fleet = write_fleet(tmp_path / "fleet", seed=1, hosts_per_service=1, n_hours=24 * 10, n_missing=5, n_anomalies=6)
    _declare(fleet, {"path": "../labels.csv", "kind": "points"})
    use_catalog(fleet.catalog)
    return fleet


def _declare(fleet, labels: dict) -> None:
    raw = yaml.safe_load(fleet.card.read_text())
    raw["labels"] = labels
    fleet.card.write_text(yaml.safe_dump(raw, sort_keys=False))


def _data(fleet) -> pd.DataFrame:
    return pd.read_parquet(fleet.data)[["unique_id", "ds"]].astype({"unique_id": str})


def test_when_a_user_card_declares_point_labels_then_two_band_detectors_score_on_two_rows(fleet):
    from workbench.data.cards import get_card

    assert get_card("fleet").table("labels").reader == "user_labels"
    task = DetectionTask(dataset="fleet", subsets=("all",), labels="points")
    data = task.load()
    truth = pd.read_csv(fleet.labels, parse_dates=["ds"])
    labelled = data.rows.loc[data.rows["label"] == 1, ["item", "ds"]]
    got = sorted(zip(labelled["item"], labelled["ds"], strict=True))
    assert got == sorted(zip(truth["unique_id"], truth["ds"], strict=True))
    assert len(data.rows) == len(_data(fleet))  # no gap policy: the rows the data has (the card allows gaps)
    assert data.labels_fingerprint

    detections = [detect(data, _band(f)) for f in FORECASTERS]
    board = scoreboard(data, detections)
    assert sorted(board["detector"].unique()) == [f"forecast_band(forecaster={f})" for f in sorted(FORECASTERS)]
    wide = board.pivot_table(index="detector", columns="metric", values="value")
    assert len(wide) == 2 and not np.array_equal(detections[0].scores, detections[1].scores)
    assert wide.notna().all().all()


def test_when_the_gap_policy_fills_the_gaps_then_labels_stay_on_observed_rows(fleet):
    task = DetectionTask(dataset="fleet", subsets=("all",), labels="points", gap_policy="by_metric_type")
    data = task.load()
    assert len(data.frame) == fleet.n_series * 24 * 10
    assert int((~data.frame["observed"]).sum()) == fleet.n_missing
    assert int(data.rows["label"].sum()) == fleet.n_anomalies
    assert task.key() != DetectionTask(dataset="fleet", subsets=("all",), labels="points").key()
    assert "gap_policy" not in DetectionTask(dataset="fleet", subsets=("all",)).resolved()


def test_when_labels_are_windows_then_the_rows_inside_them_are_labelled(fleet, tmp_path):
    rows = _data(fleet).sort_values(["unique_id", "ds"])
    truth = pd.read_csv(fleet.labels, parse_dates=["ds"])
    windows = []
    for uid, ds in zip(truth["unique_id"], truth["ds"], strict=True):
        stamps = rows.loc[rows["unique_id"] == uid, "ds"].to_numpy()
        k = int(np.flatnonzero(stamps == np.datetime64(ds))[0])
        windows.append({"series": uid, "from": ds, "to": pd.Timestamp(stamps[k + 1])})
    path = tmp_path / "windows.parquet"
    pd.DataFrame(windows).to_parquet(path)
    _declare(fleet, {"path": str(path), "kind": "windows", "id_col": "series", "time_col": "from", "end_col": "to"})
    data = DetectionTask(dataset="fleet", subsets=("all",), labels="windows").load()
    assert int(data.rows["label"].sum()) == 2 * len(windows) and len(data.windows) == len(windows)
    with pytest.raises(LabelError, match=r"declares labels of kind 'windows'; use DetectionTask\(labels='windows'\)"):
        DetectionTask(dataset="fleet", subsets=("all",), labels="points").load()


def _bad(fleet, tmp_path, frame: pd.DataFrame, labels: dict) -> str:
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    _declare(fleet, {"path": str(path), **labels})
    with pytest.raises(LabelError) as caught:
        DetectionTask(dataset="fleet", subsets=("all",), labels=labels["kind"]).load()
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_when_a_label_names_an_unknown_series_then_the_file_and_row_are_named(fleet, tmp_path):
    good = pd.read_csv(fleet.labels)
    frame = pd.concat([good.iloc[:2], pd.DataFrame({"unique_id": ["api-00/disk"], "ds": [good["ds"].iloc[0]]})])
    message = _bad(fleet, tmp_path, frame, {"kind": "points"})
    assert "row 3 (line 4): series 'api-00/disk' is not a series of dataset 'fleet'" in message


def test_when_a_label_stamp_is_a_gap_of_its_series_then_the_file_and_row_are_named(fleet, tmp_path):
    data = _data(fleet)
    uid = sorted(data["unique_id"].unique())[0]
    stamps = pd.date_range(data["ds"].min(), data["ds"].max(), freq="h")
    present = set(data.loc[data["unique_id"] == uid, "ds"])
    off = next(s for s in stamps if s not in present) if len(present) < len(stamps) else stamps[-1] + pd.Timedelta("1h")
    frame = pd.DataFrame({"unique_id": [uid, uid], "ds": [stamps[30], off]})
    message = _bad(fleet, tmp_path, frame, {"kind": "points"})
    assert f"row 2 (line 3): stamp {off} is not a stamp of series {uid!r}" in message


def test_when_a_window_ends_before_it_starts_then_the_file_and_row_are_named(fleet, tmp_path):
    data = _data(fleet)
    uid = sorted(data["unique_id"].unique())[0]
    stamps = sorted(data.loc[data["unique_id"] == uid, "ds"])
    frame = pd.DataFrame({"unique_id": [uid, uid], "start": [stamps[40], stamps[90]], "end": [stamps[42], stamps[80]]})
    message = _bad(fleet, tmp_path, frame, {"kind": "windows", "time_col": "start", "end_col": "end"})
    assert f"row 2 (line 3): window of series {uid!r} ends" in message and "before it starts" in message


def test_when_detector_configurations_differ_then_each_has_its_own_label():
    configs = [
        ("forecast_band", {"forecaster": "theta", "level": 0.95}, 0),
        ("forecast_band", {"forecaster": "ttm", "forecaster_params": {"model": "m"}, "level": 0.95}, 0),
        ("rolling_robust_z", {}, 0),
        ("rolling_robust_z", {}, 3),
    ]
    assert distinct_labels(configs) == [
        "forecast_band(forecaster=theta, forecaster_params.model=default)",
        "forecast_band(forecaster=ttm, forecaster_params.model=m)",
        "rolling_robust_z",
        "rolling_robust_z (seed 3)",
    ]
    one = Detection("x", "past", np.zeros(3), 0.0, "forecast_band", {"forecaster": "theta"})
    with pytest.raises(DetectionInputError, match=r"detections 0 and 1 are the same detector configuration"):
        detection_labels([one, one])


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        yield cl


def test_when_a_user_card_is_detected_on_the_engine_then_scores_equal_local_runs(fleet, dask_client, tmp_path):
    from workbench.anomaly.engine import detect_on_engine

    task = DetectionTask(dataset="fleet", subsets=("all",), labels="points", gap_policy="by_metric_type")
    specs = [_band(f) for f in FORECASTERS]
    run = detect_on_engine(task, specs, client=dask_client, store=tmp_path / "store", chunk_size=6, progress=False)
    assert not run.failures and run.data.frame.empty
    local = task.load()
    assert run.data.rows["label"].tolist() == local.rows["label"].tolist()
    for det, spec in zip(run.detections, specs, strict=True):
        np.testing.assert_array_equal(det.scores, detect(local, spec).scores)
    assert sorted(run.scoreboard["model"].unique()) == sorted({r["model"] for _, r in run.records.iterrows()})
    assert [d.label for d in run.detections] == [f"forecast_band(forecaster={f})" for f in FORECASTERS]


def test_when_the_joint_view_runs_on_a_user_card_then_each_forecaster_gets_skill_and_detection(
    fleet, dask_client, tmp_path
):
    from workbench.joint import joint_table, label_source, run_joint

    assert label_source("fleet") == ("points", "labels")
    run = run_joint(dataset="fleet", gap_policy="by_metric_type", models=["seasonal_naive", "theta"], n_windows=1,
                    store=tmp_path / "store", client=dask_client, chunk_size=10)  # fmt: skip
    assert run.folders == ["all"] and not run.detection_failures and run.forecast_failures == 0
    table = joint_table(run.store).set_index("model")
    assert sorted(table.index) == ["seasonal_naive", "theta"]
    assert (table["n_series"] == fleet.n_series).all() and (table["n_detection_folders"] == 1).all()
    assert np.isfinite(table[["mase", "nab_standard", "event_f1", "auc_pr"]].to_numpy()).all()
    assert table.loc["seasonal_naive", "nab_standard"] != table.loc["theta", "nab_standard"]
