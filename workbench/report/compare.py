"""Comparing models over many series: mean ranks, skill against a baseline, Friedman and Nemenyi.

Every function takes the results store's per-series metric rows (`task_key, dataset, subset, model,
window, unique_id, metric, value`) and one metric name. A *problem* is one (task, window, series);
models are compared only on the problems they all solved, and each output says how many that was,
so a model that skipped the hard series cannot look better for it.

Aggregations are named next to the numbers: a skill score is `1 - geometric mean of per-problem
relative errors` (model error / baseline error), which is scale-free and symmetric in ratio, and is
what M4 and Monash-style comparisons use rather than an arithmetic mean of ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "PROBLEM",
    "FriedmanResult",
    "cliques",
    "complete_problems",
    "friedman",
    "mean_ranks",
    "nemenyi_cd",
    "problem_matrix",
    "skill_scores",
    "wide_friedman",
    "wide_ranks",
    "wide_skills",
    "wide_win_rates",
    "win_rates",
]

PROBLEM = ["task_key", "dataset", "subset", "window", "unique_id"]


def problem_matrix(metrics: pd.DataFrame, metric: str, models: list[str] | None = None) -> pd.DataFrame:
    """Problems × models of one metric, keeping only problems every model has a finite value for.

    `wide.attrs["n_left_out"]` counts the problems left out (some model's value missing, NaN or
    infinite), so every comparison built on it can say how many it could not use."""
    rows = metrics[metrics["metric"] == metric]
    if models is not None:
        rows = rows[rows["model"].isin(models)]
    if rows.empty:
        return pd.DataFrame()
    index = [c for c in PROBLEM if c in rows]
    wide = rows.pivot_table(index=index, columns="model", values="value", aggfunc="mean", dropna=False)
    return complete_problems(wide)


def complete_problems(wide: pd.DataFrame) -> pd.DataFrame:
    """The rows of a problems × models matrix where every model has a finite value. Every problem
    matrix passes through here (this module's, and the report's DuckDB one of a task,
    `workbench.report.queries.task_problem_matrix`), so both count what they leave out alike."""
    wide = wide.replace([np.inf, -np.inf], np.nan)
    complete = wide.notna().all(axis=1)
    kept = wide[complete].copy()
    kept.columns.name = None
    kept.attrs["n_left_out"] = int((~complete).sum())
    return kept


def _losses(wide: pd.DataFrame, higher_is_better: bool) -> np.ndarray:
    """Values oriented so that smaller is better (scores such as NAB's are negated)."""
    values = wide.to_numpy()
    return -values if higher_is_better else values


def wide_ranks(wide: pd.DataFrame, higher_is_better: bool = False) -> pd.Series:
    """Mean rank of each model (1 = best, ties averaged) over the rows of a problem matrix, best first."""
    if wide.empty:
        return pd.Series(dtype=float)
    ranks = stats.rankdata(_losses(wide, higher_is_better), axis=1).mean(axis=0)
    return pd.Series(ranks, index=wide.columns).sort_values()


def mean_ranks(
    metrics: pd.DataFrame, metric: str, by: list[str] | None = None, higher_is_better: bool = False
) -> pd.DataFrame:
    """Mean rank of each model (1 = best, ties averaged) over common problems, overall or per group."""
    wide = problem_matrix(metrics, metric)
    if wide.empty:
        return pd.DataFrame(columns=[*(by or []), "model", "mean_rank", "n_problems"])
    ranks = pd.DataFrame(
        stats.rankdata(_losses(wide, higher_is_better), axis=1), index=wide.index, columns=wide.columns
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
    higher_is_better: bool = False,
) -> pd.DataFrame:
    """Per model: geometric mean relative error against `baseline`, skill = 1 - that, a percentile
    bootstrap interval over problems, and the win rate (share of problems with a smaller error than
    the baseline, ties counted half), over the problem matrix of `metric` in per-series metric rows.
    Problems where either error is zero are left out (their log ratio is undefined) and counted in
    `n_excluded`; problems where some model's value is undefined or missing never enter the comparison
    and are counted in `n_left_out`. For a score where higher is better the ratio is inverted
    (baseline / model), so skill > 0 still means better than the baseline.

    The bootstrap resamples problems (paired: one resample serves every model) and takes, per model,
    the mean log ratio over the resampled problems it has a ratio for; resamples are drawn as counts,
    so 100,000 problems × 1,000 resamples cost a matrix product, not a Python loop."""
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
    higher_is_better: bool = False,
) -> pd.DataFrame:
    """`skill_scores` over the rows of a problem matrix, against several baselines at once (rows carry
    `baseline`): one bootstrap pass serves them all, since the resamples of problems are shared."""
    missing = [b for b in baselines if wide.empty or b not in wide]
    if missing:
        raise KeyError(f"baseline {missing[0]!r} has no {metric!r} values in these results")
    pairs = [(b, m) for b in baselines for m in wide.columns if m != b]
    base = np.column_stack([wide[b].to_numpy() for b, _ in pairs]) if pairs else np.empty((len(wide), 0))
    values = np.column_stack([wide[m].to_numpy() for _, m in pairs]) if pairs else np.empty((len(wide), 0))
    usable = (values > 0) & (base > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(usable, np.log(values / base), 0.0) * (-1 if higher_is_better else 1)
    alpha = (1 - level) / 2
    means = _bootstrap_means(log_ratio, usable, n_boot, np.random.default_rng(seed))
    better = (values > base) if higher_is_better else (values < base)
    out = []
    for j, (baseline, model) in enumerate(pairs):
        n = int(usable[:, j].sum())
        row = {
            "model": model,
            "baseline": baseline,
            "metric": metric,
            "n_problems": n,
            "n_excluded": int((~usable[:, j]).sum()),  # an error of zero: no log ratio
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
        lambda b: f"1 - geometric mean of {metric} / {b} per problem; {level:.0%} bootstrap CI"
    )
    return frame.sort_values(["baseline", "skill"], ascending=[True, False], ignore_index=True)


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
    """Friedman's test over problems (blocks) × models, with the Nemenyi critical difference."""

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
    studentized range quantile over √2."""
    q = stats.studentized_range.ppf(1 - alpha, n_models, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(n_models * (n_models + 1) / (6 * n_problems)))


def friedman(metrics: pd.DataFrame, metric: str, alpha: float = 0.05, higher_is_better: bool = False) -> FriedmanResult:
    """Do the models differ at all? Friedman's χ² over common problems (needs 3 models or more)."""
    return wide_friedman(problem_matrix(metrics, metric), metric, alpha, higher_is_better)


def wide_friedman(
    wide: pd.DataFrame, metric: str, alpha: float = 0.05, higher_is_better: bool = False
) -> FriedmanResult:
    """Friedman's χ² and Nemenyi's critical difference over the rows of a problem matrix."""
    k, n = wide.shape[1], wide.shape[0]
    if k < 3:
        raise ValueError(f"Friedman's test needs at least 3 models with {metric!r} values, got {k}")
    if n < 2:
        raise ValueError(f"Friedman's test needs at least 2 common problems, got {n}")
    statistic, p_value = stats.friedmanchisquare(*(wide[c].to_numpy() for c in wide.columns))
    losses = _losses(wide, higher_is_better)
    ranks = pd.Series(stats.rankdata(losses, axis=1).mean(axis=0), index=wide.columns).sort_values()
    return FriedmanResult(float(statistic), float(p_value), n, k, nemenyi_cd(k, n, alpha), alpha, ranks)


def cliques(ranks: pd.Series, cd: float) -> list[list[str]]:
    """Groups (of two or more) the CD diagram joins with a bar: no pair inside differs significantly."""
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


def win_rates(metrics: pd.DataFrame, metric: str, higher_is_better: bool = False) -> pd.DataFrame:
    """Model × model share of common problems where the row model beats the column model (ties half)."""
    return wide_win_rates(problem_matrix(metrics, metric), higher_is_better)


def wide_win_rates(wide: pd.DataFrame, higher_is_better: bool = False) -> pd.DataFrame:
    """`win_rates` over the rows of a problem matrix."""
    values = _losses(wide, higher_is_better)
    k = values.shape[1]
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j:
                out[i, j] = np.mean(values[:, i] < values[:, j]) + 0.5 * np.mean(values[:, i] == values[:, j])
    return pd.DataFrame(out, index=wide.columns, columns=wide.columns)
