"""Facts of the observability cards (Cloud Monitoring, Twitter raw_data, Robot Shop, BOOM results),
asserted on the mirror's real files, and the readers' errors on broken copies of those formats."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.data import get_card, load_panel, load_table
from workbench.data.cards import load_card
from workbench.data.readers import read_boom_breakdown, read_cloud_monitoring, read_rda_frame
from workbench.errors import DataFormatError

mirrored = pytest.mark.usefixtures("mirror")

CM_FOLDERS = {
    "application-crash-rate-1": 9,
    "application-crash-rate-2": 10,
    "consumer-purchase-rate": 6,
    "data-ingress-rate": 5,
    "ecommerce-api-incoming-rps": 1,
    "middle-tier-api-dependency-latency": 23,
    "mongodb-application-rps": 4,
    "mongodb-machine-rps": 1,
    "service-unavailable": 1,
}
ANOMALY_FREE = {
    "consumer-purchase-rate/purchase-01",
    "data-ingress-rate/ingress-03",
    "middle-tier-api-dependency-latency/outbound-16",
    "mongodb-application-rps/mongo-01",
    "mongodb-application-rps/mongo-04",
    "service-unavailable/unavail-01",
}


@pytest.fixture(scope="module")
def cloud(mirror):
    return load_panel("cloud_monitoring", "all")


@pytest.fixture(scope="module")
def cloud_labels(mirror):
    return load_table("cloud_monitoring", "labels")


@pytest.fixture(scope="module")
def boom(mirror):
    return load_table("boom_results", "results")


# ---- Cloud Monitoring ---------------------------------------------------------------------------
def test_when_cloud_monitoring_loads_then_it_has_60_series_in_9_folders(cloud):
    assert cloud.n_series == 60
    per_folder = cloud.df.groupby("folder")["unique_id"].nunique().to_dict()
    assert per_folder == CM_FOLDERS
    assert len(cloud) == 225_445
    assert int(cloud.df["y"].isna().sum()) == 42  # empty values of app1-04, -05 and -06
    lengths = cloud.lengths()
    assert lengths["application-crash-rate-1/app1-09"] == 176
    assert lengths["ecommerce-api-incoming-rps/api-01"] == 6192
    assert lengths["mongodb-machine-rps/machine-01"] == 20_160
    assert (lengths[[u for u in lengths.index if u.startswith("data-ingress-rate/")]] == 15_840).all()


def test_when_folder_subsets_load_then_defaults_follow_the_data(mirror):
    card = get_card("cloud_monitoring")
    assert set(card.subsets) == {"all", *CM_FOLDERS}
    assert sum(card.subsets[f].n_series for f in CM_FOLDERS) == 60
    minute = load_panel("cloud_monitoring", "mongodb-application-rps")
    assert (minute.freq, minute.season_length, minute.horizon, minute.n_series) == ("min", 1440, 60, 4)
    assert (minute.df.groupby("unique_id")["ds"].diff().dropna() == pd.Timedelta("1min")).all()
    hourly = load_panel("cloud_monitoring", "middle-tier-api-dependency-latency")
    assert (hourly.freq, hourly.season_length, hourly.horizon, hourly.n_series) == ("h", 24, 24, 23)
    crash = load_panel("cloud_monitoring", "application-crash-rate-1")
    assert (crash.freq, crash.season_length) == ("h", 1)


def test_when_files_repeat_stamps_then_rows_stay_in_file_order(cloud):
    app = cloud.series("application-crash-rate-1/app1-02")
    assert len(app) == 710
    assert int(app["ds"].duplicated().sum()) == 13
    assert app["ds"].is_monotonic_increasing
    api = cloud.series("ecommerce-api-incoming-rps/api-01")
    repeated = api.loc[api["ds"] == pd.Timestamp("2017-11-05 01:00"), "y"].round(4).tolist()
    assert repeated == [74.5658, 70.6033]  # the daylight-saving hour, as written
    assert cloud.df["ds"].dt.tz is None


def test_when_labels_load_then_some_series_are_anomaly_free(cloud, cloud_labels):
    assert len(cloud_labels) == len(cloud)
    assert int(cloud_labels["anomaly"].sum()) == 4555
    per_series = cloud_labels.groupby("item")["anomaly"].sum()
    assert len(per_series) == 60
    assert set(per_series.index[per_series == 0]) == ANOMALY_FREE
    assert per_series["mongodb-application-rps/mongo-03"] == 1092
    assert per_series["data-ingress-rate/ingress-01"] == 366
    assert "anomaly" not in cloud.df.columns and "label" not in cloud.df.columns


def test_when_metadata_has_notes_then_each_series_keeps_them(cloud, mirror):
    notes = cloud.df.groupby("unique_id")["notes"].agg(["nunique", "first"])
    assert (notes["nunique"] == 1).all()
    assert "no anomalies" in notes.loc["consumer-purchase-rate/purchase-01", "first"]
    assert "discontinuity" in notes.loc["mongodb-application-rps/mongo-03", "first"]
    crash2 = [u for u in notes.index if u.startswith("application-crash-rate-2/")]
    assert (notes.loc[crash2, "first"] == "").all()  # their metadata carries an empty notes list
    series = load_table("cloud_monitoring", "series").set_index("unique_id")
    assert len(series) == 60
    assert series["notes"].to_dict() == notes["first"].to_dict()
    assert series.loc["consumer-purchase-rate/purchase-01", "n_anomalies"] == 0
    assert int(series["n_anomalies"].sum()) == 4555
    assert int(series["n_rows"].sum()) == len(cloud)


def _cm_files(tmp_path, csv_text, notes=("a note",), url="s-01.csv"):
    (tmp_path / "s-01.csv").write_text(csv_text)
    (tmp_path / "s-01.csv-metadata.json").write_text(json.dumps({"url": url, "notes": list(notes)}))
    return {
        "data/f/s-01.csv": tmp_path / "s-01.csv",
        "data/f/s-01.csv-metadata.json": tmp_path / "s-01.csv-metadata.json",
    }


def test_when_cloud_monitoring_file_is_good_then_reader_keeps_notes_and_empty_values(tmp_path):
    files = _cm_files(tmp_path, 'TimeStamp,Value,Label\n"2018-01-01T00:00:00Z",1.5,0\n2018-01-01 01:00:00,,1\n')
    frame = read_cloud_monitoring(files, {})
    assert frame["unique_id"].tolist() == ["f/s-01", "f/s-01"]
    assert frame["ds"].tolist() == [pd.Timestamp("2018-01-01 00:00"), pd.Timestamp("2018-01-01 01:00")]
    assert np.isnan(frame["y"].iloc[1]) and frame["notes"].iloc[0] == "a note"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2018-01-01 00:00:00,1,0\nsoon,2,0\n", r"data/f/s-01\.csv: line 3: unparseable TimeStamp 'soon'"),
        ("2018-01-01 00:00:00,1,0\n2018-01-01 01:00:00,n/a,0\n", r"s-01\.csv: line 3: non-numeric Value 'n/a'"),
        ("2018-01-01 00:00:00,1,2\n", r"s-01\.csv: line 2: Label must be 0 or 1, got '2'"),
    ],
)
def test_when_cloud_monitoring_row_is_bad_then_error_names_file_and_line(tmp_path, body, message):
    files = _cm_files(tmp_path, "TimeStamp,Value,Label\n" + body)
    with pytest.raises(DataFormatError, match=message):
        read_cloud_monitoring(files, {})


def test_when_cloud_monitoring_metadata_is_missing_or_wrong_then_error_names_it(tmp_path):
    files = _cm_files(tmp_path, "TimeStamp,Value,Label\n2018-01-01 00:00:00,1,0\n")
    with pytest.raises(DataFormatError, match=r"s-01\.csv: its CSVW metadata .*-metadata\.json is not among"):
        read_cloud_monitoring({"data/f/s-01.csv": files["data/f/s-01.csv"]}, {})
    files = _cm_files(tmp_path, "TimeStamp,Value,Label\n2018-01-01 00:00:00,1,0\n", url="other.csv")
    with pytest.raises(DataFormatError, match=r"-metadata\.json: describes 'other\.csv'"):
        read_cloud_monitoring(files, {})
    (tmp_path / "s-01.csv").write_text("Time,Value\n")
    with pytest.raises(DataFormatError, match=r"s-01\.csv: missing column\(s\) \['TimeStamp', 'Label'\]"):
        read_cloud_monitoring(files, {})


# ---- Twitter AnomalyDetection raw_data ---------------------------------------------------------
@mirrored
def test_when_twitter_raw_data_loads_then_it_is_14398_minutes():
    panel = load_panel("twitter_raw_data", "raw_data")
    assert (panel.n_series, len(panel)) == (1, 14_398)
    assert (panel.freq, panel.season_length, panel.horizon) == ("min", 1440, 60)
    ds = panel.df["ds"]
    assert ds.iloc[0] == pd.Timestamp("1980-09-25 14:01") and ds.iloc[-1] == pd.Timestamp("1980-10-05 13:58")
    assert (ds.diff().dropna() == pd.Timedelta("1min")).all()
    assert panel.df["y"].iloc[:3].tolist() == [182.478, 176.231, 183.917]
    assert panel.df["y"].max() == 250.0
    extdata = load_table("twitter_raw_data", "extdata")
    assert len(extdata) == 766 and list(extdata.columns) == ["file", "date", "value"]


def test_when_rda_file_is_broken_then_error_names_the_file(tmp_path):
    bad = tmp_path / "raw_data.rda"
    bad.write_bytes(b"not R data")
    with pytest.raises(DataFormatError, match=r"data/raw_data\.rda: cannot read as R data"):
        read_rda_frame({"data/raw_data.rda": bad}, {"time_col": "timestamp", "value_col": "count"})


# ---- IBM BizITObs Robot Shop -------------------------------------------------------------------
@mirrored
def test_when_robot_shop_loads_then_four_kpis_every_10_seconds():
    panel = load_panel("robot_shop", "application")
    names = ["calls.sum", "erroneousCalls.sum", "latency.mean", "latency.sum"]
    assert sorted(panel.ids) == [f"RobotShop/Application/Robot-Shop:{n}" for n in names]
    assert (panel.lengths() == 8834).all()
    assert (panel.freq, panel.season_length, panel.horizon) == ("10s", 360, 360)
    assert (panel.df.groupby("unique_id")["ds"].diff().dropna() == pd.Timedelta("10s")).all()
    assert set(panel.df["item"]) == {"RobotShop/Application"}


@mirrored
def test_when_robot_shop_labels_load_then_35_alerts_label_every_row():
    labels = load_table("robot_shop", "labels")
    alerts = labels.drop(columns=["item", "ds"])
    assert alerts.shape == (8834, 35)
    assert set(np.unique(alerts.to_numpy())) == {0.0, 1.0}
    assert int(alerts.to_numpy().sum()) == 50_243
    assert (alerts.sum() > 0).all()  # every alert fires at least once
    assert int((alerts > 0).any(axis=1).sum()) == 8800
    assert alerts["PowerHMC Console Event Messages"].sum() == 8319
    rows = load_panel("robot_shop", "application").df[["item", "ds"]].drop_duplicates()
    assert len(rows.merge(labels, on=["item", "ds"], validate="one_to_one")) == 8834


# ---- BOOM published results --------------------------------------------------------------------
def test_when_boom_results_load_then_23_models_share_7413_tasks(boom):
    per_model = boom.groupby("model_dir")["dataset"].nunique()
    assert len(per_model) == 23
    assert (per_model == 7413).all() and len(boom) == 23 * 7413
    assert boom["dataset_id"].nunique() == 2807
    assert boom.groupby("term").size().to_dict() == {"long": 23 * 2303, "medium": 23 * 2303, "short": 23 * 2807}
    # the folder names the leaderboards use, beside the names the runs wrote
    names = boom.groupby("model_dir")["model"].first()
    assert (names["seasonalnaive"], names["visionts"], names["moirai_1.1_base"]) == ("naive", "visonts", "moirai_base")


def test_when_boom_tables_load_then_leaderboards_and_properties_agree_with_results(boom):
    board = load_table("boom_results", "leaderboard").set_index("model")
    assert set(board.index) == set(boom["model_dir"])
    assert board["Rank-6750-scaled"].idxmin() == "toto_2.0_2.5b"
    assert (board.loc["toto_2.0_2.5b", "MASE-6750-scaled"], board.loc["toto_2.0_2.5b", "CRPS-6750-scaled"]) == (
        0.581,
        0.349,
    )
    assert board.loc["seasonalnaive", "MASE-6750-scaled"] == 1.0
    # the column names carry how many tasks were scaled by seasonal naive and how many were not
    counts = {c.rsplit("-", 1)[1]: int(c.split("-")[1]) for c in board.columns if c.startswith("Rank-")}
    assert counts == {"scaled": 6750, "unscaled": 663}
    assert sum(counts.values()) == boom.groupby("model_dir").size().iloc[0]
    props = load_table("boom_results", "properties")
    assert set(props["dataset_id"]) == set(boom["dataset_id"])
    boomlet = load_table("boom_results", "boomlet_properties")
    assert len(boomlet) == 32 and set(boomlet["dataset_id"]) <= set(props["dataset_id"])
    breakdown = load_table("boom_results", "breakdown")
    full = breakdown[(breakdown["breakdown"] == "full_benchmark") & (breakdown["metric"] == "MASE")]
    assert full.set_index("model")["value"].to_dict() == board["MASE-6750-scaled"].to_dict()
    assert set(breakdown["breakdown"]) == {"domain", "type", "real_term", "full_benchmark"}


def test_when_breakdown_file_is_misnamed_then_error_names_it(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("model,a\nm,1\n")
    with pytest.raises(DataFormatError, match=r"boom/breakdown_tabels/x\.csv: file name is not"):
        read_boom_breakdown({"boom/breakdown_tabels/x.csv": path}, {})


# ---- cards without series -----------------------------------------------------------------------
def test_when_card_has_tables_only_then_it_validates_and_needs_no_reader(tmp_path):
    assert get_card("boom_results").subsets == {} and get_card("boom_results").reader == ""
    head = "name: r\ntitle: t\nlicence: x\ncitation: y\nfiles:\n- url: https://example.org/x.csv\n  sha256: " + "a" * 64
    ok = tmp_path / "ok.yaml"
    ok.write_text(head + "\ntables:\n  t:\n    reader: csv\n    files: [x.csv]\n")
    assert set(load_card(ok).tables) == {"t"}
    empty = tmp_path / "empty.yaml"
    empty.write_text(head + "\n")
    with pytest.raises(DataFormatError, match="at least one subset or table"):
        load_card(empty)
    readerless = tmp_path / "readerless.yaml"
    readerless.write_text(head + "\nsubsets:\n  s:\n    splits:\n      train:\n        files: [x.csv]\n")
    with pytest.raises(DataFormatError, match="names the reader"):
        load_card(readerless)
