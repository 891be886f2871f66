"""The notebooks of notebooks/: stored clean, thin, and run top to bottom under papermill with tiny
parameters; a sweep of benchmark.ipynb and an interactive-style run share the results store."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill
import pytest
from nb_helpers import NOTEBOOKS, REPO, assert_clean, run_cli, unclean_outputs, write_notebook, write_sweep

pytestmark = pytest.mark.usefixtures("mirror")
STORED = sorted([*NOTEBOOKS.glob("*.ipynb"), *REPO.glob("papers/*/reproduce.ipynb")])
PLOTLY = "application/vnd.plotly.v1+json"
TINY = {"dataset": "m3", "subset": "other", "models": ["naive", "seasonal_naive", "theta"], "n_boot": 50, "n_plot": 2}


def _outputs(nb, kind: str | None = None) -> list:
    outs = [o for c in nb.cells for o in c.get("outputs", [])]
    return [o for o in outs if kind is None or kind in o.get("data", {})]


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("name") == "stdout")


def test_when_an_executed_notebook_has_stderr_or_an_error_then_the_check_names_the_cell_and_text(tiny_notebook):
    nb = nbformat.read(tiny_notebook, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning: IProgress not found")]
    nb.cells[2].outputs = [
        nbformat.v4.new_output("error", ename="AssertionError", evalue="asked to fail", traceback=[])
    ]
    assert unclean_outputs(nb) == [
        "cell 1 stderr: TqdmWarning: IProgress not found",
        "cell 2 error: AssertionError: asked to fail",
    ]
    with pytest.raises(AssertionError, match=r"tiny: cell 1 stderr: TqdmWarning.*cell starts \['import time'\]"):
        assert_clean(nb, "tiny")


def test_the_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} >= {"explore.ipynb", "benchmark.ipynb", "report.ipynb"}


@pytest.mark.parametrize("path", STORED, ids=[str(p.relative_to(REPO)) for p in STORED])
def test_when_a_notebook_is_stored_then_it_has_no_outputs_and_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not _outputs(nb), f"{path.name} is stored with outputs"
    assert all(c.get("execution_count") is None for c in code), f"{path.name} is stored with execution counts"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged `parameters`"
    for cell in code:  # thin: logic lives in workbench, so no definitions in notebooks
        tree = ast.parse(
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not defs, f"{path.name} defines {defs[0].name}; move it into the workbench package"
        assert len(cell.source.splitlines()) <= 20, f"{path.name} has a long cell: keep notebooks thin"


@pytest.fixture(scope="module")
def swept_store(tmp_path_factory) -> Path:
    """benchmark.ipynb run once through `workbench sweep`, writing to a fresh results store."""
    root = tmp_path_factory.mktemp("swept")
    store = root / "results"
    sweep = write_sweep(
        root / "bench.yaml",
        notebook=str(NOTEBOOKS / "benchmark.ipynb"),
        output=str(root / "out"),
        parameters=TINY,
        grid={"metric": ["mase"]},
    )
    result = run_cli(["sweep", str(sweep), "--store", str(store)], timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    noise = [line for line in (result.stdout + result.stderr).splitlines() if "IPKernelApp] ERROR" in line]
    assert not noise, f"kernel noise in a sweep that went well: {noise}"
    executed = list((root / "out").glob("*.ipynb"))
    assert len(executed) == 1
    nb = nbformat.read(executed[0], as_version=4)
    assert nb.metadata["workbench"]["parameters"]["store"] == str(store.resolve())
    assert "3 units, 0 already complete" in _stdout(nb)
    assert _outputs(nb, PLOTLY), "no plotly figure in the swept benchmark notebook"
    assert_clean(nb, "benchmark.ipynb (swept)")
    return store


def test_when_benchmark_runs_interactively_after_a_sweep_then_it_reuses_the_swept_units(swept_store, tmp_path):
    out = tmp_path / "benchmark.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "benchmark.ipynb"),
        str(out),
        parameters={**TINY, "store": str(swept_store)},
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
    )
    nb = nbformat.read(out, as_version=4)
    assert "3 units, 3 already complete" in _stdout(nb)
    assert_clean(nb, "benchmark.ipynb")
    figures = _outputs(nb, PLOTLY)
    titles = [json.dumps(o["data"][PLOTLY]["layout"].get("title", {})) for o in figures]
    assert any("Skill against seasonal_naive" in t for t in titles)
    assert any("Critical difference" in t for t in titles)
    assert any("m3/other" in t for t in titles), "no forecast drill-down figure"


def test_when_report_notebook_runs_then_it_shows_the_store_and_writes_the_html(swept_store, tmp_path):
    html = tmp_path / "report.html"
    out = tmp_path / "report.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "report.ipynb"),
        str(out),
        parameters={"results": str(swept_store), "papers": str(tmp_path), "n_boot": 50, "output_html": str(html)},
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
    )
    nb = nbformat.read(out, as_version=4)
    assert "3 models" in _stdout(nb)
    assert_clean(nb, "report.ipynb")
    assert len(_outputs(nb, PLOTLY)) >= 2
    assert html.stat().st_size > 100_000 and "Friedman" in html.read_text()


def test_when_explore_runs_then_it_summarises_and_plots_the_dataset(tmp_path):
    out = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "explore.ipynb"),
        str(out),
        parameters={"dataset": "classics", "subset": "monthly_milk_incomplete", "max_series": 20, "n_sample": 1},
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
    )
    nb = nbformat.read(out, as_version=4)
    assert "1 of 1 series have missing values" in _stdout(nb)
    assert_clean(nb, "explore.ipynb")
    assert len(_outputs(nb, PLOTLY)) == 3  # lengths, strengths, sampled series


def test_when_anomaly_runs_then_it_scores_the_detectors_and_plots_their_scores(tmp_path):
    out = tmp_path / "anomaly.ipynb"
    store = tmp_path / "results"
    params = {"categories": ["realKnownCause"], "max_items": 2, "detectors": ["windowedGaussian", "rolling_robust_z"],
              "store": str(store), "n_plot": 1}  # fmt: skip
    papermill.execute_notebook(
        str(NOTEBOOKS / "anomaly.ipynb"), str(out), parameters=params, cwd=str(NOTEBOOKS),
        progress_bar=False, kernel_name="python3",
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    assert "nab/all: 2 items, 2 detectors, failed: none" in _stdout(nb)
    assert_clean(nb, "anomaly.ipynb")
    assert len(_outputs(nb, PLOTLY)) == 2  # the scoreboard and one item's scores
    # per detector, in the shared store: one unit of scores and one of its corpus scoreboard
    from workbench.store.results_store import ResultsStore

    units = ResultsStore(store).records()
    assert list(units["kind"]) == ["detection"] * 4
    assert units["tables"].map(lambda t: sorted(t)).map(tuple).value_counts().to_dict() == {
        ("detection_scores",): 2,
        ("detection_metrics",): 2,
    }


def test_when_own_data_runs_on_a_parquet_folder_then_it_evaluates_plots_and_reuses_on_a_rerun(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    for b in range(3):  # a partitioned folder: bucket=0/, bucket=1/, ... of 2 series each
        frames = [
            pd.DataFrame({"series": f"host{b}-{i}", "ts": pd.date_range("2024-01-01", periods=96, freq="h"),
                          "value": 10 + np.sin(np.arange(96) * 2 * np.pi / 24) + rng.normal(0, 0.1, 96)})
            for i in range(2)
        ]  # fmt: skip
        (tmp_path / "data" / f"bucket={b}").mkdir(parents=True)
        pd.concat(frames).to_parquet(tmp_path / "data" / f"bucket={b}" / "part-0.parquet", index=False)
    params = {"path": str(tmp_path / "data"), "id_col": "series", "time_col": "ts", "target_col": "value",
              "store": str(tmp_path / "results"), "n_boot": 20, "n_plot": 2, "metadata_cols": ["bucket"]}  # fmt: skip
    stdout = []
    for run in range(2):
        out = tmp_path / f"own_data-{run}.ipynb"
        papermill.execute_notebook(str(NOTEBOOKS / "own_data.ipynb"), str(out), parameters=params,
                                   cwd=str(NOTEBOOKS), progress_bar=False, kernel_name="python3")  # fmt: skip
        nb = nbformat.read(out, as_version=4)
        stdout.append(_stdout(nb))
        assert_clean(nb, f"own_data.ipynb (run {run})")
        assert len(_outputs(nb, PLOTLY)) >= 2  # the skill figure and forecasts
    import re

    # 3 models x the frame's parts (its partitions, shuffled by series)
    n = int(re.search(r"(\d+) units, 0 already complete, \{'ok': (\d+)\}", stdout[0]).group(1))
    assert "own_data/all@" in stdout[0] and n % 3 == 0 and f"{n} units, {n} already complete" in stdout[1]
    # which model where: one best model per hive bucket, read from the store's series view
    best = [
        line.split() for line in stdout[0].splitlines() if re.match(r"\s*[012]\s+(naive|seasonal_naive|theta)\s", line)
    ]
    assert sorted(row[0] for row in best) == ["0", "1", "2"]


def test_when_a_tqdm_cell_runs_in_the_reproduction_kernel_then_it_is_a_widget_and_nothing_warns(tmp_path, capfd):
    from workbench.notebook_kernels import kernel_config
    from workbench.papers.runner import progress_engine

    path = write_notebook(
        tmp_path / "bar.ipynb", "n = 3", "from tqdm.auto import tqdm\nfor _ in tqdm(range(n)):\n    pass"
    )
    run = {"progress_bar": False, "kernel_name": "python3", "cwd": str(tmp_path)}
    papermill.execute_notebook(str(path), str(tmp_path / "plain.ipynb"), **run)
    assert "Kernel is running over TCP without encryption" in capfd.readouterr().err  # what the default start says
    papermill.execute_notebook(
        str(path), str(tmp_path / "out.ipynb"), engine_name=progress_engine(), config=kernel_config(), **run
    )
    assert "without encryption" not in capfd.readouterr().err
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert_clean(nb, "bar.ipynb")
    assert _outputs(nb, "application/vnd.jupyter.widget-view+json"), "tqdm did not draw a widget"
