"""Point labels matched to rows (by row order where files repeat stamps) and turned into NAB windows:
on Cloud Monitoring's real files, and on small frames that break each rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.anomaly.errors import LabelError
from workbench.anomaly.point_labels import align_point_labels, point_windows
from workbench.anomaly.run import detect, scoreboard
from workbench.anomaly.task import DetectionTask


def _rows(stamps: list[str], item: str = "f/s") -> pd.DataFrame:
    return pd.DataFrame({"item": item, "ds": pd.to_datetime(stamps)})


def test_when_cloud_monitoring_repeats_stamps_then_detection_loads_and_scores(mirror):
    task = DetectionTask(
        dataset="cloud_monitoring", subsets=("application-crash-rate-1",), labels="points", labels_table="labels"
    )
    data = task.load()
    assert len(data.rows) == 5504 and len(data.items) == 9
    assert int(data.rows["label"].sum()) == 40 + 94 + 166 + 181 + 73 + 115 + 7 + 65 + 7
    # app1-04 repeats a stamp whose twins carry 1 and 0: row order keeps both labels
    app4 = data.rows[data.rows["item"] == "application-crash-rate-1/app1-04"]
    twins = app4[app4["ds"].duplicated(keep=False)]
    assert twins.groupby("ds")["label"].nunique().max() == 2
    # app1-07 has a one-row anomaly: its window is widened to the next row, the row label is kept
    widened = data.windows[data.windows["widened"]]
    assert widened["unique_id"].tolist() == ["application-crash-rate-1/app1-07"]
    inside = data.corpus.window >= 0
    assert int((inside != data.rows["label"].to_numpy(bool)).sum()) == 1
    board = scoreboard(data, [detect(data, "rolling_robust_z")])
    assert board["value"].notna().all() and len(board) == 8


def test_when_labels_follow_the_rows_then_twins_keep_their_own_labels():
    rows = _rows(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 01:00", "2020-01-01 02:00"])
    labels = rows.assign(anomaly=[0, 1, 0, 0])
    out = align_point_labels("t", rows, labels, "anomaly")
    assert out["label"].tolist() == [0, 1, 0, 0]


def test_when_a_label_stamp_is_not_in_the_series_then_error_names_series_and_row():
    rows = _rows(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"])
    labels = pd.DataFrame(
        {"item": "f/s", "ds": pd.to_datetime(["2020-01-01 00:00", "2020-01-01 01:30", "2020-01-01 02:00"]),
         "anomaly": [0, 1, 0]}
    )  # fmt: skip
    with pytest.raises(LabelError, match=r"series 'f/s', labels row 1: label timestamp 2020-01-01 01:30:00"):
        align_point_labels("t", rows, labels, "anomaly")


def test_when_repeated_label_stamps_do_not_follow_the_rows_then_error_says_so():
    rows = _rows(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"])
    labels = pd.DataFrame(
        {"item": "f/s", "ds": pd.to_datetime(["2020-01-01 00:00", "2020-01-01 00:00", "2020-01-01 01:00",
                                              "2020-01-01 02:00"]), "anomaly": [0, 1, 0, 0]}
    )  # fmt: skip
    with pytest.raises(LabelError, match=r"labels row 1: timestamp 2020-01-01 00:00:00 is labelled more than once"):
        align_point_labels("t", rows, labels, "anomaly")


def test_when_a_row_has_no_label_or_a_label_is_not_binary_then_error_names_it():
    rows = _rows(["2020-01-01 00:00", "2020-01-01 01:00"])
    with pytest.raises(LabelError, match=r"no label for series 'f/s' at 2020-01-01 01:00:00"):
        align_point_labels("t", rows, rows.iloc[:1].assign(anomaly=[0]), "anomaly")
    with pytest.raises(LabelError, match=r"labels row 1 .*label must be 0 or 1, got 2"):
        align_point_labels("t", rows, rows.assign(anomaly=[0, 2]), "anomaly")
    with pytest.raises(LabelError, match=r"no labels for series 'g/x'"):
        align_point_labels("t", _rows(["2020-01-01"], item="g/x"), rows.assign(anomaly=[0, 0]), "anomaly")


def test_when_a_run_is_one_stamp_then_its_window_is_widened_to_a_neighbour():
    stamps = pd.date_range("2020-01-01", periods=6, freq="h").tolist()
    rows = pd.DataFrame({"item": "f/s", "ds": stamps, "label": [0, 1, 0, 0, 1, 1]})
    windows = point_windows(rows)
    assert windows["widened"].tolist() == [True, False]
    assert windows["start"].tolist() == [stamps[1], stamps[4]]
    assert windows["end"].tolist() == [stamps[2], stamps[5]]
    # at the end of the file, the previous row widens it
    end = point_windows(pd.DataFrame({"item": "f/s", "ds": stamps[:3], "label": [0, 0, 1]}))
    assert (end["start"].iloc[0], end["end"].iloc[0]) == (stamps[1], stamps[2])
    # twin rows on one stamp both labelled: still one stamp wide, widened past the twins
    twins = pd.DataFrame({"item": "f/s", "ds": [stamps[0], stamps[1], stamps[1], stamps[2]], "label": [0, 1, 1, 0]})
    out = point_windows(twins)
    assert (out["start"].iloc[0], out["end"].iloc[0], bool(out["widened"].iloc[0])) == (stamps[1], stamps[2], True)


def test_when_a_one_stamp_run_has_no_free_neighbour_then_error_names_series_and_row():
    rows = pd.DataFrame({"item": "f/s", "ds": pd.to_datetime(["2020-01-01"]), "label": np.array([1])})
    with pytest.raises(LabelError, match=r"f/s: the labelled run at row 0"):
        point_windows(rows)
