"""The report: one self-contained HTML file from a results store and the papers' reports.

Everything a reader needs is inside the file: plotly.js is embedded once in a script tag and every
figure is a div that calls it, so the page opens offline, by e-mail or from a CI artifact. Every
table says where its numbers come from (aggregation, runs, units, data hashes), and the last section
lists the runs and units themselves.
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
    drilldown_frames,
    leaderboard_with_provenance,
    paper_reports,
    runs_table,
    units_table,
)

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
    """Render the report of `results` (a store folder) and of the papers' CSVs in `papers`.

    `higher_is_better` flips ranks, skill and win rates for scores (detection scores such as NAB's)."""
    store = ResultsStore(results)
    records = store.records()
    metrics = store.metrics()
    page = _Page(title)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    intro = (
        f"<p>Results store <code>{html.escape(str(store.root))}</code>: {len(records)} units, "
        f"{metrics['model'].nunique() if len(metrics) else 0} models, "
        f"{metrics['task_key'].nunique() if len(metrics) else 0} tasks. Generated {generated} by workbench "
        f"{__version__}.</p>"
    )
    page.add("overview", "Overview", intro)
    if len(metrics):
        metric = _primary_metric(metrics, metric)
        _leaderboard_sections(page, store, metrics, metric, baseline, n_boot, higher_is_better)
        _drilldown_section(page, store, records, drill_series)
    else:
        page.add("leaderboard", "Leaderboard", "<p class='note'>No metric rows in this store yet.</p>")
    _papers_section(page, papers)
    _provenance_section(page, store, records)
    out = Path(output)
    text = page.render()
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return out


def _leaderboard_sections(
    page: _Page,
    store: ResultsStore,
    metrics: pd.DataFrame,
    metric: str,
    baseline: str,
    n_boot: int,
    higher_is_better: bool = False,
) -> None:
    hib = {"higher_is_better": higher_is_better}
    board = leaderboard_with_provenance(store)
    ranks = compare.mean_ranks(metrics, metric, **hib)
    by_task = compare.mean_ranks(metrics, metric, by=["dataset", "subset"], **hib)
    overall = board[board["metric"] == metric].pivot_table(
        index="model", columns=["dataset", "subset"], values="value", aggfunc="first"
    )
    overall.columns = [f"{d}/{s}" for d, s in overall.columns]
    overall = ranks.set_index("model")[["mean_rank", "n_problems"]].join(overall, how="outer").sort_values("mean_rank")
    body = table(overall.reset_index(), index=False) + prov(
        f"{metric}: mean of per-series values per dataset/subset (runs, units and series counts in "
        "the per-dataset tables); mean_rank = average rank over the problems (task, window, series) "
        "that every model solved, 1 = best, ties averaged."
    )
    page.add("leaderboard", f"Leaderboard ({metric}, by mean rank)", body)

    try:
        skill = compare.skill_scores(metrics, metric, baseline, n_boot=n_boot, **hib)
        body = page.figure(figures.skill_figure(skill), "skill") + table(
            skill[["model", "skill", "ci_low", "ci_high", "rel_error", "win_rate", "n_problems", "n_excluded"]]
        )
        body += prov(str(skill["aggregation"].iloc[0]) + f"; {n_boot} resamples of problems, seed 0.")
    except KeyError as exc:
        body = f"<p class='note'>No skill scores: {html.escape(str(exc))}.</p>"
    page.add("skill", f"Skill against {baseline}", body)

    try:
        result = compare.friedman(metrics, metric, **hib)
        cliques = "; ".join(", ".join(c) for c in result.cliques()) or "none"
        body = (
            f"<p>Friedman χ² = {result.statistic:.3f}, p = {result.p_value:.3g} over {result.n_problems} problems "
            f"and {result.n_models} models. Nemenyi critical difference at α = {result.alpha}: "
            f"{result.critical_difference:.3f}. Groups not significantly different: {html.escape(cliques)}.</p>"
        )
        body += page.figure(figures.cd_diagram(result), "cd-diagram")
        body += page.figure(figures.win_rate_heatmap(compare.win_rates(metrics, metric, **hib)), "win-rates")
        body += prov(f"{metric} per problem; scipy.stats.friedmanchisquare and studentized_range (Demšar 2006).")
    except ValueError as exc:
        body = f"<p class='note'>{html.escape(str(exc))}.</p>"
    page.add("statistics", "Friedman test and critical differences", body)

    parts = []
    for (dataset, subset), part in board.groupby(["dataset", "subset"], sort=True):
        ranks_here = by_task[(by_task["dataset"] == dataset) & (by_task["subset"] == subset)]
        wide = part.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        facts = part.groupby("model").agg(
            n_series=("n_series", "max"),
            n_windows=("n_windows", "max"),
            n_units=("n_units", "sum"),
            runs=("runs", "first"),
        )
        wide = ranks_here.set_index("model")[["mean_rank"]].join(wide, how="right").join(facts).sort_values("mean_rank")
        parts.append(f"<h3>{html.escape(f'{dataset}/{subset}')}</h3>" + table(wide.reset_index()))
    body = "\n".join(parts) + prov("mean of per-series values; mean_rank on " + metric + "; runs = run ids.")
    page.add("datasets", "Per-dataset tables", body)


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


def _papers_section(page: _Page, folder: str | Path | None) -> None:
    from workbench.papers.plots import claimed_vs_reproduced, status_table

    reports = paper_reports(folder)
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
