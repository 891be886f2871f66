"""Cost as a measured result: every unit's CPU seconds, the per-1,000 cost with its bootstrap
interval, the projection at scale, on the leaderboard and the CLI, and a check against a direct
timing of the same model on the same series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.data.catalog import load_panel
from workbench.data.panel import Panel
from workbench.engine import evaluate
from workbench.errors import WorkbenchError
from workbench.forecasters import make_forecaster
from workbench.store.cost import N_BOOT, cost_board, parse_every, project, unit_costs
from workbench.store.records import cpu_seconds
from workbench.store.sql import leaderboard, sql
from workbench.tasks import Task

runner = CliRunner()
H = 48


def _units(**overrides) -> pd.DataFrame:
    """unit_costs rows of one model on one task: four units, the first cold."""
    base = {
        "task_key": "t",
        "task": "task t",
        "model": "m",
        "kind": "forecast",
        "per": "series forecast",
        "work": [10, 20, 30, 40],
        "h": 24,
        "cpu_s": [9.0, 2.0, 3.5, 4.5],
        "load_s": [3.0, 0.0, 0.0, 0.0],
        "load_cpu_s": [2.0, 0.0, 0.0, 0.0],
        "work_wall_s": [5.0, 2.5, 4.0, 5.0],
        "first_in_process": [True, False, False, False],
        "device": "cpu",
        "batch_size": None,
        "peak_rss_mb": [100.0, 110.0, 120.0, 90.0],
        "cpu": "x",
        "usable_cores": 2,
        "key": ["a", "b", "c", "d"],
    }
    frame = pd.DataFrame(base | overrides)
    frame["work_cpu_s"] = frame["cpu_s"] - frame["load_cpu_s"]
    return frame


def test_when_units_are_costed_then_the_board_is_the_ratio_of_sums_over_warm_units_with_a_seeded_bootstrap():
    board = cost_board(units=_units())
    (row,) = board.to_dict("records")
    # warm units b, c, d: (2 + 3.5 + 4.5) / (20 + 30 + 40) * 1000
    assert row["cpu_s_per_1k"] == pytest.approx(10.0 / 90 * 1000, rel=1e-12)
    assert row["cpu_s_per_1k_step"] == pytest.approx(row["cpu_s_per_1k"] / 24, rel=1e-12)
    assert row["throughput_per_s"] == pytest.approx(90 / 11.5, rel=1e-12)
    assert row["cost_basis"] == "warm units" and row["n_basis_units"] == 3 and row["work"] == 90
    assert (row["load_s"], row["load_cpu_s"], row["n_loads"]) == (3.0, 2.0, 1)
    # the bootstrap, re-derived: the same seed draws the same resamples of units
    rng = np.random.default_rng(0)
    cpu, work = np.array([2.0, 3.5, 4.5]), np.array([20.0, 30.0, 40.0])
    picks = rng.integers(0, 3, size=(N_BOOT, 3))
    ratios = 1000 * cpu[picks].sum(axis=1) / work[picks].sum(axis=1)
    assert row["cpu_s_per_1k_lo"] == pytest.approx(np.percentile(ratios, 2.5), rel=1e-12)
    assert row["cpu_s_per_1k_hi"] == pytest.approx(np.percentile(ratios, 97.5), rel=1e-12)
    assert row["cpu_s_per_1k_lo"] <= row["cpu_s_per_1k"] <= row["cpu_s_per_1k_hi"]
    assert cost_board(units=_units()).equals(board)  # reproducible


def test_when_every_unit_was_cold_or_unmeasured_then_the_board_says_so_and_never_averages_them_in():
    cold = cost_board(units=_units(first_in_process=[True] * 4)).iloc[0]
    assert cold["cost_basis"].startswith("all units") and cold["n_basis_units"] == 4
    assert cold["cpu_s_per_1k"] == pytest.approx((7.0 + 2.0 + 3.5 + 4.5) / 100 * 1000)
    unmeasured = cost_board(units=_units(cpu_s=[np.nan, np.nan, 3.5, 4.5])).iloc[0]
    assert unmeasured["n_unmeasured"] == 2 and unmeasured["n_basis_units"] == 2
    assert unmeasured["cpu_s_per_1k"] == pytest.approx(8.0 / 70 * 1000)
    none = cost_board(units=_units(cpu_s=[np.nan] * 4)).iloc[0]
    assert none["n_unmeasured"] == 4 and np.isnan(none["cpu_s_per_1k"])
    assert none["cost_basis"].startswith("not measured")


def test_when_a_projection_is_asked_then_core_hours_per_day_follow_from_the_cost_per_1k_and_the_cadence():
    board = cost_board(units=_units())
    out = project(board, 1_000_000, "15min").iloc[0]
    per_series = board["cpu_s_per_1k"].iloc[0] / 1000
    assert out["runs_per_day"] == 96
    assert out["core_hours_per_day"] == pytest.approx(per_series * 1_000_000 * 96 / 3600, rel=1e-12)
    assert out["cores"] == pytest.approx(out["core_hours_per_day"] / 24, rel=1e-12)
    assert out["core_hours_per_day_lo"] <= out["core_hours_per_day"] <= out["core_hours_per_day_hi"]
    assert parse_every("1h") == parse_every("60min") == parse_every(3600) == 3600.0
    for bad in ("often", "-1h", 0):
        with pytest.raises(WorkbenchError, match="cadence"):
            parse_every(bad)
    with pytest.raises(WorkbenchError, match="--series"):
        project(board, 0, "1h")


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    """Ten M4 Hourly series, as a long frame."""
    panel = load_panel("m4", "Hourly")
    ids = sorted(panel.df["unique_id"].unique())[:10]
    return panel.df[panel.df["unique_id"].isin(ids)].reset_index(drop=True)


def test_when_a_grid_runs_then_each_unit_records_its_cpu_and_the_projection_agrees_with_a_direct_timing(
    shared_cluster, tmp_path, hourly
):
    store = tmp_path / "store"
    models = ["seasonal_naive", "statsforecast.AutoETS"]
    task = Task.for_data(hourly, horizon=H, season_length=24, freq="h", name="m4-hourly-10", metrics=("mase",))
    evaluate(task, models, scheduler=shared_cluster.address, store=store, chunk_size=2, progress=False)

    units = sql("SELECT key, model, n_series, cpu_s, load_cpu_s, first_in_process, fit_s, predict_s, runtime "
                "FROM units WHERE kind = 'forecast'", store)  # fmt: skip
    assert len(units) == 2 * 5 and (units["cpu_s"] > 0).all()
    # Dask workers of one thread: the computing thread's clock (the process's would add the worker's own
    # threads), unless torch computes on several threads there (loaded by an earlier unit of the session)
    for runtime in map(json.loads, units["runtime"]):
        torch_threads = runtime["hardware"].get("torch_threads", 1)
        assert runtime["cpu_clock"] == ("process" if torch_threads > 1 else "thread"), runtime
    # a worker process's first unit of a model is marked, the others are warm: at most one per worker
    # (none where the session's cluster ran the model before this test)
    assert units.groupby("model")["first_in_process"].agg(lambda s: s.sum() <= 2).all()

    # the board, re-derived from the units view by independent arithmetic
    board = cost_board(store).set_index("model")
    for model, rows in units.groupby("model"):
        warm = rows[~rows["first_in_process"]]
        expected = 1000 * (warm["cpu_s"] - warm["load_cpu_s"]).sum() / warm["n_series"].sum()  # one window each
        assert board.loc[model, "cpu_s_per_1k"] == pytest.approx(expected, rel=1e-9)
        assert board.loc[model, "cpu_s_per_1k_step"] == pytest.approx(expected / H, rel=1e-9)

    # the leaderboard carries the cost of each (task, model)
    lb = leaderboard(store).set_index("model")
    for model in models:
        assert lb.loc[model, "cpu_s_per_1k"] == pytest.approx(board.loc[model, "cpu_s_per_1k"], rel=1e-12)
        assert lb.loc[model, "cost_basis"] == "warm units"

    # the CLI's projection is `project` of the same board
    result = runner.invoke(
        app, ["results", "cost", "--store", str(store), "--series", "5000", "--every", "1h", "--csv"]
    )
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(pd.io.common.StringIO(result.stdout)).set_index("model")
    projected = project(cost_board(store), 5000, "1h").set_index("model")
    for model in models:
        assert cli.loc[model, "core_hours_per_day"] == pytest.approx(projected.loc[model, "core_hours_per_day"])

    # a direct timing of AutoETS on the same ten series (fit on each past, forecast the horizon),
    # after one warm-up fit: the projection for 10 series once per day is that timing, within a
    # factor of 2 (CPU seconds, not wall: what a loaded machine inflates less)
    past = hourly[hourly.groupby("unique_id").cumcount(ascending=False) >= H]
    panel = Panel.from_long(past, freq="h", season_length=24, name="m4-hourly-10")
    first = past[past["unique_id"] == past["unique_id"].iloc[0]]
    make_forecaster("statsforecast.AutoETS").fit(Panel.from_long(first, freq="h", season_length=24)).predict(H)
    start = cpu_seconds()
    make_forecaster("statsforecast.AutoETS").fit(panel).predict(H)
    direct = cpu_seconds() - start
    once_a_day = project(cost_board(store), 10, "1D").set_index("model").loc["statsforecast.AutoETS"]
    ratio = once_a_day["core_hours_per_day"] * 3600 / direct
    print(f"projection / direct timing: {ratio:.3f}")
    assert 0.5 < ratio < 2.0, f"projection {once_a_day['core_hours_per_day'] * 3600:.2f} s vs direct {direct:.2f} s"


def test_when_a_store_has_no_measured_units_then_the_cost_cli_says_how_to_measure(tmp_path):
    result = runner.invoke(app, ["results", "cost", "--store", str(tmp_path / "nowhere")])
    assert result.exit_code != 0


def test_when_a_worker_computes_units_in_several_threads_then_their_cpu_is_read_from_each_thread(tmp_path, hourly):
    from distributed import Client, LocalCluster

    task = Task.for_data(hourly, horizon=H, season_length=24, freq="h", name="m4-hourly-10", metrics=("mase",))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        evaluate(task, ["theta"], client=cl, store=tmp_path, chunk_size=5, progress=False)
    units = sql("SELECT cpu_s, runtime FROM units WHERE kind = 'forecast'", tmp_path)
    # the process's clock would also count the other thread's unit
    assert {json.loads(r)["cpu_clock"] for r in units["runtime"]} == {"thread"} and (units["cpu_s"] >= 0).all()


def test_when_detectors_run_on_the_engine_then_their_cost_per_scored_point_is_on_the_detection_leaderboard(
    shared_cluster, tmp_path
):
    from workbench.anomaly.engine import detect_on_engine
    from workbench.anomaly.task import DetectionTask
    from workbench.store.sql import detection_leaderboard

    items = ("realKnownCause/nyc_taxi.csv", "realKnownCause/ec2_request_latency_system_failure.csv",
             "artificialWithAnomaly/art_daily_jumpsup.csv", "realTraffic/speed_7578.csv")  # fmt: skip
    task = DetectionTask(dataset="nab", subsets=("all",), items=items)
    run = detect_on_engine(task, ["windowedGaussian"], scheduler=shared_cluster.address, store=tmp_path,
                           chunk_size=1, progress=False)  # fmt: skip
    units = unit_costs(tmp_path, kinds=("detection",))
    assert len(units) == len(items) and (units["cpu_s"] > 0).all() and units["per"].eq("point scored").all()
    assert units["work"].sum() == len(run.data.rows)  # every scored row, once
    board = cost_board(tmp_path)
    (row,) = board.to_dict("records")
    basis = units[~units["first_in_process"]] if (~units["first_in_process"]).any() else units
    assert row["cpu_s_per_1k"] == pytest.approx(1000 * basis["work_cpu_s"].sum() / basis["work"].sum(), rel=1e-9)
    lb = detection_leaderboard(tmp_path)
    assert (lb["cpu_s_per_1k"] == row["cpu_s_per_1k"]).all()
