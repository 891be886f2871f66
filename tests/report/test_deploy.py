"""What to deploy: accuracy, alert quality at a budget and cost at scale per candidate, with the Pareto
frontier, re-derived from the store by independent code, in the report and the notebook, both opened
in Chromium."""

from __future__ import annotations

import json
import os

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from workbench.anomaly.alerts import AlertBudget
from workbench.report.browser import chromium_page, find_chromium
from workbench.report.deploy import DeployQuestion, _candidate_of, _pooled, deploy_table, pareto_front
from workbench.report.names import short_labels
from workbench.store.sql import sql

MODELS = ["seasonal_naive", "theta", "ses"]
NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "deploy.ipynb")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no Chromium here")


# ---- fast ----------------------------------------------------------------------------------------
def test_when_candidates_are_compared_then_the_frontier_holds_exactly_the_undominated_ones():
    skill = [0.0, 0.2, 0.1, 0.2, np.nan, 0.3]
    cost = [1.0, 5.0, 5.0, 6.0, 0.1, np.nan]
    # 2 is dominated by 1 (same cost, less skill), 3 by 1 (same skill, dearer); 4 and 5 lack a number
    assert pareto_front(skill, cost).tolist() == [True, True, False, False, False, False]
    assert pareto_front([0.1, 0.1], [2.0, 2.0]).tolist() == [True, True]  # ties dominate neither


def test_when_a_detector_names_its_forecaster_then_it_is_matched_to_that_candidate_only():
    models = ["theta", "ttm(model=/m/ttm-r2)", "ses"]
    assert _candidate_of("forecast_band(forecaster=theta, level=0.95)", models) == "theta"
    assert _candidate_of("forecast_band(forecaster=ttm, forecaster_params.model=/m)", models) == models[1]
    assert _candidate_of("forecast_band(forecaster=naive)", models) is None
    assert _candidate_of("windowedGaussian", models) is None
    assert _candidate_of("forecast_band(forecaster=ttm)", [*models, "ttm(model=/other)"]) is None  # ambiguous


def test_when_alert_rows_of_several_tasks_are_pooled_then_rates_are_ratios_of_sums():
    rows = [
        {"detector": "d", "config": "forecast_band(forecaster=theta, level=0.9)",
         "threshold": 0.9, "budget_met": True, "tuned_on_test": False, "detected": 3, "events": 4,
         "false_alarms": 2, "series_days": 10.0, "true_episodes": 3, "episodes": 5, "ttd_seconds_median": 3600.0,
         "ttd_median": "1h", "task": "a"},
        {"detector": "d", "config": "forecast_band(forecaster=theta, level=0.95)",
         "threshold": 0.7, "budget_met": False, "tuned_on_test": False, "detected": 1, "events": 6,
         "false_alarms": 0, "series_days": 30.0, "true_episodes": 1, "episodes": 1, "ttd_seconds_median": 7200.0,
         "ttd_median": "2h", "task": "b"},
    ]  # fmt: skip
    out = _pooled(rows)
    assert out["share_detected"] == 4 / 10 and out["false_alarms_per_series_day"] == 2 / 40
    assert out["event_precision"] == 4 / 6 and out["ttd_median"] == "2h" and out["budget_met"] is False
    assert out["n_detection_tasks"] == 2 and np.isnan(out["threshold"])
    assert out["detector"] == "forecast_band(forecaster=theta)"


# ---- the fleet through the joint run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        yield cl


@pytest.fixture(scope="module")
def fleet_store(tmp_path_factory, dask_client):
    """A labelled fleet (20 series: gauges and counts) through `run_joint`: three forecasters, each
    with its residual detector on the fleet's own labels, in one store."""
    from workbench.config import use_catalog
    from workbench.data.synthetic import write_fleet
    from workbench.joint import run_joint

    root = tmp_path_factory.mktemp("deploy")
    fleet = write_fleet(root / "fleet", seed=2, hosts_per_service=1, n_hours=24 * 14, n_missing=5, n_anomalies=12)
    card = fleet.catalog / "fleet.yaml"
    card.write_text(card.read_text() + "labels:\n  path: ../labels.csv\n  kind: points\n")
    previous = os.environ.get("WORKBENCH_CATALOG")
    use_catalog(fleet.catalog)
    os.environ["WORKBENCH_CATALOG"] = str(fleet.catalog)
    try:
        run = run_joint(dataset="fleet", gap_policy="by_metric_type", models=MODELS, n_windows=2,
                        store=root / "store", client=dask_client, chunk_size=4)  # fmt: skip
        assert not run.detection_failures and run.forecast_failures == 0
        yield root / "store"
    finally:
        if previous is None:
            os.environ.pop("WORKBENCH_CATALOG", None)
        else:
            os.environ["WORKBENCH_CATALOG"] = previous


def _question() -> DeployQuestion:
    return DeployQuestion(n_series=200_000, every="15min", budget=AlertBudget.per_day(2))


def test_when_the_fleet_is_asked_what_to_deploy_then_every_number_is_rederived_from_the_store(fleet_store):
    result = deploy_table(fleet_store, _question(), n_boot=200)
    table = result.table.set_index("candidate")
    assert sorted(table.index) == sorted(MODELS) and result.metric == "mase"
    assert {"skill[gauge]", "skill[count]"} <= set(table.columns)

    # cost: 1000 * sum(cpu - load) / sum(series forecasts) over warm units, from the units view
    units = sql("SELECT model, task_key, n_series, cpu_s, load_cpu_s, first_in_process, runtime FROM units "
                "WHERE kind = 'forecast' AND status = 'ok'", fleet_store)  # fmt: skip
    units["windows"] = [json.loads(r)["windows"] for r in units["runtime"]]
    for model, rows in units.groupby("model"):
        warm = rows[~rows["first_in_process"].astype(bool)]
        basis = warm if len(warm) else rows
        expected = 1000 * (basis["cpu_s"] - basis["load_cpu_s"]).sum() / (basis["n_series"] * basis["windows"]).sum()
        assert table.loc[model, "cpu_s_per_1k"] == pytest.approx(expected, rel=1e-9)
        per_day = expected / 1000 * 200_000 * 96 / 3600
        assert table.loc[model, "core_hours_per_day"] == pytest.approx(per_day, rel=1e-9)

    # alert quality: the candidate's band detector, pooled over the detection tasks' boards
    assert len(result.alerts) >= 1
    for model in MODELS:
        rows = [
            r for board in result.alerts.values() for r in board.table.to_dict("records")
            if f"forecaster={model}," in r["config"] or r["config"].endswith(f"forecaster={model})")
        ]  # fmt: skip
        assert rows, model
        events = sum(r["events"] for r in rows)
        detected = sum(r["detected"] for r in rows)
        assert table.loc[model, "share_detected"] == pytest.approx(detected / events)
        assert not any(r["tuned_on_test"] for r in rows)  # chosen on a calibration split
        assert all(r["split"] == "time" for r in rows)  # the joint task scores every item: earlier rows calibrate

    # the frontier, by brute force
    skill, cost = table["skill"], table["cpu_s_per_1k"]
    for model in MODELS:
        dominated = any(
            skill[o] >= skill[model] and cost[o] <= cost[model] and (skill[o] > skill[model] or cost[o] < cost[model])
            for o in MODELS
            if o != model
        )
        assert table.loc[model, "on_frontier"] == (not dominated)
    assert result.frontier and set(result.frontier) <= set(MODELS)


def _frontier_in(page) -> list[list[str]]:
    """The candidates each frontier figure of the page draws as `on the frontier`."""
    return page.evaluate(
        """() => [...document.querySelectorAll('div.plotly-graph-div')].map(d => (d.data || d._fullData || [])
               .filter(t => t.name === 'on the frontier').flatMap(t => [...t.text])).filter(x => x.length)"""
    )


@needs_chromium
def test_when_the_report_is_opened_in_chromium_then_its_deploy_section_draws_the_frontier(fleet_store, tmp_path):
    from workbench.report import build_report

    page_path = build_report(fleet_store, tmp_path / "report.html", n_boot=200, deploy=_question())
    text = page_path.read_text()
    assert '<section id="deploy">' in text
    section = text[text.index('<section id="deploy">') :].split("</section>")[0]
    result = deploy_table(fleet_store, _question(), n_boot=200)
    names = short_labels(MODELS)  # the report's short model names
    assert f"<b>{', '.join(names[c] for c in result.frontier)}</b>" in section
    assert "calibration split for at most 2 false alarm" in section or "calibration split for" in section
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        figure = page.locator("#deploy div.plotly-graph-div").first
        figure.locator(".main-svg").first.wait_for(timeout=60_000)
        drawn = _frontier_in(page)
        assert page.console_errors == []
    assert drawn and sorted(drawn[0]) == sorted(names[c] for c in result.frontier)


@needs_chromium
def test_when_the_deploy_notebook_runs_then_it_shows_the_frontier_in_chromium(fleet_store, tmp_path):
    from nbconvert import HTMLExporter

    out = tmp_path / "deploy.ipynb"
    papermill.execute_notebook(
        NOTEBOOK, str(out), parameters={"store": str(fleet_store), "n_series": 200_000, "every": "15min",
                                        "false_alarms_per_week": 14.0},
        cwd=os.path.dirname(NOTEBOOK), progress_bar=False, kernel_name="python3",
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    result = deploy_table(fleet_store, _question(), n_boot=1000)
    assert f"On the frontier of mase skill against cost: {', '.join(result.frontier)}" in printed
    html, _ = HTMLExporter().from_notebook_node(nb)
    page_file = tmp_path / "deploy.html"
    page_file.write_text(html)
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        page.locator("div.plotly-graph-div .main-svg").first.wait_for(timeout=60_000)
        drawn = _frontier_in(page)
    assert drawn and sorted(drawn[0]) == sorted(result.frontier)
    table = pd.DataFrame(result.table)
    assert len(table) == len(MODELS)


def test_when_the_report_cli_is_given_a_bad_scale_then_it_names_the_option_and_writes_nothing(report_store, tmp_path):
    from typer.testing import CliRunner

    from workbench.cli import app

    out = tmp_path / "report.html"
    for args, said in ((["--every", "often"], "cadence 'often'"), (["--series", "0"], "--series must be at least 1")):
        result = CliRunner().invoke(app, ["report", "--store", str(report_store), "-o", str(out), *args])
        assert result.exit_code != 0 and said in result.output, result.output
        assert not out.exists()
