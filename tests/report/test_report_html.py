"""`workbench report`: one self-contained HTML file whose numbers are the statistics' own, with provenance."""

from __future__ import annotations

import re

from report_helpers import run_cli

from workbench.data.hashing import sha256_file
from workbench.engine import ResultsStore
from workbench.report import build_report, compare


def test_when_the_report_is_built_then_it_is_one_self_contained_file(report_store, papers_folder, tmp_path):
    from plotly.offline import get_plotlyjs

    out = tmp_path / "report.html"
    result = run_cli(
        ["report", "--results", str(report_store), "--papers", str(papers_folder), "-o", str(out), "--n-boot", "200"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = out.read_text()
    assert page.count(get_plotlyjs()[:400]) == 1, "plotly.js must be embedded exactly once"
    assert not re.search(r"<script[^>]+src=", page), "the page loads a script from elsewhere"
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    for heading in (
        "Leaderboard (mase",
        "Skill against seasonal_naive",
        "Friedman test",
        "Per-task tables",
        "Forecasts per series",
        "Papers: claimed against reproduced",
        "Provenance",
    ):
        assert heading in page, heading
    assert page.count('class="plotly-graph-div"') >= 5  # skill, CD, win rates, forecasts, paper
    assert not list(tmp_path.glob(".report.html.*")), "temporary file left behind"


def test_when_the_report_shows_numbers_then_they_are_the_statistics_and_carry_provenance(
    report_store, papers_folder, tmp_path
):
    out = build_report(report_store, tmp_path / "r.html", papers=papers_folder, n_boot=200)
    page = out.read_text()
    store = ResultsStore(report_store)
    metrics = store.metrics()
    ranks = compare.mean_ranks(metrics, "mase")
    for _, row in ranks.iterrows():
        assert re.search(rf"<td>{row['model']}</td>\s*<td>{row['mean_rank']:.4g}</td>", page), row["model"]
    skill = compare.skill_scores(metrics, "mase", n_boot=200).set_index("model")
    assert f"{skill.loc['theta', 'skill']:.4g}" in page
    friedman = compare.friedman(metrics, "mase")
    assert f"Friedman χ² = {friedman.statistic:.3f}" in page
    for run_id in store.runs()["run_id"]:
        assert run_id in page
    for key in store.records()["key"]:
        assert key in page  # every unit behind the numbers is listed
    assert sha256_file(papers_folder / "toy.csv") in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "mismatch" in page and "unavailable" in page


def test_when_the_store_is_missing_or_empty_then_the_cli_says_so_exits_2_and_writes_no_report(tmp_path):
    for results, why in ((tmp_path / "typo", "no such folder"), (tmp_path / "empty", "no committed unit")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        result = run_cli(["report", "--results", str(results), "-o", str(tmp_path / "r.html")])
        assert result.returncode == 2 and why in " ".join(result.stdout.split()), result.stdout
        assert str(results) in result.stdout.replace("\n", "") and "Traceback" not in result.stdout + result.stderr
        assert not (tmp_path / "r.html").exists()


def test_when_the_metric_is_unknown_then_the_cli_names_it(report_store, tmp_path):
    result = run_cli(["report", "--results", str(report_store), "-o", str(tmp_path / "r.html"), "--metric", "nope"])
    assert result.returncode == 2 and "nope" in result.stdout and "mase" in result.stdout
    assert not (tmp_path / "r.html").exists()
