"""LTSF-Linear Table 2: Repeat pins the protocol; one trained cell end to end through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from workbench.ltsf import ProtocolWarning
from workbench.papers import compare, load_paper, ltsf_linear

pytestmark = pytest.mark.usefixtures("mirror")
CLI = [sys.executable, "-m", "workbench.cli", "reproduce", "ltsf_linear"]


@pytest.fixture(scope="module")
def paper():
    return load_paper("ltsf_linear")


@pytest.fixture(scope="module")
def repeat_runs(tmp_path_factory):
    store = tmp_path_factory.mktemp("ltsf-store")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtocolWarning)
        runs, skipped = ltsf_linear.run_cells(
            ["ETTh1", "ETTh2", "Exchange"], ["Repeat"], [2021], store=store, progress=False
        )
    return store, runs, skipped


def test_when_repeat_runs_in_paper_compatible_mode_then_every_claim_matches_to_3_decimals(paper, repeat_runs):
    _, runs, skipped = repeat_runs
    report = compare(paper, ltsf_linear.reproduced(ltsf_linear.summarise(runs), skipped))
    repeat = report[(report["method"] == "Repeat") & (report["dataset"] != "ILI")]
    assert len(repeat) == 24
    assert (repeat["status"] == "match").all(), repeat[repeat["status"] != "match"].to_dict("records")
    assert (repeat["tolerance"] == 0.0005).all()


def test_when_all_windows_are_scored_then_repeat_no_longer_matches_every_claim(paper, repeat_runs):
    _, runs, _ = repeat_runs
    claims = {(c.dataset, c.subset, c.metric): c.value for c in paper.claims if c.method == "Repeat"}
    hits = [
        round(r[f"{m}_all"], 3) == claims[(r["paper_dataset"], f"H{r['horizon']}", m.upper())]
        for _, r in runs.iterrows()
        for m in ("mse", "mae")
    ]
    assert 0 < sum(hits) < len(hits) == 24  # dropping the last test batch is what the paper's numbers need
    exchange_720 = runs[(runs["paper_dataset"] == "Exchange") & (runs["horizon"] == 720)].iloc[0]
    assert (exchange_720["scored_windows"], exchange_720["test_windows"]) == (768, 798)


def test_when_run_again_on_the_same_store_then_nothing_is_recomputed(repeat_runs):
    store, runs, _ = repeat_runs
    before = {p.relative_to(store): p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    again, _ = ltsf_linear.run_cells(["ETTh1"], ["Repeat"], [2021], store=store, time_budget_s=0, progress=False)
    after = {p.relative_to(store): p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert len(again) == 4 and after == before
    cols = ["run_key", "mse", "mae", "mse_all", "mae_all"]
    pd.testing.assert_frame_equal(
        again[cols].reset_index(drop=True), runs.loc[runs["paper_dataset"] == "ETTh1", cols].reset_index(drop=True)
    )


def test_when_the_time_budget_is_spent_then_remaining_cells_are_left_for_a_rerun(tmp_path):
    runs, _ = ltsf_linear.run_cells(["ETTh2"], ["Repeat"], [2021], store=tmp_path, time_budget_s=0, progress=False)
    assert runs.empty and not list(tmp_path.rglob("*.json"))


def test_when_runs_are_stored_then_they_are_ltsf_units_of_the_one_store_with_pooled_metric_rows(repeat_runs):
    store, runs, _ = repeat_runs
    from workbench.store.results_store import ResultsStore

    records = ResultsStore(store).records()
    assert set(records["kind"]) == {"ltsf"} and len(records) == len(runs) == 12
    metrics = ResultsStore(store).read_table("metrics")
    assert set(metrics["metric"]) == {"mse", "mae", "mse_all_windows", "mae_all_windows"}
    etth1_96 = runs[(runs["paper_dataset"] == "ETTh1") & (runs["horizon"] == 96)].iloc[0]
    row = metrics[(metrics["task"].str.startswith("ett/ETTh1 LTSF L=336 H=96")) & (metrics["metric"] == "mse")]
    assert len(row) == 1 and row["value"].iloc[0] == etth1_96["mse"] and row["kind"].iloc[0] == "ltsf"


def test_when_the_ili_table_is_checked_then_the_verdict_says_it_cannot_be_made_identical(paper):
    verdict = ltsf_linear.ili_alignment(ltsf_linear.repeat_claims(paper, "ILI"))
    assert not verdict.identical and verdict.rows is None
    assert "cannot be made identical" in verdict.note


def test_when_a_method_is_unknown_then_the_error_names_it():
    from workbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="'DLinaer'"):
        ltsf_linear.config_for("ETTh1", 96, "DLinaer")


def test_when_one_cell_is_reproduced_through_the_cli_then_it_matches_and_records_both_scores(tmp_path):
    one_cell = ["-p", "datasets=[ETTh1]", "-p", "horizons=[96]", "-p", "methods=[NLinear]", "-p", "seeds=[2021]"]
    result = subprocess.run(
        [*CLI, "--output", str(tmp_path), "--store", str(tmp_path / "store"), "--no-html", *one_cell],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = pd.read_csv(tmp_path / "ltsf_linear.csv").set_index(["dataset", "subset", "method", "metric"]).sort_index()
    for metric in ("MSE", "MAE"):
        cell = report.loc[("ETTh1", "H96", "NLinear", metric)]
        assert cell["status"] == "match", cell.to_dict()
        assert abs(cell["reproduced"] / cell["claimed"] - 1) <= 0.05
        assert "all windows" in cell["note"] and "2784/2785" in cell["note"]
    assert (report.drop(("ETTh1", "H96", "NLinear"))["status"] == "unavailable").all()
    assert report.xs("ILI", level="dataset")["note"].str.contains("not run").all()
    both = pd.read_csv(tmp_path / "ltsf_linear_all_windows.csv")
    assert {"compat", "all_windows", "claimed", "all_vs_compat_pct"} <= set(both.columns)
    runs = pd.read_csv(tmp_path / "ltsf_linear_runs.csv")
    assert runs["device"].iloc[0].startswith("cuda" if __import__("torch").cuda.is_available() else "cpu")
    from workbench.store.results_store import ResultsStore

    kinds = ResultsStore(tmp_path / "store").records()["kind"].value_counts().to_dict()
    assert kinds == {"ltsf": 1, "paper": 1}  # the run and the claimed-vs-reproduced rows, in the one store
