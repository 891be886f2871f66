"""`workbench reproduce`: real papermill execution of the real notebook, in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from workbench.config import papers_dir

pytestmark = pytest.mark.usefixtures("mirror")
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*WORKBENCH, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_when_m4_is_reproduced_then_report_notebook_and_html_are_written(tmp_path):
    result = _run(["reproduce", "m4", "--output", str(tmp_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    report = pd.read_csv(tmp_path / "m4.csv")
    assert (tmp_path / "m4.ipynb").exists() and (tmp_path / "m4.html").stat().st_size > 0
    available = report[report["status"] != "unavailable"]
    assert set(available["status"]) == {"match"}
    assert len(available[available["subset"].isin(["Hourly", "Weekly"])]) == 48 + 24
    assert "0 mismatch" in result.stdout and str(tmp_path / "m4.csv") in result.stdout
    assert not list(tmp_path.glob(".m4.csv.*")), "temporary report left behind"


def test_when_a_claim_disagrees_then_it_is_reported_as_mismatch_and_exit_is_1(tmp_path):
    papers = tmp_path / "papers"
    shutil.copytree(papers_dir() / "m4", papers / "m4")
    card = yaml.safe_load((papers / "m4" / "paper.yaml").read_text())
    for claim in card["claims"]:
        if (claim["subset"], claim["method"], claim["metric"]) == ("Weekly", "SES", "sMAPE"):
            claim["value"] = 9.5  # the official value is 9.012
    (papers / "m4" / "paper.yaml").write_text(yaml.safe_dump(card))
    out = tmp_path / "out"
    result = _run(
        ["reproduce", "m4", "--output", str(out), "--no-html", "-p", "frequencies=[Weekly]"],
        env={"WORKBENCH_PAPERS": str(papers)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = pd.read_csv(out / "m4.csv").set_index(["subset", "method", "metric"])
    assert report.loc[("Weekly", "SES", "sMAPE"), "status"] == "mismatch"
    assert report.loc[("Weekly", "SES", "sMAPE"), "claimed"] == 9.5
    assert report.loc[("Weekly", "Theta", "sMAPE"), "status"] == "match"
    assert set(report.loc["Hourly"]["status"]) == {"unavailable", "match"}  # Hourly only rescored
    assert not (out / "m4.html").exists()


def test_when_a_notebook_parameter_is_wrong_then_exit_2_names_the_failing_cell(tmp_path):
    result = _run(["reproduce", "m4", "--output", str(tmp_path), "--no-html", "-p", "frequencies=[Hourlyy]"])
    assert result.returncode == 2
    assert "unknown M4 frequency or method ['Hourlyy']" in " ".join(result.stdout.split())
    assert not (tmp_path / "m4.csv").exists()


def test_when_paper_is_unknown_then_exit_2():
    result = _run(["reproduce", "m5", "--output", str(Path(os.devnull).parent)])
    assert result.returncode == 2 and "Did you mean 'm4'" in result.stdout


@pytest.mark.parametrize(
    ("param", "named"),
    [
        ("frequency=[Weekly]", "unknown parameter 'frequency' (did you mean 'frequencies'?)"),
        ("frequencies=Weekly", "parameter 'frequencies' expects list"),
        ("frequencies=[Weekly", "frequencies: '[Weekly' is not a valid value"),
    ],
)
def test_when_a_parameter_is_misspelt_mistyped_or_malformed_then_exit_2_names_it_and_nothing_runs(
    tmp_path, param, named
):
    result = _run(["reproduce", "m4", "--output", str(tmp_path), "--store", str(tmp_path / "store"), "-p", param])
    out = " ".join((result.stdout + result.stderr).split())  # rich and click fold long lines
    assert result.returncode == 2, out
    assert named in out and "Traceback" not in out
    assert not list(tmp_path.iterdir()), "nothing may be written for a refused parameter"


def test_when_a_paper_is_reproduced_then_its_claims_land_in_the_configured_store_not_the_source_tree(m4_quick):
    from workbench.store.results_store import ResultsStore

    store, result = m4_quick.store, m4_quick.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert {p for p in papers_dir().rglob("*") if p.is_file()} == m4_quick.papers_before
    records = ResultsStore(store).records()
    papers = records[records["kind"] == "paper"]
    assert len(papers) == 1 and papers["model"].iloc[0] == "m4"
    claims = ResultsStore(store).read_table("claims")
    report = pd.read_csv(m4_quick.output / "m4.csv")
    assert len(claims) == len(report) and (claims["status"] == "match").sum() == (report["status"] == "match").sum()
    again = _run(list(m4_quick.args), env={"WORKBENCH_RESULTS": str(store)})
    papers = [r for r in ResultsStore(store).current() if r["kind"] == "paper"]
    assert again.returncode == 0 and len(papers) == 1  # the same reproduction: still one unit of claims
    assert len(ResultsStore(store).read_table("claims")) == len(report)


def test_when_a_paper_is_reproduced_then_it_says_what_runs_and_how_long_first_then_each_cell(m4_quick):
    out = m4_quick.result.stdout
    assert m4_quick.result.returncode == 0, out + m4_quick.result.stderr
    lines = out.splitlines()
    assert lines[0] == "m4: running the default cells (--full runs all) of 168 claims"
    assert "  frequencies = ['Hourly']" in lines and "  methods = ['naive2', 'ses', 'theta']" in lines
    assert re.search(r"^  expected time: about \S+ (min|s) on a 2-core machine; --full about ", out, re.M)
    n = len([c for c in nbformat.read(m4_quick.output / "m4.ipynb", as_version=4).cells if c.cell_type == "code"])
    started = re.findall(rf"^\[cell (\d+)/{n}\] (?!done)", out, re.M)
    done = re.findall(rf"^\[cell (\d+)/{n}\] done in [\d.]+ s$", out, re.M)
    assert started == done == [str(i) for i in range(1, n + 1)], out
    assert out.index("[cell 1/") < out.index("claimed vs reproduced")  # progress comes before the table
    # the notebook's tqdm bars (widgets in the kernel), as text: one reached its total
    assert re.search(r"^    \S[^\n]*: +100%[^\n]* (\d+)/\1 \[", out, re.M), "no progress bar of the notebook shown"


def test_when_a_paper_is_reproduced_then_the_kernel_starts_without_warnings_and_the_notebook_is_clean(m4_quick):
    assert "without encryption" not in m4_quick.result.stderr + m4_quick.result.stdout
    assert "IProgress not found" not in m4_quick.result.stderr + m4_quick.result.stdout
    nb = nbformat.read(m4_quick.output / "m4.ipynb", as_version=4)
    unclean = [
        (i, o.get("name") or o.get("ename"), o.get("text") or o.get("evalue"))
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.get("output_type") == "error" or o.get("name") == "stderr"
    ]
    assert unclean == [], f"m4.ipynb has stderr or error outputs (cell, stream, text): {unclean}"
