"""An LTSF run as a unit of the results store: its record row and its pooled scores.

LTSF papers report one number per (task, model): MSE and MAE pooled over test windows x steps x
channels. A run is committed as a unit of kind `ltsf` holding the run's full record (a table named
by the paper's module) and one `metrics` row per pooled score, so the leaderboard and the report
read LTSF results beside every other kind.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.ltsf.protocol import LTSFTask
from workbench.store.records import commit_unit, new_run_id
from workbench.store.results_store import ResultsStore

__all__ = ["commit_ltsf_run"]


def commit_ltsf_run(
    store: ResultsStore,
    *,
    key: str,
    identity: str,
    code: str,
    task: LTSFTask,
    model: str,
    model_name: str,
    params: dict[str, Any],
    seed: int,
    n_series: int | None,
    record: dict[str, Any],
    runs_table: str,
    scores: dict[str, tuple[float, str]],
) -> None:
    """`scores` maps a metric name to (value, aggregation) for the run's `metrics` rows."""
    label = dict(kind="ltsf", task_key=task.key(), task=task.describe(), dataset=task.dataset, subset=task.subset)
    rows = [{"metric": name, "value": float(value), "aggregation": how} for name, (value, how) in scores.items()]
    metrics = pd.DataFrame(rows).assign(**label, model=model, seed=seed, window=0, unique_id="(all channels)")
    commit_unit(
        store,
        key=key,
        kind="ltsf",
        identity=identity,
        code=code,
        run_id=new_run_id(),
        task=task,
        model=model,
        model_name=model_name,
        params=params,
        seed=seed,
        tables={runs_table: pd.DataFrame([record]), "metrics": metrics},
        n_series=n_series,
        duration_s=round(float(record.get("seconds", 0.0)), 4),
        status="ok",
    )
