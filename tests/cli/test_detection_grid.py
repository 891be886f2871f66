"""Detection in `workbench run` grids, end to end from `workbench datasets add --labels`.

The fleet's files and labels are added as a user card, then one grid runs two forecasters and two
`forecast_band` detectors into one store: the detection leaderboard has a row per detector
configuration, and a rerun computes nothing. A failing detector unit makes the run exit 1; a grid
with a detector or detection task at fault is refused (exit 2) before any unit runs (the labels
file's own refusals at `datasets add` are in tests/data/test_add_labels.py). The tests that
run a grid start an embedded LocalCluster (`workbench run` without --scheduler) and are tiered
`cluster` in tests/conftest.py; the refusals start none."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from workbench.anomaly.run import config_label
from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.data.synthetic import write_fleet

runner = CliRunner()
ENV = {"COLUMNS": "300"}
BAND = {"context": 96, "min_context": 48, "season_length": 24, "calibration": 100}
FORECASTERS = ("theta", "seasonal_naive")
ADD = ("--season-length", "24", "--horizon", "24", "--metadata-cols", "metric_type,metric,service,host")
CHUNK = 8  # items per detection unit (the grid's detection_chunk_size)


def flat(output: str) -> str:
    return " ".join(output.split())


def band(forecaster: str) -> dict:
    return {"name": "forecast_band", "params": {"forecaster": forecaster, **BAND}}


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """A small fleet (5 services x 1 host, 10 days hourly, 35 gaps, 64 labelled spikes); no card on the path."""
    monkeypatch.setenv(CATALOG_ENV, "")  # restored after the test (`--catalog` puts the folder first on it)
    return write_fleet(tmp_path / "fleet", seed=0, hosts_per_service=1, n_hours=24 * 10)


def add(fleet, cards: Path, *extra: str):
    args = ["datasets", "add", "fleet", "--path", str(fleet.data), "--catalog", str(cards), *ADD, *extra]
    return runner.invoke(app, [*args, "--gap-policy", "by_metric_type"], env=ENV)


def write_grid(folder: Path, **parts) -> Path:
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump({"detection_chunk_size": CHUNK, **parts}, sort_keys=False))
    return path


def run(grid: Path, cards: Path, store: Path):
    args = ["run", str(grid), "--store", str(store), "--workers", "1", "--catalog", str(cards)]
    return runner.invoke(app, args, env=ENV)


def board(store: Path, *extra: str) -> pd.DataFrame:
    result = runner.invoke(app, ["results", "leaderboard", "--store", str(store), "--csv", *extra], env=ENV)
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


DETECTION_TASK = {"dataset": "fleet", "subsets": ["all"], "labels": "points"}


def test_when_a_grid_runs_two_forecasters_and_two_band_detectors_then_each_is_a_row_and_a_rerun_computes_nothing(
    fleet, tmp_path
):
    cards, store = tmp_path / "cards", tmp_path / "store"
    added = add(fleet, cards, "--labels", str(fleet.labels))
    assert added.exit_code == 0, added.output
    assert f"labels: {fleet.n_anomalies} points checked against the files" in flat(added.output)
    card = yaml.safe_load((cards / "fleet.yaml").read_text())
    assert card["labels"] == {"path": str(fleet.labels.resolve()), "kind": "points"}

    grid = write_grid(
        tmp_path,
        tasks=[{"dataset": "fleet", "protocol": "rolling", "n_windows": 2}],
        models=list(FORECASTERS),
        detection_tasks=[DETECTION_TASK],
        detectors=[band(f) for f in FORECASTERS],
    )
    n_units = 2 * math.ceil(fleet.n_series / CHUNK)
    first = run(grid, cards, store)
    text = flat(first.output)
    assert first.exit_code == 0, text
    assert f"detection fleet/all: {n_units} units, 0 already complete, {n_units} computed (none failed)" in text
    assert "2 of 2 detector(s) scored" in text

    detection = board(store, "--detection")
    labels = {config_label("forecast_band", band(f)["params"]) for f in FORECASTERS}
    assert set(detection["model"]) == labels, "one row per detector configuration, each named by its parameters"
    wide = detection.pivot_table(index="model", columns="metric", values="value", aggfunc="count")
    assert (wide == 1).all().all(), "each configuration has one value per metric"
    nab = detection[detection["metric"] == "nab_standard"].set_index("model")["value"]
    assert len(nab) == 2 and nab.nunique() == 2, "the two configurations are scored apart"
    assert set(board(store)["model"]) == set(FORECASTERS), "the forecast part is in the same store"

    units = sorted(p.name for p in (store / "units").glob("*.json"))
    again = run(grid, cards, store)
    text = flat(again.output)
    assert again.exit_code == 0, text
    assert "0 computed (nothing to compute)" in text
    assert f"detection fleet/all: {n_units} units, {n_units} already complete, 0 computed (none failed)" in text
    assert sorted(p.name for p in (store / "units").glob("*.json")) == units, "a rerun commits no unit"

    # the report of that store, as a user writes it: forecasts and both detector configurations, apart
    page = tmp_path / "fleet.html"
    args = ["report", "--results", str(store), "--catalog", str(cards), "--labels", str(fleet.labels), "-o", str(page)]
    written = runner.invoke(app, args, env=ENV)
    assert written.exit_code == 0, written.output
    html = page.read_text()
    assert "forecaster=theta" in html and "forecaster=seasonal_naive" in html
    assert "fleet/all" in html and "labelled anomalies" in html


def test_when_a_detector_fails_on_the_data_then_run_exits_1_naming_it_and_keeps_the_others(fleet, tmp_path):
    cards, store = tmp_path / "cards", tmp_path / "store"
    assert add(fleet, cards, "--labels", str(fleet.labels)).exit_code == 0
    # a parameter the library checks only when it fits: the grid is valid, the detector's units fail
    broken = {"name": "pyod.IForest", "params": {"n_estimators": -1}}
    grid = write_grid(tmp_path, detection_tasks=[DETECTION_TASK], detectors=[band("theta"), broken])
    result = run(grid, cards, store)
    text = flat(result.output)
    assert result.exit_code == 1, text
    n_chunks = math.ceil(fleet.n_series / CHUNK)
    assert f"({n_chunks} failed); 1 of 2 detector(s) scored" in text
    assert "pyod.IForest(n_estimators=-1)" in text and "n_estimators" in text
    assert f"workbench run {grid} --retry-failed" in text
    # failed units are kept (a rerun computes nothing) unless --retry-failed, which recomputes them alone
    args = ["run", str(grid), "--store", str(store), "--workers", "1", "--catalog", str(cards), "--retry-failed"]
    retried = runner.invoke(app, args, env=ENV)
    assert retried.exit_code == 1, retried.output
    assert f"{n_chunks} computed ({n_chunks} failed)" in flat(retried.output)
    assert set(board(store, "--detection")["model"]) == {config_label("forecast_band", band("theta")["params"])}


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ({"detectors": [band("theta"), {"name": "forecast_bnad"}]}, "detectors[1] (forecast_bnad)"),
        ({"detectors": [{"name": "forecast_band", "params": {"forecaster": "thetta"}}]}, "thetta"),
        ({"detectors": [{"name": "forecast_band", "params": {"levle": 0.9}}]}, "levle"),
        ({"detectors": [band("theta"), band("theta")]}, "the same detector configuration as detectors[0]"),
        ({"detection_tasks": [{**DETECTION_TASK, "labels": "windows"}]}, "declares labels of kind 'points'"),
        ({"detection_tasks": [{**DETECTION_TASK, "subsets": ["train"]}]}, "detection_tasks[0] (fleet/train)"),
        ({"detection_tasks": [{**DETECTION_TASK, "dataset": "flet"}]}, "unknown dataset 'flet'"),
        ({"detection_tasks": [{**DETECTION_TASK, "subset": "all"}]}, "detection_tasks.0.subset"),
        ({"detection_tasks": []}, "`detectors` is given without `detection_tasks`"),
    ],
)
def test_when_a_grid_has_a_bad_detector_or_detection_task_then_run_exits_2_before_any_unit(
    fleet, tmp_path, parts, named
):
    cards, store = tmp_path / "cards", tmp_path / "store"
    assert add(fleet, cards, "--labels", str(fleet.labels)).exit_code == 0
    forecast = {"tasks": [{"dataset": "fleet", "protocol": "rolling"}], "models": ["seasonal_naive"]}
    detection = {"detection_tasks": [DETECTION_TASK], "detectors": [band("theta")]}
    grid = write_grid(tmp_path, **forecast, **{**detection, **parts})
    result = run(grid, cards, store)
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert str(grid) in text and named in text
    assert not store.exists(), "nothing ran: not even the grid's forecast part"


def test_when_a_grid_detects_on_a_card_without_labels_then_run_exits_2_naming_the_fix(fleet, tmp_path):
    cards, store = tmp_path / "cards", tmp_path / "store"
    assert add(fleet, cards).exit_code == 0
    grid = write_grid(tmp_path, detection_tasks=[DETECTION_TASK], detectors=[band("theta")])
    result = run(grid, cards, store)
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert "detection_tasks[0] (fleet/all)" in text and "declares no labels" in text and "--labels FILE" in text
    assert not store.exists()


def test_when_a_grid_has_neither_forecast_nor_detection_tasks_then_it_is_refused(fleet, tmp_path):
    grid = write_grid(tmp_path, chunk_size=10)
    result = run(grid, tmp_path / "cards", tmp_path / "store")
    assert result.exit_code == 2 and "a grid lists `tasks` (with `models`), `detection_tasks`" in flat(result.output)
