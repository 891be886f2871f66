"""A headless Chromium for figures: static PNG export and page checks, where a browser is installed.

Playwright drives the system's Chromium (Debian's `chromium` package, or `WORKBENCH_CHROMIUM`):
Playwright's own browser download is not needed, and nothing here reaches the network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CANDIDATES", "chromium_page", "export_pngs", "find_chromium"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser executable, or None when there is none (or Playwright is not installed)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return None
    env = os.environ.get("WORKBENCH_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A Playwright page in headless Chromium; its console errors collect in `page.console_errors`."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError("no Chromium found (install Debian's `chromium` and `pip install playwright`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.console_errors = errors
            yield page
        finally:
            browser.close()


def export_pngs(html: str | Path, folder: str | Path, timeout_ms: int = 60_000) -> list[Path]:
    """Screenshot every plotly figure of a rendered HTML page into `folder` (one PNG per figure)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        page.goto(Path(html).resolve().as_uri())
        page.wait_for_load_state("load", timeout=timeout_ms)
        figures = page.locator("div.plotly-graph-div")
        paths = []
        for i in range(figures.count()):
            figure = figures.nth(i)
            figure.locator(".main-svg").first.wait_for(timeout=timeout_ms)
            name = figure.get_attribute("id") or f"figure-{i}"
            path = folder / f"{i:02d}-{name}.png"
            figure.screenshot(path=str(path))
            paths.append(path)
        return paths
