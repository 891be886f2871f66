"""`workbench present`: a slide deck of a stored reproduction, opened offline in a real headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.report.browser import chromium_page, find_chromium

pytestmark = pytest.mark.usefixtures("mirror")
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def reproduced_store(m4_quick) -> Path:
    assert m4_quick.result.returncode == 0, m4_quick.result.stdout + m4_quick.result.stderr
    return m4_quick.store


def test_when_no_reproduction_is_stored_then_present_says_to_run_reproduce_first(tmp_path):
    result = _run(["present", "m4", "--store", str(tmp_path / "empty"), "--output", str(tmp_path / "deck.html")])
    out = " ".join(result.stdout.split())
    assert result.returncode == 2, out
    assert "run `workbench reproduce m4` first" in out and "Traceback" not in out + result.stderr
    assert not (tmp_path / "deck.html").exists()


@pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium here: `apt-get install chromium` and `pip install playwright`"
)
def test_when_m4_is_presented_then_the_deck_opens_offline_in_chromium_with_its_slides(reproduced_store, tmp_path):
    deck = tmp_path / "m4.slides.html"
    result = _run(["present", "m4", "--store", str(reproduced_store), "--output", str(deck)])
    assert result.returncode == 0, result.stdout + result.stderr
    source = nbformat.read(tmp_path / "m4.slides.ipynb", as_version=4)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in source.cells]
    assert kinds.count("slide") >= 4 and f"{kinds.count('slide')} slides" in result.stdout
    text = deck.read_text()
    assert "Hourly" in text and "frequencies" in text  # the stored run's parameters on the protocol slide
    assert "Claimed vs reproduced" in text and "Where it disagrees" in text and "What the paper claims" in text
    requests: list[str] = []
    with chromium_page(width=1280, height=800) as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(deck.as_uri())
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
        n_slides = page.evaluate("() => Reveal.getTotalSlides()")
        page.evaluate("() => Reveal.slide(4)")  # the scatter of claimed against reproduced
        page.locator("section.present .js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
        points = page.locator("section.present .js-plotly-plot .scatterlayer .point").count()
        shot = tmp_path / "m4-deck.png"
        page.screenshot(path=str(shot))
        print(f"deck screenshot: {shot}")
        errors = page.console_errors
    assert n_slides >= 4 and points > 0
    assert errors == []
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert shot.stat().st_size > 10_000
