"""Granite TTM-R2 zero-shot on ETTh1 at horizon 96, end to end through `workbench reproduce ttm`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.papers import compare, load_paper, ttm

WEIGHTS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / ttm.LOCAL_WEIGHTS
CLI = [sys.executable, "-m", "workbench.cli", "reproduce", "ttm"]
needs_tsfm = pytest.mark.skipif(
    importlib.util.find_spec("tsfm_public") is None,
    reason="granite-tsfm is not installed (pip install --no-deps granite-tsfm==0.3.11 and its import-time needs)",
)
needs_weights = pytest.mark.skipif(not WEIGHTS.is_dir(), reason=f"the TTM-R2 weights are not at {WEIGHTS}")


def test_when_the_benchmark_task_is_cut_then_its_borders_and_few_shot_rows_are_granite_tsfms():
    task = ttm.task_for("ETTh1")
    assert (task.input_len, task.horizon, task.split_rule, task.drop_last_test) == (512, 96, "ett_hour", False)
    from workbench.ltsf import borders

    cut = borders(17420, task.input_len, task.split_rule)
    assert cut.test == (11520 - 512, 14400) and cut.val == (8640 - 512, 11520)
    assert cut.test[1] - cut.test[0] - 512 - 96 + 1 == 2785  # every window scored, none dropped
    assert ttm.fewshot_rows(8640, 512) == 918  # int(0.05 * (8640 - 512)) + 512


def test_when_a_reproduced_value_is_off_by_more_than_2_percent_then_the_cell_is_a_mismatch():
    paper = load_paper("ttm")
    runs = pd.DataFrame(
        [
            {"paper_dataset": d, "method": "zero-shot", "context_length": 512, "horizon": 96, "mse_all": v,
             "scored_windows": 2785, "channels": 7, "scaling": "model"}
            for d, v in (("ETTh1", 0.3628), ("ETTh2", 0.29))
        ]
    )  # fmt: skip
    report = compare(paper, ttm.reproduced(runs, {("ETTh1", "few-shot 5%"): "not run here"}))
    status = report.set_index(["dataset", "method"])["status"].to_dict()
    assert status[("ETTh1", "TTM-R2 zero-shot")] == "match"
    assert status[("ETTh2", "TTM-R2 zero-shot")] == "mismatch"
    assert status[("ETTh1", "TTM-R2 5% few-shot")] == "unavailable"
    assert np.isclose(report["tolerance"].iloc[0], 0.02 * 0.363)


@needs_tsfm
@needs_weights
@pytest.mark.usefixtures("mirror")
def test_when_etth1_zero_shot_is_reproduced_through_the_cli_then_it_matches_the_claim(tmp_path):
    result = subprocess.run(
        [*CLI, "--output", str(tmp_path), "--store", str(tmp_path / "store"), "--no-html", "-p", "datasets=[ETTh1]"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TTM-R2 zero-shot" in result.stdout and "match" in result.stdout
    report = pd.read_csv(tmp_path / "ttm.csv").set_index(["dataset", "method"])
    cell = report.loc[("ETTh1", "TTM-R2 zero-shot")]
    assert cell["status"] == "match", cell.to_dict()
    assert abs(cell["reproduced"] - 0.3628) < 0.0005  # what granite-tsfm's own benchmark code gives here
    assert "2785 test windows x 7 channels" in cell["note"]
    assert (report.drop(("ETTh1", "TTM-R2 zero-shot"))["status"] == "unavailable").all()
    runs = pd.read_csv(tmp_path / "ttm_runs.csv")
    assert runs["weights"].iloc[0] == "a706726a7eb01bbcb42994b7dcb3c06ea9557898dbae8d480eb04fe8ccb89710"
    from workbench.store.results_store import ResultsStore

    store = ResultsStore(tmp_path / "store")
    assert store.records()["kind"].value_counts().to_dict() == {"ltsf": 1, "paper": 1}
    metrics = store.read_table("metrics")
    assert metrics.loc[metrics["metric"] == "mse", "value"].iloc[0] == pytest.approx(cell["reproduced"])
