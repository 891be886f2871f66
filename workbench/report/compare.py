"""Comparing models over many series: mean ranks, skill against a baseline, Friedman and Nemenyi.

Every function takes the results store's per-series metric rows (`task_key, dataset, subset, model,
window, unique_id, metric, value`) and one metric name. A *problem* is one (task, window, series);
models are compared only on the problems they all solved, and each output says how many that was,
so a model that skipped the hard series cannot look better for it.

Aggregations are named next to the numbers: a skill score is `1 - geometric mean of per-problem
relative errors` (model error / baseline error), which is scale-free and symmetric in ratio, and is
what M4 and Monash-style comparisons use rather than an arithmetic mean of ratios.

What is better comes from the metric (`workbench.metrics.Metric.direction`, read through
`metric_loss`), so no caller has to know it: every rank, win rate and Friedman rank here is of the
metric's loss (lower: the value, higher: minus it, target: the distance to the target, so a `coverage`
of 0.99 ranks below one of 0.95). `higher_is_better` remains for scores that `workbench.metrics` does
not register (detection metrics); for a registered metric it may be left out, and one that contradicts
the metric's direction is an error. The skill of a `target` metric is 1 - the geometric mean of
|model - target| / |baseline - target| (skill > 0: closer to the target than the baseline); of a
`higher` score, 1 - the geometric mean of baseline / model.

`which_model_where` puts these together per group of series (a metric type, a service): each model's
mean, its skill against a seasonal naive baseline with a bootstrap interval, its win rate and the
group's best model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from workbench.errors import WorkbenchError
from workbench.metrics import Direction, metric_direction, metric_loss

__all__ = [
    "PROBLEM",
    "CompareError",
    "FriedmanResult",
    "cliques",
    "complete_problems",
    "friedman",
    "mean_ranks",
    "nemenyi_cd",
    "problem_matrix",
    "seasonal_naive_baseline",
    "skill_scores",
    "which_model_where",
    "wide_friedman",
    "wide_ranks",
    "wide_skills",
    "wide_win_rates",
    "win_rates",
]

PROBLEM = ["task_key", "dataset", "subset", "window", "unique_id"]


class CompareError(WorkbenchError, KeyError):
    """Rows that cannot be compared as asked: a column, a metric or a baseline they do not have."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


def problem_matrix(metrics: pd.DataFrame, metric: str, models: list[str] | None = None) -> pd.DataFrame:
    """Problems × models of one metric, keeping only problems every model has a finite value for.

    `wide.attrs["n_left_out"]` counts the problems left out (some model's value missing, NaN or
    infinite), so every comparison built on it can say how many it could not use; `wide.attrs["metric"]`
    names the metric, so that `wide_ranks` and `wide_win_rates` know its direction without being told.

    Parameters
    ----------
    metrics
        Per-series metric rows (`metric`, `model`, `value` and the `PROBLEM` columns they have).
    metric
        The metric whose values fill the matrix.
    models
        Only these models; None: every model with `metric` rows.
    """
    rows = metrics[metrics["metric"] == metric]
    if models is not None:
        rows = rows[rows["model"].isin(models)]
    if rows.empty:
        return pd.DataFrame()
    index = [c for c in PROBLEM if c in rows]
    wide = rows.pivot_table(index=index, columns="model", values="value", aggfunc="mean", dropna=False)
    wide = complete_problems(wide)
    wide.attrs["metric"] = metric
    return wide


def complete_problems(wide: pd.DataFrame) -> pd.DataFrame:
    """The rows of a problems × models matrix where every model has a finite value. Every problem
    matrix passes through here (this module's, and the report's DuckDB one of a task,
    `workbench.report.queries.task_problem_matrix`), so both count what they leave out alike.

    Parameters
    ----------
    wide
        Problems × models; infinite values count as missing.
    """
    wide = wide.replace([np.inf, -np.inf], np.nan)
    complete = wide.notna().all(axis=1)
    kept = wide[complete].copy()
    kept.columns.name = None
    kept.attrs["n_left_out"] = int((~complete).sum())
    return kept


def _losses(wide: pd.DataFrame, metric: str | None, higher_is_better: bool | None = None) -> np.ndarray:
    """The matrix's values oriented so that smaller is better, as `metric` declares (scores that are
    not registered, such as NAB's, are negated when `higher_is_better`)."""
    name = metric if metric is not None else wide.attrs.get("metric")
    return metric_loss(name, wide.to_numpy(dtype=float), higher_is_better)


def wide_ranks(wide: pd.DataFrame, higher_is_better: bool | None = None, *, metric: str | None = None) -> pd.Series:
    """Mean rank of each model (1 = best, ties averaged) over the rows of a problem matrix, best first.

    Parameters
    ----------
    wide:
        Problems × models (`problem_matrix`, `complete_problems`).
    higher_is_better:
        Only for a metric that `workbench.metrics` does not register.
    metric:
        The metric's name, whose direction orders the models; default `wide.attrs["metric"]`
        (set by `problem_matrix`), else lower is better.
    """
    if wide.empty:
        return pd.Series(dtype=float)
    ranks = stats.rankdata(_losses(wide, metric, higher_is_better), axis=1).mean(axis=0)
    return pd.Series(ranks, index=wide.columns).sort_values()


def mean_ranks(
    metrics: pd.DataFrame, metric: str, by: list[str] | None = None, higher_is_better: bool | None = None
) -> pd.DataFrame:
    """Mean rank of each model (1 = best, ties averaged) over common problems, overall or per group;
    best as `metric` declares it (`higher_is_better` only for metrics that are not registered).

    Parameters
    ----------
    metrics
        Per-series metric rows (`metric`, `model`, `value` and the `PROBLEM` columns they have).
    metric
        The metric ranked; its direction says what is better.
    by
        Index columns of the problem matrix (`PROBLEM`, e.g. `["dataset"]`) to rank within; None: overall.
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).
    """
    metric_direction(metric, higher_is_better)  # a contradiction is an error even without rows
    wide = problem_matrix(metrics, metric)
    if wide.empty:
        return pd.DataFrame(columns=[*(by or []), "model", "mean_rank", "n_problems"])
    ranks = pd.DataFrame(
        stats.rankdata(_losses(wide, metric, higher_is_better), axis=1),
        index=wide.index,
        columns=wide.columns,
    )
    groups = [("all", ranks)] if not by else list(ranks.groupby(level=by[0] if len(by) == 1 else by))
    out = []
    for key, part in groups:
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)) if by else {}
        for model, value in part.mean().items():
            out.append({**keys, "model": model, "mean_rank": float(value), "n_problems": len(part)})
    frame = pd.DataFrame(out).sort_values([*(by or []), "mean_rank"], ignore_index=True)
    frame.attrs["n_left_out"] = wide.attrs.get("n_left_out", 0)
    return frame


def skill_scores(
    metrics: pd.DataFrame,
    metric: str,
    baseline: str = "seasonal_naive",
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """Per model: geometric mean relative error against `baseline`, skill = 1 - that, a percentile
    bootstrap interval over problems, and the win rate (share of problems with a smaller error than
    the baseline, ties counted half), over the problem matrix of `metric` in per-series metric rows.
    Problems where either error is zero are left out (their log ratio is undefined) and counted in
    `n_excluded`; problems where some model's value is undefined or missing never enter the comparison
    and are counted in `n_left_out`. The errors are the metric's losses: for a `target` metric
    (`coverage`) the distance to the target, |model - target| / |baseline - target|; for a score where
    higher is better the ratio is inverted (baseline / model); so skill > 0 always means better than
    the baseline. `higher_is_better` is for scores that `workbench.metrics` does not register.

    The bootstrap resamples problems (paired: one resample serves every model) and takes, per model,
    the mean log ratio over the resampled problems it has a ratio for; resamples are drawn as counts,
    so 100,000 problems × 1,000 resamples cost a matrix product, not a Python loop.

    Parameters
    ----------
    metrics
        Per-series metric rows (`metric`, `model`, `value` and the `PROBLEM` columns they have).
    metric
        The metric compared.
    baseline
        The model skill is relative to (`seasonal_naive` by default).
    n_boot, level, seed
        Bootstrap resamples of problems, the interval's coverage and the generator's seed.
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).

    Raises
    ------
    KeyError
        The baseline has no `metric` values.
    """
    wide = problem_matrix(metrics, metric)
    hib = higher_is_better
    return wide_skills(wide, metric, [baseline], n_boot=n_boot, level=level, seed=seed, higher_is_better=hib)


def wide_skills(
    wide: pd.DataFrame,
    metric: str,
    baselines: list[str],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """`skill_scores` over the rows of a problem matrix, against several baselines at once (rows carry
    `baseline`): one bootstrap pass serves them all, since the resamples of problems are shared.

    Parameters
    ----------
    wide:
        Problems × models of `metric` (`problem_matrix`).
    metric:
        The metric's name: its direction (`workbench.metrics.Metric.direction`) says what an error is.
    baselines:
        Columns of `wide` that skill is relative to.
    n_boot, level, seed:
        Bootstrap resamples, the interval's coverage and the generator's seed.
    higher_is_better:
        Only for a score that `workbench.metrics` does not register.
    """
    direction, target = metric_direction(metric, higher_is_better)
    missing = [b for b in baselines if wide.empty or b not in wide]
    if missing:
        raise KeyError(f"baseline {missing[0]!r} has no {metric!r} values in these results")
    pairs = [(b, m) for b in baselines for m in wide.columns if m != b]
    raw_base = np.column_stack([wide[b].to_numpy(dtype=float) for b, _ in pairs]) if pairs else np.empty((len(wide), 0))
    raw = np.column_stack([wide[m].to_numpy(dtype=float) for _, m in pairs]) if pairs else np.empty((len(wide), 0))
    # the relative error is numerator / denominator: model / baseline loss, or baseline / model for a score
    values, base = metric_loss(metric, raw, higher_is_better), metric_loss(metric, raw_base, higher_is_better)
    num, den = (raw_base, raw) if direction == "higher" else (values, base)
    usable = (num > 0) & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(usable, np.log(num / den), 0.0)
    alpha = (1 - level) / 2
    means = _bootstrap_means(log_ratio, usable, n_boot, np.random.default_rng(seed))
    better = values < base
    out = []
    for j, (baseline, model) in enumerate(pairs):
        n = int(usable[:, j].sum())
        row = {
            "model": model,
            "baseline": baseline,
            "metric": metric,
            "n_problems": n,
            "n_excluded": int((~usable[:, j]).sum()),  # an error of zero (on target): no log ratio
            "n_left_out": wide.attrs.get("n_left_out", 0),  # some model's value undefined or missing
            "win_rate": float(np.mean(better[:, j])) + 0.5 * float(np.mean(values[:, j] == base[:, j])),
        }
        if n == 0:
            out.append({**row, "rel_error": np.nan, "skill": np.nan, "ci_low": np.nan, "ci_high": np.nan})
            continue
        gmean = math.exp(log_ratio[usable[:, j], j].mean())
        boots = means[:, j][np.isfinite(means[:, j])]
        lo, hi = np.quantile(boots, [alpha, 1 - alpha])
        row.update(rel_error=gmean, skill=1 - gmean, ci_low=1 - math.exp(hi), ci_high=1 - math.exp(lo))
        out.append(row)
    frame = pd.DataFrame(out)
    frame["aggregation"] = frame["baseline"].map(
        lambda b: (
            f"1 - geometric mean of {_ratio_text(metric, b, direction, target)} per problem; {level:.0%} bootstrap CI"
        )
    )
    return frame.sort_values(["baseline", "skill"], ascending=[True, False], ignore_index=True)


def _ratio_text(metric: str, baseline: str, direction: Direction, target: float | None) -> str:
    """The relative error skill is built on, in words, for the `aggregation` column."""
    if direction == "higher":
        return f"{baseline} / model {metric}"
    if direction == "target":
        return f"|{metric} - {target:g}| / |{baseline}'s - {target:g}|"
    return f"{metric} / {baseline}"


def _bootstrap_means(x: np.ndarray, usable: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, k) means of the usable entries of each column of `x` (n, k) over resamples of its rows.

    Each resample is a vector of counts (how often each row was drawn), from one bincount of its
    draws; blocks keep the draws of a block under ~4 M integers whatever the number of rows."""
    n, k = x.shape
    out = np.full((n_boot, k), np.nan)
    if n == 0:
        return out
    weights = usable.astype(float)
    block = max(1, min(n_boot, 4_000_000 // n))
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        draws = rng.integers(0, n, (size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + size] = (counts @ x) / (counts @ weights)
    return out


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman's test over problems (blocks) × models, with the Nemenyi critical difference.

    Parameters
    ----------
    statistic
        Friedman's χ² statistic.
    p_value
        Its p-value.
    n_problems
        The common problems (blocks) tested.
    n_models
        The models compared.
    critical_difference
        Nemenyi's critical difference of mean ranks at `alpha`.
    alpha
        The significance level.
    ranks
        Mean rank per model, best first.
    """

    statistic: float
    p_value: float
    n_problems: int
    n_models: int
    critical_difference: float
    alpha: float
    ranks: pd.Series  # mean rank per model, best first

    def cliques(self) -> list[list[str]]:
        """Maximal groups of models whose mean ranks differ by less than the critical difference."""
        return cliques(self.ranks, self.critical_difference)


def nemenyi_cd(n_models: int, n_problems: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks (Demšar 2006): q_α √(k(k+1) / 6N), with q_α the
    studentized range quantile over √2.

    Parameters
    ----------
    n_models
        The number of models k.
    n_problems
        The number of problems N.
    alpha
        The significance level.
    """
    q = stats.studentized_range.ppf(1 - alpha, n_models, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(n_models * (n_models + 1) / (6 * n_problems)))


def friedman(
    metrics: pd.DataFrame, metric: str, alpha: float = 0.05, higher_is_better: bool | None = None
) -> FriedmanResult:
    """Do the models differ at all? Friedman's χ² over common problems (needs 3 models or more).

    Parameters
    ----------
    metrics
        Per-series metric rows (`metric`, `model`, `value` and the `PROBLEM` columns they have).
    metric
        The metric tested; its losses are ranked.
    alpha
        The significance level of the critical difference.
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).

    Raises
    ------
    ValueError
        Fewer than 3 models or 2 common problems.
    """
    metric_direction(metric, higher_is_better)  # a contradiction is an error before any rows are read
    return wide_friedman(problem_matrix(metrics, metric), metric, alpha, higher_is_better)


def wide_friedman(
    wide: pd.DataFrame, metric: str, alpha: float = 0.05, higher_is_better: bool | None = None
) -> FriedmanResult:
    """Friedman's χ² and Nemenyi's critical difference over the rows of a problem matrix, on the
    metric's losses: the ranks of a `target` metric are by distance to the target, which changes the
    statistic too (the distance is not monotone in the value).

    Parameters
    ----------
    wide
        Problems × models (`problem_matrix`).
    metric
        The metric's name, whose direction orients the values.
    alpha
        The significance level of the critical difference.
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).

    Raises
    ------
    ValueError
        Fewer than 3 models or 2 problems.
    """
    losses = _losses(wide, metric, higher_is_better)
    k, n = wide.shape[1], wide.shape[0]
    if k < 3:
        raise ValueError(f"Friedman's test needs at least 3 models with {metric!r} values, got {k}")
    if n < 2:
        raise ValueError(f"Friedman's test needs at least 2 common problems, got {n}")
    statistic, p_value = stats.friedmanchisquare(*losses.T)
    ranks = pd.Series(stats.rankdata(losses, axis=1).mean(axis=0), index=wide.columns).sort_values()
    return FriedmanResult(float(statistic), float(p_value), n, k, nemenyi_cd(k, n, alpha), alpha, ranks)


def cliques(ranks: pd.Series, cd: float) -> list[list[str]]:
    """Groups (of two or more) the CD diagram joins with a bar: no pair inside differs significantly.

    Parameters
    ----------
    ranks
        Mean rank per model.
    cd
        The critical difference (`nemenyi_cd`).
    """
    ordered = ranks.sort_values()
    names, values = list(ordered.index), ordered.to_numpy()
    groups: list[list[str]] = []
    last_end = -1
    for i in range(len(values)):
        j = i
        while j + 1 < len(values) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and j > last_end:
            groups.append(names[i : j + 1])
            last_end = j
    return groups


def win_rates(metrics: pd.DataFrame, metric: str, higher_is_better: bool | None = None) -> pd.DataFrame:
    """Model × model share of common problems where the row model beats the column model (ties half),
    better as `metric` declares it.

    Parameters
    ----------
    metrics
        Per-series metric rows (`metric`, `model`, `value` and the `PROBLEM` columns they have).
    metric
        The metric compared.
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).
    """
    metric_direction(metric, higher_is_better)
    return wide_win_rates(problem_matrix(metrics, metric), higher_is_better, metric=metric)


def wide_win_rates(
    wide: pd.DataFrame, higher_is_better: bool | None = None, *, metric: str | None = None
) -> pd.DataFrame:
    """`win_rates` over the rows of a problem matrix; `metric` (default `wide.attrs["metric"]`) says
    what is better, `higher_is_better` only for metrics that `workbench.metrics` does not register.

    Parameters
    ----------
    wide
        Problems × models (`problem_matrix`).
    higher_is_better
        Only for a score that `workbench.metrics` does not register (a contradiction is a `ValueError`).
    metric
        The metric's name; None: `wide.attrs["metric"]`, else lower is better.
    """
    values = _losses(wide, metric, higher_is_better)
    k = values.shape[1]
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j:
                out[i, j] = np.mean(values[:, i] < values[:, j]) + 0.5 * np.mean(values[:, i] == values[:, j])
    return pd.DataFrame(out, index=wide.columns, columns=wide.columns)


# ---- which model where ---------------------------------------------------------------------------
# the seasonal naive labels a baseline may carry, most preferred first: the workbench's own forecaster,
# then statsforecast's class; either may carry parameters (`ModelSpec.label`) and a seed suffix
_SEASONAL_NAIVE = ("seasonal_naive", "statsforecast.SeasonalNaive")
_LABEL = re.compile(r"^(?P<name>[\w.]+)(?P<params>\(.*\))?(?: \(seed -?\d+\))?$")


def seasonal_naive_baseline(models: Iterable[str]) -> str:
    """The seasonal naive model among `models`, the baseline skill is measured against by default.

    Accepts the workbench's `seasonal_naive` and statsforecast's `statsforecast.SeasonalNaive`, either
    with parameters as `ModelSpec.label` writes them (`seasonal_naive(season_length=24)`). Preference:
    `seasonal_naive` without parameters, with parameters, then `statsforecast.SeasonalNaive` likewise;
    two candidates of the first tier found (two season lengths) are ambiguous, and an error.

    Parameters
    ----------
    models:
        Model labels as stored in the `model` column of result rows.
    """
    present = sorted(set(models))
    tiers: dict[tuple[int, bool], list[str]] = {}
    for label in present:
        match = _LABEL.match(label)
        if match and match["name"] in _SEASONAL_NAIVE:
            key = (_SEASONAL_NAIVE.index(match["name"]), label != match["name"])
            tiers.setdefault(key, []).append(label)
    if not tiers:
        raise CompareError(
            f"no seasonal naive baseline ({' or '.join(_SEASONAL_NAIVE)}) among the models "
            f"{', '.join(present) or '(none)'}; pass baseline= one of them"
        )
    best = tiers[min(tiers)]
    if len(best) > 1:
        raise ValueError(f"several seasonal naive baselines: {', '.join(best)}; pass baseline= one of them")
    return best[0]


def which_model_where(
    rows: pd.DataFrame,
    metric: str,
    by: list[str],
    baseline: str | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    higher_is_better: bool | None = None,
) -> pd.DataFrame:
    """Which model to use where: per group of series (`by`), each model's mean, its skill against a
    baseline with a bootstrap interval, its win rate against the baseline, and the group's best model.

    One row per (group, model), sorted by group then skill (best first), with columns: the `by` values,
    `model`, `mean` (of the model's defined per-series values in the group), `mean_loss` (of their
    losses, `workbench.metrics.Metric.loss`: the distance to the target for `coverage`), `n_series`
    (distinct series of the model in the group), `n_values` (its rows: series × windows) and
    `n_undefined` (values NaN or infinite: counted, never silently dropped from the count),
    then over the group's common problems (a problem is one task, window and
    series that every model of the group has a finite value for; `wide_skills`): `n_problems`,
    `n_left_out`, `n_excluded`, `rel_error`, `skill`, `ci_low`, `ci_high`, `win_rate`; `best` (True on
    the group's row with the highest skill, ties and groups without a skill going to the lower mean
    loss), `baseline` and `aggregation`, which say what each number is. The baseline's own row has
    skill 0 and relative error 1 by definition, so it is the best where every other model is worse. A
    model without one defined value in a group keeps its row (no skill; `aggregation` says why) and is
    left out of the group's common problems, so it cannot empty them for the others; a group where the
    baseline has no defined value has no skill at all, and its best model is the one of lowest mean loss.

    Parameters
    ----------
    rows:
        Per-series metric rows: task_key, model, window, unique_id, metric, value, plus the `by`
        columns (constant per series, e.g. `metric_type`, `service`).
    metric:
        The metric compared; its direction (`workbench.metrics`) says what is better.
    by:
        Columns whose values form the groups ([] for one group of everything).
    baseline:
        The model skill is relative to; default `seasonal_naive_baseline` of the models in `rows`.
    n_boot, level, seed:
        Bootstrap resamples of problems, the interval's coverage and the generator's seed.
    higher_is_better:
        Only for a score that `workbench.metrics` does not register.
    """
    need = ["task_key", "model", "window", "unique_id", "metric", "value", *by]
    missing = [c for c in dict.fromkeys(need) if c not in rows.columns]
    if missing:
        raise CompareError(f"which_model_where: the rows lack column(s) {missing}; they have {list(rows.columns)}")
    metric_direction(metric, higher_is_better)
    part = rows[rows["metric"] == metric]
    if part.empty:
        known = ", ".join(sorted(rows["metric"].astype(str).unique())) or "(none)"
        raise CompareError(f"which_model_where: no {metric!r} rows; the rows hold {known}")
    models = sorted(part["model"].unique())
    baseline = seasonal_naive_baseline(models) if baseline is None else baseline
    if baseline not in models:
        raise CompareError(f"baseline {baseline!r} has no {metric!r} rows; models: {', '.join(models)}")
    value = part["value"].astype(float)
    part = part.assign(
        value=value,
        _defined=np.isfinite(value),
        _loss=metric_loss(metric, value.to_numpy(), higher_is_better),
    )
    groups = [((), part)] if not by else part.groupby(by, sort=True, dropna=False)
    out = []
    for key, group in groups:
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        out.append(_group_table(group, metric, baseline, keys, n_boot, level, seed, higher_is_better))
    frame = pd.concat(out, ignore_index=True)
    counts = ("n_series", "n_values", "n_undefined", "n_problems", "n_left_out", "n_excluded")
    frame = frame.astype({c: "int64" for c in counts})
    frame.insert(len(frame.columns) - 1, "baseline", baseline)
    return frame


_SKILL_COLUMNS = (
    "model",
    "n_problems",
    "n_left_out",
    "n_excluded",
    "rel_error",
    "skill",
    "ci_low",
    "ci_high",
    "win_rate",
)


def _group_table(
    group: pd.DataFrame,
    metric: str,
    baseline: str,
    keys: dict,
    n_boot: int,
    level: float,
    seed: int,
    higher_is_better: bool | None,
) -> pd.DataFrame:
    """`which_model_where` for one group's rows."""
    defined = group[group["_defined"]]
    stats_by_model = pd.DataFrame(
        {
            "mean": defined.groupby("model")["value"].mean(),
            "mean_loss": defined.groupby("model")["_loss"].mean(),
            "n_series": group.drop_duplicates(["model", "task_key", "unique_id"]).groupby("model").size(),
            "n_values": group.groupby("model").size(),
            "n_undefined": group.groupby("model")["_defined"].apply(lambda d: int((~d).sum())),
        }
    )
    # a model without a single defined value here (no quantiles, say) cannot be compared on any problem:
    # it keeps its row (n_undefined says why) but does not empty the others' common problems
    compared = list(stats_by_model.index[stats_by_model["n_undefined"] < stats_by_model["n_values"]])
    columns = ["task_key", "window", "unique_id", "model", "metric", "value"]
    wide = problem_matrix(group[columns], metric, compared) if baseline in compared else pd.DataFrame()
    if not wide.empty:
        skills = wide_skills(
            wide, metric, [baseline], n_boot=n_boot, level=level, seed=seed, higher_is_better=higher_is_better
        ).drop(columns=["baseline", "metric"])
        base = wide[baseline].to_numpy(dtype=float)
        if metric_direction(metric, higher_is_better)[0] != "higher":  # the denominator of every ratio
            base = metric_loss(metric, base, higher_is_better)
        base_row = {
            "model": baseline,
            "n_problems": len(wide),
            "n_excluded": int((~(base > 0)).sum()),  # a baseline error of zero: no model has a ratio there
            "n_left_out": int(wide.attrs.get("n_left_out", 0)),
            "rel_error": 1.0,
            "skill": 0.0,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "win_rate": np.nan,
            "aggregation": "the baseline: skill 0 by definition",
        }
        skills = pd.concat([skills, pd.DataFrame([base_row])], ignore_index=True)
    else:
        skills = pd.DataFrame(columns=["model"])
    n_problems = int(group[["task_key", "window", "unique_id"]].drop_duplicates().shape[0])
    why = (
        f"no defined {metric} value of {baseline} in this group: no skill"
        if baseline not in compared
        else "no problem with a defined value of every model: no skill"
    )
    skills = pd.concat(
        [
            skills,
            pd.DataFrame(
                {
                    "model": [m for m in stats_by_model.index if m not in set(skills["model"])],
                    "n_problems": 0,
                    "n_excluded": 0,
                    "n_left_out": n_problems,
                    "aggregation": why if wide.empty else "no defined value in this group: not compared",
                }
            ),
        ],
        ignore_index=True,
    )
    skills = skills.reindex(columns=[*_SKILL_COLUMNS, "aggregation"])
    table = stats_by_model.rename_axis("model").reset_index().merge(skills, on="model", how="left")
    table["aggregation"] = (
        f"mean of the defined per-series {metric} values (n_undefined counted apart); "
        + table["aggregation"].astype(str)
        + f"; win_rate: share of the {len(wide)} common problems better than {baseline} (ties half)"
    )
    order = table.assign(_nan=table["skill"].isna()).sort_values(
        ["_nan", "skill", "mean_loss", "model"], ascending=[True, False, True, True], kind="stable"
    )
    table = order.drop(columns="_nan").reset_index(drop=True)
    table.insert(len(table.columns) - 1, "best", np.arange(len(table)) == 0)
    for k, v in reversed(list(keys.items())):
        table.insert(0, k, v)
    return table
