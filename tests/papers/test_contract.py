"""Paper cards and the claimed-vs-reproduced comparison."""

from __future__ import annotations

import shutil

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench.config import papers_dir
from workbench.data import load_table
from workbench.errors import DataFormatError, UnknownNameError
from workbench.papers import compare, known_papers, load_paper
from workbench.papers.contract import COLUMNS


def _reproduced(rows):
    return pd.DataFrame(rows, columns=["dataset", "subset", "method", "metric", "route", "value", "note"])


def test_when_values_are_compared_then_status_follows_the_tolerance():
    paper = load_paper("m4")
    rows = [
        ("m4", "Hourly", "SES", "sMAPE", "", 18.0944, ""),  # claimed 18.094: inside 0.0005
        ("m4", "Hourly", "SES", "MASE", "", 2.3860, ""),  # claimed 2.385: outside
        ("m4", "Hourly", "SES", "OWA", "", np.nan, "train file missing"),
    ]
    frame = compare(paper, _reproduced(rows))
    assert list(frame.columns) == COLUMNS
    report = frame.set_index(["subset", "method", "metric"])
    assert report.loc[("Hourly", "SES", "sMAPE"), "status"] == "match"
    assert report.loc[("Hourly", "SES", "MASE"), "status"] == "mismatch"
    assert "off by" in report.loc[("Hourly", "SES", "MASE"), "note"]
    assert report.loc[("Hourly", "SES", "OWA"), "status"] == "unavailable"
    assert report.loc[("Hourly", "SES", "OWA"), "note"] == "train file missing"
    not_run = report.drop(index=[("Hourly", "SES", k) for k in ("sMAPE", "MASE", "OWA")])
    assert set(not_run["status"]) == {"unavailable"} and set(not_run["note"]) == {"not run"}


def test_when_a_claim_has_two_routes_then_both_rows_are_reported():
    rows = [("m4", "Weekly", "SES", "sMAPE", "", 9.012, ""), ("m4", "Weekly", "SES", "sMAPE", "official file", 9.5, "")]
    report = compare(load_paper("m4"), _reproduced(rows))
    weekly_smape = (report["subset"] == "Weekly") & (report["metric"] == "sMAPE")
    hits = report[weekly_smape & report["method"].str.startswith("SES")]
    assert dict(zip(hits["method"], hits["status"], strict=True)) == {
        "SES": "match",
        "SES [official file]": "mismatch",
    }


@pytest.mark.usefixtures("mirror")
def test_when_m4_claims_are_read_then_they_equal_the_official_workbook():
    paper = load_paper("m4")
    official = load_table("m4", "point_scores").set_index(["method", "frequency", "metric"])["value"]
    assert len(paper.claims) == 8 * 7 * 3
    for claim in paper.claims:
        assert claim.value == official[(claim.method, claim.subset, claim.metric)], claim
        assert claim.tolerance == 0.0005 and "Evaluation and Ranks.xlsx" in claim.source


def test_when_paper_is_unknown_then_error_suggests_the_known_ones():
    assert "m4" in known_papers()
    with pytest.raises(UnknownNameError, match="Did you mean 'm4'"):
        load_paper("m5")


def test_when_a_paper_card_is_malformed_then_error_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "paper.yaml").write_text("id: broken\ntitle: x\nclaims: [{table: t}]\n")
    monkeypatch.setenv("WORKBENCH_PAPERS", str(tmp_path))
    with pytest.raises(DataFormatError, match=r"broken/paper.yaml: not a valid paper card"):
        load_paper("broken")


@pytest.mark.parametrize("notebook", sorted(papers_dir().glob("*/reproduce.ipynb")), ids=lambda p: p.parent.name)
def test_when_a_paper_notebook_is_stored_then_it_has_no_outputs_and_a_parameters_cell(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "output_csv" in tagged[0].source


def test_when_the_papers_folder_is_copied_then_it_is_found_through_the_environment(tmp_path, monkeypatch):
    shutil.copytree(papers_dir() / "m4", tmp_path / "m4")
    monkeypatch.setenv("WORKBENCH_PAPERS", str(tmp_path))
    assert known_papers() == ["m4"]
