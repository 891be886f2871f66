"""A user's own labelled, gappy metrics through the notebooks, end to end: a seeded fleet (gauges and
counts, stamps missing inside series, labelled spikes) added with `workbench datasets add --gap-policy
by_metric_type --labels` (the CLI, in a subprocess), then own_data.ipynb, observability.ipynb,
explore.ipynb and anomaly.ipynb run on it under papermill (real kernels) with nothing but parameters.

The expected numbers are read from the files the generator wrote (rows per series, the labels file),
never from the notebooks' own helpers."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from nb_helpers import NOTEBOOKS, assert_clean, run_cli

from workbench.config import CATALOG_ENV
from workbench.data.synthetic import write_fleet

PLOTLY = "application/vnd.plotly.v1+json"
N_HOURS = 24 * 22  # 528 rows a series: two seasons of context and rolling windows for the classics
MODELS = ["seasonal_naive", "theta"]  # TTM-R2 needs 512 points of context plus the windows: too short here


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """The fleet written and added as the user would: (fleet, its card folder)."""
    root = tmp_path_factory.mktemp("fleet")
    fleet = write_fleet(root, seed=0, hosts_per_service=1, n_hours=N_HOURS)
    cards = root / "cards"
    result = run_cli(
        ["datasets", "add", "fleet", "--path", str(fleet.data), "--catalog", str(cards), "--freq", "h",
         "--season-length", "24", "--horizon", "24", "--metadata-cols", "metric_type,metric,service,host",
         "--gap-policy", "by_metric_type", "--labels", str(fleet.labels)]
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"labels: {fleet.n_anomalies} points checked" in result.stdout
    return fleet, cards


@pytest.fixture
def fleet(added, monkeypatch):
    """The added fleet, its card folder on the catalog path of this process and the kernels it starts."""
    fleet, cards = added
    monkeypatch.setenv(CATALOG_ENV, str(cards))
    return fleet


def _rows(fleet) -> pd.DataFrame:
    """Rows per series, read from the parquet files themselves."""
    files = sorted(fleet.data.glob("service=*/part-0.parquet"))
    return pd.concat([pd.read_parquet(f, columns=["unique_id", "metric_type"]) for f in files], ignore_index=True)


def _execute(name: str, out: Path, **parameters) -> nbformat.NotebookNode:
    papermill.execute_notebook(
        str(NOTEBOOKS / name), str(out), parameters=parameters, cwd=str(NOTEBOOKS), progress_bar=False,
        kernel_name="python3",
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    assert_clean(nb, name)
    return nb


def _outputs(nb, kind: str | None = None) -> list:
    outs = [o for c in nb.cells for o in c.get("outputs", [])]
    return [o for o in outs if kind is None or kind in o.get("data", {})]


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("name") == "stdout")


def test_when_a_labelled_gappy_fleet_is_added_then_own_data_and_observability_run_it_clean(fleet, tmp_path):
    rows = _rows(fleet)
    per_series = rows.groupby("unique_id").size()
    n_series, n_missing = len(per_series), int(N_HOURS * len(per_series) - per_series.sum())
    assert n_missing == fleet.n_missing > 0
    store = tmp_path / "results"

    own = _execute(
        "own_data.ipynb", tmp_path / "own_data.ipynb", path=str(fleet.data), metadata_cols=["metric_type"],
        gap_policy="by_metric_type", models=MODELS, store=str(store), n_boot=20, n_plot=2,
    )  # fmt: skip
    found = re.search(r"(\d+) units, 0 already complete, \{'ok': (\d+)\}", _stdout(own))
    assert found and found.group(1) == found.group(2), _stdout(own)[-2000:]
    assert len(_outputs(own, PLOTLY)) >= 2  # the skill figure and forecasts
    best = [line.split() for line in _stdout(own).splitlines() if re.match(r"\s*(count|gauge)\s+\S+\s", line)]
    assert sorted(row[0] for row in best) == sorted(set(rows["metric_type"]))  # one best model per metric type

    obs = _execute(
        "observability.ipynb", tmp_path / "observability.ipynb", dataset="fleet", other_cards=[], models=MODELS,
        n_windows=2, baseline_detectors=["rolling_robust_z"], store=str(store), n_workers=1, processes=False,
    )  # fmt: skip
    stdout = _stdout(obs)
    assert f"fleet: {n_series} series, {n_missing} missing stamps, gap policy by_metric_type" in stdout
    assert "joint: 1 folders, series in failed forecast units: 0, not forecastable: none; other cards: none" in stdout
    assert "detection failures: none; no labelled anomaly: none" in stdout
    assert "BOOM leaderboard" not in stdout  # Cloud Monitoring's section only
    # the scoreboard: each detector configuration its own row, the two band detectors apart
    line = re.search(r"detection scoreboard: (\d+) detector configurations on fleet: (.*)", stdout)
    assert line, stdout[-2000:]
    shown = line.group(2).split(", ")
    assert int(line.group(1)) == len(shown) == len(set(shown)) == 3
    assert sorted(shown) == ["forecast_band(forecaster=seasonal_naive)", "forecast_band(forecaster=theta)",
                             "rolling_robust_z"]  # fmt: skip
    assert len(_outputs(obs, PLOTLY)) == 2  # zero shares, skill against detection

    from workbench.joint import joint_table
    from workbench.store.results_store import ResultsStore

    records = ResultsStore(store).records()
    assert (records["status"] == "ok").all()
    assert set(records["dataset"]) == {"own_data", "fleet"}
    bands = records[(records["dataset"] == "fleet") & (records["model_name"] == "forecast_band")]
    assert sorted({p["forecaster"] for p in bands["params"]}) == MODELS
    table = joint_table(store, dataset="fleet").set_index("model")
    assert sorted(table.index) == MODELS
    assert (table["n_series"] == n_series).all() and (table["n_not_forecastable"] == 0).all()
    assert table["nab_standard"].notna().all()
    from workbench.errors import WorkbenchError
    from workbench.observability import detection_board

    with pytest.raises(WorkbenchError, match=r"holds no detection scores of \['own_data'\].*run_joint"):
        detection_board(store, ["own_data"])  # forecasts only: the board says what to run


def test_when_explore_opens_the_fleet_then_it_reports_the_missing_stamps_before_filling_them(fleet, tmp_path):
    per_series = _rows(fleet).groupby("unique_id").size()
    gappy = int((per_series < N_HOURS).sum())
    nb = _execute("explore.ipynb", tmp_path / "explore.ipynb", dataset="fleet", subset=None, n_sample=2)
    assert (
        f"{gappy} of {len(per_series)} series have missing values: 0 NaN values, {fleet.n_missing} stamps absent "
        "(gap policy by_metric_type)" in _stdout(nb)
    )
    assert len(_outputs(nb, PLOTLY)) == 3  # lengths, strengths, sampled series


def test_when_anomaly_runs_on_the_fleets_own_labels_then_it_scores_and_plots_them(fleet, tmp_path):
    nb = _execute(
        "anomaly.ipynb", tmp_path / "anomaly.ipynb", dataset="fleet", labels="points", categories=None,
        max_items=3, detectors=["rolling_robust_z"], store=str(tmp_path / "results"), n_plot=1,
    )  # fmt: skip
    assert "fleet/all: 3 items, 1 detectors, failed: none" in _stdout(nb)
    assert len(_outputs(nb, PLOTLY)) == 2  # the scoreboard and one item's scores
    from workbench.store.results_store import ResultsStore

    units = ResultsStore(tmp_path / "results").records()
    assert set(units["dataset"]) == {"fleet"} and (units["status"] == "ok").all()


def test_when_detector_configurations_differ_then_their_short_labels_stay_apart():
    from workbench.observability import detector_labels

    band = "forecast_band(context=512, forecaster={f}, forecaster_params={p}, level={lv}, refit_every=24)"
    models = [
        band.format(f="theta", p="{}", lv=0.95),
        band.format(f="seasonal_naive", p="{}", lv=0.95),
        band.format(f="ttm", p="{'model': '/m/a, b'}", lv=0.95),
        band.format(f="ttm", p="{'model': '/m/c'}", lv=0.95),
        band.format(f="theta", p="{}", lv=0.9),
        "rolling_robust_z",
        "mlp(hidden=8) (seed 3)",
        "mlp(hidden=8)",
        "odd(a=1))",
    ]
    short = detector_labels(models)
    assert len(set(short.values())) == len(models)  # never two configurations under one label
    # the parameters in which the band detectors differ: forecaster, its parameters, level
    assert short[models[0]] == "forecast_band(forecaster=theta, forecaster_params={}, level=0.95)"
    assert short[models[1]] == "forecast_band(forecaster=seasonal_naive, forecaster_params={}, level=0.95)"
    assert short[models[2]] == "forecast_band(forecaster=ttm, forecaster_params={'model': '/m/a, b'}, level=0.95)"
    assert short[models[4]] == "forecast_band(forecaster=theta, forecaster_params={}, level=0.9)"
    assert short["rolling_robust_z"] == "rolling_robust_z"
    assert short["mlp(hidden=8) (seed 3)"] == "mlp (seed 3)" and short["mlp(hidden=8)"] == "mlp"
    assert short["odd(a=1))"] == "odd(a=1))"  # a label that does not parse stays whole
    assert detector_labels([models[0], models[1]]) == {
        models[0]: "forecast_band(forecaster=theta)",
        models[1]: "forecast_band(forecaster=seasonal_naive)",
    }
