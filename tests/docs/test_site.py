"""The documentation site: `mkdocs build --strict` from the checkout (tutorials executed), then the built
site opened in headless Chromium from file://, offline: every tutorial page draws its figures with no
console error, and every page of the navigation opens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest

from workbench.report.browser import chromium_page, find_chromium

# builds the site (a mkdocs subprocess that executes the tutorial notebooks) and opens it in Chromium
pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = sorted(p.stem for p in (REPO / "docs" / "tutorials").glob("*.ipynb"))
BUILD_LIMIT_S = 600


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `make docs` builds it (--strict), into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_LIMIT_S,
    )
    seconds = time.perf_counter() - started
    print(f"mkdocs build --strict: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    return out


def test_when_the_site_is_built_strictly_then_every_tutorial_and_generated_page_is_there(site):
    for name in TUTORIALS:
        assert (site / "tutorials" / f"{name}.html").is_file(), name
    assert (site / "reference" / "cli.html").is_file()
    cards = sorted(p.stem for p in (REPO / "datasets").glob("*.yaml"))
    assert cards and all((site / "reference" / "catalog" / f"{c}.html").is_file() for c in cards)
    papers = sorted(p.parent.name for p in (REPO / "papers").glob("*/paper.yaml"))
    assert papers and all((site / "reference" / "papers" / f"{p}.html").is_file() for p in papers)
    cli = (site / "reference" / "cli.html").read_text()
    assert "workbench results leaderboard" in cli and "--store" in cli
    # nothing is fetched from a CDN: no web fonts, no script or style from another host
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis.com" not in text, page
        assert 'src="https://' not in text and 'href="https://cdn' not in text, page


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium (Debian's `chromium`) or Playwright")
def test_when_the_site_opens_offline_in_chromium_then_tutorials_draw_their_figures_and_the_navigation_works(site):
    blocked: list[str] = []
    with chromium_page(width=1280, height=900) as page:
        page.route("http*://**", lambda route: (blocked.append(route.request.url), route.abort()))
        for name in TUTORIALS:
            page.goto((site / "tutorials" / f"{name}.html").as_uri())
            page.wait_for_load_state("load")
            figures = page.locator(".js-plotly-plot")
            assert figures.count() >= 1, f"{name}: no figure on the page"
            for i in range(figures.count()):
                figures.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
            assert page.locator(".js-plotly-plot .main-svg").count() >= figures.count()
            assert page.console_errors == [], f"{name}: {page.console_errors}"

        # follow the navigation from the home page: every link of the side navigation opens a page
        home = (site / "index.html").as_uri()
        page.goto(home)
        links = page.eval_on_selector_all("nav.md-nav--primary a.md-nav__link[href]", "els => els.map(e => e.href)")
        pages = sorted({urldefrag(urljoin(home, href))[0] for href in links if href.startswith("file://")})
        assert len(pages) >= 20, pages
        for url in pages:
            page.goto(url)
            page.wait_for_load_state("load")
            assert page.locator("article.md-content__inner h1").count() >= 1, url
        # and a click through the rendered navigation reaches a tutorial
        page.goto(home)
        page.locator("nav.md-nav--primary a.md-nav__link", has_text="Reproduce a paper").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("tutorials/reproduce-a-paper.html")
        errors = page.console_errors
    assert errors == []
    assert blocked == []
