"""Which model wins for which kind of series: the report's opening sentences and its breakdown tables.

A fleet of metrics is not one population: a model that wins on smooth latency gauges may lose to
seasonal naive on bursty request counts, and a single leaderboard row averages that away. The store
keeps per-series metadata (`workbench.store.sql.series_metrics`: `metric_type`, `service`, ...); every
metadata column that splits a task's series into a few groups gets a table from
`workbench.report.compare.which_model_where` (per group and model: mean, skill against seasonal naive
with a bootstrap interval, win rate, the best model), and each group one sentence saying which model
is best, by how much and how sure that is (whether the interval excludes 0). The sentences are
generated from those tables and nothing else, so the summary can never say more than the numbers do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.report import compare
from workbench.report.page import block, esc, prov, table

if TYPE_CHECKING:
    from workbench.report.context import ReportContext

__all__ = [
    "FIRST",
    "MAX_COLUMNS",
    "MAX_GROUPS",
    "Breakdown",
    "breakdown_section",
    "breakdown_table",
    "compute_breakdowns",
    "group_sentence",
    "split_columns",
    "summary_sentences",
]

FIRST = ("metric_type", "metric", "service")  # the columns that tell kinds of series apart, most telling first
MAX_GROUPS = 12  # a column with more values (a host name) is a list, not a breakdown
MAX_COLUMNS = 3  # breakdown columns per task and metric


@dataclass(frozen=True)
class Breakdown:
    """`which_model_where` of one task, metric and metadata column."""

    task_key: str
    task: str  # the task's title
    metric: str
    column: str
    baseline: str
    table: pd.DataFrame  # which_model_where's rows


def split_columns(rows: pd.DataFrame, columns: Sequence[str], max_groups: int = MAX_GROUPS) -> list[str]:
    """The metadata columns worth a breakdown: constant per series, with 2 to `max_groups` values,
    `FIRST` ones first (metric_type before service), then the others in their order.

    Parameters
    ----------
    rows:
        Per-series metric rows with the metadata columns (`series_metrics`).
    columns:
        The metadata columns present (`series_columns`).
    max_groups:
        A column with more distinct values is left out (one group per host says nothing general).
    """
    present = [c for c in columns if c in rows.columns]
    ordered = [c for c in FIRST if c in present] + [c for c in present if c not in FIRST]
    out = []
    per_series = rows.drop_duplicates("unique_id") if "unique_id" in rows else rows
    for column in ordered:
        values = per_series[column].dropna()
        if not 2 <= values.nunique() <= max_groups:
            continue
        if "unique_id" in rows and (rows.groupby("unique_id")[column].nunique() > 1).any():
            continue  # not a property of the series (varies along it): no group to put a series in
        out.append(column)
    return out


def _fmt(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.2f}"


def group_sentence(
    group: pd.DataFrame, column: str, value: object, labels: Mapping[str, str], level: float = 0.95
) -> str:
    """One sentence for one group of a `which_model_where` table: the best model, its skill against
    the baseline with the interval, and whether the interval excludes 0.

    Parameters
    ----------
    group:
        The group's rows (one per model; `best`, `skill`, `ci_low`, `ci_high`, `baseline`, `n_series`).
    column, value:
        The metadata column and the group's value (`metric_type`, `gauge`).
    labels:
        Model -> short label (`workbench.report.names.short_labels`).
    level:
        The intervals' coverage, as the table was computed with.
    """
    name: Callable[[str], str] = lambda m: labels.get(m, m)  # noqa: E731
    baseline = str(group["baseline"].iloc[0])
    n = int(group["n_series"].max()) if "n_series" in group and len(group) else 0
    where = f"On {value} series ({column}, {n:,} per model)"
    best = group[group["best"].astype(bool)]
    if best.empty or not np.isfinite(best["skill"].astype(float)).any():
        return f"{where} no model could be compared with {name(baseline)} (no common problems with a defined value)."
    row = best.iloc[0]
    pct = f"{level:.0%} CI"
    if row["model"] == baseline:
        others = group[(group["model"] != baseline) & np.isfinite(group["skill"].astype(float))]
        if others.empty:
            return f"{where} {name(baseline)} is the only model compared."
        runner = others.sort_values("skill", ascending=False).iloc[0]
        return (
            f"{where} {name(baseline)} is best: no model beats it; the closest, {name(runner['model'])}, has skill "
            f"{_fmt(runner['skill'])} ({pct} {_fmt(runner['ci_low'])} to {_fmt(runner['ci_high'])})."
        )
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    sure = (
        "the interval excludes 0, so it is reliably better"
        if np.isfinite(lo) and lo > 0
        else "but the interval includes 0, so it is not reliably better"
    )
    return (
        f"{where} {name(row['model'])} wins (skill {_fmt(row['skill'])} vs {name(baseline)}, "
        f"{pct} {_fmt(lo)} to {_fmt(hi)}, win rate {_fmt(row['win_rate'])}); {sure}."
    )


def breakdown_table(b: Breakdown, labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per group: the best model, its mean and skill with the interval, and the runner-up."""
    rows = []
    for value, group in b.table.groupby(b.column, sort=True, dropna=False):
        best = group[group["best"].astype(bool)]
        ranked = group[np.isfinite(group["skill"].astype(float))].sort_values("skill", ascending=False)
        runner = ranked[~ranked["model"].isin(best["model"])].head(1)
        row = {b.column: value, "series": int(group["n_series"].max())}
        if len(best):
            top = best.iloc[0]
            row.update(
                {
                    "best": labels.get(top["model"], top["model"]),
                    f"mean {b.metric}": top["mean"],
                    "skill": top["skill"],
                    "ci_low": top["ci_low"],
                    "ci_high": top["ci_high"],
                    "CI excludes 0": bool(np.isfinite(top["ci_low"]) and top["ci_low"] > 0),
                    "win_rate": top["win_rate"],
                }
            )
        if len(runner):
            row["runner-up"] = labels.get(runner["model"].iloc[0], runner["model"].iloc[0])
            row["runner-up skill"] = runner["skill"].iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)


def summary_sentences(ctx: ReportContext) -> list[tuple[Breakdown, list[str]]]:
    """Per breakdown of the report (`ReportContext.breakdowns`), its sentences, one per group."""
    out = []
    for b in ctx.breakdowns():
        lines = [
            group_sentence(group, b.column, value, ctx.labels)
            for value, group in b.table.groupby(b.column, sort=True, dropna=False)
        ]
        out.append((b, lines))
    return out


def breakdown_section(ctx: ReportContext) -> str | None:
    """HTML of the "which model where" section: per task, metric and column, the sentences and the table
    of the best model per group; the full table (every model) folded under it."""
    if ctx.breakdown_note:
        return f"<p class='note'>{esc(ctx.breakdown_note)}</p>"
    summaries = summary_sentences(ctx)
    if not summaries:
        return None
    parts = []
    for b, lines in summaries:
        full = b.table.copy()
        full["model"] = full["model"].map(lambda m: ctx.labels.get(m, m))
        keep = [b.column, "model", "mean", "skill", "ci_low", "ci_high", "win_rate", "n_series", "n_undefined", "best"]
        body = (
            f"<h3>{esc(b.task)}: {esc(b.metric)} by {esc(b.column)}</h3>"
            + "<ul>"
            + "".join(f"<li>{esc(line)}</li>" for line in lines)
            + "</ul>"
            + table(breakdown_table(b, ctx.labels))
            + "<details><summary>every model per group</summary>"
            + table(full[[c for c in keep if c in full]], scroll=True)
            + "</details>"
        )
        parts.append(block(body, task=b.task_key, metric=b.metric))
    return "\n".join(parts) + prov(
        "workbench.report.compare.which_model_where over the per-series metric rows joined with the series' "
        "metadata (workbench.store.sql.series_metrics); skill = 1 - geometric mean of the per-problem ratio to "
        f"the baseline, {ctx.n_boot} bootstrap resamples of problems (seed {ctx.seed}); best = highest skill."
    )


def compute_breakdowns(
    rows: pd.DataFrame,
    columns: Sequence[str],
    metrics: Sequence[str],
    titles: Mapping[str, str],
    *,
    n_boot: int,
    seed: int,
    baseline: str | None = None,
) -> tuple[list[Breakdown], str]:
    """Every breakdown of a store's per-series rows: per task, metric (in order) and split column;
    and a note where there is none (no metadata, no seasonal naive baseline), for the page to say why.

    Parameters
    ----------
    rows:
        `series_metrics` rows (task_key, model, window, unique_id, metric, value and metadata columns).
    columns:
        The metadata columns (`series_columns`).
    metrics:
        The metrics to break down, in the report's order.
    titles:
        task_key -> the task's title.
    n_boot, seed:
        The bootstrap's resamples and seed.
    baseline:
        The model skill is relative to; default the seasonal naive model of each task.
    """
    if rows.empty:
        return [], "No per-series metric rows: nothing to break down."
    if not columns:
        return [], (
            "The series carry no metadata columns (a user card's metadata_cols, e.g. metric_type or service), "
            "so the results are not broken down by kind of series."
        )
    out: list[Breakdown] = []
    reasons = []
    for task_key, part in rows.groupby("task_key", sort=False):
        title = titles.get(str(task_key), str(task_key))
        split = split_columns(part, columns)[:MAX_COLUMNS]
        if not split:
            reasons.append(f"{title}: no metadata column splits its series into 2 to {MAX_GROUPS} groups")
            continue
        try:
            base = baseline or compare.seasonal_naive_baseline(part["model"].unique())
        except (KeyError, ValueError) as exc:
            reasons.append(f"{title}: {str(exc).splitlines()[0]}")
            continue
        for metric in metrics:
            here = part[part["metric"] == metric]
            if here.empty or base not in set(here["model"]):
                continue
            for column in split:
                frame = compare.which_model_where(here, metric, [column], base, n_boot=n_boot, seed=seed)
                out.append(Breakdown(str(task_key), title, metric, column, base, frame))
    note = "" if out else ("No breakdown: " + "; ".join(reasons) + "." if reasons else "No breakdown.")
    return out, note
