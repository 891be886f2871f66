"""Clear refusals, in process: a store root that is a file, a checkpoint path that is not there,
series too short for the windows (refused up front; found inside a unit: that series alone is
recorded as not forecastable, the unit's other series are forecast and scored).

Everything here runs without a cluster except the one test that takes `threads_client` (an
in-process LocalCluster, tiered `cluster` by tests/conftest.py's FIXTURE_KINDS)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import evaluate
from workbench.data import Panel
from workbench.engine.preflight import GridError, check_preflight, model_facts, preflight
from workbench.engine.runner import plan_scores, plan_units, scoring_fingerprint
from workbench.engine.worker import compute_unit, run_unit, too_short
from workbench.errors import SourceUnavailableError, WorkbenchError
from workbench.foundation import loading
from workbench.models.spec import ModelSpec
from workbench.sources import plan_chunks
from workbench.sources.chunkfiles import read_refs
from workbench.store.results_store import RESULTS_ENV, ResultsStore, StoreRootError, results_root
from workbench.store.sql import leaderboard
from workbench.tasks import Task

H = 24


def long_frame(lengths: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Hourly series of the given lengths (a daily sine plus seeded noise), in long layout."""
    rng = np.random.default_rng(seed)
    parts = []
    for uid, n in lengths.items():
        t = np.arange(n)
        y = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(scale=2.0, size=n)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": y}))
    return pd.concat(parts, ignore_index=True)


def frame_task(frame: pd.DataFrame, **fields) -> Task:
    fields = {"horizon": H, "season_length": 24, "freq": "h", "n_windows": 2, "metrics": ["mase", "smape"]} | fields
    return Task.for_data(frame, **fields)


def store_is_empty(root) -> bool:
    return not (root / "units").exists() and not (root / "runs").exists()


# ---- 1. a store root that is a file ---------------------------------------------------------------
def test_when_the_store_root_is_a_file_then_it_is_refused_naming_it_and_the_file_is_untouched(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a store\n")
    for root in (blocker, blocker / "below" / "store"):
        with pytest.raises(StoreRootError) as caught:
            ResultsStore(root)
        text = str(caught.value)
        assert f"results store {root} " in text
        assert f"{blocker}, which is a file" in text if root != blocker else f"{blocker} is a file" in text
        assert "Fix: name a folder" in text and f"or move {blocker} away" in text
        assert isinstance(caught.value, NotADirectoryError) and isinstance(caught.value, WorkbenchError)
    assert blocker.read_text() == "not a store\n"
    assert results_root(tmp_path / "new" / "store") == tmp_path / "new" / "store"  # a new folder is fine
    assert not (tmp_path / "new").exists()  # and naming it creates nothing


def test_when_workbench_results_names_a_file_then_the_message_says_it_came_from_there(tmp_path, monkeypatch):
    blocker = tmp_path / "results"
    blocker.write_text("")
    monkeypatch.setenv(RESULTS_ENV, str(blocker))
    with pytest.raises(StoreRootError, match=rf"results store {blocker} \(from {RESULTS_ENV}\) is a file"):
        results_root()


def test_when_evaluate_gets_a_file_as_store_then_it_refuses_before_any_cluster_or_unit(tmp_path):
    blocker = tmp_path / "store"
    blocker.write_bytes(b"x")
    task = frame_task(long_frame({"a": 100}))
    # no client and no scheduler: a refusal after a cluster started would take seconds and spawn workers
    with pytest.raises(StoreRootError, match=f"results store {blocker} is a file"):
        evaluate(task, ["naive"], store=blocker, progress=False)
    assert blocker.read_bytes() == b"x"


# ---- 2. a checkpoint path that is not there -------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "local"),
    [
        ("/no/such/dir", True),
        ("./no/such/dir", True),
        ("~/no-such-checkpoint", True),
        ("checkpoints/ttm/r2", True),
        ("models\\ttm", True),
        ("ibm-granite/granite-timeseries-ttm-r2", False),
        ("ttm-r2", False),
        ("s3://bucket/ttm", False),
    ],
)
def test_when_a_model_is_a_path_then_it_is_a_local_folder_and_a_hub_id_is_not(source, local):
    assert loading.looks_local(source) is local
    assert (loading.missing_checkpoint(source) is not None) is local  # none of the local ones exists


def test_when_a_checkpoint_folder_is_missing_then_loading_refuses_it_without_asking_the_hub(tmp_path):
    calls = []
    with pytest.raises(SourceUnavailableError) as caught:
        loading.load("ttm", "/no/such/dir", lambda: calls.append(1))
    text = str(caught.value)
    assert "the checkpoint folder /no/such/dir does not exist" in text and "never as a hub id" in text
    assert "Fix:" in text and "hub:" not in text
    assert calls == []  # the loader (the hub library) never ran
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert loading.load("toy", str(folder), lambda: "weights").value == "weights"  # an existing folder loads


def test_when_a_ttm_folder_does_not_exist_then_the_preflight_names_it_as_a_folder(tmp_path):
    spec = ModelSpec.of({"name": "ttm", "params": {"model": "/no/such/dir"}})
    (problem,) = model_facts(spec).problems
    assert problem.kind == "model path" and problem.culprit == f"model {spec.label}"
    assert "/no/such/dir does not exist" in problem.detail and "never as a hub id" in problem.detail
    hub = ModelSpec.of({"name": "ttm", "params": {"model": "ibm-granite/granite-timeseries-ttm-r2"}})
    assert [p for p in model_facts(hub).problems if p.kind == "model path"] == []


# ---- 3. series too short for the windows ----------------------------------------------------------
@pytest.mark.parametrize("as_panel", [False, True])
def test_when_a_frame_holds_a_series_shorter_than_the_horizon_then_the_preflight_names_it(as_panel):
    frame = long_frame({"a": 120, "b": 120, "tiny": H - 4})
    data = Panel.from_long(frame, freq="h") if as_panel else frame
    task = Task.for_data(data, horizon=H, season_length=24, **({} if as_panel else {"freq": "h"}))
    with pytest.raises(GridError) as caught:
        check_preflight([(task, plan_chunks(task, 500))], ["naive"])
    (problem,) = caught.value.problems
    assert problem.kind == "series length"
    assert f"1 of 3 series: 'tiny' ({H - 4} points)" in problem.detail and f"the {H + 1} points" in problem.detail


def test_when_a_gap_policy_fills_a_series_then_only_the_series_still_short_after_filling_are_too_short():
    frame = long_frame({"whole": 120, "gappy": 80, "short": 30})
    gappy, position = frame["unique_id"] == "gappy", frame.groupby("unique_id").cumcount()
    # every other stamp of `gappy` missing in its first 70 hours: 45 rows as read, 80 once filled
    frame = frame[~(gappy & (position < 70) & (position % 2 == 1))]
    task = frame_task(frame, allow_missing=True, gap_policy="ffill")
    refs = plan_chunks(task, 500)
    train = read_refs(list(refs), "train", True)
    assert train.lengths()["gappy"] == 45 < 2 * H + 1
    short = too_short(task, train)
    assert list(short) == ["short"]  # `gappy` is long enough once filled, as its windows are cut
    assert "series 'short' has 30 points, fewer than the 49" in short["short"]
    problems = preflight([(task, refs)], ["naive"])
    assert [p.kind for p in problems] == ["series length"] and "'short' (30 points)" in problems[0].detail
    assert "gappy" not in problems[0].detail


def test_when_a_unit_meets_a_short_series_then_only_that_series_is_undefined_and_the_others_are_scored(tmp_path):
    lengths = {"a": 120, "b": 96, "short": 30}
    task = frame_task(long_frame(lengths))
    refs = plan_chunks(task, 500)
    (unit,) = plan_units([(task, refs)], [ModelSpec(name="seasonal_naive")])
    scores = plan_scores([(unit, unit.key)], scoring_fingerprint())
    root = tmp_path / "store"
    # the unit runs without the preflight (which refuses this grid): as a unit that meets the series would
    record = run_unit(unit, scores[:1], store_root=str(root), run_id="r1")
    reason = "series 'short' has 30 points, fewer than the 49 that 2 window(s) of horizon 24 and step 24 need"
    assert record["status"] == "ok" and record["n_not_forecastable"] == 1
    assert record["not_forecastable"]["short"].startswith(reason)
    (scored,) = record["scores"]
    assert scored["status"] == "ok" and list(scored["not_forecastable"]) == ["short"]
    # the other metric, scored later from the stored forecasts, says the same
    rescored = run_unit(scores[1], store_root=str(root), run_id="r2")
    assert rescored["status"] == "ok" and list(rescored["not_forecastable"]) == ["short"]

    store = ResultsStore(root)
    forecasts = store.read_table("forecasts")
    assert sorted(forecasts["unique_id"].unique()) == ["a", "b"] and len(forecasts) == 2 * 2 * H
    metrics = store.metrics().set_index(["metric", "window", "unique_id"]).sort_index()
    assert len(metrics) == 2 * 2 * 3  # metrics x windows x series: the short series has its rows
    short = metrics.xs("short", level="unique_id")
    assert short["value"].isna().all() and short["not_forecastable"].str.startswith(reason).all()
    healthy = metrics.drop(index="short", level="unique_id")
    assert np.isfinite(healthy["value"]).all() and healthy["not_forecastable"].isna().all()

    # the healthy series score exactly as they do in a unit without the short one
    alone = frame_task(long_frame({"a": 120, "b": 96}))
    (clean,) = plan_units([(alone, plan_chunks(alone, 500))], [ModelSpec(name="seasonal_naive")])
    expected = compute_unit(clean)[0].set_index(["metric", "window", "unique_id"]).sort_index()["value"]
    pd.testing.assert_series_equal(healthy["value"], expected)

    board = leaderboard(store).set_index("metric")
    assert board.loc["mase", "n_series"] == 3 and board.loc["mase", "n_undefined"] == 2  # counted, per window
    assert board.loc["mase", "value"] == pytest.approx(expected.loc["mase"].mean())


def test_when_every_series_of_a_unit_is_too_short_then_the_unit_records_each_and_fits_nothing(tmp_path):
    task = frame_task(long_frame({"s1": 10, "s2": 30}))
    (unit,) = plan_units([(task, plan_chunks(task, 500))], [ModelSpec(name="naive")])
    scores = plan_scores([(unit, unit.key)], scoring_fingerprint())
    record = run_unit(unit, scores, store_root=str(tmp_path / "store"), run_id="r1")
    assert record["status"] == "ok" and sorted(record["not_forecastable"]) == ["s1", "s2"]
    assert [s["status"] for s in record["scores"]] == ["ok", "ok"]
    store = ResultsStore(tmp_path / "store")
    assert store.read_table("forecasts").empty  # no model was fitted on an empty past
    metrics = store.metrics()
    assert len(metrics) == 2 * 2 * 2 and metrics["value"].isna().all()


# ---- through `workbench.evaluate`, on an in-process cluster -----------------------------------------
@pytest.fixture(scope="module")
def threads_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        yield cl


def test_when_evaluate_gets_a_frame_with_a_series_shorter_than_the_horizon_then_it_refuses_naming_it(
    tmp_path, threads_client
):
    frame = long_frame({"a": 120, "b": 120, "tiny": 10})
    root = tmp_path / "store"
    with pytest.raises(GridError) as caught:
        evaluate(frame, ["naive"], client=threads_client, store=root, horizon=H, season_length=24, freq="h",
                 progress=False)  # fmt: skip
    text = str(caught.value)
    assert "nothing was run, nothing was written" in text and "'tiny' (10 points)" in text
    assert "Fix: lower horizon, n_windows or step, or drop these series" in text
    assert store_is_empty(root)
