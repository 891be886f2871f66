"""Evaluate a model on a task in this process, window by window, into per-series metric rows.

`evaluate_sequential` is the reference path: small, in memory, nothing stored. `workbench.evaluate`
(the Dask engine) maps the same unit of work over chunks of series, writes the same rows to the
results store and returns a run summary; the two names say which of the two a caller gets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.forecasters import make_forecaster
from workbench.metrics import aggregate
from workbench.scoring import score_window
from workbench.tasks import Task


def evaluate_sequential(task: Task, model: str, *, seed: int = 0, **params: Any) -> pd.DataFrame:
    """Per-series metric rows (task_key, task, model, window, unique_id, metric, value, ...) for all
    windows, computed here and returned (the engine's `workbench.evaluate` stores them instead)."""
    frames = []
    for window in task.windows():
        forecaster = make_forecaster(model, seed=seed, **params).fit(window.past)
        forecast = forecaster.predict(task.h)
        scores = score_window(task, window.past, window.truth, forecast, model)
        scores.insert(0, "window", window.index)
        frames.append(scores)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "model", model)
    out.insert(0, "task", task.describe())
    out.insert(0, "task_key", task.key())
    return out


def summarize(scores: pd.DataFrame, how: str = "mean") -> pd.DataFrame:
    """One value per (model, metric), with the aggregation recorded beside it."""
    rows = [
        {"model": m, "metric": k, "value": aggregate(g["value"].to_numpy(), how), "aggregation": how}  # type: ignore[arg-type]
        for (m, k), g in scores.groupby(["model", "metric"], sort=False)
    ]
    return pd.DataFrame(rows)
