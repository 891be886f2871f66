"""benchmark.ipynb opened in a real JupyterLab on 127.0.0.1 and run by a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import papermill
import pytest
from nb_helpers import NOTEBOOKS, REPO
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from workbench.report.browser import chromium_page, find_chromium

ARTIFACTS = REPO / "test-artifacts"
JUPYTER = str(Path(sys.executable).parent / "jupyter")
pytestmark = [
    pytest.mark.usefixtures("mirror"),
    pytest.mark.skipif(
        find_chromium() is None, reason="no Chromium here: `apt-get install chromium` and `pip install playwright`"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving tmp_path, with its own runtime, settings and workspaces."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / ".settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / ".workspaces"),
    }
    # every cell stays in the page (no windowing) so the test can find outputs that scrolled away; no news
    settings = tmp_path / ".settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"})
    )
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [
            JUPYTER, "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0", "--LabApp.news_url=",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
            time.sleep(0.25)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_when_benchmark_is_run_all_in_jupyterlab_then_a_plotly_figure_renders(jupyterlab, tmp_path):
    base, token = jupyterlab
    # the notebook a user would open, with tiny parameters (papermill's prepare-only: nothing executed)
    papermill.execute_notebook(
        str(NOTEBOOKS / "benchmark.ipynb"),
        str(tmp_path / "benchmark.ipynb"),
        parameters={"models": ["naive", "seasonal_naive", "theta"], "n_boot": 50, "n_plot": 2,
                    "store": str(tmp_path / "results")},
        prepare_only=True,
    )  # fmt: skip
    # a cell with a tqdm bar (as the engine's and the trainer's are) before the last one: Lab must draw it as a widget
    nb = nbformat.read(tmp_path / "benchmark.ipynb", as_version=4)
    bar = (
        'import time\nfrom tqdm.auto import tqdm\nfor _ in tqdm(range(20), desc="widget check"):\n    time.sleep(0.05)'
    )
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(bar))
    nbformat.write(nb, tmp_path / "benchmark.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(width=1400, height=1000) as page:
        page.goto(f"{base}/lab/tree/benchmark.ipynb?token={token}&reset")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
        accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel", when Lab asks which kernel to start
        try:
            accept.first.wait_for(timeout=10_000)
            accept.first.click()
        except PlaywrightTimeout:
            pass
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            # the last cell draws the forecast drill-down: once it has run, every cell before it ran
            last = page.locator(".jp-Notebook .jp-CodeCell").last
            last.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[\d+\]")).wait_for(timeout=300_000)
            output = last.locator(".jp-OutputArea-output").first
            output.wait_for(state="attached", timeout=60_000)
            output.scroll_into_view_if_needed()  # plotly draws a figure once it is on screen
            last.locator(".js-plotly-plot .gtitle", has_text="m3/other").first.wait_for(timeout=60_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-benchmark.png"))
        n_figures = page.locator(".jp-Notebook .js-plotly-plot").count()
        errors = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="Traceback").count()
        # error and stderr outputs render with the stderr mime type; a clean run has none
        stderr = page.locator('.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        stderr_texts = [stderr.nth(i).inner_text()[:300] for i in range(stderr.count())]
        progress = page.locator(".jp-Notebook .jp-OutputArea-output .widget-hprogress")
        progress.first.wait_for(timeout=30_000)
        progress.first.scroll_into_view_if_needed()
        widget_text = progress.first.locator("xpath=..").inner_text().replace("\u2007", " ")  # tqdm's figure spaces
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-progress-widget.png"))
    assert n_figures >= 3 and errors == 0  # skill, CD diagram, forecasts
    assert stderr_texts == [], f"error or stderr outputs in JupyterLab: {stderr_texts}"
    assert "widget check" in widget_text and "20/20" in widget_text, widget_text
    assert (tmp_path / "results" / "units").is_dir(), "the interactive run wrote no results"
