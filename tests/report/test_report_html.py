"""`workbench report`: one self-contained HTML file whose numbers are the statistics' own, with provenance."""

from __future__ import annotations

import importlib.util
import re

from report_helpers import run_cli

from workbench.report import build_report, compare
from workbench.report.names import display_name
from workbench.storage import sha256_file
from workbench.store.results_store import ResultsStore


def test_when_the_report_is_built_then_it_is_one_self_contained_file(report_store, papers_folder, tmp_path):
    import base64
    import zlib

    from workbench.report.page import packed_plotlyjs

    out = tmp_path / "report.html"
    result = run_cli(
        ["report", "--results", str(report_store), "--papers", str(papers_folder), "-o", str(out), "--n-boot", "200"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = out.read_text()
    # plotly.js travels deflated and Ascii85-encoded ("." for "<"), once; it unpacks to plotly.js itself
    assert page.count(packed_plotlyjs()) == 1, "plotly.js must be embedded exactly once"
    packed = re.search(r'<script type="text/x-ascii85" id="plotly-js-packed">([^<]*)</script>', page).group(1)
    unpacked = zlib.decompress(base64.b85decode(packed.replace(".", "<"))).decode()
    # the cartesian bundle (`workbench.report.assets`) where it can be had, else plotly's full bundle
    assert (
        re.match(r"/\*\*\n\* plotly\.js (\(cartesian - minified\) )?v\d", unpacked)
        and page.count("Plotly.newPlot") >= 5
    )
    assert not re.search(r"<script[^>]+src=", page), "the page loads a script from elsewhere"
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    for heading in (
        "Leaderboard, per task and metric",
        "Skill against the baselines",
        "Friedman test",
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
        name = display_name(row["model"])
        assert re.search(rf"<td>{name}</td>\s*<td>{row['mean_rank']:.4g}</td>", page), row["model"]
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


def _body_outside_provenance(page: str) -> str:
    """The page's visible text before the provenance section, scripts and tags removed."""
    import html

    body = page.split("<body>", 1)[1].split('<section id="provenance">', 1)[0]
    body = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    body = re.sub(r'<div class="plotly-graph-div".*?</div>', "", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_when_the_m4_reproduction_is_reported_then_a_person_can_read_it(m4_run, m4_report):
    run, report = m4_run
    page = m4_report.read_text()
    text = " ".join(_body_outside_provenance(page).split())
    counts = report["status"].value_counts()
    available = int(counts.get("match", 0) + counts.get("mismatch", 0))
    assert f"M4: {counts['match']} of {available} available cells match; {counts['unavailable']} unavailable (" in text
    assert f"{counts['match']} match</span>" in page and "class='badge unavailable'" in page
    assert "8 models" in text or "9 models" in text  # the benchmarks (and TTM where it runs)
    assert "m4/Hourly holdout h=48 m=24" in text and "414 series in all" in text
    for name in ("Naive1", "sNaive", "Naive2", "SES", "Holt", "Damped", "Theta", "Comb"):
        assert f"<td>{name}</td>" in page, name
    shown = page.split('<section id="provenance">', 1)[0]
    # the legend maps each short label to its registry name and parameters: the one other place they show
    shown = re.sub(r"<details><summary>Model labels.*?</details>", "", shown, flags=re.S)
    assert "<td>naive</td>" not in shown and "<td>comb</td>" not in shown  # registry names: provenance only
    assert "Monthly: test file not in the mirror and no internet" in text
    assert "Showing 20 of 414 series, sampled with seed 0" in text
    for figure in ("skill", "cd-diagram", "win-rates", "forecasts", "paper-m4"):
        assert re.search(rf'id="fig-\d+-{figure}"', page), figure
    assert "Skill against Naive2" in page and "Skill against sNaive" in page
    # numbers a person can check against the leaderboard and the statistics
    wide = compare.problem_matrix(run.engine.store.metrics(), "mase")
    assert f"Friedman χ² = {compare.wide_friedman(wide, 'mase').statistic:.3f}" in text
    # never a raw dict, an exception's text or a traceback outside the provenance section
    for raw in ('{"', "{'", "Traceback", "cannot download", "Error:"):
        assert raw not in text, raw
    provenance = page.split('<section id="provenance">', 1)[1]
    assert "cannot download" in provenance  # the full error is kept, under Provenance
    assert m4_report.stat().st_size < 20e6
    if importlib.util.find_spec("workbench.leakage") is not None:  # the leakage check's column, where it exists
        assert "<th>leakage</th>" in shown and "<th>corpus_entry</th>" in shown


def test_when_a_section_is_registered_then_the_report_shows_it_in_place(report_store, tmp_path):
    from workbench.report import sections

    saved = list(sections.SECTIONS)
    try:
        sections.register(sections.Section("extra", "An extra view", lambda ctx: "<p>extra body</p>"))
        page = build_report(report_store, tmp_path / "r.html", n_boot=50).read_text()
    finally:
        sections.SECTIONS[:] = saved
    assert '<section id="extra"><h2>An extra view</h2>' in page
    assert page.index('id="extra"') < page.index('id="provenance"') and page.index('id="papers"') < page.index(
        'id="extra"'
    )
