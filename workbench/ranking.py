"""BOOM / GIFT-Eval style ranking of models over many tasks: scaled metrics, shifted geometric means, mean ranks.

The statistics follow BOOM's leaderboard code (DataDog/toto@46bd92ad `boom/utils/leaderboard.py` and
`breakdown.py`), which GIFT-Eval's leaderboard shares:

1. Tasks are split in two sets. *Scaled* tasks have each model's metric divided by the baseline's
   (seasonal naive) on the same task; *unscaled* tasks are the ones set apart beforehand (BOOM's
   low-variance datasets) plus those where the baseline's `zero_metric` (MASE) is 0, where a ratio
   would be infinite. BOOM sets apart whole datasets (every term of a dataset whose seasonal naive
   MASE is 0 on any term), so the unit of setting apart is a column (`unscaled_by`).
2. Undefined values (NaN, inf) of a model and metric are, as BOOM does, replaced by that model's
   mean of the metric over the set *before* scaling (`undefined="model_mean"`), or left out
   (`undefined="drop"`). Either way they are counted and reported (`n_undefined`), never dropped
   silently; a scaled ratio that is not finite (a baseline value of 0) is counted too
   (`n_unscalable`) and left out of the mean.
3. Per model, each metric is aggregated over the set's tasks by the shifted geometric mean
   `exp(mean(log(x + eps))) - eps` with eps = 1e-5 (it tolerates zeros, unlike a plain geometric
   mean), and tasks are ranked by CRPS: the mean rank is the model's average position (1 = best).
   What is best is the rank metric's direction (`RankingSpec.rank_direction`, lower by default as for
   CRPS; `higher` for a score, `target` with `rank_target` for a metric best at a value, such as a
   coverage of 0.95, ranked by its distance to the target). This module sits below the metric
   registry and cannot read it: `workbench.report.ranking.ranking_spec` fills the direction in from
   `workbench.metrics` for a registered metric.
   BOOM ranks with `rank(method="first")` over the models concatenated in its results folder's
   listing order, so tied models get distinct ranks in that order: `model_order` says the order
   (default: sorted names with the baseline last, as BOOM moves it last), `ties` may instead be any
   other pandas rank method (`average`, `min`).
4. Breakdowns apply step 3 to the scaled set grouped by a task property (domain, type, term); a
   property holding several values (BOOM's domain lists) counts the task in each of its groups.

Everything works on one long frame: `task, model, metric, value` plus task-property columns
(constant per task), so it ranks imported published results (`workbench.results_import`) and the
workbench's own leaderboards alike. The workbench's metric names are `mase`, `crps`, `mae`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

EPSILON = 1e-5
PROPERTIES = ("domain", "type", "term", "frequency")
_NEED = ("task", "model", "metric", "value")
Undefined = Literal["model_mean", "drop"]
RankDirection = Literal["lower", "higher", "target"]


class RankingError(WorkbenchError):
    """A frame that cannot be ranked: missing columns, no baseline, a (task, model, metric) twice."""


def shifted_gmean(values: Iterable[float] | np.ndarray, epsilon: float = EPSILON) -> float:
    """`exp(mean(log(x + epsilon))) - epsilon`: a geometric mean that stays defined at 0.

    Every value counts (a NaN gives NaN): callers decide what undefined values become first."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan")
    return float(np.exp(np.log(x + epsilon).sum() / x.size) - epsilon)


@dataclass(frozen=True)
class RankingSpec:
    """How a frame is ranked; the defaults are BOOM's, with the workbench's metric and model names."""

    baseline: str = "seasonal_naive"
    scaled_metrics: tuple[str, ...] = ("mase", "crps")
    unscaled_metrics: tuple[str, ...] = ("mae", "crps")
    rank_metric: str = "crps"
    zero_metric: str = "mase"
    unscaled_tasks: frozenset[str] = field(default_factory=frozenset)
    unscaled_by: str = "task"
    undefined: Undefined = "model_mean"
    ties: str = "first"
    model_order: tuple[str, ...] | None = None
    epsilon: float = EPSILON
    rank_direction: RankDirection = "lower"
    rank_target: float | None = None

    def __post_init__(self) -> None:
        if self.rank_direction not in ("lower", "higher", "target"):
            raise RankingError(f"rank_direction {self.rank_direction!r} is not one of lower, higher, target")
        if (self.rank_direction == "target") != (self.rank_target is not None):
            raise RankingError(
                f"rank_target is given exactly when rank_direction is 'target' (rank_direction "
                f"{self.rank_direction!r}, rank_target {self.rank_target!r})"
            )
        if self.rank_direction == "target" and self.rank_metric in self.scaled_metrics:
            raise RankingError(
                f"rank metric {self.rank_metric!r} is best at {self.rank_target:g}, so its ratio to the baseline's "
                "means nothing: list it among unscaled_metrics, not scaled_metrics"
            )

    def rank_loss(self, values: pd.Series) -> pd.Series:
        """The rank metric's values mapped so that smaller is better (higher: -v, target: |v - target|)."""
        if self.rank_direction == "higher":
            return -values
        if self.rank_direction == "target":  # rounded: equal distances either side of the target tie
            return (values - self.rank_target).abs().round(12)
        return values


def check_frame(frame: pd.DataFrame) -> None:
    """Refuse a frame without the long columns or with a (task, model, metric) stored twice."""
    missing = [c for c in _NEED if c not in frame.columns]
    if missing:
        raise RankingError(f"ranking frame lacks column(s) {missing}; it has {list(frame.columns)}")
    dup = frame.duplicated(["task", "model", "metric"], keep=False)
    if dup.any():
        first = frame.loc[dup, ["task", "model", "metric"]].iloc[0].to_dict()
        raise RankingError(f"ranking frame: {int(dup.sum())} rows repeat a (task, model, metric), e.g. {first}")


def split_tasks(frame: pd.DataFrame, spec: RankingSpec) -> tuple[set[str], set[str]]:
    """(scaled tasks, unscaled tasks): the unscaled ones are those whose `unscaled_by` value is in
    `spec.unscaled_tasks` or has a baseline `zero_metric` of exactly 0 on some task."""
    check_frame(frame)
    by = spec.unscaled_by
    if by not in frame.columns:
        raise RankingError(f"ranking frame lacks the column {by!r} that tasks are set apart by")
    base = frame[(frame["model"] == spec.baseline) & (frame["metric"] == spec.zero_metric)]
    if base.empty:
        raise RankingError(
            f"no {spec.zero_metric!r} rows of the baseline {spec.baseline!r}; models: {sorted(frame['model'].unique())}"
        )
    zero = set(base.loc[base["value"] == 0, by].astype(str))
    apart = zero | set(spec.unscaled_tasks)
    groups = frame[["task"]].assign(_by=frame[by].astype(str)).drop_duplicates()
    unscaled = set(groups.loc[groups["_by"].isin(apart), "task"])
    return set(frame["task"]) - unscaled, unscaled


def _fill(frame: pd.DataFrame, undefined: Undefined) -> pd.DataFrame:
    """Mark undefined values; replace them with the model's mean over the frame (BOOM) or drop them."""
    value = frame["value"].astype(float)
    bad = ~np.isfinite(value)
    out = frame.assign(value=value.where(~bad), undefined=bad)
    if undefined == "drop":
        return out
    means = out.groupby(["model", "metric"])["value"].transform("mean")
    return out.assign(value=out["value"].fillna(means))


def _scale(frame: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Divide each value by the baseline's on the same task and metric; `unscalable` marks a ratio
    that is not finite (no baseline row, or a baseline of 0)."""
    base = frame.loc[frame["model"] == baseline, ["task", "metric", "value"]].rename(columns={"value": "_base"})
    out = frame.merge(base, on=["task", "metric"], how="left")
    ratio = out["value"] / out["_base"]
    bad = ~np.isfinite(ratio) & out["value"].notna()
    return out.drop(columns="_base").assign(value=ratio.where(~bad), unscalable=bad)


def prepare(frame: pd.DataFrame, spec: RankingSpec = RankingSpec()) -> dict[str, pd.DataFrame]:
    """The two sets as long frames, ready to aggregate: `scaled` (values divided by the baseline's)
    and `unscaled`, each with boolean `undefined` and `unscaled_ratio` columns."""
    scaled_tasks, unscaled_tasks = split_tasks(frame, spec)
    scaled = frame[frame["task"].isin(scaled_tasks) & frame["metric"].isin(spec.scaled_metrics)]
    rank = spec.rank_metric
    unscaled = frame[frame["task"].isin(unscaled_tasks) & frame["metric"].isin((*spec.unscaled_metrics, rank))]
    scaled = _scale(_fill(scaled, spec.undefined), spec.baseline)
    unscaled = _fill(unscaled, spec.undefined).assign(unscalable=False)
    return {"scaled": scaled, "unscaled": unscaled}


def mean_rank(part: pd.DataFrame, spec: RankingSpec = RankingSpec()) -> pd.Series:
    """Each model's mean rank by `spec.rank_metric` over the tasks of `part` (1 = best: the lowest
    value, the highest for `rank_direction="higher"`, the closest to `rank_target` for "target").

    With `ties="first"` tied models get consecutive ranks in `spec.model_order` (default: sorted
    names, the baseline last), as BOOM's `rank(method="first")` over its concatenated frames does."""
    rows = part[(part["metric"] == spec.rank_metric) & part["value"].notna()]
    models = sorted(part["model"].unique())
    order = list(spec.model_order) if spec.model_order else [m for m in models if m != spec.baseline]
    if not spec.model_order and spec.baseline in models:
        order.append(spec.baseline)
    unknown = sorted(set(models) - set(order))
    if unknown:
        raise RankingError(f"model_order lacks the model(s) {unknown}")
    position = {m: i for i, m in enumerate(order)}
    rows = rows.assign(_pos=rows["model"].map(position), _loss=spec.rank_loss(rows["value"].astype(float)))
    rows = rows.sort_values(["_pos"], kind="stable")
    ranks = rows.groupby("task")["_loss"].rank(method=spec.ties, ascending=True)
    return ranks.groupby(rows["model"]).mean().rename("rank")


def aggregate(part: pd.DataFrame, metrics: Sequence[str], spec: RankingSpec = RankingSpec()) -> pd.DataFrame:
    """One row per model: the shifted geometric mean of each metric over the defined values, the
    mean rank, the number of tasks, and the undefined values counted per metric."""
    table = {}
    for metric in metrics:
        rows = part[part["metric"] == metric]
        if rows.empty:
            continue
        grouped = rows.groupby("model")
        table[metric] = grouped["value"].agg(lambda v: shifted_gmean(v.dropna(), spec.epsilon))
        table[f"n_undefined_{metric}"] = grouped["undefined"].sum().astype("int64")
        if rows["unscalable"].any():
            table[f"n_unscalable_{metric}"] = grouped["unscalable"].sum().astype("int64")
    out = pd.DataFrame(table)
    out["rank"] = mean_rank(part, spec)
    out["n_tasks"] = part.groupby("model")["task"].nunique()
    out.index.name = "model"
    return out.sort_values("rank", kind="stable")


def leaderboards(
    frame: pd.DataFrame, spec: RankingSpec = RankingSpec(), parts: dict[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """BOOM's leaderboard in its two parts: `scaled` (scaled metrics, rank) and `unscaled`; `parts`
    is `prepare(frame, spec)` when the caller has it already."""
    parts = prepare(frame, spec) if parts is None else parts
    return {
        "scaled": aggregate(parts["scaled"], spec.scaled_metrics, spec),
        "unscaled": aggregate(parts["unscaled"], (*spec.unscaled_metrics,), spec),
    }


def _as_list(value: object) -> list:
    """A property's groups: a list as it is, a Python list literal parsed (BOOM writes `['Database']`),
    a missing value as the group `(missing)`, anything else as one group."""
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return [value]
        return list(parsed) if isinstance(parsed, list | tuple) else [value]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ["(missing)"]
    return [value]


def breakdown(part: pd.DataFrame, by: str, metrics: Sequence[str], spec: RankingSpec = RankingSpec()) -> pd.DataFrame:
    """Shifted geometric mean per (group of property `by`, model, metric), tidy, with n_tasks and
    n_undefined; tasks without the property fall in `(missing)`."""
    if by not in part.columns:
        raise RankingError(f"cannot break down by {by!r}: the frame has no such column")
    rows = part[part["metric"].isin(metrics)]
    groups = rows[["task", by]].drop_duplicates("task")
    groups = groups.assign(group=groups[by].map(_as_list)).explode("group")[["task", "group"]]
    rows = rows.drop(columns=[by]).merge(groups, on="task")
    grouped = rows.groupby(["group", "model", "metric"])
    out = grouped.agg(
        value=("value", lambda v: shifted_gmean(v.dropna(), spec.epsilon)),
        n_tasks=("task", "nunique"),
        n_undefined=("undefined", "sum"),
        n_unscalable=("unscalable", "sum"),
    ).reset_index()
    return out.assign(by=by)[["by", "group", "model", "metric", "value", "n_tasks", "n_undefined", "n_unscalable"]]


def ranking_tables(
    frame: pd.DataFrame, spec: RankingSpec = RankingSpec(), by: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Every table of the ranking: `scaled` and `unscaled` leaderboards (one row per model), `undefined`
    (the counts, tidy: set, model, metric, n_undefined, n_unscalable) and `by_<property>` breakdowns of
    the scaled set for each property column present (default: domain, type, term, frequency)."""
    parts = prepare(frame, spec)
    tables = leaderboards(frame, spec, parts)
    counts = []
    for name, part in parts.items():
        c = part.groupby(["model", "metric"])[["undefined", "unscalable"]].sum().astype("int64").reset_index()
        counts.append(c.rename(columns={"undefined": "n_undefined", "unscalable": "n_unscalable"}).assign(set=name))
    tables["undefined"] = pd.concat(counts, ignore_index=True)[
        ["set", "model", "metric", "n_undefined", "n_unscalable"]
    ]
    for prop in by if by is not None else [p for p in PROPERTIES if p in frame.columns]:
        tables[f"by_{prop}"] = breakdown(parts["scaled"], prop, spec.scaled_metrics, spec)
    return tables


__all__ = [
    "EPSILON",
    "RankDirection",
    "RankingError",
    "RankingSpec",
    "aggregate",
    "breakdown",
    "leaderboards",
    "mean_rank",
    "prepare",
    "ranking_tables",
    "shifted_gmean",
    "split_tasks",
]
