"""notebooks/observability.ipynb under papermill on a real slice: Cloud Monitoring's crash-rate folder
(two series), Twitter raw_data and Robot Shop on one rolling window, the BOOM leaderboard; no stderr and
no error outputs, the figures drawn, the results in the store."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from nb_helpers import NOTEBOOKS

pytestmark = pytest.mark.usefixtures("mirror")
PLOTLY = "application/vnd.plotly.v1+json"
FOLDER = "application-crash-rate-1"


def test_when_observability_runs_on_a_slice_then_it_tells_the_story_without_stderr(tmp_path):
    out = tmp_path / "observability.ipynb"
    store = tmp_path / "results"
    params = {"folders": [FOLDER], "series": [f"{FOLDER}/app1-02", f"{FOLDER}/app1-09"],
              "models": ["seasonal_naive", "theta"], "n_windows": 1, "baseline_detectors": ["rolling_robust_z"],
              "store": str(store), "n_workers": 1, "processes": False}  # fmt: skip
    papermill.execute_notebook(
        str(NOTEBOOKS / "observability.ipynb"), str(out), parameters=params, cwd=str(NOTEBOOKS),
        progress_bar=False, kernel_name="python3",
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    stderr = [o.get("text", "") for o in outputs if o.get("name") == "stderr"]
    assert not stderr, f"stderr output: {stderr[0][:500]}"
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "joint: 1 folders, series in failed forecast units: 0, not forecastable: none" in stdout
    assert "other cards: {'ok': 4}" in stdout  # 2 cards x 2 models
    assert "detection failures: none; no labelled anomaly: none" in stdout
    assert "BOOM leaderboard: 23 models" in stdout
    assert len([o for o in outputs if PLOTLY in o.get("data", {})]) == 2  # zero shares, skill vs detection
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for model in ("seasonal_naive", "theta", "rolling_robust_z", "toto_2.0_2.5b"):
        assert model in html

    from workbench.store.results_store import ResultsStore

    records = ResultsStore(store).records()
    assert set(records["dataset"]) == {"cloud_monitoring", "twitter_raw_data", "robot_shop"}
    assert (records["status"] == "ok").all()


def test_when_the_full_sweep_file_is_read_then_it_names_the_notebook_and_every_card():
    from workbench.sweeps.spec import load_notebook_sweep

    sweep = load_notebook_sweep(NOTEBOOKS / "sweeps" / "observability.yaml")
    assert sweep.notebook == NOTEBOOKS / "observability.ipynb" and len(sweep.cells) == 1
    cell = sweep.cells[0].parameters
    assert cell["folders"] is None and cell["series"] is None  # every folder and series
    assert cell["models"] == ["seasonal_naive", "theta", "ttm"]
    assert (NOTEBOOKS / cell["ttm_model"]).resolve().name == "granite-ttm-r2-512-96"
