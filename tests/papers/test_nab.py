"""NAB v1.1: the claims from the committed results, the re-run slice, and `workbench reproduce nab` end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from workbench.papers import compare, load_paper, nab

pytestmark = pytest.mark.usefixtures("mirror")


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    return nab.rescore_committed()


def test_when_committed_results_are_rescored_then_every_claim_matches_within_1e_6(committed):
    paper = load_paper("nab")
    report = compare(paper, nab.reproduced_rows(committed))
    assert len(report) == len(paper.claims) == 15
    assert (report["status"] == "match").all(), report[report["status"] != "match"]
    assert (report["reproduced"] - report["claimed"]).abs().max() < 1e-6


def test_when_a_claim_is_changed_then_the_cell_is_a_mismatch(committed):
    paper = load_paper("nab")
    claims = [c.model_copy(update={"value": c.value + 1e-5}) if c.method == "numenta" else c for c in paper.claims]
    report = compare(paper.model_copy(update={"claims": tuple(claims)}), nab.reproduced_rows(committed))
    assert set(report.loc[report["method"] == "numenta", "status"]) == {"mismatch"}


def test_when_thresholds_are_reoptimised_then_none_is_worse_and_the_stale_ones_show():
    table = nab.reoptimise(["random", "relativeEntropy", "numenta"])
    assert (table["optimal_raw"] >= table["committed_raw"] - 1e-9).all()
    assert not table.loc[table["detector"] == "random", "committed_is_optimal"].any()
    # relativeEntropy's scores are 0 or 1: any threshold in (0, 1] detects the same rows
    assert table.loc[table["detector"] == "relativeEntropy", "gain"].abs().max() < 1e-9


def test_when_a_slice_is_rerun_then_scores_match_the_committed_files():
    table, complete = nab.rerun(["random", "relativeEntropy"], max_files=3)
    assert (table["max_abs_diff"] < 1e-6).all() and (table["files"] == 3).all()
    assert complete == {}  # a slice never feeds the corpus-wide scoreboard


def test_when_nab_is_reproduced_through_the_cli_then_the_report_and_scoreboard_are_written(tmp_path):
    params = ["rerun_detectors=[random]", "rerun_max_files=2", "beyond_detectors=[rolling_robust_z]",
              "beyond_max_items=2", "skab_subsets=[valve2]", "n_workers=1", f"store={tmp_path / 'store'}"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "reproduce", "nab", "--output", str(tmp_path), "--no-html",
         *[a for p in params for a in ("-p", p)]],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = pd.read_csv(tmp_path / "nab.csv", keep_default_na=False)
    assert len(report) == 15 and set(report["status"]) == {"match"}
    board = pd.read_csv(tmp_path / "nab_beyond_scoreboard.csv")
    assert set(board["dataset"]) == {"nab/all", "skab/valve2"}
    assert board.loc[board["metric"] == "nab_standard", "tuned_on_test"].all()
