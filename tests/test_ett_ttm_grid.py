"""benchmarks/ett_ttm_classics.py on a slice: TTM-R2 (real weights), seasonal naive and theta on one
rolling ETTh1 window, through the engine into a store, equal to the sequential path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ett_ttm_classics.py"
_spec = importlib.util.spec_from_file_location("ett_ttm_classics", SCRIPT)
grid_module = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(grid_module)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def ett_ttm_board(mirror, tmp_path_factory):
    from distributed import Client, LocalCluster

    if not (grid_module.LOCAL_TTM / "config.json").is_file():
        pytest.skip(f"TTM-R2 weights not at {grid_module.LOCAL_TTM}")
    store = tmp_path_factory.mktemp("ett") / "results"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, Client(c) as cl:
        return grid_module.run(1, ("ETTh1",), client=cl, store=store, progress=False)


def test_when_the_grid_runs_on_a_slice_then_every_model_is_scored_on_every_channel(ett_ttm_board):
    assert sorted(set(ett_ttm_board["model"])) == ["seasonal_naive", "theta", f"ttm(model={grid_module.LOCAL_TTM})"]
    assert set(ett_ttm_board["metric"]) == {"mase", "smape", "mae"}
    assert (
        (ett_ttm_board["n_series"] == 7).all()
        and (ett_ttm_board["n_windows"] == 1).all()
        and (ett_ttm_board["n_undefined"] == 0).all()
    )
    assert ett_ttm_board["task"].str.startswith("ett/ETTh1 rolling 1x96").all()


def test_when_ttm_runs_through_the_engine_then_it_equals_the_sequential_path(ett_ttm_board):
    import pandas as pd

    from workbench.forecasters import make_forecaster
    from workbench.scoring import score_window

    tasks, specs = grid_module.grid(1, ("ETTh1",))
    ttm = next(s for s in specs if s["name"] == "ttm")
    frames = []
    for window in tasks[0].windows():  # the sequential path (the model's `model` parameter is the checkpoint)
        forecast = make_forecaster("ttm", **ttm["params"]).fit(window.past).predict(tasks[0].h)
        frames.append(score_window(tasks[0], window.past, window.truth, forecast, "ttm"))
    scores = pd.concat(frames)
    mase = scores.loc[scores["metric"] == "mase", "value"].mean()
    stored = ett_ttm_board.loc[
        (ett_ttm_board["model"].str.startswith("ttm")) & (ett_ttm_board["metric"] == "mase"), "value"
    ].item()
    assert stored == pytest.approx(mase, rel=1e-9)
