"""papers/boom: BOOM's leaderboard and breakdown tables from the 23 models' per-task results (DataDog/toto@46bd92ad).

One real run of `workbench reproduce boom` through papermill (about 20 s on a quiet core: 170,499 result rows);
every test reads its report, so the whole published leaderboard and all four breakdown tables are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.papers.contract import KNOWN, load_paper

pytestmark = pytest.mark.usefixtures("mirror")
SHARED_LIST = Path(__file__).resolve().parents[3] / "shared" / "papers" / "boom_low_variance_datasets.csv"
TOTO_2 = {"toto_2.0_1b", "toto_2.0_2.5b"}
CLI = [sys.executable, "-m", "workbench.cli", "reproduce", "boom"]


@pytest.fixture(scope="module")
def boom_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("boom")
    result = subprocess.run(
        [*CLI, "--output", str(out), "--store", str(out / "store"), "--no-html"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    report = (
        pd.read_csv(out / "boom.csv", keep_default_na=False, na_values=[""]) if (out / "boom.csv").exists() else None
    )
    ties = pd.read_csv(out / "boom_ties.csv") if (out / "boom_ties.csv").exists() else None
    pairs = pd.read_csv(out / "boom_tie_pairs.csv") if (out / "boom_tie_pairs.csv").exists() else None
    return {"result": result, "report": report, "ties": ties, "pairs": pairs, "out": out}


def _leaderboard(report: pd.DataFrame) -> pd.DataFrame:
    return report[report["table"] == "boom_leaderboard.csv"]


def test_when_boom_is_reproduced_through_the_cli_then_it_exits_0_and_commits_the_claims(boom_run):
    result = boom_run["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "724 match, 14 mismatch (14 known discrepancies), 0 unavailable" in result.stdout
    from workbench.store.results_store import ResultsStore

    store = ResultsStore(boom_run["out"] / "store")
    assert store.records()["kind"].tolist() == ["paper"]
    assert len(store.read_table("claims")) == len(load_paper("boom").claims) == 738


def test_when_the_scaled_leaderboard_is_recomputed_then_all_46_mase_and_crps_cells_match_at_3_decimals(boom_run):
    board = _leaderboard(boom_run["report"])
    cells = board[board["metric"].isin(["MASE-6750-scaled", "CRPS-6750-scaled"])]
    assert len(cells) == 46 and cells["method"].nunique() == 23
    # BOOM's format_number writes f"{x:.3f}": the reproduced value printed so must be the published text
    printed = cells["reproduced"].map(lambda v: float(f"{v:.3f}"))
    assert (printed == cells["claimed"]).all(), cells[printed != cells["claimed"]]
    assert (cells["status"] == "match").all()
    naive = cells[cells["method"] == "seasonalnaive"]
    assert naive["reproduced"].tolist() == [1.0, 1.0]  # scaled by itself


def test_when_the_rest_of_the_leaderboard_is_recomputed_then_ranks_unscaled_cells_and_task_counts_match(boom_run):
    board = _leaderboard(boom_run["report"])
    rest = board[~board["metric"].isin(["MASE-6750-scaled", "CRPS-6750-scaled"])]
    assert len(rest) == 23 * 4 + 2
    printed = rest["reproduced"].map(lambda v: float(f"{v:.3f}"))
    assert (printed == rest["claimed"]).all(), rest[printed != rest["claimed"]]
    counts = rest[rest["method"] == "all models"].set_index("metric")["reproduced"]
    assert counts.to_dict() == {"tasks-6750-scaled": 6750.0, "tasks-663-unscaled": 663.0}


def test_when_ties_are_averaged_instead_of_ranked_in_booms_order_then_published_ranks_are_not_recovered(boom_run):
    """The tie order is a real input: BOOM's CRPS ties (mostly on the 663 unscaled tasks) move ranks by whole places."""
    ties, board = boom_run["ties"], _leaderboard(boom_run["report"])
    claimed = board[board["metric"] == "Rank-663-unscaled"].set_index("method")["claimed"]
    unscaled = ties[ties["set"] == "unscaled"].set_index("model")
    assert (unscaled["rank_in_order"] - claimed).abs().max() <= 0.0005
    assert (unscaled["rank_ties_averaged"] - claimed).abs().max() > 1.0
    assert unscaled.loc["toto_2.0_2.5b", "tied_tasks"] > 300  # near-zero series: many models give the same CRPS


def test_when_the_tie_order_is_recovered_from_the_published_ranks_then_every_tied_pair_is_forced_as_in_the_card(
    boom_run,
):
    """The card's model_order is not a guess: the notebook recovers the order of every pair of models that ever
    tie from the published ranks alone, each pair can only go one way round, and the card has it that way."""
    pairs = boom_run["pairs"]
    assert pairs is not None and len(pairs) == 132
    assert pairs["forced"].all() and pairs["in_model_order"].all()
    assert (pairs["tied_tasks"] > 0).all()


def test_when_the_breakdown_tables_are_recomputed_then_every_cell_but_14_toto_2_cells_matches(boom_run):
    report = boom_run["report"]
    cells = report[report["table"] != "boom_leaderboard.csv"]
    assert len(cells) == 23 * 2 * (1 + 3 + 4 + 5)  # full benchmark, terms, types, domains; MASE and CRPS
    rounded = cells["reproduced"].round(3)  # BOOM: table.round(3)
    off = cells[(rounded - cells["claimed"]).abs() > 1e-9]
    assert (cells.loc[~cells.index.isin(off.index), "status"] == "match").all()
    assert len(off) == 14 and set(off["method"]) == TOTO_2
    assert off["note"].str.startswith(KNOWN).all()
    assert not off["subset"].str.startswith("full_benchmark").any()
    # each such published cell is the *other* Toto 2.0 size's reproduced value
    other = {"toto_2.0_1b": "toto_2.0_2.5b", "toto_2.0_2.5b": "toto_2.0_1b"}
    by_cell = cells.set_index(["subset", "method", "metric"])["reproduced"]
    for cell in off.itertuples():
        swapped = by_cell[(cell.subset, other[cell.method], cell.metric)]
        assert abs(swapped - cell.claimed) <= 0.0005, cell


def test_when_the_card_is_read_then_its_low_variance_list_is_booms_and_known_discrepancies_are_the_14_cells():
    paper = load_paper("boom")
    listed = paper.parameters["low_variance_datasets"]
    assert len(listed) == len(set(listed)) == 80
    if SHARED_LIST.exists():
        assert set(listed) == set(pd.read_csv(SHARED_LIST)["dataset"])
    order = paper.parameters["model_order"]
    assert len(order) == 23 and order[-1] == "seasonalnaive"  # BOOM moves the baseline last
    known = [c for c in paper.claims if c.known_discrepancy]
    assert len(known) == 14 and {c.method for c in known} == TOTO_2
    assert all(c.tolerance == 0.0005 for c in paper.claims if c.metric.startswith(("MASE", "CRPS", "Rank")))
