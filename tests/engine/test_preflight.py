"""Preflight: every problem of a grid found before any unit runs, in one error naming each culprit and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.config import CATALOG_ENV
from workbench.engine import evaluate
from workbench.engine.grid import load_grid
from workbench.engine.preflight import GridError, check_grid, check_preflight, model_facts, preflight
from workbench.errors import DataFormatError
from workbench.models.spec import ModelSpec
from workbench.sources import plan_chunks
from workbench.tasks import Task

TTM_R2 = Path(__file__).resolve().parents[3] / "shared" / "models" / "granite-ttm-r2-512-96"


def series_frame(lengths: dict[str, int], seed: int, target: str = "value") -> pd.DataFrame:
    """Hourly noise series of the given lengths in a user's own column names, sorted by series then time."""
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame(
            {"series": uid, "ts": pd.date_range("2024-01-01", periods=n, freq="h"), target: 50 + rng.normal(0, 1, n)}
        )
        for uid, n in lengths.items()
    ]
    return pd.concat(parts, ignore_index=True)


def user_card(root: Path, name: str = "mine", renamed_target: bool = True) -> Path:
    """Two parquet files under `root/data` and a card naming `value` as the target; with
    `renamed_target` the second file calls it `val` (a file written by another job, say)."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    series_frame({"a": 100, "b": 30}, 0).to_parquet(root / "data" / "part-0.parquet", index=False)
    target = "val" if renamed_target else "value"
    series_frame({"c": 20, "d": 100}, 1, target).to_parquet(root / "data" / "part-1.parquet", index=False)
    cards = root / "cards"
    cards.mkdir(exist_ok=True)
    source = {"path": str(root / "data"), "id_col": "series", "time_col": "ts", "target_col": "value"}
    card = {"name": name, "source": source, "freq": "h", "season_length": 24, "horizon": 12}
    (cards / f"{name}.yaml").write_text(yaml.safe_dump(card))
    return cards


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Path:
    cards = user_card(tmp_path)
    monkeypatch.setenv(CATALOG_ENV, str(cards))
    return cards


FOUR_PROBLEMS = [
    {"name": "naive"},
    {"name": "statsforecast.ADIDA", "params": {"quantiles": [0.1, 0.9]}},
    {"name": "statsforecast.AutoETS", "params": {"quantiles": [0.1, 0.5, 0.9]}},
    {"name": "ttm", "params": {"model": "/nonexistent/ttm-r2-folder"}},
]


def test_when_a_grid_has_four_kinds_of_problem_then_one_error_lists_them_all_with_culprit_and_fix(catalog):
    task = Task(dataset="mine", protocol="rolling", n_windows=3, metrics=("mase", "msis"))
    with pytest.raises(GridError) as caught:
        check_grid([task], FOUR_PROBLEMS, chunk_size=500)
    problems = caught.value.problems
    assert sorted(p.kind for p in problems) == ["column", "metric", "model path", "quantiles", "series length"]
    by_kind = {p.kind: str(p) for p in problems}
    assert "part-1.parquet lacks column(s) 'value' (target_col)" in by_kind["column"]
    assert "'val'" in by_kind["column"] and "part-0.parquet" not in by_kind["column"]
    # 3 windows of 12 need 12 + 2 * 12 + 1 = 37 points: b (30) and c (20) are short, a and d (100) are not
    assert "2 of 4 series: 'b' (30 points), 'c' (20 points)" in by_kind["series length"]
    assert "37 points" in by_kind["series length"] and "'a'" not in by_kind["series length"]
    assert "statsforecast.ADIDA" in by_kind["quantiles"] and "prediction_intervals" in by_kind["quantiles"]
    assert "/nonexistent/ttm-r2-folder does not exist" in by_kind["model path"]
    assert "AutoETS" in by_kind["metric"] and "'msis'" in by_kind["metric"] and "0.025,0.975" in by_kind["metric"]
    assert all("Fix:" in str(p) for p in problems)
    message = str(caught.value)
    assert message.startswith("5 problem(s) in the grid") and all(str(p) in message for p in problems)


def test_when_the_grid_is_sound_then_preflight_finds_nothing_and_a_point_model_may_score_msis(tmp_path, monkeypatch):
    monkeypatch.setenv(CATALOG_ENV, str(user_card(tmp_path, renamed_target=False)))
    task = Task(dataset="mine", protocol="rolling", horizon=6, n_windows=2, metrics=("mase", "msis", "crps"))
    refs = plan_chunks(task, 500)
    models = ["naive", {"name": "statsforecast.AutoETS", "params": {"quantiles": [0.025, 0.5, 0.975]}}]
    # 6 + 6 + 1 = 13 points: every series (20 or more) is long enough; naive's point forecast is every quantile
    assert preflight([(task, refs)], models) == []
    check_preflight([(task, refs)], models)  # raises nothing


def test_when_the_task_declares_quantile_levels_a_model_lacks_then_the_metric_problem_names_them(catalog):
    task = Task(dataset="mine", protocol="rolling", horizon=6, metrics=("crps",), quantile_levels=(0.1, 0.5, 0.9))
    models = [{"name": "statsforecast.AutoETS", "params": {"quantiles": [0.2, 0.5, 0.8]}}]
    problems = preflight([(task, None)], models)
    metric = [p for p in problems if p.kind == "metric"]
    assert len(metric) == 1 and "AutoETS" in metric[0].culprit
    assert "quantile_levels 0.1,0.5,0.9" in metric[0].detail and "add 0.1,0.9" in metric[0].detail


def test_when_quantiles_are_asked_of_models_that_give_them_then_their_levels_are_known_up_front():
    assert model_facts(ModelSpec(name="naive")).levels is None
    ets = model_facts(ModelSpec(name="statsforecast.AutoETS", params={"quantiles": [0.9, 0.1]}))
    assert ets.levels == (0.1, 0.9) and ets.problems == []
    adida = model_facts(ModelSpec(name="statsforecast.ADIDA", params={"quantiles": [0.1, 0.9]}))
    assert adida.levels is None and [p.kind for p in adida.problems] == ["quantiles"]


@pytest.mark.skipif(not (TTM_R2 / "config.json").is_file(), reason="the TTM-R2 512/96 checkpoint folder is absent")
def test_when_a_ttm_checkpoint_cannot_serve_the_task_then_its_config_says_why(catalog):
    task = Task(dataset="mine", protocol="rolling", horizon=200)
    refuse = {"name": "ttm", "params": {"model": str(TTM_R2), "short_series": "refuse"}}
    problems = preflight([(task, plan_chunks(task, 500))], [refuse])
    texts = {p.kind: [str(q) for q in problems if q.kind == p.kind] for p in problems}
    assert any("horizon 200 is beyond the checkpoint's prediction length 96" in t for t in texts["checkpoint"])
    context = [t for t in texts["series length"] if "context length 512" in t]
    # 512 of context plus the 200 points from the window's origin on: no series of 100 or fewer has them
    assert len(context) == 1 and "4 of 4 series" in context[0] and "712 points" in context[0]
    assert "config.json" in context[0] and "short_series=pad" in context[0]
    # padding (the default): short series are padded and masked, so only the horizon is a problem
    padded = preflight([(task, plan_chunks(task, 500))], [{"name": "ttm", "params": {"model": str(TTM_R2)}}])
    assert "checkpoint" in {p.kind for p in padded} and not any("context length" in str(p) for p in padded)


def test_when_a_grid_names_a_card_in_a_folder_that_was_not_given_then_the_error_names_catalog_first(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    cards = user_card(tmp_path, name="mydata")
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"tasks": [{"dataset": "mydata", "protocol": "rolling"}], "models": ["naive"]}))
    with pytest.raises(DataFormatError) as caught:
        load_grid(grid)
    message = str(caught.value)
    assert message.startswith(f"{grid}: dataset 'mydata' is declared by {cards / 'mydata.yaml'}")
    assert message.index(f"--catalog {cards}") < message.index("unknown dataset")
    assert f"WORKBENCH_CATALOG={cards}" in message
    monkeypatch.setenv(CATALOG_ENV, str(cards))
    assert load_grid(grid).tasks[0].dataset == "mydata"


def test_when_no_card_declares_a_dataset_and_no_catalog_was_given_then_the_error_says_how_to_give_one(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"tasks": [{"dataset": "nowhere"}], "models": ["naive"]}))
    with pytest.raises(DataFormatError, match=r"unknown dataset 'nowhere'.*give its folder with --catalog DIR"):
        load_grid(grid)


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        yield cl


def test_when_evaluate_gets_the_same_grid_then_it_refuses_it_before_any_unit_and_writes_nothing(
    catalog, tmp_path, dask_client
):
    store = tmp_path / "store"
    task = Task(dataset="mine", protocol="rolling", n_windows=3, metrics=("mase", "msis"))
    with pytest.raises(GridError) as caught:
        evaluate([task], FOUR_PROBLEMS, client=dask_client, store=store, progress=False)
    assert sorted(p.kind for p in caught.value.problems) == [
        "column",
        "metric",
        "model path",
        "quantiles",
        "series length",
    ]
    assert not (store / "units").exists() and not (store / "runs").exists()
