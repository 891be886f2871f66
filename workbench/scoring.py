"""Score one window of forecasts: per-series values of every task metric.

`score_window` is the one scoring path, used by the sequential `workbench.evaluation.evaluate` and by
the Dask engine's units alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data import Panel
from workbench.errors import DataFormatError
from workbench.metrics import get_metric
from workbench.tasks import Task


def _aligned(truth: Panel, forecast: pd.DataFrame, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t_ids, t_ds = truth.df["unique_id"].to_numpy(), truth.df["ds"].to_numpy()
    if (
        len(forecast) == len(truth.df)
        and np.array_equal(forecast["ds"].to_numpy(), t_ds)
        and np.array_equal(forecast["unique_id"].to_numpy(), t_ids)
        and not forecast["y_hat"].isna().any()
    ):
        # the common case: forecasts come in the truth's own row order, no join needed
        y, _, ids = truth.to_numpy(pad="right")
        return ids, y, truth.scatter(forecast["y_hat"].to_numpy(), pad="right")
    merged = truth.df[["unique_id", "ds", "y"]].merge(forecast, on=["unique_id", "ds"], how="left")
    missing = merged["y_hat"].isna()
    if missing.any():
        row = merged.loc[missing].iloc[0]
        raise DataFormatError(f"{model}: no forecast for series {row['unique_id']!r} at ds={row['ds']}")
    # merged keeps the truth's sorted order, so both arrays share the same rows
    y, _, ids = Panel(df=merged[["unique_id", "ds", "y"]]).to_numpy(pad="right")
    f, _, _ = Panel(df=merged[["unique_id", "ds"]].assign(y=merged["y_hat"])).to_numpy(pad="right")
    return ids, y, f


def score_window(task: Task, past: Panel, truth: Panel, forecast: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per-series values of every task metric; scales come from `past` only."""
    ids, y, f = _aligned(truth, forecast, model)
    values, _, past_ids = past.to_numpy(pad="left")
    past_rows = values[pd.Index(past_ids).get_indexer(ids)]
    frames = []
    for name in task.metrics:
        v = get_metric(name).fn(y, f, y_past=past_rows, season_length=task.m)
        frames.append(pd.DataFrame({"unique_id": ids, "metric": name, "value": v}))
    return pd.concat(frames, ignore_index=True)
