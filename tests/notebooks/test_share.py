"""Notebooks one can share: figures in nbconvert's HTML offline, errors at the user's rows, no kernel
noise on shutdown, every notebook in the README, and default metrics that fit count series."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest
from nb_helpers import NOTEBOOKS, REPO

from workbench.data import Panel
from workbench.errors import DataFormatError, WorkbenchError
from workbench.notebook_kernels import (
    FIGURE_RENDERER,
    QuietShutdownKernelManager,
    kernel_config,
    stop_if_all_failed,
)
from workbench.tasks import COUNT_METRICS, DEFAULT_METRICS, Task

DRAWN = """() => [...document.querySelectorAll('div.plotly-graph-div')]
    .map(d => (d._fullData || []).length > 0 ? d.querySelectorAll('.main-svg .trace').length : 0)"""


# ---- metrics that fit the series -------------------------------------------------------------------
def _count_panel() -> Panel:
    rng = np.random.default_rng(0)
    y = np.where(rng.random(96) < 0.7, 0.0, rng.integers(1, 4, 96).astype(float))  # mostly zero counts
    df = pd.DataFrame({"unique_id": "errors", "ds": pd.date_range("2024-01-01", periods=96, freq="h"), "y": y})
    return Panel.from_long(df.assign(metric_type="count"), freq="h", season_length=24, horizon=12, name="c")


def test_when_a_count_series_with_zeros_gets_default_metrics_then_smape_is_left_out():
    task = Task.for_panel(_count_panel(), protocol="rolling")
    assert task.metrics == COUNT_METRICS and "smape" not in task.metrics
    window = next(iter(task.windows()))
    from workbench.metrics import get_metric

    naive = np.repeat(window.past.df["y"].iloc[-1], len(window.truth.df))
    past = window.past.df["y"].to_numpy()
    for name in task.metrics:  # scale-free and defined on a series of zeros and small counts
        value = get_metric(name).fn(window.truth.df["y"].to_numpy(), naive, y_past=past, season_length=task.m)
        assert np.isfinite(value).all(), name


def test_when_a_card_declares_no_counts_then_the_defaults_and_the_key_stay_as_they_were():
    task = Task(dataset="m3", subset="other")
    assert task.metrics == DEFAULT_METRICS
    assert task.key() == Task(dataset="m3", subset="other", metrics=("smape", "mase")).key()
    counted = Task(dataset="cloud_monitoring", subset="consumer-purchase-rate", protocol="rolling")
    assert counted.metrics == COUNT_METRICS  # a card that declares counts
    assert Task(dataset="cloud_monitoring", subset="consumer-purchase-rate", protocol="rolling",
                metrics=("smape",)).key() == counted.key()  # fmt: skip  # metrics stay out of the key


# ---- a run whose every unit failed stops with the first error ---------------------------------------
def test_when_every_unit_failed_then_the_notebook_helper_raises_the_first_error():
    failed = pd.DataFrame({"status": ["error", "error"], "model": ["naive", "theta"],
                           "task_description": ["own_data/all", "own_data/all"],
                           "error": ["DataFormatError: f.parquet: row 9: series 'a' ...", "other"]})  # fmt: skip
    with pytest.raises(WorkbenchError, match=r"all 2 unit\(s\) .*naive on own_data/all\): .*f\.parquet: row 9"):
        stop_if_all_failed(type("Run", (), {"records": failed})())
    stop_if_all_failed(type("Run", (), {"records": failed.assign(status=["ok", "error"])})())  # some ok: goes on
    stop_if_all_failed(type("Run", (), {"records": failed.iloc[:0]})())  # nothing computed (all reused)


def _gappy_folder(root: Path, names: tuple[str, ...] = ("a", "b")) -> tuple[Path, int, str]:
    """Files of sorted hourly series (two series each); file b misses one stamp of series 'b1'. Returns
    the folder, the row (1-based, in file b) just after the gap, and file b's path."""
    for name in names:
        frames = [pd.DataFrame({"unique_id": f"{name}{i}", "ds": pd.date_range("2024-01-01", periods=72, freq="h"),
                                "y": np.arange(72.0) + i}) for i in range(2)]  # fmt: skip
        frame = pd.concat(frames, ignore_index=True)
        if name == "b":
            frame = frame.drop(index=72 + 30).reset_index(drop=True)  # series b1 loses its 31st stamp
        (root / f"part={name}").mkdir(parents=True)
        frame.to_parquet(root / f"part={name}" / "0.parquet", index=False)
    return root, 72 + 30 + 1, str(root / "part=b" / "0.parquet")


def test_when_a_frame_has_a_gap_then_reading_its_part_names_the_users_file_series_and_row(tmp_path):
    import dask
    import dask.dataframe as dd

    from workbench.sources.memory import find
    from workbench.sources.parquet import read_chunk

    folder, row, file_b = _gappy_folder(tmp_path / "data")
    with dask.config.set(scheduler="sync"):
        task = Task.for_frame(dd.read_parquet(folder), horizon=12, season_length=24, freq="h", name="mine")
    refs = find(task.data_fingerprint).plan(500)
    with pytest.raises(DataFormatError) as caught:
        for ref in refs:
            read_chunk(ref)
    message = str(caught.value)
    assert message.startswith(f"mine: {file_b}: row {row}: series 'b1'"), message
    assert "gap_policy" in message


def test_when_a_frame_repeats_a_stamp_then_building_the_task_names_the_users_file_and_row(tmp_path):
    import dask
    import dask.dataframe as dd

    folder = tmp_path / "data"
    folder.mkdir()
    frame = pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2024-01-01", periods=48, freq="h"),
                          "y": np.arange(48.0)})  # fmt: skip
    frame = pd.concat([frame.iloc[:20], frame.iloc[[19]], frame.iloc[20:]], ignore_index=True)  # row 21 repeats 20
    frame.to_parquet(folder / "one.parquet", index=False)
    with dask.config.set(scheduler="sync"), pytest.raises(DataFormatError) as caught:
        Task.for_frame(dd.read_parquet(folder), horizon=12, season_length=24, freq="h", name="mine")
    assert re.match(rf"mine: {re.escape(str(folder / 'one.parquet'))}: row 2[01]: .*'s'", str(caught.value))


def test_when_own_data_meets_a_gap_without_a_gap_policy_then_it_stops_with_the_users_file_and_row(tmp_path):
    folder, row, file_b = _gappy_folder(tmp_path / "data", names=("b",))  # every unit reads the gap
    params = {"path": str(folder), "store": str(tmp_path / "results"), "models": ["naive"], "baseline": "naive",
              "horizon": 12, "n_windows": 1, "n_boot": 10}  # fmt: skip
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(NOTEBOOKS / "own_data.ipynb"), str(tmp_path / "out.ipynb"), parameters=params,
                                   cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")  # fmt: skip
    assert caught.value.ename == "WorkbenchError", caught.value.ename
    assert f"{file_b}: row {row}: series 'b1'" in caught.value.evalue
    assert "KeyError" not in caught.value.evalue


# ---- figures in nbconvert's HTML, offline ---------------------------------------------------------
def test_when_an_executed_notebook_becomes_html_then_its_figures_draw_offline_in_chromium(tmp_path):
    from nbconvert import HTMLExporter

    from workbench.report.browser import chromium_page, find_chromium

    if find_chromium() is None:
        pytest.skip("no Chromium here: `apt-get install chromium` and `pip install playwright`")
    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "explore.ipynb"), str(out), cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3",
        parameters={"dataset": "classics", "subset": "monthly_milk_incomplete", "max_series": 20, "n_sample": 1},
    )  # fmt: skip
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
    page_path = tmp_path / "explore.html"
    page_path.write_text(html)
    blocked: list[str] = []
    with chromium_page() as page:
        page.route("http*://**", lambda route: (blocked.append(route.request.url), route.abort()))  # offline
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        figures = page.locator("div.plotly-graph-div")
        assert figures.count() == 3  # lengths, strengths, sampled series
        for i in range(3):
            figures.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
        assert all(n > 0 for n in page.evaluate(DRAWN))
        assert not [e for e in page.console_errors if not e.startswith("Failed to load resource")]
    assert not [url for url in blocked if "plot" in url], blocked  # plotly.js is in the page, not fetched
    assert html.count("plotly-graph-div") == 3 and FIGURE_RENDERER == "plotly_mimetype+notebook"


# ---- no interrupt when a kernel is shut down ------------------------------------------------------
def _interrupted_on_shutdown(manager_class, flag: Path) -> bool:
    """Start a kernel that writes `flag` when it gets SIGINT, shut it down, and say whether it did."""

    async def run() -> None:
        km = manager_class()
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        await client.wait_for_ready(timeout=120)
        code = (
            "import signal\nk = get_ipython().kernel\nk.post_handler_hook = lambda: None\n"
            f"signal.signal(signal.SIGINT, lambda *a: open({str(flag)!r}, 'w').write('interrupted'))"
        )
        await client.execute_interactive(code, timeout=60)
        client.stop_channels()
        await km.shutdown_kernel()

    asyncio.run(run())
    return flag.exists()


def test_when_a_sweep_kernel_is_shut_down_then_it_is_not_interrupted(tmp_path):
    from jupyter_client import AsyncKernelManager

    assert kernel_config().NotebookClient.kernel_manager_class is QuietShutdownKernelManager
    assert _interrupted_on_shutdown(AsyncKernelManager, tmp_path / "plain")  # what jupyter_client does
    assert not _interrupted_on_shutdown(QuietShutdownKernelManager, tmp_path / "quiet")


def test_when_a_sweep_runs_ok_then_its_output_has_no_error_line(tmp_path):
    from nb_helpers import run_cli, write_notebook, write_sweep

    cell = (  # a notebook that starts and closes a Dask cluster, as benchmark.ipynb does
        "from workbench.engine.cluster import connect\nwith connect(n_workers=1) as c:\n"
        "    print(c.submit(abs, -x).result())"
    )
    notebook = write_notebook(tmp_path / "nb.ipynb", "x = 1", cell)
    sweep = write_sweep(tmp_path / "s.yaml", notebook=str(notebook), output=str(tmp_path / "out"), grid={"x": [1, 2]})
    result = run_cli(["sweep", str(sweep)], timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 ran ok" in result.stdout
    # the kernel's own log (ipykernel's `[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.`)
    lines = (result.stdout + result.stderr).splitlines()
    kernel = [line for line in lines if "IPKernelApp" in line and "ERROR" in line]
    assert not kernel and "KeyboardInterrupt" not in result.stderr, result.stderr


# ---- the README lists every notebook ------------------------------------------------------------
def test_the_readme_lists_every_notebook():
    readme = (NOTEBOOKS / "README.md").read_text()
    missing = [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb")) if f"`{p.name}`" not in readme]
    assert not missing, f"notebooks/README.md does not list {missing}"
    assert REPO.joinpath("notebooks", "README.md").is_file()
