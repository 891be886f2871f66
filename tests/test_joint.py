"""Joint forecasting and detection on a real Cloud Monitoring slice: seasonal naive, theta and TTM-R2
(real weights), forecast skill and residual-detector scores read back from the store, series TTM
cannot forecast counted, failed series counted, numbers equal to the sequential paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import UnknownNameError
from workbench.joint import JointError, joint_table, run_joint, skill_vs_detection_figure
from workbench.report.joint import joint_section
from workbench.store.results_store import ResultsStore

TTM_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "models" / "granite-ttm-r2-512-96"
FOLDER = "application-crash-rate-1"
# app1-01: 358 rows (< 512 + 24, not forecastable by TTM); app1-02: 710 rows; app1-04: 710 rows with empty values
SERIES = [f"{FOLDER}/app1-01", f"{FOLDER}/app1-02", f"{FOLDER}/app1-04"]
PARAMS = {"ttm": {"model": str(TTM_WEIGHTS)}}


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        yield cl


@pytest.fixture(scope="module")
def joint_run(mirror, dask_client, tmp_path_factory):
    if not (TTM_WEIGHTS / "config.json").is_file():
        pytest.skip(f"TTM-R2 weights not at {TTM_WEIGHTS}")
    store = tmp_path_factory.mktemp("joint") / "results"
    return run_joint(
        folder_names=[FOLDER], series=SERIES, n_windows=1, model_params=PARAMS, store=store, client=dask_client
    )


def test_when_joint_runs_then_the_table_has_every_model_with_its_coverage(joint_run):
    table = joint_table(joint_run.store).set_index("model")
    assert list(table.index) == ["seasonal_naive", "theta", "ttm"]
    assert joint_run.not_forecastable[(FOLDER, "ttm")] == [f"{FOLDER}/app1-01"]
    assert joint_run.forecast_failures == 3  # app1-04 (empty values) for each of the three models
    assert table.loc["ttm", ["n_series", "n_not_forecastable", "n_failed"]].tolist() == [1, 1, 1]
    for classic in ("seasonal_naive", "theta"):
        assert table.loc[classic, ["n_series", "n_not_forecastable", "n_failed"]].tolist() == [2, 0, 1]
    assert table["crps"].isna().all()  # no model was asked for quantiles
    assert table[["mase", "mase_common", "nab_standard", "event_f1", "auc_pr"]].notna().all().all()


def test_when_the_table_is_read_then_its_numbers_are_the_sequential_paths(joint_run):
    from workbench.anomaly.run import detect, scoreboard
    from workbench.anomaly.task import DetectionTask
    from workbench.data import load_panel
    from workbench.joint import _detector_spec
    from workbench.sequential import evaluate_sequential
    from workbench.tasks import Task

    table = joint_table(joint_run.store).set_index("model")
    panel = load_panel("cloud_monitoring", FOLDER).select(SERIES[:2])
    task = Task.for_panel(panel, name="cloud_monitoring", subset=FOLDER, horizon=24, season_length=1,
                          protocol="rolling", n_windows=1, metrics=("mase",))  # fmt: skip
    scores = evaluate_sequential(task, "seasonal_naive")
    assert table.loc["seasonal_naive", "mase"] == pytest.approx(scores["value"].mean(), rel=1e-12)
    app2 = scores.loc[scores["unique_id"] == SERIES[1], "value"].mean()
    assert table.loc["seasonal_naive", "mase_common"] == pytest.approx(app2, rel=1e-12)
    detection = DetectionTask(
        dataset="cloud_monitoring", subsets=(FOLDER,), labels="points", labels_table="labels", items=tuple(SERIES),
        threshold={"kind": "fixed", "value": 0.5}, calibration="none",
        metrics=("point_f1", "point_adjusted_f1", "event_f1", "auc_pr", "auc_roc"),
    )  # fmt: skip
    data = detection.load()
    spec = _detector_spec("seasonal_naive", {}, 24, 1, 0.95, start=512)  # the same first row as TTM's detector
    assert spec["params"]["min_context"] == 512 and spec["params"]["context"] == 512
    board = scoreboard(data, [detect(data, spec)]).set_index("metric")
    assert table.loc["seasonal_naive", "nab_standard"] == pytest.approx(board.loc["nab_standard", "value"], rel=1e-12)
    assert table.loc["seasonal_naive", "event_f1"] == pytest.approx(board.loc["event_f1", "value"], rel=1e-12)


def test_when_the_figure_and_section_are_made_then_they_show_every_model(joint_run, tmp_path):
    table = joint_table(joint_run.store)
    fig = skill_vs_detection_figure(table)
    assert sorted(t.name for t in fig.data) == ["seasonal_naive", "theta", "ttm"]
    assert "better alert" in fig.layout.title.text
    section = joint_section(joint_run.store)
    assert "fig-joint-skill" in section and "n_not_forecastable" in section and "ttm" in section
    assert "<script src" not in section  # the report's page embeds plotly.js once
    assert joint_section(ResultsStore(tmp_path / "empty")) == ""
    with pytest.raises(JointError, match=r"no column\(s\) \['nab_typo'\]"):
        skill_vs_detection_figure(table, metric="nab_typo")


def test_when_a_second_window_count_joins_the_store_then_the_table_refuses_to_mix(joint_run, dask_client, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(joint_run.store.root, copy)
    run_joint(folder_names=[FOLDER], series=SERIES[1:2], models=["seasonal_naive"], n_windows=2, store=copy,
              client=dask_client)  # fmt: skip
    with pytest.raises(JointError, match=r"2 tasks of seasonal_naive on cloud_monitoring/application-crash-rate-1"):
        joint_table(copy)


def test_when_a_folder_or_model_is_unknown_then_error_names_it(mirror):
    with pytest.raises(JointError, match=r"unknown folder\(s\) \['crash'\]"):
        run_joint(folder_names=["crash"])
    with pytest.raises(UnknownNameError, match=r"unknown model 'thetaa'"):
        run_joint(folder_names=[FOLDER], models=["thetaa"])


def test_when_joint_scores_are_stored_then_they_are_finite_where_defined(joint_run):
    metrics = joint_table(joint_run.store, by_folder=True)
    assert set(metrics["folder"]) == {FOLDER}
    assert np.isfinite(metrics["mase"]).all()


def test_when_the_items_hold_no_labelled_anomaly_then_detection_is_recorded_as_undefined(mirror, dask_client, tmp_path):
    free = "consumer-purchase-rate"  # purchase-01: the folder's anomaly-free series
    run = run_joint(folder_names=[free], series=[f"{free}/purchase-01"], models=["seasonal_naive"], n_windows=1,
                    baseline_detectors=["rolling_robust_z"], store=tmp_path / "results",
                    client=dask_client)  # fmt: skip
    assert run.no_anomalies == [(free, "seasonal_naive"), (free, "baselines")]
    row = joint_table(run.store).iloc[0]
    assert row["n_series"] == 1 and row["n_detection_folders"] == 0 and np.isnan(row["nab_standard"])
