"""The report: one self-contained HTML file from a results store and the papers' reports.

Everything a reader needs is inside the file: plotly.js is embedded once in a script tag and every
figure is a div that calls it, so the page opens offline, by e-mail or from a CI artifact. Every
table says where its numbers come from (aggregation, runs, units, data hashes), and the last section
lists the runs and units themselves. Comparisons are made per task (its readable description
heading each table): ranks, skill and critical differences over the problems of one protocol, never
a mean across protocols; rows stored twice and undefined values are counted where they occur.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import __version__
from workbench.atomic import atomic_write
from workbench.engine.store import ResultsStore
from workbench.report import compare, figures
from workbench.report.data import (
    claims_in_store,
    detections_with_provenance,
    drilldown_frames,
    leaderboard_with_provenance,
    paper_reports,
    runs_table,
    units_table,
)

EXCLUDED = (
    "n_excluded: problems left out because the model's or the baseline's error is zero (no log ratio); "
    "n_left_out: problems where some model's value is undefined (e.g. a zero MASE scale) or missing."
)
# tasks given their own skill and critical-difference figures (the rest are listed in tables)
MAX_TASK_FIGURES = 6

CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table.data{border-collapse:collapse;font-size:13px;margin:.5em 0}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:right}
table.data th{background:#f3f3f3}table.data td:first-child,table.data th:first-child{text-align:left}
.prov{font-size:12px;color:#555;margin:.2em 0 1em}.note{color:#555}
nav a{margin-right:1em}.scroll{max-height:420px;overflow:auto}
.match{color:#2ca02c}.mismatch{color:#d62728;font-weight:bold}.unavailable{color:#7f7f7f}
"""


@dataclass
class _Page:
    """Sections and figures as they are added; figures are rendered as divs sharing one plotly.js."""

    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, heading, body)
    n_figures: int = 0

    def figure(self, fig: Any, name: str) -> str:
        import plotly.io as pio

        self.n_figures += 1
        div_id = f"fig-{self.n_figures:02d}-{name}"
        config = {"displaylogo": False, "responsive": True}
        return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=config)

    def add(self, anchor: str, heading: str, body: str) -> None:
        self.sections.append((anchor, heading, body))

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        nav = " ".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>\n{b}</section>' for a, h, b in self.sections)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
            f"<body><h1>{html.escape(self.title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>\n"
        )


def table(frame: pd.DataFrame, digits: int = 4, index: bool = False) -> str:
    """An escaped HTML table (values from files are text, never markup)."""
    if frame.empty:
        return "<p class='note'>(empty)</p>"
    return frame.to_html(
        classes="data", index=index, border=0, escape=True, na_rep="", float_format=lambda v: f"{v:.{digits}g}"
    )


def prov(text: str) -> str:
    return f"<p class='prov'>Source: {html.escape(text)}</p>"


def _primary_metric(metrics: pd.DataFrame, preferred: str | None) -> str:
    names = list(dict.fromkeys(metrics["metric"]))
    if preferred:
        if preferred not in names:
            raise KeyError(f"metric {preferred!r} is not in the results; they hold {', '.join(names)}")
        return preferred
    return next((m for m in ("mase", "smape", "mae") if m in names), names[0])


def build_report(
    results: str | Path | None = None,
    output: str | Path = "report.html",
    *,
    papers: str | Path | None = None,
    metric: str | None = None,
    baseline: str = "seasonal_naive",
    n_boot: int = 1000,
    drill_series: int = 12,
    title: str = "Workbench report",
    higher_is_better: bool = False,
) -> Path:
    """Render the report of `results` (a store folder: forecasting, LTSF, detection units and paper
    claims) and of any claimed-vs-reproduced CSVs in `papers`.

    A store folder that does not exist, or holds no committed unit, is an error (a typo in a path
    must not produce an empty report). `higher_is_better` flips ranks, skill and win rates of the
    forecast metric table for scores."""
    store = ResultsStore(results)
    board = leaderboard_with_provenance(store, store.records())  # a missing or empty store raises here
    everything = store.records()
    records = everything[~everything["superseded"]] if "superseded" in everything else everything
    metrics = store.read_table("metrics")
    page = _Page(title)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    kinds = records["kind"].value_counts().to_dict() if "kind" in records else {}
    intro = (
        f"<p>Results store <code>{html.escape(str(store.root))}</code>: {len(records)} units "
        f"({html.escape(', '.join(f'{n} {k}' for k, n in sorted(kinds.items())))}), "
        f"{metrics['model'].nunique() if len(metrics) else 0} forecasting models on "
        f"{metrics['task_key'].nunique() if len(metrics) else 0} tasks. Generated {generated} by workbench "
        f"{__version__}.</p>"
    )
    if len(board) and "n_duplicates" in board and (board["n_duplicates"] > 0).any():
        dup = board[board["n_duplicates"] > 0]
        intro += (
            f"<p class='mismatch'>{int(dup['n_duplicates'].sum())} metric rows are stored more than once "
            f"({html.escape(', '.join(sorted(set(dup['task'] + ' × ' + dup['model']))))}); their copies are "
            "averaged into one value here. Rerun with one chunk size per store.</p>"
        )
    page.add("overview", "Overview", intro)
    if len(metrics):
        metric = _primary_metric(metrics, metric)
        _leaderboard_sections(page, board, metrics, metric, baseline, n_boot, higher_is_better)
        _drilldown_section(page, store, records, drill_series)
    else:
        page.add("leaderboard", "Leaderboard", "<p class='note'>No forecast metric rows in this store.</p>")
    _detection_section(page, store)
    _papers_section(page, store, papers)
    _provenance_section(page, store, everything)
    out = Path(output)
    text = page.render()
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return out


def _task_names(metrics: pd.DataFrame) -> dict[str, str]:
    """task_key -> readable description (the key itself where rows carry none)."""
    if "task" not in metrics:
        return {k: k for k in metrics["task_key"].unique()}
    named = metrics[["task_key", "task"]].drop_duplicates("task_key")
    return {k: (t if isinstance(t, str) and t else k) for k, t in zip(named["task_key"], named["task"], strict=True)}


def _leaderboard_sections(
    page: _Page,
    board: pd.DataFrame,
    metrics: pd.DataFrame,
    metric: str,
    baseline: str,
    n_boot: int,
    higher_is_better: bool = False,
) -> None:
    hib = {"higher_is_better": higher_is_better}
    names = _task_names(metrics)
    ranks = compare.mean_ranks(metrics, metric, by=["task_key"], **hib)
    here = board[board["metric"] == metric]
    overall = here.pivot_table(index="model", columns="task", values="value", aggfunc="first")
    task_ranks = ranks.assign(task=ranks["task_key"].map(names)).pivot_table(
        index="model", columns="task", values="mean_rank", aggfunc="first"
    )
    overall.insert(0, "mean rank over tasks", task_ranks.mean(axis=1))
    overall = overall.sort_values("mean rank over tasks")
    undefined = here.groupby("model")["n_undefined"].sum()
    overall["undefined values"] = undefined.reindex(overall.index).fillna(0).astype(int)
    body = table(overall.reset_index(), index=False) + prov(
        f"{metric}: mean of the defined per-series values of each task (columns); undefined values "
        "(e.g. a zero MASE scale) are counted, not averaged. Mean rank over tasks = the average of the "
        "per-task mean ranks (rank over the problems — window, series — that every model solved in that "
        "task, 1 = best, ties averaged); no value is ever averaged across tasks."
    )
    page.add("leaderboard", f"Leaderboard ({metric}, per task)", body)

    tasks = sorted(names, key=lambda k: names[k])
    shown, skipped = tasks[:MAX_TASK_FIGURES], tasks[MAX_TASK_FIGURES:]
    skill_parts, stat_parts = [], []
    for task_key in shown:
        rows = metrics[metrics["task_key"] == task_key]
        heading = f"<h3>{html.escape(names[task_key])}</h3>"
        try:
            skill = compare.skill_scores(rows, metric, baseline, n_boot=n_boot, **hib)
            cols = ["model", "skill", "ci_low", "ci_high", "rel_error", "win_rate", "n_problems", "n_excluded"]
            cols += ["n_left_out"]
            skill_parts.append(
                heading
                + page.figure(figures.skill_figure(skill), "skill")
                + table(skill[cols])
                + prov(f"{skill['aggregation'].iloc[0]}; {n_boot} resamples of problems, seed 0. {EXCLUDED}")
            )
        except KeyError as exc:
            skill_parts.append(heading + f"<p class='note'>No skill scores: {html.escape(str(exc))}.</p>")
        try:
            result = compare.friedman(rows, metric, **hib)
            cliques = "; ".join(", ".join(c) for c in result.cliques()) or "none"
            stat_parts.append(
                heading + f"<p>Friedman χ² = {result.statistic:.3f}, p = {result.p_value:.3g} over {result.n_problems} "
                f"problems and {result.n_models} models. Nemenyi critical difference at α = {result.alpha}: "
                f"{result.critical_difference:.3f}. Groups not significantly different: {html.escape(cliques)}.</p>"
                + page.figure(figures.cd_diagram(result), "cd-diagram")
                + page.figure(figures.win_rate_heatmap(compare.win_rates(rows, metric, **hib)), "win-rates")
            )
        except ValueError as exc:
            stat_parts.append(heading + f"<p class='note'>{html.escape(str(exc))}.</p>")
    note = (
        f"<p class='note'>{len(skipped)} more task(s) without figures: "
        f"{html.escape(', '.join(names[k] for k in skipped))}.</p>"
        if skipped
        else ""
    )
    page.add("skill", f"Skill against {baseline}, per task", "\n".join(skill_parts) + note)
    stat_prov = prov(f"{metric} per problem of each task; scipy.stats.friedmanchisquare and studentized_range.")
    page.add("statistics", "Friedman test and critical differences, per task", "\n".join(stat_parts) + note + stat_prov)

    parts = []
    for task_key in tasks:
        part = board[board["task_key"] == task_key]
        ranks_here = ranks[ranks["task_key"] == task_key]
        wide = part.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        facts = part.groupby("model").agg(
            n_series=("n_series", "max"),
            n_windows=("n_windows", "max"),
            n_undefined=("n_undefined", "sum"),
            n_units=("n_units", "max"),
            runs=("runs", "first"),
        )
        wide = ranks_here.set_index("model")[["mean_rank"]].join(wide, how="right").join(facts).sort_values("mean_rank")
        parts.append(f"<h3>{html.escape(names[task_key])}</h3>" + table(wide.reset_index()))
    body = "\n".join(parts) + prov(
        "mean of the defined per-series values; n_undefined = values left out of the means, summed over the "
        f"metrics; mean_rank on {metric}; runs = run ids."
    )
    page.add("datasets", "Per-task tables", body)


def _detection_section(page: _Page, store: ResultsStore) -> None:
    board = detections_with_provenance(store)
    if board.empty:
        return
    parts = []
    for task, part in board.groupby("task", sort=True):
        wide = part.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        lead = next((m for m in ("nab_standard", "event_f1", "auc_pr") if m in wide), wide.columns[0])
        wide = wide.sort_values(lead, ascending=False)
        parts.append(f"<h3>{html.escape(str(task))}</h3>" + table(wide.reset_index()))
    body = "\n".join(parts) + prov(
        "detection_metrics rows of the store: one value per detector for the whole corpus (NAB scores with "
        "the threshold NAB's protocol optimises on the labelled corpus; point-wise metrics at the task's "
        "threshold strategy); higher is better, best first by " + "NAB standard score where present."
    )
    page.add("detection", "Anomaly detection, per task", body)


def _drilldown_section(page: _Page, store: ResultsStore, records: pd.DataFrame, n_series: int) -> None:
    try:
        frames = drilldown_frames(store, records, n_series)
    except Exception as exc:  # the data behind a stored task may be unavailable here
        page.add("forecasts", "Forecasts per series", f"<p class='note'>Not available: {html.escape(str(exc))}</p>")
        return
    if not frames:
        body = "<p class='note'>No stored forecasts (evaluate with save_forecasts=True to drill down).</p>"
    else:
        body = "".join(
            page.figure(
                figures.forecast_drilldown(
                    p, t, f, title=title, n_past=max(3 * int(t.groupby("unique_id").size().max()), 24)
                ),
                "forecasts",
            )
            for title, p, t, f in frames
        )
        body += prov(
            f"stored forecasts of the first {n_series} series of each task; past and truth re-cut by the task."
        )
    page.add("forecasts", "Forecasts per series", body)


def _papers_section(page: _Page, store: ResultsStore, folder: str | Path | None) -> None:
    from workbench.papers.plots import claimed_vs_reproduced, status_table

    claims = claims_in_store(store)
    reports = []
    if len(claims):
        for paper, frame in claims.groupby("paper", sort=True):
            units = ", ".join(sorted(set(frame["unit"])))
            reports.append((str(paper), frame.reset_index(drop=True), {"store units": units}))
    stored = {paper for paper, _, _ in reports}
    reports += [r for r in paper_reports(folder) if r[0] not in stored]
    if not reports:
        body = f"<p class='note'>No reproduction reports in {html.escape(str(folder))}.</p>"
        page.add("papers", "Papers: claimed against reproduced", body)
        return
    parts = []
    for paper, frame, provenance in reports:
        counts = frame["status"].value_counts().to_dict()
        parts.append(f"<h3>{html.escape(paper)}</h3><p>{html.escape(json.dumps(counts))}</p>")
        if (frame["status"] != "unavailable").any():
            parts.append(page.figure(claimed_vs_reproduced(frame, title=paper), f"paper-{paper}"))
        parts.append(table(status_table(frame).reset_index()))
        shown = frame[
            ["table", "dataset", "subset", "method", "metric", "claimed", "reproduced", "tolerance", "status", "note"]
        ]
        parts.append(f"<div class='scroll'>{table(shown)}</div>")
        parts.append(prov(", ".join(f"{k} {v}" for k, v in provenance.items() if v)))
    page.add("papers", "Papers: claimed against reproduced", "\n".join(parts))


def _provenance_section(page: _Page, store: ResultsStore, records: pd.DataFrame) -> None:
    runs = runs_table(store)
    units = units_table(records)
    body = (
        "<p>Every number above comes from the units below (one file per unit, hashed in its record) "
        "and the runs that computed them.</p><h3>Runs</h3><div class='scroll'>"
        + table(runs)
        + "</div><h3>Units</h3><div class='scroll'>"
        + table(units)
        + "</div>"
    )
    page.add("provenance", "Provenance", body)
