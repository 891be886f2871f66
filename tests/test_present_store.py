"""`workbench present --store`: an offline reveal.js deck of a store's own results (a fleet of metrics),
written through the CLI and opened in a real headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.report.browser import chromium_page, find_chromium

WORKBENCH = [sys.executable, "-m", "workbench.cli"]
MODELS = ["seasonal_naive", "naive", "theta"]
QUANTILE_MODEL = {"name": "statsforecast.SeasonalNaive", "params": {"season_length": 24, "quantiles": [0.1, 0.5, 0.9]}}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, mirror):
    """The synthetic fleet (`write_fleet`) evaluated by four models into a fresh store."""
    import workbench
    from workbench.config import use_catalog
    from workbench.data.synthetic import write_fleet
    from workbench.tasks import Task

    root = tmp_path_factory.mktemp("fleet-deck")
    written = write_fleet(root / "fleet", seed=1)
    patch = pytest.MonkeyPatch()  # the card is this module's: other modules' fleets are named fleet too
    patch.setenv("WORKBENCH_CATALOG", "")
    use_catalog(written.catalog)
    task = Task(dataset="fleet", protocol="rolling", n_windows=2, gap_policy="by_metric_type", metrics=("mase",))
    summary = workbench.evaluate(task, [*MODELS, QUANTILE_MODEL], store=root / "store", n_workers=1, progress=False)
    assert summary.counts() == {"ok": len(summary.records)}
    yield root / "store", written, task
    patch.undo()


def test_when_neither_a_paper_nor_a_store_is_given_then_present_says_what_to_give(tmp_path):
    result = _run(["present", "--output", str(tmp_path / "deck.html")])
    out = " ".join(result.stdout.split())
    assert result.returncode == 2 and "give a paper id" in out and "--store" in out
    assert not (tmp_path / "deck.html").exists()


def test_when_the_task_asked_for_is_not_in_the_store_then_the_error_lists_those_there_are(fleet, tmp_path):
    store, written, task = fleet
    result = _run(
        [
            "present",
            "--store",
            str(store),
            "--catalog",
            str(written.catalog),
            "--task",
            "nope",
            "--output",
            str(tmp_path / "d"),
        ]
    )
    out = " ".join(result.stdout.split())
    assert result.returncode == 2 and "task 'nope' is not in the results store" in out and task.key() in out


@pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium here: `apt-get install chromium` and `pip install playwright`"
)
def test_when_a_store_is_presented_then_its_deck_says_which_model_wins_where_and_opens_offline(fleet, tmp_path):
    from workbench.report import compare
    from workbench.report.names import short_labels
    from workbench.store.sql import series_metrics

    store, written, task = fleet
    deck = tmp_path / "fleet.slides.html"
    args = ["present", "--store", str(store), "--catalog", str(written.catalog), "--task", task.key()]
    result = _run([*args, "--labels", str(written.labels), "--output", str(deck)])
    assert result.returncode == 0, result.stdout + result.stderr
    source = nbformat.read(tmp_path / "fleet.slides.ipynb", as_version=4)
    n_slides = sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in source.cells)
    assert n_slides >= 8 and f"{n_slides} slides" in result.stdout
    text = deck.read_text()
    for title in ("The question", "The data", "Which model wins where", "Provenance"):
        assert title in text, title
    rows = series_metrics(store, metrics=["mase"])
    counts = rows.drop_duplicates("unique_id")["metric_type"].value_counts()
    assert f"<td>gauge</td><td>{counts['gauge']}</td>" in text and f"<td>count</td><td>{counts['count']}</td>" in text
    table = compare.which_model_where(rows, "mase", ["metric_type"], n_boot=1000, seed=0)
    labels = short_labels(sorted(set(rows["model"])))
    for _, best in table[table["best"].astype(bool)].iterrows():
        assert f"On {best['metric_type']} series (metric_type" in text
        assert f"{labels[best['model']]} wins" in text or f"{labels[best['model']]} is best" in text
    assert text.count("Plotly.newPlot") >= 3 and text.count("plotly.js v") <= 2  # plotly.js inlined once
    assert str(written.data) not in text
    requests: list[str] = []
    with chromium_page(width=1280, height=800) as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(deck.as_uri())
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        total = page.evaluate("() => Reveal.getTotalSlides()")
        drawn = 0
        for i in range(total):
            page.evaluate(f"() => Reveal.slide({i})")
            if page.locator("section.present .js-plotly-plot").count():
                page.locator("section.present .js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
                drawn += 1
        shot = tmp_path / "fleet-deck.png"
        page.screenshot(path=str(shot))
        errors = page.console_errors
    assert total == n_slides and drawn >= 3  # the CD diagram and forecasts of two or three kinds of series
    assert errors == []
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert Path(shot).stat().st_size > 10_000
