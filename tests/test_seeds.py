"""The run's seed reaches the models: through the Dask engine (worker processes), the same seed gives
identical numbers and another seed different ones for a stochastic model; an explicit
`random_state` wins over the run's seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from workbench.anomaly.detectors import make_detector
from workbench.anomaly.engine import detect_on_engine
from workbench.anomaly.task import DetectionTask
from workbench.data.chunks import ChunkRef
from workbench.data.synthetic import synthetic_chunk, synthetic_panel
from workbench.engine import evaluate
from workbench.forecasters import make_forecaster
from workbench.tasks import Task

QUIET = {"enable_progress_bar": False, "logger": False, "enable_model_summary": False}
MODELS = [
    {"name": "mlp", "params": {"epochs": 2, "hidden": 8, "lags": 24, "windows_per_series": 3}},
    {
        "name": "darts.NLinearModel",
        "params": {"input_chunk_length": 24, "output_chunk_length": 12, "n_epochs": 1, "pl_trainer_kwargs": QUIET},
    },
]
NAB_ITEMS = ("artificialWithAnomaly/art_daily_jumpsup.csv", "realTraffic/speed_7578.csv")


@pytest.fixture(scope="module")
def process_client():
    """One worker process: models are built and seeded there, not in the test's process."""
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


def _chunks(folder, n_chunks: int = 2, size: int = 6) -> list[ChunkRef]:
    refs = []
    for k in range(n_chunks):
        train, test = synthetic_chunk(5, k, size, min_length=80, max_length=120, horizon=12, first_id=k * size)
        train.to_parquet(folder / f"train-{k}.parquet")
        test.to_parquet(folder / f"test-{k}.parquet")
        ids = train.df["unique_id"]
        paths = [str(folder / f"{part}-{k}.parquet") for part in ("train", "test")]
        refs.append(ChunkRef(k, size, *paths, "synthetic-5", ids.min(), ids.max()))
    return refs


def _task() -> Task:
    # a synthetic panel has no catalog card: the task states its horizon and season length itself
    return Task.model_construct(
        dataset="synthetic", subset="seeds", protocol="holdout", horizon=12, season_length=24, n_windows=1,
        step=None, window="expanding", train_length=None, metrics=("smape", "mase"),
    )  # fmt: skip


def _values(metrics: pd.DataFrame) -> pd.DataFrame:
    # rows of a run seeded other than 0 are labelled `name(...) (seed N)`: compare by the model's own label
    metrics = metrics.assign(model=metrics["model"].str.replace(r" \(seed \d+\)$", "", regex=True))
    return metrics.sort_values(["model", "unique_id", "metric"]).set_index(["model", "unique_id", "metric"])["value"]


def test_when_the_engine_runs_with_one_seed_twice_then_metrics_are_identical_and_another_seed_differs(
    tmp_path, process_client
):
    refs = _chunks(tmp_path)
    task = _task()
    runs = {}
    for label, seed in (("a", 1), ("b", 1), ("c", 2)):
        summary = evaluate(
            task, MODELS, client=process_client, store=tmp_path / label, chunks={task.key(): refs},
            seed=seed, progress=False,
        )  # fmt: skip
        assert summary.counts() == {"ok": 2}, summary.records.get("error")
        runs[label] = _values(summary.metrics())
    labels = sorted(set(runs["a"].index.get_level_values("model")))
    for spec in MODELS:
        (model,) = [m for m in labels if m.startswith(spec["name"] + "(")]
        a, b, c = (runs[k].xs(model, level="model") for k in "abc")
        pd.testing.assert_series_equal(a, b)
        assert not np.allclose(a.to_numpy(), c.to_numpy()), f"{model}: seed 2 gave seed 1's numbers"


def test_when_the_detection_engine_runs_pyod_with_one_seed_twice_then_scores_are_identical_and_another_differs(
    tmp_path, process_client, mirror
):
    task = DetectionTask(dataset="nab", subsets=("all",), items=NAB_ITEMS)
    spec = {"name": "pyod.IForest", "params": {"n_estimators": 20}}
    runs = [
        detect_on_engine(task, [spec], client=process_client, store=tmp_path / label, seed=seed, progress=False)
        for label, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    a, b, c = (run.detections[0].scores for run in runs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_when_a_model_has_its_own_random_state_then_it_wins_over_the_run_seed():
    train, _ = synthetic_panel(8, seed=2, min_length=80, max_length=100)

    def mlp(**kw):
        return make_forecaster("mlp", epochs=2, hidden=8, lags=24, **kw).fit(train).predict(6)["y_hat"].to_numpy()

    np.testing.assert_array_equal(mlp(seed=1, random_state=7), mlp(seed=2, random_state=7))
    np.testing.assert_array_equal(mlp(seed=7), mlp(random_state=7))
    values = np.sin(np.arange(300) / 10)
    forest = [make_detector("pyod.IForest", n_estimators=10, **kw).score(values, 100) for kw in (
        {"seed": 1, "random_state": 5}, {"seed": 2, "random_state": 5}, {"seed": 2})]  # fmt: skip
    np.testing.assert_array_equal(forest[0], forest[1])
    assert not np.array_equal(forest[1], forest[2])


def test_when_nab_random_runs_under_any_run_seed_then_it_keeps_nab_seed_42_unless_told():
    values = np.zeros(50)
    nab = make_detector("random").score(values)
    np.testing.assert_array_equal(make_detector("random", seed=3).score(values), nab)
    follows = make_detector("random", seed=3, random_state=None).score(values)
    assert not np.array_equal(follows, nab)
    np.testing.assert_array_equal(follows, make_detector("random", random_state=3).score(values))
