"""The sections of the report: one function each, registered in `SECTIONS` (the page's order).

A section is `fn(ctx: ReportContext) -> str | None`: the HTML body of the section, or None to leave
it out (e.g. no detection results). To add one, write the function (here or in its own module,
e.g. `workbench/report/joint.py`) and add a `Section(anchor, heading, fn)` line to `SECTIONS`, or call
`register(Section(...), before="provenance")` from code that extends the report. Parts of a
section that belong to one task or metric go in `page.block(body, task=task_key, metric=name)`, so
the filters at the top of the page show and hide them; full error texts go to `ctx.detail(where,
text)`, which the provenance section lists, and the section shows one line (`reasons.one_line`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import __version__
from workbench.joint import DATASET
from workbench.papers.contract import KNOWN
from workbench.papers.plots import claimed_vs_reproduced, status_table
from workbench.report import compare, figures, queries
from workbench.report.breakdown import breakdown_section, summary_sentences
from workbench.report.context import MAX_TASK_FIGURES, ReportContext, leakage_column
from workbench.report.data import detections_with_provenance, runs_table, units_table
from workbench.report.deploy import deploy_section
from workbench.report.joint import joint_section
from workbench.report.names import claim_method, display_name, model_legend
from workbench.report.page import badges, block, esc, prov, table
from workbench.report.ranking import ranking_section
from workbench.report.reasons import category, details, one_line

__all__ = [
    "EXCLUDED",
    "MAX_PLOTTED_MODELS",
    "MAX_UNITS_LISTED",
    "SECTIONS",
    "Section",
    "detection",
    "forecasts",
    "joint",
    "leaderboard",
    "overview",
    "paper_counts",
    "paper_sentence",
    "papers",
    "provenance",
    "ranking",
    "ranking_notes",
    "register",
    "skill",
    "statistics",
    "summary",
    "which_model_where",
]

EXCLUDED = (
    "n_excluded: problems left out because the model's or the baseline's error is zero (no log ratio); "
    "n_left_out: problems where some model's value is undefined (e.g. a zero MASE scale) or missing."
)
MAX_UNITS_LISTED = 200  # units listed one by one in the provenance section (all are counted)
MAX_PLOTTED_MODELS = 6  # models drawn per forecast plot (the best by mean rank on the primary metric)


@dataclass(frozen=True)
class Section:
    anchor: str
    heading: str
    render: Callable[[ReportContext], str | None]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _names(models) -> list[str]:
    return [display_name(str(m)) for m in models]


# ---- summary: the opening sentences --------------------------------------------------------------
def summary(ctx: ReportContext) -> str | None:
    """Which model wins where, in sentences, before any table (`workbench.report.breakdown`)."""
    if not len(ctx.facts):
        return None
    found = summary_sentences(ctx)
    if not found:
        return f"<p class='note'>{esc(ctx.breakdown_note)}</p>" if ctx.breakdown_note else None
    several = len({b.task_key for b, _ in found}) > 1
    parts = []
    for b, lines in found:
        where = f"{b.task}, " if several else ""
        items = "".join(f"<li>{esc(line)}</li>" for line in lines)
        parts.append(f"<p><b>{esc(where)}{esc(b.metric)} by {esc(b.column)}</b></p><ul class='summary'>{items}</ul>")
    return "\n".join(parts) + prov(
        "the sentences restate the 'Which model where' tables below: skill against the seasonal naive baseline "
        "with a 95% bootstrap interval; 'reliably better' = the interval excludes 0."
    )


def which_model_where(ctx: ReportContext) -> str | None:
    if not len(ctx.facts):
        return None
    return breakdown_section(ctx)


# ---- overview ------------------------------------------------------------------------------------
def paper_counts(frame: pd.DataFrame) -> dict[str, int]:
    status = frame["status"].astype(str)
    known = (status == "mismatch") & frame["note"].astype(str).str.startswith(KNOWN)
    return {
        "match": int((status == "match").sum()),
        "mismatch": int(((status == "mismatch") & ~known).sum()),
        "known": int(known.sum()),
        "unavailable": int((status == "unavailable").sum()),
    }


def paper_sentence(paper: str, frame: pd.DataFrame) -> str:
    """`M4: 84 of 84 available cells match; 108 unavailable (72 not run, 36 files not in the mirror)`."""
    c = paper_counts(frame)
    available = c["match"] + c["mismatch"] + c["known"]
    text = f"{paper.upper() if len(paper) <= 4 else paper}: {c['match']} of {available} available cells match"
    if c["mismatch"]:
        text += f", {c['mismatch']} mismatch"
    if c["known"]:
        text += f", {c['known']} known discrepanc{'y' if c['known'] == 1 else 'ies'}"
    if c["unavailable"]:
        reasons = frame.loc[frame["status"] == "unavailable", "note"].map(lambda n: category(one_line(n)))
        why = ", ".join(f"{n} {r}" for r, n in reasons.value_counts().items()) if reasons.nunique() > 1 else ""
        text += f"; {c['unavailable']} unavailable ({why or reasons.iloc[0]})"
    return text


def overview(ctx: ReportContext) -> str:
    records = ctx.records
    kinds = records["kind"].value_counts().to_dict() if "kind" in records else {}
    facts = ctx.facts
    parts = []
    if len(facts):
        models = sorted({m for m in ctx.board["model"]}) if len(ctx.board) else []
        tasks = ", ".join(esc(t) for t in facts["task"])
        tasks = ", ".join(esc(ctx.task_name(k)) for k in facts["task_key"])
        parts.append(
            f"<p>Forecasting: {_plural(len(models), 'model')} ({esc(', '.join(ctx.names(models)))}) evaluated on "
            f"{_plural(len(facts), 'task')} ({tasks}), {int(facts['n_series'].sum()):,} series in all, "
            f"metrics {esc(', '.join(ctx.metrics))}. Models are compared within a task only: no number is "
            "averaged across tasks.</p>"
        )
        legend = pd.DataFrame(model_legend(models), columns=["label", "model", "parameters"])
        parts.append(
            "<details><summary>Model labels and their full parameters</summary>"
            + table(legend)
            + "<p class='prov'>A local checkpoint shows as its folder name and the first 8 hex digits of the "
            "sha256 of its weight and config files.</p></details>"
        )
    else:
        parts.append("<p>No forecast metric rows in this store.</p>")
    det = kinds.get("detection", 0)
    if det:
        parts.append(f"<p>Anomaly detection: {_plural(det, 'unit')} (scoreboards below).</p>")
    reports = ctx.paper_reports()
    if reports:
        items = "".join(f"<li>{esc(paper_sentence(p, f))} {badges(paper_counts(f))}</li>" for p, f, _ in reports)
        parts.append(f"<p>Papers reproduced:</p><ul>{items}</ul>")
    kinds_text = ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items()))
    n_runs = len(ctx.store.runs())
    status = records["status"].value_counts().to_dict() if "status" in records else {}
    failed = sum(n for s, n in status.items() if s != "ok")
    parts.append(
        f"<p class='prov'>Results store <code>{esc(ctx.store.root)}</code>: {_plural(len(records), 'unit')} "
        f"({esc(kinds_text)}) from {_plural(n_runs, 'run')}"
        + (f", <span class='mismatch'>{_plural(failed, 'failed unit')}</span> (see Provenance)" if failed else "")
        + f". Generated {esc(pd.Timestamp.now('UTC').isoformat(timespec='seconds'))} "
        f"by workbench {esc(__version__)}.</p>"
    )
    board = ctx.board
    if len(board) and "n_duplicates" in board and (board["n_duplicates"] > 0).any():
        dup = board[board["n_duplicates"] > 0]
        parts.append(
            f"<p class='mismatch'>{int(dup['n_duplicates'].sum())} metric rows are stored more than once "
            f"({esc(', '.join(sorted(set(dup['task'] + ' × ' + dup['model']))))}); their copies are "
            "averaged into one value here. Rerun with one chunk size per store.</p>"
        )
    return "\n".join(parts)


# ---- leaderboard ---------------------------------------------------------------------------------
def leaderboard(ctx: ReportContext) -> str | None:
    if not len(ctx.facts) or ctx.board.empty:
        return None
    leak = leakage_column(ctx.store)
    parts = []
    for metric in ctx.metrics:  # the mean rank over tasks, one table per metric
        ranks = {}
        for task_key in ctx.tasks():
            wide = ctx.wide(task_key, metric)
            if not wide.empty:
                ranks[ctx.task_name(task_key)] = compare.wide_ranks(wide, ctx.hib(metric), metric=metric)
        if len(ranks) > 1:
            frame = pd.DataFrame(ranks)
            # over tasks only for models on every task: ranks among other model sets do not compare
            frame.insert(0, "mean rank over tasks", frame.mean(axis=1).where(frame.notna().all(axis=1)))
            frame = frame.sort_values(["mean rank over tasks", frame.columns[1]], na_position="last")
            frame.index = ctx.names(frame.index)
            body = f"<h3>All tasks: mean rank on {esc(metric)}</h3>" + table(frame.rename_axis("model").reset_index())
            body += prov(
                "per task: the mean rank over the problems (window, series) every model solved (1 = best, ties "
                "averaged); mean rank over tasks = the average of those, for the models run on every task (blank: not "
                "run on that task)."
            )
            parts.append(block(body, metric=metric))
    for task_key in ctx.tasks():
        rows = ctx.board[ctx.board["task_key"] == task_key]
        for metric in ctx.metrics:
            here = rows[rows["metric"] == metric]
            if here.empty:
                continue
            wide = ctx.wide(task_key, metric)
            ranks = compare.wide_ranks(wide, ctx.hib(metric), metric=metric).rename("mean rank")
            # a point model's probabilistic score (its forecast as every quantile) and failed units say so
            shown = ["value", "n_series", "n_windows", "n_undefined", "n_units"]
            shown += [c for c in ("point_as_quantiles", "n_failed_units") if c in here and here[c].any()]
            frame = here.set_index("model")[shown]
            frame = frame.rename(columns={"value": metric}).join(ranks, how="left")
            frame.insert(0, "mean rank", frame.pop("mean rank"))
            if leak is not None:
                part = leak[leak["task_key"] == task_key].astype({"leakage": str, "corpus_entry": str})
                # units that disagree keep every answer: one cell lists them
                part = part.groupby("model")[["leakage", "corpus_entry"]].agg(lambda v: " / ".join(dict.fromkeys(v)))
                frame = frame.join(part, how="left")
            frame = frame.sort_values(["mean rank"], na_position="last")
            frame.index = ctx.names(frame.index)
            n_problems = len(wide)
            body = (
                f"<h3>{esc(ctx.task_name(task_key))}: {esc(metric)}</h3>"
                + table(frame.rename_axis("model").reset_index())
                + prov(
                    f"{metric}: mean of the defined per-series values (n_undefined counted, not averaged); mean "
                    f"rank over the {n_problems:,} problems every model solved ({wide.attrs.get('n_left_out', 0):,} "
                    "left out: some model's value undefined or missing); n_units = stored units behind the row; "
                    "point_as_quantiles: a point model scored with its forecast as every quantile (as fev and "
                    "GIFT-Eval score point models); n_failed_units: units of the row that failed (no values)."
                    + ("" if leak is not None else " Leakage column: not available here (no workbench.leakage).")
                )
            )
            parts.append(block(body, task=task_key, metric=metric))
    return "\n".join(parts)


# ---- skill ---------------------------------------------------------------------------------------
def skill(ctx: ReportContext) -> str | None:
    if not len(ctx.facts):
        return None
    parts = []
    cols = ["model", "skill", "ci_low", "ci_high", "rel_error", "win_rate", "n_problems", "n_excluded", "n_left_out"]
    for task_key in ctx.tasks()[:MAX_TASK_FIGURES]:
        for metric in ctx.metrics:
            wide = ctx.wide(task_key, metric)
            present = [b for b in ctx.baselines if b in wide.columns]
            heading = f"<h3>{esc(ctx.task_name(task_key))}: {esc(metric)}</h3>"
            if wide.empty:
                continue
            if not present:
                note = f"no skill scores: none of the baselines ({', '.join(_names(ctx.baselines))}) ran on this task"
                parts.append(block(heading + f"<p class='note'>{esc(note)}.</p>", task=task_key, metric=metric))
                continue
            every = compare.wide_skills(
                wide, metric, present, n_boot=ctx.n_boot, seed=ctx.seed, higher_is_better=ctx.hib(metric)
            )
            for baseline in present:
                frame = every[every["baseline"] == baseline].reset_index(drop=True)
                frame["model"] = ctx.names(frame["model"])
                title = f"Skill against {ctx.names([baseline])[0]} on {metric} (1 - geometric mean relative error)"
                body = (
                    heading.replace("</h3>", f" against {esc(ctx.names([baseline])[0])}</h3>")
                    + ctx.page.figure(figures.skill_figure(frame, title=title), "skill")
                    + table(frame[cols])
                    + prov(
                        f"{frame['aggregation'].iloc[0]}; {ctx.n_boot} resamples of problems (shared by the "
                        f"baselines), seed {ctx.seed}. " + EXCLUDED
                    )
                )
                parts.append(block(body, task=task_key, metric=metric))
    return "\n".join(parts) + _more_tasks(ctx)


def _more_tasks(ctx: ReportContext) -> str:
    rest = ctx.tasks()[MAX_TASK_FIGURES:]
    if not rest:
        return ""
    return f"<p class='note'>{len(rest)} more task(s) without figures: {esc(', '.join(map(ctx.task_name, rest)))}.</p>"


# ---- statistics ----------------------------------------------------------------------------------
def statistics(ctx: ReportContext) -> str | None:
    if not len(ctx.facts):
        return None
    parts = []
    for task_key in ctx.tasks()[:MAX_TASK_FIGURES]:
        for metric in ctx.metrics:
            wide = ctx.wide(task_key, metric)
            if wide.empty:
                continue
            heading = f"<h3>{esc(ctx.task_name(task_key))}: {esc(metric)}</h3>"
            named = wide.rename(columns=lambda m: ctx.names([m])[0])
            try:
                result = compare.wide_friedman(named, metric, higher_is_better=ctx.hib(metric))
            except ValueError as exc:
                parts.append(block(heading + f"<p class='note'>{esc(exc)}.</p>", task=task_key, metric=metric))
                continue
            cliques = "; ".join(", ".join(c) for c in result.cliques()) or "none"
            body = (
                heading
                + f"<p>Friedman χ² = {result.statistic:.3f}, p = {result.p_value:.3g} over {result.n_problems:,} "
                f"problems and {result.n_models} models. Nemenyi critical difference at α = {result.alpha}: "
                f"{result.critical_difference:.3f}. Groups not significantly different: {esc(cliques)}.</p>"
                + ctx.page.figure(figures.cd_diagram(result), "cd-diagram")
                + ctx.page.figure(
                    figures.win_rate_heatmap(compare.wide_win_rates(named, ctx.hib(metric), metric=metric)),
                    "win-rates",
                )
            )
            parts.append(block(body, task=task_key, metric=metric))
    stat_prov = prov("per problem of each task; scipy.stats.friedmanchisquare and studentized_range (Demšar 2006).")
    return "\n".join(parts) + _more_tasks(ctx) + stat_prov


# ---- forecasts -----------------------------------------------------------------------------------
def forecasts(ctx: ReportContext) -> str | None:
    if not len(ctx.facts):
        return None
    with_forecasts = queries.forecast_tasks(ctx.con)
    if not with_forecasts:
        return "<p class='note'>No stored forecasts (evaluate with save_forecasts=True to drill down).</p>"
    resolved = queries.resolved_tasks(ctx.records)
    parts = []
    with_forecasts = sorted(with_forecasts, key=ctx.task_name)
    for task_key in with_forecasts[:MAX_TASK_FIGURES]:
        drill = queries.drilldown(ctx.con, task_key, resolved.get(task_key), ctx.drill_series, ctx.seed)
        stored, why = drill.forecasts, drill.why
        n_all = stored["model"].nunique()
        plotted = _plotted_models(ctx, task_key, list(dict.fromkeys(stored["model"])))
        stored = stored[stored["model"].isin(plotted)].copy()
        stored["model"] = ctx.names(stored["model"])
        if why:
            ctx.detail(f"drill-down of {ctx.task_name(task_key)}", why)
        title = f"{ctx.task_name(task_key)}, window {drill.window}"
        n_past = max(3 * int(stored.groupby(["unique_id", "model"]).size().max()), 24)
        figure = figures.forecast_drilldown(
            drill.past, drill.truth, stored, title=title, n_past=n_past, anomalies=ctx.anomaly_labels
        )
        band = figures.interval_columns(stored.dropna(axis=1, how="all").columns)
        body = (
            f"<h3>{esc(ctx.task_name(task_key))}</h3>"
            f"<p>Showing {len(drill.ids)} of {drill.n_series:,} series, sampled with seed {ctx.seed}"
            " (the menu picks one)."
            + (
                f" Shaded: the {band[2]:.0%} central prediction interval ({esc(band[0])} to {esc(band[1])}) of "
                "the models that stored quantiles."
                if band
                else ""
            )
            + (
                f" Marked x: labelled anomalies ({len(ctx.anomaly_labels):,} in the labels file)."
                if ctx.anomaly_labels is not None
                else ""
            )
            + (f" The {len(plotted)} best of {n_all} models by mean rank are drawn." if n_all > len(plotted) else "")
            + (f" <span class='note'>Past and truth not drawn: {esc(one_line(why))}.</span>" if why else "")
            + "</p>"
            + ctx.page.figure(figure, "forecasts")
        )
        parts.append(block(body, task=task_key))
    return "\n".join(parts) + prov("stored forecasts (forecasts table); past and truth re-cut from the task itself.")


def _plotted_models(ctx: ReportContext, task_key: str, models: list[str]) -> list[str]:
    """The models a forecast plot draws: all of them up to MAX_PLOTTED_MODELS, else the best by mean
    rank on the primary metric (a plot of ten overlapping forecasts shows none of them)."""
    if len(models) <= MAX_PLOTTED_MODELS or ctx.primary is None:
        return models
    wide = ctx.wide(task_key, ctx.primary)
    ranked = list(compare.wide_ranks(wide, ctx.hib(ctx.primary), metric=ctx.primary).index) if len(wide) else []
    ordered = [m for m in ranked if m in models] + [m for m in models if m not in ranked]
    return ordered[:MAX_PLOTTED_MODELS]


# ---- detection -----------------------------------------------------------------------------------
def detection(ctx: ReportContext) -> str | None:
    board = detections_with_provenance(ctx.store)
    if board.empty:
        return None
    parts = []
    for task, part in board.groupby("task", sort=True):
        wide = part.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        lead = next((m for m in ("nab_standard", "event_f1", "auc_pr") if m in wide), wide.columns[0])
        wide = wide.sort_values(lead, ascending=False)
        parts.append(f"<h3>{esc(task)}</h3>" + table(wide.reset_index()))
    return "\n".join(parts) + prov(
        "detection_metrics rows of the store: one value per detector for the whole corpus (NAB scores with "
        "the threshold NAB's protocol optimises on the labelled corpus; point-wise metrics at the task's "
        "threshold strategy); higher is better, best first by NAB standard score where present."
    )


# ---- papers --------------------------------------------------------------------------------------
def papers(ctx: ReportContext) -> str:
    reports = ctx.paper_reports()
    if not reports:
        where = f" or in {esc(ctx.papers_folder)}" if ctx.papers_folder else ""
        return f"<p class='note'>No reproduction reports in the store{where}.</p>"
    parts = []
    for paper, frame, provenance in reports:
        frame = frame.copy()
        frame["method"] = frame["method"].map(lambda m, p=paper: claim_method(p, str(m)))
        frame["reason"] = frame["note"].map(one_line)
        for note in frame.loc[frame["note"].map(lambda n: details(n) != one_line(n)), "note"].unique():
            ctx.detail(f"{paper}: notes", details(note))
        sentence = esc(paper_sentence(paper, frame))
        parts.append(f"<h3>{esc(paper)}</h3><p>{sentence}</p><p>{badges(paper_counts(frame))}</p>")
        if (frame["status"] != "unavailable").any():
            parts.append(ctx.page.figure(claimed_vs_reproduced(frame, title=paper), f"paper-{paper}"))
        parts.append(table(status_table(frame).rename_axis(columns=None).reset_index()))
        missing = frame[frame["status"] == "unavailable"]
        if len(missing):
            why = missing.groupby(["subset", "reason"], sort=True).size().rename("cells").reset_index()
            why["reason"] = why["subset"].astype(str) + ": " + why["reason"]
            parts.append("<p><b>Unavailable cells, by reason</b> (full texts under Provenance)</p>")
            parts.append(table(why[["reason", "cells"]]))
        cols = ["table", "subset", "method", "metric", "claimed", "reproduced", "tolerance", "status", "reason"]
        parts.append(table(frame[cols], scroll=True))
        parts.append(prov(", ".join(f"{k} {v}" for k, v in provenance.items() if v)))
    return "\n".join(parts)


# ---- provenance ----------------------------------------------------------------------------------
def provenance(ctx: ReportContext) -> str:
    runs = runs_table(ctx.store)
    units = units_table(ctx.everything)
    parts = [
        "<p>Every number above comes from the units below (one file per table and unit, hashed in its record) "
        'and the runs that computed them. All of them: <code>workbench results sql "SELECT * FROM units"</code>.</p>',
        "<h3>Runs</h3>" + table(runs, scroll=True),
    ]
    if len(units):
        group = [c for c in ("kind", "task_description", "model", "status") if c in units]
        summary = units.groupby(group, dropna=False).agg(
            units=("key", "size"), **({"series": ("n_series", "sum")} if "n_series" in units else {})
        )
        parts.append("<h3>Units per task and model</h3>" + table(summary.reset_index(), scroll=True))
        order = np.argsort(units["status"].eq("ok").to_numpy(), kind="stable") if "status" in units else None
        listed = units.iloc[order] if order is not None else units
        shown = listed.head(MAX_UNITS_LISTED).drop(columns=[c for c in ("error",) if c in listed])
        head = f"<h3>Units (showing {len(shown):,} of {len(units):,}, failed first)</h3>"
        parts.append(head + table(shown, scroll=True))
        if "error" in units:
            failed = units[units["error"].notna() & (units["error"].astype(str) != "")]
            for r in failed.head(MAX_UNITS_LISTED).itertuples():
                what = f"{getattr(r, 'model', '')}, {getattr(r, 'task_description', '')}"
                ctx.detail(f"unit {r.key} ({what})", str(r.error))
    if ctx.details:
        texts = "".join(f"<h4>{esc(where)}</h4><pre class='error'>{esc(text)}</pre>" for where, text in ctx.details)
        parts.append("<h3>Full texts of errors and notes</h3>" + texts)
    return "\n".join(parts)


def joint(ctx: ReportContext) -> str | None:
    """Forecast skill beside the residual detectors' scores (`workbench.report.joint`), where run."""
    records = ctx.records
    if "dataset" not in records or not (records["dataset"] == DATASET).any():
        return None
    return joint_section(ctx.store) or None


def ranking(ctx: ReportContext) -> str | None:
    """BOOM / GIFT-Eval style ranking of published and own results (`workbench.report.ranking`), with
    what its empty cells mean (`ranking_notes`)."""
    from workbench.results_import import combined_frame

    body = ranking_section(ctx.store, ctx.names)
    frame = combined_frame(ctx.store)
    notes = ranking_notes(frame)
    if body is None:
        if frame.empty:
            return None
        return "<p class='note'>No ranking: " + esc("; ".join(notes) or "nothing to rank") + ".</p>"
    if notes:
        body += "<p class='note'>Empty cells: " + esc("; ".join(notes)) + ".</p>"
    return body


def ranking_notes(frame: pd.DataFrame) -> list[str]:
    """Why cells of the ranking are empty, in words: tasks without a seasonal-naive baseline (nothing to
    scale by), tasks without CRPS (no probabilistic model: no CRPS rank), models not run on every task.

    Parameters
    ----------
    frame:
        `workbench.results_import.combined_frame` rows (task, model, metric, value, source).
    """
    if frame.empty:
        return []
    from workbench.report.ranking import BASELINES

    notes = []
    tasks = sorted(set(frame["task"].astype(str)))
    has_base = set(frame.loc[frame["model"].isin(BASELINES), "task"].astype(str))
    no_base = [t for t in tasks if t not in has_base]
    if no_base:
        notes.append(
            f"no seasonal-naive baseline in {_plural(len(no_base), 'task')} ({', '.join(no_base[:5])}"
            + (", ..." if len(no_base) > 5 else "")
            + "): their MASE and CRPS cannot be scaled, so they are left out of the scaled means"
        )
    with_crps = set(frame.loc[frame["metric"] == "crps", "task"].astype(str))
    no_crps = [t for t in tasks if t not in with_crps]
    if no_crps:
        notes.append(
            f"no CRPS in {_plural(len(no_crps), 'task')} (no model there stored quantiles): CRPS cells and the "
            "CRPS rank are empty there"
        )
    elif "crps" in set(frame["metric"]):
        point = sorted(set(frame["model"].astype(str)) - set(frame.loc[frame["metric"] == "crps", "model"].astype(str)))
        if point:
            notes.append(f"{', '.join(point[:6])}: point forecasts only (no quantiles), so no CRPS and no CRPS rank")
    per_model = frame.groupby("model")["task"].nunique()
    partial = sorted(per_model[per_model < len(tasks)].index.astype(str))
    if partial:
        notes.append(f"{', '.join(partial[:6])}: not run on every task (their cells on the others are blank)")
    return notes


SECTIONS: list[Section] = [
    Section("summary", "Summary: which model wins where", summary),
    Section("overview", "Overview", overview),
    Section("where", "Which model where, by kind of series", which_model_where),
    Section("deploy", "What to deploy: accuracy, alerts and cost at scale", deploy_section),
    Section("leaderboard", "Leaderboard, per task and metric", leaderboard),
    Section("skill", "Skill against the baselines, per task", skill),
    Section("statistics", "Friedman test and critical differences, per task", statistics),
    Section("forecasts", "Forecasts per series", forecasts),
    Section("detection", "Anomaly detection, per task", detection),
    Section("joint", "Forecasting and detection together", joint),
    Section("ranking", "Ranking as BOOM and GIFT-Eval do (scaled by seasonal naive)", ranking),
    Section("papers", "Papers: claimed against reproduced", papers),
    Section("provenance", "Provenance", provenance),  # last: it lists what the others kept for it
]


def register(section: Section, before: str = "provenance") -> None:
    """Add a section before another one (by anchor); a section of the same anchor is replaced."""
    SECTIONS[:] = [s for s in SECTIONS if s.anchor != section.anchor]
    anchors = [s.anchor for s in SECTIONS]
    SECTIONS.insert(anchors.index(before) if before in anchors else len(SECTIONS), section)
