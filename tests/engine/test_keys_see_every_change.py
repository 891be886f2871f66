"""Unit keys change whenever a result could: a kernel edit, a reader option, a card's horizon.

Each run is a real `workbench run` process over a copy of the workbench package (PYTHONPATH) and a
copy of the dataset cards (WORKBENCH_CATALOG), so the test can edit code and cards without touching
the checkout; the run records in the store say how many units each run computed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard
from workbench.tasks import Task

REPO = Path(__file__).resolve().parents[2]

GRID = {
    "tasks": [
        {"dataset": "m4", "subset": "Hourly", "protocol": "rolling"},
        {"dataset": "m4", "subset": "Weekly", "protocol": "rolling"},
    ],
    "models": ["naive", "naive2"],
    "chunk_size": 200,  # Hourly: 414 series in 3 chunks; Weekly: 359 in 2
}


@pytest.fixture
def code_sandbox(tmp_path: Path, mirror: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    shutil.copytree(REPO / "workbench", src / "workbench", ignore=shutil.ignore_patterns("__pycache__"))
    cards = shutil.copytree(REPO / "datasets", tmp_path / "cards")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump(GRID))
    return {"src": src, "cards": cards, "grid": grid, "store": tmp_path / "store"}


def _run(box: dict[str, Path]) -> dict:
    """One `workbench run` in a fresh process; returns its run record."""
    before = set((box["store"] / "runs").glob("*.json")) if (box["store"] / "runs").exists() else set()
    env = {**os.environ, "PYTHONPATH": str(box["src"]), "WORKBENCH_CATALOG": str(box["cards"])}
    code = "from workbench.cli import app; app()"
    args = ["run", str(box["grid"]), "--store", str(box["store"]), "--workers", "1"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600, cwd=box["src"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (new,) = set((box["store"] / "runs").glob("*.json")) - before
    return json.loads(new.read_text())


def _computed(record: dict, store: Path) -> list[tuple[str, str]]:
    """(subset, model) of every unit the run computed."""
    units = ResultsStore(store).records()
    mine = units[(units["run_id"] == record["run_id"]) & (units["kind"] == "forecast")]
    return sorted(zip(mine["subset"], mine["model"], strict=True))


def _edit_card(cards: Path, subset: str, change) -> None:
    path = cards / "m4.yaml"
    card = yaml.safe_load(path.read_text())
    change(card["subsets"][subset])
    path.write_text(yaml.safe_dump(card, sort_keys=False))


def test_when_code_data_or_card_change_then_exactly_the_affected_units_are_recomputed(code_sandbox):
    box = code_sandbox
    first = _run(box)
    assert first["computed"] == 10 and first["skipped"] == 0
    assert first["git_commit"] is None or len(first["git_commit"]) == 40  # recorded beside the fingerprints
    assert set(first["code"]) == {"naive", "naive2"} and first["code"]["naive"] != first["code"]["naive2"]

    again = _run(box)
    assert (again["computed"], again["skipped"]) == (0, 10)

    # a kernel that naive2 reaches (the seasonality test), not naive: only naive2's units are redone
    kernel = box["src"] / "workbench" / "classic" / "seasonality.py"
    kernel.write_text(kernel.read_text() + "\n_EDITED = True\n")
    after_kernel = _run(box)
    assert _computed(after_kernel, box["store"]) == sorted([("Hourly", "naive2")] * 3 + [("Weekly", "naive2")] * 2)
    assert after_kernel["code"]["naive"] == first["code"]["naive"]
    # the old naive2 units stay in the store, flagged superseded, and out of every mean
    units = ResultsStore(box["store"]).records()
    # with their score units (two metrics each): recomputed forecasts supersede the old scores too
    forecast = units[units["kind"] == "forecast"]
    assert forecast["superseded"].sum() == 5 and units["superseded"].sum() == 5 * 3
    assert not units.loc[units["model"] == "naive", "superseded"].any()
    board = leaderboard(box["store"], metrics=["mase"])
    assert len(board) == 4 and set(board["n_series"]) == {414, 359}

    # a comment or a reformatting cannot change a number: nothing is redone
    kernel.write_text(kernel.read_text() + "# a comment only\n\n\n")
    assert _run(box)["computed"] == 0

    # a metric's code: every score is recomputed from the stored forecasts, and no model refits
    metrics_module = box["src"] / "workbench" / "metrics.py"
    metrics_module.write_text(metrics_module.read_text() + "\n_EDITED = True\n")
    after_metric = _run(box)
    assert _computed(after_metric, box["store"]) == []
    units = ResultsStore(box["store"]).records()
    rescored = units[(units["run_id"] == after_metric["run_id"]) & (units["kind"] == "score")]
    assert len(rescored) == 10 * 2 and set(rescored["metric"]) == {"smape", "mase"}
    assert after_metric["code"] == after_kernel["code"]  # the forecasts' fingerprints did not move

    # the card's default horizon of Hourly: Hourly's units only (the task resolves to the new horizon)
    _edit_card(box["cards"], "Hourly", lambda sub: sub.update(horizon=24))
    after_card = _run(box)
    assert _computed(after_card, box["store"]) == sorted([("Hourly", "naive")] * 3 + [("Hourly", "naive2")] * 3)
    hourly = next(t for t in after_card["tasks"] if t["subset"] == "Hourly")
    assert hourly["horizon"] == 24 and "h=24" in hourly["description"]

    # a reader option of Weekly's train split: Weekly's units only
    _edit_card(
        box["cards"], "Weekly", lambda sub: sub["splits"]["train"].setdefault("options", {}).update(ds_kind="step")
    )
    after_option = _run(box)
    assert _computed(after_option, box["store"]) == sorted([("Weekly", "naive")] * 2 + [("Weekly", "naive2")] * 2)
    assert _run(box)["computed"] == 0


def test_when_reuse_across_code_is_asked_then_old_units_are_reused_and_the_run_says_so(code_sandbox):
    box = code_sandbox
    grid = {**GRID, "tasks": GRID["tasks"][1:], "models": ["naive2"]}
    box["grid"].write_text(yaml.safe_dump(grid))
    first = _run(box)
    assert first["computed"] == 2
    kernel = box["src"] / "workbench" / "classic" / "seasonality.py"
    kernel.write_text(kernel.read_text() + "\n_EDITED = True\n")
    box["grid"].write_text(yaml.safe_dump({**grid, "reuse_across_code": True}))
    reused = _run(box)
    assert reused["computed"] == 0 and reused["reuse_across_code"] is True
    assert len(reused["reused_across_code"]) == 2 and reused["code"]["naive2"] != first["code"]["naive2"]
    box["grid"].write_text(yaml.safe_dump(grid))
    assert _run(box)["computed"] == 2  # without the opt-in, other code means recomputing


def test_when_a_task_leaves_the_horizon_to_the_card_then_its_key_is_that_of_the_resolved_horizon(mirror):
    default = Task(dataset="m4", subset="Hourly")
    assert default.key() == Task(dataset="m4", subset="Hourly", horizon=48, season_length=24).key()
    assert default.key() != Task(dataset="m4", subset="Hourly", horizon=24).key()
    assert default.resolved()["horizon"] == 48 and default.describe() == "m4/Hourly holdout h=48 m=24"
    rolling = Task(dataset="m4", subset="Hourly", protocol="rolling", n_windows=3)
    assert rolling.key() == Task(dataset="m4", subset="Hourly", protocol="rolling", n_windows=3, step=48).key()
    assert rolling.key() != default.key()
