"""Score one window of forecasts: per-series values of every task metric.

`score_window` is the one scoring path: the engine's score units (`workbench.engine.worker`) call
it on stored forecasts, one metric per unit, and the sequential path runs those same functions.
A forecast is a long frame `unique_id, ds, y_hat` plus, when the model was asked for quantiles
(`quantiles=[0.1, ..., 0.9]` among its parameters), one column per level named `q{level:g}`
(`q0.1`, `q0.025`, `q0.5`). Those columns, aligned to the truth's rows, are what the probabilistic
metrics score.

Each row is (`unique_id`, `metric`, `value`, `quantiles`, `numerator`, `denominator`):

- `quantiles`: the levels the value used, as a string (`"0.1,0.2,...,0.9"`); empty (NA) for point
  metrics. `crps`, `wql`, `scaled_ql` and `quantile_loss` use every level the forecast has, so their
  values depend on what the model was asked for; interval metrics use the two bounding levels only.
- `numerator`, `denominator`: for `crps` and `wql`, the per-series parts (mean over levels of the
  summed quantile loss, and sum |y|), so that `workbench.metrics.pooled_ratio` over any set of rows
  gives the CRPS that GIFT-Eval and BOOM report for a whole task; NA for other metrics.

Interval metrics score the central 95% interval (`msis`, `coverage`: quantiles 0.025 and 0.975, the
M4 and GIFT-Eval convention), or another level named in the metric (`msis@80`: 0.1 and 0.9). A level
is never guessed from the quantiles a model happens to give: values at different levels do not compare.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.data import Panel
from workbench.errors import DataFormatError, WorkbenchError
from workbench.metrics import Metric, get_metric, interval_levels
from workbench.tasks import Task

__all__ = ["MissingQuantilesError", "format_levels", "quantile_columns", "score_window"]

_Q_COLUMN = re.compile(r"^q(\d*\.?\d+(?:[eE][-+]?\d+)?)$")


class MissingQuantilesError(WorkbenchError, ValueError):
    """A probabilistic metric was asked of a forecast without (enough) quantiles."""


def quantile_columns(forecast: pd.DataFrame) -> dict[float, str]:
    """{level: column} of a forecast's quantile columns (`q0.1`, ...), sorted by level."""
    found = {}
    for col in forecast.columns:
        match = _Q_COLUMN.match(str(col))
        if match and 0 < float(match.group(1)) < 1:
            found[float(match.group(1))] = str(col)
    return dict(sorted(found.items()))


def format_levels(levels) -> str:
    return ",".join(f"{q:g}" for q in levels)


def _aligned(
    truth: Panel, forecast: pd.DataFrame, model: str, q_cols: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, y, y_hat, q_pred) as (n,), (n, h), (n, h), (n, h, len(q_cols)) right-padded arrays."""
    q_cols = q_cols or []
    t_ids, t_ds = truth.df["unique_id"].to_numpy(), truth.df["ds"].to_numpy()
    if (
        len(forecast) == len(truth.df)
        and np.array_equal(forecast["ds"].to_numpy(), t_ds)
        and np.array_equal(forecast["unique_id"].to_numpy(), t_ids)
        and not forecast["y_hat"].isna().any()
    ):
        # the common case: forecasts come in the truth's own row order, no join needed
        rows, frame = truth, forecast
    else:
        cols = ["unique_id", "ds", "y_hat", *q_cols]
        frame = truth.df[["unique_id", "ds", "y"]].merge(forecast[cols], on=["unique_id", "ds"], how="left")
        missing = frame["y_hat"].isna()
        if missing.any():
            row = frame.loc[missing].iloc[0]
            raise DataFormatError(f"{model}: no forecast for series {row['unique_id']!r} at ds={row['ds']}")
        # the merge keeps the truth's sorted order, so every array shares the same rows
        rows = Panel(df=frame[["unique_id", "ds", "y"]])
    y, _, ids = rows.to_numpy(pad="right")
    f = rows.scatter(frame["y_hat"].to_numpy(), pad="right")
    q = np.stack([rows.scatter(frame[c].to_numpy(), pad="right") for c in q_cols], axis=-1) if q_cols else None
    if q is None:
        q = np.empty((*y.shape, 0))
    return ids, y, f, q


def _check_quantiles(metrics: list[Metric], levels: list[float], model: str) -> None:
    """Fail before any work when a probabilistic metric cannot be scored, naming model and metric."""
    probabilistic = [m.name for m in metrics if m.probabilistic]
    if probabilistic and not levels:
        raise MissingQuantilesError(
            f"{model}: metric(s) {', '.join(map(repr, probabilistic))} score quantile forecasts, but its "
            "forecast has no quantile columns (q0.1, ...). Ask the model for them with the parameter "
            "quantiles=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] (add 0.025 and 0.975 for msis and "
            "coverage at 95%)."
        )
    for m in metrics:
        if m.level is None:
            continue
        needed = interval_levels(m.level)
        absent = [q for q in needed if not np.isclose(levels, q).any()]
        if absent:
            raise MissingQuantilesError(
                f"{model}: metric {m.name!r} scores the central {m.level:.0%} interval and needs quantiles "
                f"{format_levels(needed)}; its forecast has {format_levels(levels)}. Add "
                f"{format_levels(absent)} to the model's quantiles, or name the metric at a level the "
                f"forecast has (e.g. '{m.name.split('@')[0]}@80' uses 0.1 and 0.9)."
            )


def _task_levels(
    task: Task, levels: list[float], q: np.ndarray, model: str, metric: str
) -> tuple[list[float], np.ndarray]:
    """The task's declared quantile levels out of the forecast's (all must be there)."""
    wanted = list(task.quantile_levels or ())
    index = [int(np.flatnonzero(np.isclose(levels, w))[0]) for w in wanted if np.isclose(levels, w).any()]
    if len(index) != len(wanted):
        absent = [w for w in wanted if not np.isclose(levels, w).any()]
        raise MissingQuantilesError(
            f"{model}: metric {metric!r} scores the task's quantile levels {format_levels(wanted)}; its forecast "
            f"lacks {format_levels(absent)} (it has {format_levels(levels)})"
        )
    return [levels[i] for i in index], q[..., index]


def score_window(
    task: Task,
    past: Panel,
    truth: Panel,
    forecast: pd.DataFrame,
    model: str,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-series values of every task metric (or of `metrics`); scales come from `past` only.

    Parameters
    ----------
    task
        The task: season length and quantile levels, and the metrics when `metrics` is None.
    past, truth
        The window's past (scales) and truth, any subset of the task's series.
    forecast
        `unique_id, ds, y_hat` and the model's quantile columns (`q0.1`, ...); other columns are ignored.
    model
        The model's label, for error messages.
    metrics
        The metric names to score instead of the task's (a score unit scores one).
    """
    metrics = [get_metric(name) for name in (task.metrics if metrics is None else metrics)]
    available = quantile_columns(forecast) if any(m.probabilistic for m in metrics) else {}
    levels = list(available)
    _check_quantiles(metrics, levels, model)
    ids, y, f, q = _aligned(truth, forecast, model, list(available.values()))
    values, _, past_ids = past.to_numpy(pad="left")
    past_rows = values[pd.Index(past_ids).get_indexer(ids)]
    frames = []
    for metric in metrics:
        kwargs = {"y_past": past_rows, "season_length": task.m}
        m_levels, m_q = levels, q
        if metric.probabilistic and metric.level is None and task.quantile_levels:
            m_levels, m_q = _task_levels(task, levels, q, model, metric.name)
        if metric.probabilistic:
            kwargs.update(quantiles=np.asarray(m_levels), q_pred=m_q)
        v = metric.fn(y, f, **kwargs)
        num = den = np.full(len(ids), np.nan)
        if metric.parts is not None:
            num, den = metric.parts(y, m_q, m_levels)
        used = format_levels(metric.levels_used(m_levels)) if metric.probabilistic else None
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": ids,
                    "metric": metric.name,
                    "value": v,
                    "quantiles": pd.Series([used] * len(ids), dtype="string"),
                    "numerator": num,
                    "denominator": den,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
