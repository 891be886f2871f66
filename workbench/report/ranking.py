"""The report's BOOM / GIFT-Eval style ranking: published models beside the store's own.

Shown where the store holds published results (`workbench results import gift-eval`) or its own
MASE and CRPS rows with a seasonal-naive baseline: per task, MASE and CRPS divided by the
baseline's, the shifted geometric mean over tasks, the mean rank by CRPS (`workbench.ranking`), the
tasks set apart unscaled, the undefined values counted, and the breakdowns by task property.
The rank metric's direction comes from `workbench.metrics` (`ranking_spec`), which `workbench.ranking`
sits below and cannot read itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from workbench.errors import UnknownNameError, WorkbenchError
from workbench.metrics import get_metric
from workbench.ranking import RankingError, RankingSpec, ranking_tables
from workbench.report.page import esc, prov, table
from workbench.results_import import combined_frame

__all__ = ["BASELINES", "ranking_section", "ranking_spec"]

BASELINES = ("seasonal_naive", "seasonalnaive")  # the workbench's name, and BOOM's / GIFT-Eval's folder


def ranking_spec(**fields: Any) -> RankingSpec:
    """A `RankingSpec` whose `rank_direction` and `rank_target` are those `workbench.metrics` declares
    for its `rank_metric` (`coverage`: target 0.95), so that no caller states what is better.

    A registered rank metric refuses a `rank_direction` (or `rank_target`) passed that differs from
    its own; an unregistered one (a published table's own name) keeps what is passed (lower by default).

    Parameters
    ----------
    **fields:
        `RankingSpec`'s fields (`rank_metric`, `baseline`, `scaled_metrics`, ...).
    """
    rank_metric = fields.get("rank_metric", RankingSpec.rank_metric)
    try:
        metric = get_metric(rank_metric)
    except UnknownNameError:
        return RankingSpec(**fields)
    for name, declared in (("rank_direction", metric.direction), ("rank_target", metric.target)):
        if name in fields and fields[name] != declared:
            raise RankingError(
                f"rank metric {rank_metric!r} is registered with {name}={declared!r}; {fields[name]!r} contradicts "
                "it (leave it out)"
            )
    return RankingSpec(**{**fields, "rank_direction": metric.direction, "rank_target": metric.target})


def ranking_section(store, names: Callable[[list[str]], list[str]] | None = None) -> str | None:
    """HTML of the ranking, or None when the store has no baseline to scale by; `names` maps model
    labels to the names the report shows (its short labels), so this table reads like the others."""
    frame = combined_frame(store)
    if frame.empty:
        return None
    baseline = next((b for b in BASELINES if b in set(frame["model"])), None)
    published = "source" in frame and (frame["source"] != "store").any()
    if baseline is None or (not published and "crps" not in set(frame["metric"])):
        return None
    spec = ranking_spec(baseline=baseline)
    try:
        tables = ranking_tables(frame, spec)
    except WorkbenchError as exc:
        return f"<p>No ranking: {esc(str(exc).splitlines()[0])}</p>"
    if names is not None:
        for key, part in tables.items():
            if len(part) and part.index.name == "model":
                tables[key] = part.set_axis(names(list(part.index)), axis=0).rename_axis("model")
            elif len(part) and "model" in part.columns:
                tables[key] = part.assign(model=names(list(part["model"])))
    sources = ", ".join(sorted(frame["source"].dropna().astype(str).unique()))
    parts = [
        f"<p>{frame['task'].nunique():,} tasks, {frame['model'].nunique()} models (sources: {esc(sources)}), "
        f"scaled by {esc(baseline)}; shifted geometric mean (epsilon {spec.epsilon:g}) over tasks, mean rank by "
        f"{esc(spec.rank_metric.upper())}.</p>",
        "<h3>Scaled</h3>" + table(_sorted(tables["scaled"]).reset_index(), scroll=True),
    ]
    if len(tables.get("unscaled", ())):
        parts.append("<h3>Set apart, unscaled</h3>" + table(_sorted(tables["unscaled"]).reset_index(), scroll=True))
    undefined = tables["undefined"]
    if len(undefined) and (undefined[["n_undefined", "n_unscalable"]].to_numpy().sum() > 0):
        parts.append("<h3>Undefined values</h3>" + table(undefined, scroll=True))
    for name, frame_by in tables.items():
        if name.startswith("by_") and len(frame_by):
            parts.append(f"<h3>By {esc(name[3:])}</h3>" + table(frame_by.reset_index(), scroll=True))
    return "\n".join(parts) + prov(
        "workbench.ranking over workbench.results_import.combined_frame: published rows (units of kind "
        "published, each with its file's sha256) and the store's own leaderboard rows (task = its description)."
    )


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("rank", "mean_rank", "crps", "mase"):
        if column in frame.columns:
            return frame.sort_values(column)
    return frame
