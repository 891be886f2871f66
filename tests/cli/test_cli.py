"""The `workbench` command line, run in-process through typer's runner on the real catalog."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()


def test_when_listing_datasets_then_every_card_is_shown():
    result = runner.invoke(app, ["datasets", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("m4", "m3", "nab", "ett", "skab"):
        assert name in result.output


def test_when_info_is_asked_then_subsets_and_citation_are_printed():
    result = runner.invoke(app, ["datasets", "info", "m4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Hourly" in result.output and "Makridakis" in result.output


def test_when_dataset_is_unknown_then_exit_2_with_suggestion():
    result = runner.invoke(app, ["datasets", "info", "m5"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Did you mean 'm4'" in result.output


@pytest.mark.usefixtures("mirror")
def test_when_fetching_and_verifying_then_files_are_ok(fresh_cache):
    assert runner.invoke(app, ["datasets", "fetch", "monash_sample"]).exit_code == 0
    result = runner.invoke(app, ["datasets", "verify", "monash_sample"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1 ok" in result.output
    (cached,) = [p for p in (fresh_cache / "files").rglob("*.tsf")]
    cached.write_bytes(cached.read_bytes()[:-5])
    result = runner.invoke(app, ["datasets", "verify", "monash_sample"], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "corrupt" in result.output


@pytest.mark.usefixtures("mirror")
def test_when_summary_runs_then_unavailable_subsets_are_reported_not_passed(tmp_path):
    out = tmp_path / "summary.csv"
    result = runner.invoke(app, ["datasets", "summary", "m4", "monash_sample", "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    hourly = table[(table["subset"] == "Hourly") & (table["split"] == "train")].iloc[0]
    assert hourly["status"] == "ok" and hourly["n_series"] == 414
    monthly = table[(table["subset"] == "Monthly") & (table["split"] == "train")].iloc[0]
    assert monthly["status"] in {"ok", "unavailable"}  # ok only where GitHub is reachable
    if monthly["status"] == "unavailable":
        assert "Monthly-train.csv" in monthly["note"]
