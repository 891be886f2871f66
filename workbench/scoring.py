"""Score one window of forecasts: per-series values of every task metric.

`score_window` is the one scoring path: the engine's score units (`workbench.engine.worker`) call
it on stored forecasts, one metric per unit, and the sequential path runs those same functions.
A forecast is a long frame `unique_id, ds, y_hat` plus, when the model was asked for quantiles
(`quantiles=[0.1, ..., 0.9]` among its parameters), one column per level named `q{level:g}`
(`q0.1`, `q0.025`, `q0.5`). Those columns, aligned to the truth's rows, are what the probabilistic
metrics score.

Each row is (`unique_id`, `metric`, `value`, `quantiles`, `point_as_quantiles`, `numerator`, `denominator`):

- `quantiles`: the levels the value used, as a string (`"0.1,0.2,...,0.9"`); empty (NA) for point
  metrics. `crps`, `wql`, `scaled_ql` and `quantile_loss` use every level the forecast has, so their
  values depend on what the model was asked for; interval metrics use the two bounding levels only.
- `point_as_quantiles`: True where a probabilistic value scored a point forecast as its quantiles
  (below); False for every other row (point metrics, and real quantile forecasts).
- `numerator`, `denominator`: for `crps` and `wql`, the per-series parts (mean over levels of the
  summed quantile loss, and sum |y|), so that `workbench.metrics.pooled_ratio` over any set of rows
  gives the CRPS that GIFT-Eval and BOOM report for a whole task; for `mase_fev`, the sum and the
  number of the finite scaled errors (fev's pooled MASE); NA for other metrics.

Interval metrics score the central 95% interval (`msis`, `coverage`: quantiles 0.025 and 0.975, the
M4 and GIFT-Eval convention), or another level named in the metric (`msis@80`: 0.1 and 0.9). A level
is never guessed from the quantiles a model happens to give: values at different levels do not compare.

Point forecasts and probabilistic metrics
-----------------------------------------
A forecast with no quantile column at all (a point model: `theta`, `seasonal_naive`, a darts
regression model, TTM) is scored for a probabilistic metric as the degenerate distribution at its
point forecast: every quantile equals `y_hat`. That is how the peers put point models on their
probabilistic leaderboards (fev's baselines copy the point forecast into each of the task's
`quantile_levels` columns; a gluonts point forecaster's one-sample forecast, which GIFT-Eval scores,
has every quantile at that sample), and it is what a point forecast claims: no uncertainty. So a grid
of point and probabilistic models scores every model for every metric, and the point models' values
are what they are: an honest, usually poor CRPS, a zero interval width. The levels are those a
quantile forecast would be scored at (`point_quantile_levels`): the two bounding levels of an interval
metric's central interval; else the task's `quantile_levels` when it declares them; else the nine
deciles 0.1, ..., 0.9. Those rows say so (`point_as_quantiles` True) and name the levels (`quantiles`).

With the workbench's QL (twice the pinball loss, `workbench.metrics`), the QL of a point forecast f at
level q is 2q (y - f) where y > f and 2(1 - q)(f - y) where y <= f; averaged over levels L with mean
q_bar = mean(L) it is |y - f| + (2 q_bar - 1)(y - f). Per series, over the observed steps:

- `crps` = `wql` = (sum |y - f| + (2 q_bar - 1) sum (y - f)) / sum |y|;
- `scaled_ql` = (mean |y - f| + (2 q_bar - 1) mean (y - f)) / (seasonal naive MAE of the past);
- `quantile_loss` = half the mean of the same terms.

For levels symmetric about 0.5 (q_bar = 0.5: the deciles, any interval's two levels) the bias term
vanishes: `crps` = `wql` = `wape`, `scaled_ql` = `mase`, `quantile_loss` = `mae` / 2, exactly. An
interval of zero width gives `msis` = (2 / a) `mase` with a = 1 - level (40 `mase` at 95%), and
`coverage` = the share of actuals exactly equal to the forecast (typically 0).

A forecast that has quantile columns but lacks levels a metric needs (a model asked for 0.1 and 0.9,
scored for `coverage` at 95%) is not a point forecast: scoring its point as the missing levels would mix
two conventions in one value, so it stays a `MissingQuantilesError` naming the model, the metric and
the levels, with the fix that fits what the model can do.
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

__all__ = [
    "DECILES",
    "MissingQuantilesError",
    "format_levels",
    "point_quantile_levels",
    "quantile_columns",
    "score_window",
]

# the levels a point forecast is scored at when neither the metric nor the task names any
DECILES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

_Q_COLUMN = re.compile(r"^q(\d*\.?\d+(?:[eE][-+]?\d+)?)$")


class MissingQuantilesError(WorkbenchError, ValueError):
    """A probabilistic metric needs quantile levels that a quantile forecast lacks (a forecast
    without any quantile column is a point forecast, scored as its own quantiles instead)."""


def quantile_columns(forecast: pd.DataFrame) -> dict[float, str]:
    """{level: column} of a forecast's quantile columns (`q0.1`, ...), sorted by level."""
    found = {}
    for col in forecast.columns:
        match = _Q_COLUMN.match(str(col))
        if match and 0 < float(match.group(1)) < 1:
            found[float(match.group(1))] = str(col)
    return dict(sorted(found.items()))


def format_levels(levels: Sequence[float]) -> str:
    """Levels as stored in the `quantiles` column and quoted in messages: `0.1,0.5,0.9`."""
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


def point_quantile_levels(task: Task, metric: Metric) -> tuple[float, ...]:
    """The levels at which a point forecast is scored for probabilistic `metric`: those a quantile
    forecast would be scored at, so that a point model's value sits in the same column as the others'.

    Parameters
    ----------
    task
        The task: its `quantile_levels`, when declared, are the levels of `crps`, `wql`, `scaled_ql`
        and `quantile_loss`.
    metric
        A probabilistic metric. An interval metric (`msis`, `coverage@80`) reads the two levels
        bounding its central interval; any other reads the task's levels, else the nine deciles.
    """
    if not metric.probabilistic:
        raise ValueError(f"metric {metric.name!r} is a point metric: it reads no quantile levels")
    if metric.level is not None:
        return interval_levels(metric.level)
    return tuple(task.quantile_levels) if task.quantile_levels else DECILES


def _intervals_given(levels: Sequence[float]) -> list[float]:
    """Central interval levels (in percent) whose two bounding quantiles are among `levels`, widest first."""
    lows = [lo for lo in levels if lo < 0.5 and np.isclose(levels, 1 - lo).any()]
    return [round(100 * (1 - 2 * lo), 6) for lo in sorted(lows)]


def _check_quantiles(metrics: list[Metric], levels: list[float], model: str) -> None:
    """Fail before any work when an interval metric needs levels a quantile forecast lacks, naming the
    model, the metric, the levels, and the fix by what the model can do: a model that forecasts any
    level asked of it is given the missing ones; one with fixed levels is scored at an interval it has."""
    for m in metrics:
        if m.level is None:
            continue
        needed = interval_levels(m.level)
        absent = [q for q in needed if not np.isclose(levels, q).any()]
        if absent:
            base = m.name.split("@")[0]
            given = _intervals_given(levels)
            fixed = (
                f"score it at an interval the forecast has ({', '.join(repr(f'{base}@{p:g}') for p in given)}), "
                f"or leave {m.name!r} out for this model"
                if given
                else f"leave {m.name!r} out for this model: its forecast has no central interval (no pair of "
                "levels q and 1 - q)"
            )
            raise MissingQuantilesError(
                f"{model}: metric {m.name!r} scores the central {100 * m.level:g}% interval and needs quantiles "
                f"{format_levels(needed)}; its forecast has {format_levels(levels)}. If the model forecasts the "
                f"levels it is asked for, add {format_levels(absent)} to the model's quantile levels; if its "
                f"levels are fixed, {fixed}."
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
            f"lacks {format_levels(absent)} (it has {format_levels(levels)}). If the model forecasts the levels "
            f"it is asked for, add {format_levels(absent)} to the model's quantile levels; if its levels are "
            "fixed, declare task quantile_levels among those it gives."
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
        Without any quantile column it is a point forecast, scored for probabilistic metrics as its own
        quantiles (`point_quantile_levels`; the rows' `point_as_quantiles` is True).
    model
        The model's label, for error messages.
    metrics
        The metric names to score instead of the task's (a score unit scores one).

    Raises
    ------
    MissingQuantilesError
        A quantile forecast lacks levels a metric needs (an interval's bounds, the task's levels).
    DataFormatError
        A truth row has no forecast.
    """
    metrics = [get_metric(name) for name in (task.metrics if metrics is None else metrics)]
    available = quantile_columns(forecast) if any(m.probabilistic for m in metrics) else {}
    levels = list(available)
    point = not available  # no quantile column at all: a point forecast
    if not point:
        _check_quantiles(metrics, levels, model)
    ids, y, f, q = _aligned(truth, forecast, model, list(available.values()))
    values, _, past_ids = past.to_numpy(pad="left")
    past_rows = values[pd.Index(past_ids).get_indexer(ids)]
    frames = []
    for metric in metrics:
        kwargs = {"y_past": past_rows, "season_length": task.m}
        m_levels, m_q = levels, q
        as_point = metric.probabilistic and point
        if as_point:
            m_levels = list(point_quantile_levels(task, metric))
            m_q = np.repeat(f[..., None], len(m_levels), axis=-1)
        elif metric.probabilistic and metric.level is None and task.quantile_levels:
            m_levels, m_q = _task_levels(task, levels, q, model, metric.name)
        if metric.probabilistic:
            kwargs.update(quantiles=np.asarray(m_levels), q_pred=m_q)
        v = metric.fn(y, f, **kwargs)
        num = den = np.full(len(ids), np.nan)
        if metric.parts is not None:
            num, den = metric.parts(y, f, **kwargs)
        used = format_levels(metric.levels_used(m_levels)) if metric.probabilistic else None
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": ids,
                    "metric": metric.name,
                    "value": v,
                    "quantiles": pd.Series([used] * len(ids), dtype="string"),
                    "point_as_quantiles": np.full(len(ids), as_point, dtype=bool),
                    "numerator": num,
                    "denominator": den,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
