"""Forecast once, score many: metrics are score units computed from stored forecasts.

A registered model counts its fits in a file (from any process), so the tests see that asking a
finished grid for one more metric fits nothing: real Dask worker processes, a real store.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from counting_models import fits
from distributed import Client, LocalCluster

from workbench.data.chunks import ChunkRef
from workbench.data.synthetic import synthetic_chunk
from workbench.engine import evaluate
from workbench.errors import WorkbenchError
from workbench.scoring import score_window
from workbench.sequential import evaluate_sequential
from workbench.sources.chunkfiles import read_refs
from workbench.store import results_store
from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard
from workbench.tasks import Task

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
ROW = ["model", "window", "unique_id", "metric"]


@pytest.fixture(scope="module")
def dask_client():
    """Two single-threaded worker processes that know the counting model by name."""
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        c.run(importlib.import_module, "counting_models")
        yield c


def _chunks(folder: Path, n_chunks: int = 2, size: int = 10) -> list[ChunkRef]:
    refs = []
    for k in range(n_chunks):
        train, _ = synthetic_chunk(7, k, size, min_length=60, max_length=120, first_id=k * size)
        train.to_parquet(folder / f"train-{k}.parquet")
        ids = train.df["unique_id"]
        refs.append(ChunkRef(k, size, str(folder / f"train-{k}.parquet"), None, "synthetic-7", ids.min(), ids.max()))
    return refs


def _task(refs: list[ChunkRef], metrics: tuple[str, ...]) -> Task:
    return Task.for_chunks(
        refs, horizon=12, season_length=24, name="counting", protocol="rolling", n_windows=2, metrics=metrics
    )


def _counting(count_file: Path) -> dict:
    return {"name": "test_counting_naive", "params": {"count_file": str(count_file), "quantiles": LEVELS}}


def test_when_a_finished_grid_asks_for_one_more_metric_then_nothing_is_refit_and_the_metric_is_scored(
    tmp_path, dask_client
):
    refs = _chunks(tmp_path)
    count = tmp_path / "fits.txt"
    store = ResultsStore(tmp_path / "store")
    first_task, task = _task(refs, ("smape", "mase")), _task(refs, ("smape", "mase", "crps"))
    assert first_task.key() == task.key()  # what is scored is not in the task's key
    models = [_counting(count), "naive"]
    chunks = {task.key(): refs}
    first = evaluate(first_task, models, client=dask_client, store=store, chunks=chunks, progress=False)
    assert first.n_computed == 4 and first.counts() == {"ok": 4}
    assert fits(str(count)) == 2 * 2  # two chunks, two windows each
    assert len(first.score_records) == 4 * 2 and set(first.score_records["status"]) == {"ok"}

    second = evaluate(task, models, client=dask_client, store=store, chunks=chunks, progress=False)
    assert fits(str(count)) == 4  # no fit: the crps units read the stored forecasts
    assert (second.n_computed, second.n_skipped, second.n_scores) == (0, 4, 4 * 3)
    scored = second.score_records.set_index(["model", second.score_records["chunks"].str[0]])
    assert set(scored["metric"]) == {"crps"} and len(scored) == 4
    counting_label = "test_counting_naive(count_file=" + str(count) + f", quantiles={LEVELS})"
    assert set(scored.loc[counting_label, "status"]) == {"ok"}
    # naive gives no quantiles: its crps units score its point forecast as every quantile
    assert set(scored.loc["naive", "status"]) == {"ok"}
    records = store.records()
    assert set(records.loc[records["kind"] == "forecast", "status"]) == {"ok"}

    # the crps rows are score_window's on the stored forecasts, chunk by chunk
    rows = store.metrics()
    point = rows[(rows["metric"] == "crps") & (rows["model"] == "naive")]
    assert len(point) == 20 * 2 and point["point_as_quantiles"].all() and point["value"].notna().all()
    crps = rows[(rows["metric"] == "crps") & (rows["model"] == counting_label)]
    assert len(crps) == 20 * 2 and not crps["point_as_quantiles"].any()
    stored = store.read_table("forecasts")
    stored = stored[stored["model"] == counting_label]
    direct = []
    for ref in refs:
        for window in task.windows_of(read_refs([ref], "train")):
            forecast = stored[
                (stored["window"] == window.index) & stored["unique_id"].isin(window.truth.df["unique_id"])
            ]
            assert {f"q{q:g}" for q in LEVELS} <= set(forecast.columns)
            part = score_window(task, window.past, window.truth, forecast, counting_label, ["crps"])
            direct.append(part.assign(window=window.index))
    merged = crps.merge(pd.concat(direct), on=["window", "unique_id", "metric"], suffixes=("", "_direct"))
    assert len(merged) == len(crps)
    np.testing.assert_array_equal(merged["value"].to_numpy(), merged["value_direct"].to_numpy())
    assert merged["quantiles"].eq(",".join(f"{q:g}" for q in LEVELS)).all()

    # one task in the leaderboard, whichever run asked for which metric
    board = leaderboard(store)
    mine = board[board["model"] == counting_label]
    assert mine["task_key"].nunique() == 1 and set(mine["metric"]) == {"smape", "mase", "crps"}
    assert set(mine["n_series"]) == {20}

    # a third run finds everything: no fit, no score (failed score units are not retried by default)
    third = evaluate(task, models, client=dask_client, store=store, chunks=chunks, progress=False)
    assert (third.n_computed, len(third.score_records), fits(str(count))) == (0, 0, 4)

    # the sequential path runs the same unit functions: one fit per window, the engine's numbers
    sequential = evaluate_sequential(task, "test_counting_naive", count_file=str(count), quantiles=LEVELS)
    assert fits(str(count)) == 4 + 2
    engine = rows[rows["model"] == counting_label].assign(model="test_counting_naive")
    both = sequential.merge(engine, on=ROW, suffixes=("_seq", "_engine"))
    assert len(both) == len(sequential) == 20 * 2 * 3
    np.testing.assert_allclose(both["value_seq"], both["value_engine"], rtol=1e-12)


def test_when_a_store_holds_forecast_units_of_the_old_format_then_new_units_are_refused_and_it_still_reads(
    tmp_path, dask_client, monkeypatch
):
    refs = _chunks(tmp_path, 1, 5)
    task = _task(refs, ("smape",))
    store = ResultsStore(tmp_path / "store")
    old = pd.DataFrame({"task_key": ["old"], "task": ["t"], "model": ["naive"], "window": [0]})
    old = old.assign(unique_id="a", metric="smape", value=1.0)
    monkeypatch.setattr(results_store, "FORMAT", 2)
    store.write_unit("old", {"metrics": old}, {"kind": "forecast"})
    monkeypatch.undo()
    with pytest.raises(WorkbenchError, match=r"store format < 3.*Evaluate into a new store"):
        evaluate(task, "naive", client=dask_client, store=store, chunks={task.key(): refs}, progress=False)
    assert len(store.records()) == 1  # nothing was added
    assert leaderboard(store)["value"].tolist() == [1.0]  # reading an old store keeps working
