"""Units, sweep files, the store's SQL and the engine's handling of failing units (embedded cluster)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from workbench.cli import app
from workbench.data.chunks import ChunkRef
from workbench.data.panel import Panel
from workbench.data.synthetic import synthetic_chunk
from workbench.engine import evaluate
from workbench.engine.grid import load_grid
from workbench.engine.runner import plan_units
from workbench.errors import DataFormatError
from workbench.forecasters import Forecaster
from workbench.models.spec import ModelSpec
from workbench.store.results_store import ResultsStore
from workbench.store.sql import leaderboard, sql
from workbench.tasks import Task, future_ds

runner = CliRunner()


def _synthetic_chunks(folder, n_chunks: int, size: int, seed: int = 1, nan_in: int | None = None) -> list[ChunkRef]:
    refs = []
    for k in range(n_chunks):
        train, test = synthetic_chunk(seed, k, size, min_length=60, max_length=120, first_id=k * size)
        if k == nan_in:
            train.df.loc[5, "y"] = np.nan
        train.to_parquet(folder / f"train-{k}.parquet")
        test.to_parquet(folder / f"test-{k}.parquet")
        ids = train.df["unique_id"]
        refs.append(
            ChunkRef(
                k,
                size,
                str(folder / f"train-{k}.parquet"),
                str(folder / f"test-{k}.parquet"),
                f"synthetic-{seed}",
                ids.min(),
                ids.max(),
            )
        )
    return refs


def _synthetic_task(refs: list[ChunkRef]) -> Task:
    # a synthetic panel has no catalog card: the task is built over its chunk files, stating its
    # horizon and season length, its key covering the chunks' data hashes
    return Task.for_chunks(refs, horizon=48, season_length=24, name="synthetic")


@pytest.fixture(scope="module")
def threads_client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as c, Client(c) as cl:
        yield cl


def test_when_one_chunk_breaks_a_model_then_only_that_unit_fails(tmp_path, threads_client):
    refs = _synthetic_chunks(tmp_path, 3, 20, nan_in=1)
    task = _synthetic_task(refs)
    summary = evaluate(
        task, ["ses", "naive"], client=threads_client, store=tmp_path / "s", chunks={task.key(): refs}, progress=False
    )
    by = summary.records.set_index(["model", summary.records["chunks"].str[0]])["status"]
    assert by[("ses", 1)] == "error" and by[("naive", 1)] == "error"
    assert (by.drop(index=[("ses", 1), ("naive", 1)]) == "ok").all()
    failed = summary.records[summary.records["status"] == "error"]
    assert failed["error"].str.contains("missing values").all()
    again = evaluate(
        task,
        ["ses", "naive"],
        client=threads_client,
        store=tmp_path / "s",
        chunks={task.key(): refs},
        progress=False,
        retry_failed=True,
    )
    assert again.n_computed == 2 and again.n_skipped == 4


def test_when_a_unit_exceeds_its_time_budget_then_it_is_recorded_as_timeout(tmp_path, threads_client):
    refs = _synthetic_chunks(tmp_path, 1, 200)
    task = _synthetic_task(refs)
    summary = evaluate(
        task,
        "theta",
        client=threads_client,
        store=tmp_path / "s",
        chunks={task.key(): refs},
        timeout_s=1e-4,
        progress=False,
    )
    assert summary.counts() == {"timeout": 1}
    assert "exceeded" in summary.records["error"].iloc[0]


class _GlobalMean(Forecaster):
    """Forecasts every series with the mean of all series' last values: it needs the whole panel."""

    name = "test_global_mean"
    is_global = True

    def predict(self, h):
        out = future_ds(self.past_, h)
        out["y_hat"] = self.past_.df.groupby("unique_id")["y"].last().mean()
        return out


def test_when_a_model_is_global_then_one_unit_covers_all_chunks_of_a_window(tmp_path, threads_client):
    refs = _synthetic_chunks(tmp_path, 3, 10)
    task = _synthetic_task(refs)
    units = plan_units([(task, refs)], [ModelSpec(name="test_global_mean"), ModelSpec(name="naive")])
    assert [len(u.chunks) for u in units] == [3, 1, 1, 1]
    summary = evaluate(
        task, "test_global_mean", client=threads_client, store=tmp_path / "s", chunks={task.key(): refs}, progress=False
    )
    metrics = summary.metrics()
    assert summary.n_computed == 1 and metrics["unique_id"].nunique() == 30


def test_when_keys_are_built_then_every_ingredient_changes_them(tmp_path):
    refs = _synthetic_chunks(tmp_path, 1, 5)
    task = _synthetic_task(refs)
    (base,) = plan_units([(task, refs)], [ModelSpec(name="theta")])
    variants = [
        plan_units([(task, refs)], [ModelSpec(name="theta")], seed=1)[0],
        plan_units([(task, refs)], [ModelSpec(name="ses")])[0],
        plan_units([(task.model_copy(update={"horizon": 12}), refs)], [ModelSpec(name="theta")])[0],
        plan_units([(task, [ChunkRef(**{**refs[0].__dict__, "data_hash": "other"})])], [ModelSpec(name="theta")])[0],
    ]
    assert len({base.key, *(v.key for v in variants)}) == 5
    assert plan_units([(task, refs)], [ModelSpec(name="theta")])[0].key == base.key


def test_when_results_are_stored_then_sql_leaderboard_and_forecasts_read_them_back(tmp_path, threads_client):
    refs = _synthetic_chunks(tmp_path, 2, 10)
    task = _synthetic_task(refs)
    store = ResultsStore(tmp_path / "s")
    evaluate(
        task,
        ["naive", "theta"],
        client=threads_client,
        store=store,
        chunks={task.key(): refs},
        save_forecasts=True,
        progress=False,
    )
    board = leaderboard(store).set_index(["model", "metric"])
    assert board.loc[("theta", "smape"), "n_series"] == 20
    assert board.loc[("theta", "smape"), "aggregation"] == "mean of per-series"
    counts = sql("SELECT model, count(*) AS n FROM metrics GROUP BY model ORDER BY model", store)
    assert counts["n"].tolist() == [40, 40]
    assert sql("SELECT count(*) AS n FROM runs", store)["n"].item() == 1
    panel = Panel.from_long(store.forecasts(task.key(), "theta"))
    assert panel.n_series == 20 and (panel.lengths() == 48).all()
    result = runner.invoke(app, ["results", "leaderboard", "--store", str(store.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "theta" in result.output
    bad = runner.invoke(app, ["results", "sql", "SELECT nope FROM metrics", "--store", str(store.root)])
    assert bad.exit_code == 2 and "SQL error" in bad.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tasks: [{dataset: m4, subset: Hourly}]\nmodels: [thetaa]\n", "Did you mean 'theta'"),
        ("tasks: [{dataset: m4, subset: Hourlyy}]\nmodels: [theta]\n", "'Hourlyy'. Did you mean 'Hourly'"),
        ("tasks: [{dataset: m4, subset: Hourly}]\nmodels: [theta]\nchunk_size: 0\n", "chunk_size"),
        ("tasks: [{dataset: m4, subset: Hourly}]\nmodels: [theta]\ncolour: red\n", "colour"),
        ("tasks: []\nmodels: [theta]\n", "tasks"),
        ("tasks: [{dataset: m4, subset: Hourly, metrics: [smapee]}]\nmodels: [theta]\n", "smapee"),
        ("tasks: [\n", "not valid YAML"),
    ],
)
def test_when_a_sweep_file_is_bad_then_error_names_the_entry_and_nothing_is_written(tmp_path, content, message):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        load_grid(sweep)
    result = runner.invoke(app, ["run", str(sweep), "--store", str(tmp_path / "store")], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "sweep.yaml" in result.output
    assert not (tmp_path / "store").exists()


def test_when_the_synthetic_generator_is_seeded_then_chunks_are_reproducible():
    a, _ = synthetic_chunk(3, 7, 50)
    b, _ = synthetic_chunk(3, 7, 50)
    c, _ = synthetic_chunk(3, 8, 50)
    pd.testing.assert_frame_equal(a.df, b.df)
    assert not a.df["y"].equals(c.df["y"])
    lengths = a.lengths()
    assert lengths.between(100, 1000).all() and (a.df["y"] > 0).all()


def test_when_one_model_runs_under_two_seeds_then_the_leaderboard_has_a_row_per_seed_and_no_copies(
    tmp_path, threads_client
):
    refs = _synthetic_chunks(tmp_path, 2, 15)
    task = _synthetic_task(refs)
    for seed in (0, 7):
        evaluate(task, ["naive"], client=threads_client, store=tmp_path / "s", chunks={task.key(): refs},
                 seed=seed, progress=False)  # fmt: skip
    board = leaderboard(tmp_path / "s", metrics=["mase"])
    assert list(board["model"]) == ["naive", "naive (seed 7)"] and set(board["n_series"]) == {30}
    assert sql("SELECT DISTINCT seed FROM metrics ORDER BY seed", tmp_path / "s")["seed"].tolist() == [0, 7]
