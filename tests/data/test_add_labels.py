"""`workbench datasets add --labels`: the labels file checked with the files, named in the card, or nothing.

A labels file that does not fit the files (an unknown series, a stamp the series lacks, a row that is
not a timestamp, overlapping windows) is refused with exit 2, naming the labels file and its row, and
no card is written; one that fits is named (absolute) in the card's `labels:` section, where detection
tasks read it. In process; nothing starts a cluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from workbench.anomaly.task import DetectionTask
from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.data.synthetic import write_fleet
from workbench.errors import WorkbenchError
from workbench.sources.add import add_dataset

runner = CliRunner()
ADD = ("--season-length", "24", "--metadata-cols", "metric_type,metric,service,host", "--gap-policy", "by_metric_type")


def flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """A small fleet (20 series, 10 days hourly, 35 gaps, 64 labelled spikes); no card on the catalog path."""
    monkeypatch.setenv(CATALOG_ENV, "")  # restored after the test (`--catalog` puts the folder first on it)
    return write_fleet(tmp_path / "fleet", seed=0, hosts_per_service=1, n_hours=24 * 10)


def add(fleet, cards: Path, *extra: str):
    args = ["datasets", "add", "fleet", "--path", str(fleet.data), "--catalog", str(cards), *ADD, *extra]
    return runner.invoke(app, args, env={"COLUMNS": "300"})


def nothing_written(cards: Path) -> bool:
    return not cards.exists() or not list(cards.iterdir())


def series_stamps(fleet) -> pd.DataFrame:
    """The (unique_id, ds) rows the files hold, sorted."""
    return pd.read_parquet(fleet.data)[["unique_id", "ds"]].astype({"unique_id": str}).sort_values(["unique_id", "ds"])


def a_missing_stamp(fleet) -> tuple[str, pd.Timestamp]:
    """A series and a stamp on its hourly grid the files lack (one of the fleet's gaps)."""
    rows = series_stamps(fleet)
    for uid, group in rows.groupby("unique_id"):
        grid = pd.date_range(group["ds"].min(), group["ds"].max(), freq="h")
        absent = grid.difference(pd.DatetimeIndex(group["ds"]))
        if len(absent):
            return str(uid), absent[0]
    raise AssertionError("the fleet has gaps")


def test_when_the_fleet_is_added_with_its_labels_then_the_card_names_them_and_a_task_reads_them(fleet, tmp_path):
    cards = tmp_path / "cards"
    result = add(fleet, cards, "--labels", str(fleet.labels))
    assert result.exit_code == 0, result.output
    assert f"labels: {fleet.n_anomalies} points checked against the files ({fleet.labels})" in flat(result.output)
    card = yaml.safe_load((cards / "fleet.yaml").read_text())
    assert card["labels"] == {"path": str(fleet.labels.resolve()), "kind": "points"}

    data = DetectionTask(dataset="fleet", subsets=("all",), labels="points").load()
    truth = pd.read_csv(fleet.labels, parse_dates=["ds"])
    labelled = data.rows.loc[data.rows["label"] == 1, ["item", "ds"]]
    assert sorted(zip(labelled["item"], labelled["ds"], strict=True)) == sorted(
        zip(truth["unique_id"], truth["ds"], strict=True)
    )


def test_when_labels_are_windows_in_parquet_then_the_card_names_their_columns_and_rows_inside_are_labelled(
    fleet, tmp_path
):
    rows = series_stamps(fleet)
    windows = []
    for uid, group in list(rows.groupby("unique_id"))[:3]:
        stamps = group["ds"].tolist()
        windows.append({"unique_id": uid, "start": stamps[50], "end": stamps[52]})
    path = tmp_path / "windows.parquet"
    pd.DataFrame(windows).to_parquet(path, index=False)
    cards = tmp_path / "cards"
    result = add(fleet, cards, "--labels", str(path), "--labels-kind", "windows")
    assert result.exit_code == 0, result.output
    assert "labels: 3 windows checked against the files" in flat(result.output)
    card = yaml.safe_load((cards / "fleet.yaml").read_text())
    assert card["labels"] == {"path": str(path), "kind": "windows", "time_col": "start", "end_col": "end"}
    data = DetectionTask(dataset="fleet", subsets=("all",), labels="windows").load()
    assert int(data.rows["label"].sum()) == 3 * 3 and len(data.windows) == 3


@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("unknown series", "row 3 (line 4): series 'api-00/disk' is not a series of dataset 'fleet' (20 series"),
        ("not a timestamp", "row 3 (line 4): ds 'not a time' is not a timestamp"),
        ("a gap of its series", "row 3 (line 4): stamp {stamp} is not a stamp of series {uid!r}"),
        ("after the data", "row 3 (line 4): stamp 2031-01-01 00:00:00 is not a stamp of series 'api-00/cpu'"),
    ],
)
def test_when_a_labels_file_does_not_fit_the_files_then_add_exits_2_naming_file_and_row_and_writes_nothing(
    fleet, tmp_path, case, named
):
    uid, stamp = a_missing_stamp(fleet)
    bad_row = {
        "unique_id": {"unknown series": "api-00/disk", "a gap of its series": uid}.get(case, "api-00/cpu"),
        "ds": {"not a timestamp": "not a time", "a gap of its series": str(stamp)}.get(case, "2031-01-01 00:00:00"),
    }
    path = tmp_path / "bad.csv"
    pd.concat([pd.read_csv(fleet.labels).head(2), pd.DataFrame([bad_row])]).to_csv(path, index=False)
    cards = tmp_path / "cards"
    result = add(fleet, cards, "--labels", str(path))
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert f"labels file {path}: " in text and named.format(stamp=stamp, uid=uid) in text
    assert nothing_written(cards), "nothing is written on refusal"


def test_when_label_windows_overlap_then_add_names_both_rows_and_writes_nothing(fleet, tmp_path):
    rows = series_stamps(fleet)
    uid = rows["unique_id"].iloc[0]
    stamps = rows.loc[rows["unique_id"] == uid, "ds"].tolist()
    frame = pd.DataFrame({"unique_id": [uid, uid], "start": [stamps[40], stamps[42]], "end": [stamps[45], stamps[50]]})
    path = tmp_path / "windows.csv"
    frame.to_csv(path, index=False)
    cards = tmp_path / "cards"
    result = add(fleet, cards, "--labels", str(path), "--labels-kind", "windows")
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert f"labels file {path}: row 2 (line 3): window" in text and "overlaps the window of row 1 (line 2)" in text
    assert nothing_written(cards)


def test_when_the_labels_file_is_absent_or_the_kind_unknown_then_add_exits_2_and_writes_nothing(fleet, tmp_path):
    cards = tmp_path / "cards"
    absent = add(fleet, cards, "--labels", str(tmp_path / "absent.csv"))
    assert absent.exit_code == 2 and f"labels file {tmp_path / 'absent.csv'}" in flat(absent.output)
    kind = add(fleet, cards, "--labels", str(fleet.labels), "--labels-kind", "spans")
    assert kind.exit_code == 2 and "--labels-kind must be points or windows, got 'spans'" in flat(kind.output)
    assert nothing_written(cards)


def test_when_add_dataset_gets_labels_without_a_check_then_it_refuses_and_writes_nothing(fleet, tmp_path):
    cards = tmp_path / "cards"
    with pytest.raises(WorkbenchError, match="pass labels_check"):
        add_dataset("fleet", str(fleet.data), catalog=cards, gap_policy="by_metric_type", labels=str(fleet.labels))
    assert nothing_written(cards)
