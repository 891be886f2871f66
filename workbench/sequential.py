"""Evaluate a model on a task in this process, window by window, into per-series metric rows.

`evaluate_sequential` is the reference path: small, in memory, nothing stored. It runs the engine's
own unit functions (`workbench.engine.worker.forecast_windows` and `score_windows`: the one
fit/predict loop and the one scorer) over the task's whole data; `workbench.evaluate` (the Dask
engine) maps the same functions over chunks of series, stores forecasts and scores in the results
store and returns a run summary.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.engine.units import Unit
from workbench.engine.worker import forecast_windows, score_windows
from workbench.metrics import aggregate
from workbench.models.spec import ModelSpec
from workbench.tasks import Task

__all__ = ["evaluate_sequential", "summarize"]


def evaluate_sequential(task: Task, model: str, *, seed: int = 0, **params: Any) -> pd.DataFrame:
    """Per-series metric rows (task_key, task, model, window, unique_id, metric, value, ...) for all
    windows, computed here and returned (the engine's `workbench.evaluate` stores them instead).

    Parameters
    ----------
    task
        The task; its whole data is read in this process.
    model
        A registered model name; `params` are its parameters.
    seed
        The model's seed.
    """
    unit = Unit(task, ModelSpec(name=model, params=params), (), seed)
    windows = list(task.windows())
    forecasts = forecast_windows(unit, windows)
    out = score_windows(task, windows, forecasts, task.metrics, model)
    out.insert(0, "model", model)
    out.insert(0, "task", task.describe())
    out.insert(0, "task_key", task.key())
    return out


def summarize(scores: pd.DataFrame, how: str = "mean") -> pd.DataFrame:
    """One value per (model, metric), with the aggregation recorded beside it.

    Parameters
    ----------
    scores
        Per-series rows with `model`, `metric` and `value` (`evaluate_sequential`).
    how
        The aggregation over series (`workbench.metrics.aggregate`); `mean` by default.
    """
    rows = [
        {"model": m, "metric": k, "value": aggregate(g["value"].to_numpy(), how), "aggregation": how}  # type: ignore[arg-type]
        for (m, k), g in scores.groupby(["model", "metric"], sort=False)
    ]
    return pd.DataFrame(rows)
