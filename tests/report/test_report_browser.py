"""The report in a real headless Chromium: no console errors, every figure drew; PNG export."""

from __future__ import annotations

import pytest
from report_helpers import ARTIFACTS, run_cli

from workbench.report import build_report
from workbench.report.browser import chromium_page, find_chromium

DRAWN = """() => [...document.querySelectorAll('div.plotly-graph-div')]
    .map(d => (d._fullData || []).length > 0
        ? d.querySelectorAll('.main-svg .trace, .main-svg .hm image').length : 0)"""
pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium here: `apt-get install chromium` and `pip install playwright`"
)


def test_when_the_report_opens_in_chromium_then_every_figure_draws_without_console_errors(
    report_store, papers_folder, tmp_path
):
    page_path = build_report(report_store, tmp_path / "report.html", papers=papers_folder, n_boot=200)
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())  # offline: anything fetched from outside fails
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        figures = page.locator("div.plotly-graph-div")
        n = figures.count()
        assert n >= 5
        for i in range(n):
            figures.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
        # drawn: plotly filled its data and put marks (paths, points, heatmap images) in the plot area
        drawn = page.evaluate(DRAWN)
        assert all(count > 0 for count in drawn), drawn
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        assert page.console_errors == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_when_png_export_is_asked_then_every_figure_becomes_a_png(report_store, papers_folder, tmp_path):
    out = tmp_path / "png"
    result = run_cli(
        [
            "report",
            "--results",
            str(report_store),
            "--papers",
            str(papers_folder),
            "-o",
            str(tmp_path / "r.html"),
            "--n-boot",
            "100",
            "--png",
            str(out),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 5 and f"{len(pngs)} figure(s) exported" in result.stdout
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2_000 for p in pngs)


def test_when_one_store_holds_forecasting_and_detection_units_then_the_report_shows_both_and_draws(
    report_store, tmp_path
):
    import shutil

    from workbench.anomaly.engine import detect_on_engine
    from workbench.anomaly.task import DetectionTask

    store = shutil.copytree(report_store, tmp_path / "mixed")
    items = ("realKnownCause/ambient_temperature_system_failure.csv", "artificialWithAnomaly/art_daily_jumpsup.csv")
    task = DetectionTask(dataset="nab", subsets=("all",), items=items)
    run = detect_on_engine(task, ["windowedGaussian", "rolling_robust_z"], store=store, n_workers=1, progress=False)
    assert set(run.scoreboard["model"]) == {"windowedGaussian", "rolling_robust_z"}
    page_path = build_report(store, tmp_path / "report.html", n_boot=100)
    text = page_path.read_text()
    assert "Anomaly detection, per task" in text and "nab/all detection" in text and "nab_standard" in text
    assert "Leaderboard, per task and metric" in text and "classics/australian_tourism rolling 2x4 step 4" in text
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        figures = page.locator("div.plotly-graph-div")
        for i in range(figures.count()):
            figures.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
        assert all(count > 0 for count in page.evaluate(DRAWN))
        assert page.locator("#detection table.data").count() == 1
        page.screenshot(path=str(ARTIFACTS / "report-forecast-and-detection.png"), full_page=True)
        assert page.console_errors == []


VISIBLE_TEXT = """() => { const s = [...document.querySelectorAll('body > section')].filter(x => x.id !== 'provenance');
    return s.map(x => x.innerText).join('\\n'); }"""
SHOWN_BLOCKS = """(attr) => [...document.querySelectorAll('.block')].filter(b => b.style.display !== 'none')
    .map(b => b.dataset[attr] || '')"""


def test_when_two_tasks_are_reported_then_every_section_draws_and_the_filters_show_one_task_or_metric(
    m4_run, report_store, tmp_path
):
    import shutil

    run, _ = m4_run
    store = tmp_path / "both"
    shutil.copytree(report_store, store)
    shutil.copytree(run.engine.store.root, store, dirs_exist_ok=True)  # content-addressed: the files never clash
    page_path = build_report(store, tmp_path / "report.html", n_boot=100)
    hourly = run.engine.tasks["Hourly"].key()
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        for section in ("leaderboard", "skill", "statistics", "forecasts", "papers"):
            figures = page.locator(f"#{section} div.plotly-graph-div")
            assert section == "leaderboard" or figures.count() > 0, section
            for i in range(figures.count()):
                figures.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
        assert all(count > 0 for count in page.evaluate(DRAWN))
        tasks = set(page.evaluate(SHOWN_BLOCKS, "task")) - {""}
        assert hourly in tasks and len(tasks) == 2
        page.select_option("#filter-task", hourly)
        assert set(page.evaluate(SHOWN_BLOCKS, "task")) - {""} == {hourly}
        assert page.locator("#forecasts .block:visible .main-svg").count() > 0  # still drawn once filtered
        page.select_option("#filter-metric", "smape")
        assert set(page.evaluate(SHOWN_BLOCKS, "metric")) - {""} == {"smape"}
        page.select_option("#filter-task", "*")
        page.select_option("#filter-metric", "*")
        assert len(set(page.evaluate(SHOWN_BLOCKS, "task")) - {""}) == 2
        text = page.evaluate(VISIBLE_TEXT)
        for raw in ('{"', "{'", "Traceback", "cannot download"):
            assert raw not in text, raw
        page.screenshot(path=str(ARTIFACTS / "report-m4.png"), full_page=True)
        assert page.console_errors == []
