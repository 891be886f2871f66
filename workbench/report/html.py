"""The report: one self-contained HTML file from a results store and the papers' reports.

Everything a reader needs is inside the file: plotly.js is embedded once in a script tag and every
figure is a div that calls it, so the page opens offline, by e-mail or from a CI artifact. It opens
with an overview in sentences, then the leaderboard, skill, critical differences and forecasts per
task and metric (filters at the top show one task or metric), detection scoreboards, the papers'
claimed-vs-reproduced cells, and the provenance: runs, units and the full texts of every error the
sections above show as one line. Comparisons are made per task, never as a mean across protocols.

Scale: the store is queried through DuckDB (`workbench.report.queries`), one problem matrix at a
time; the drill-down draws a seeded sample of series and the provenance lists a bounded number of
units, so the file's size does not grow with the number of series.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from workbench.report.context import open_context, read_labels
from workbench.report.deploy import DeployQuestion
from workbench.report.page import Page, block, esc, prov, table
from workbench.report.reasons import one_line
from workbench.report.sections import SECTIONS
from workbench.storage import atomic_write
from workbench.store.results_store import ResultsStore

DEFAULT_BASELINES = ("naive2", "seasonal_naive")


def build_report(
    results: str | Path | None = None,
    output: str | Path = "report.html",
    *,
    papers: str | Path | None = None,
    metric: str | None = None,
    baseline: str | Sequence[str] | None = None,
    n_boot: int = 1000,
    drill_series: int = 20,
    title: str = "Workbench report",
    higher_is_better: bool = False,
    seed: int = 0,
    labels: str | Path | pd.DataFrame | None = None,
    deploy: DeployQuestion | None = None,
) -> Path:
    """Render the report of `results` (a store: forecasting, LTSF, detection units and paper claims)
    and of any claimed-vs-reproduced CSVs in `papers`.

    `metric`: the metric listed first (default: every metric of the store, mase / smape first, at
    most four); `baseline`: the model(s) skill is measured against (default Naive2 and seasonal naive,
    those present); `drill_series`: series sampled (with `seed`) per task for the forecast drill-down.
    A store folder that does not exist, or holds no committed unit, is an error (a typo in a path
    must not produce an empty report).

    Parameters
    ----------
    results:
        The results store (a folder or an fsspec URL); tasks over a user's own cards resolve where the
        catalog holding them is in use (`workbench.config.use_catalog`, `workbench report --catalog`).
    output:
        The HTML file written (atomically).
    papers:
        A folder of claimed-vs-reproduced CSVs shown beside the store's own claims.
    metric, baseline, n_boot, drill_series, seed:
        As above.
    title:
        The page's title.
    higher_is_better:
        For scores that `workbench.metrics` does not register (detection metrics): a registered
        forecast metric's own direction decides its ranks, skill and win rates.
    labels:
        Labelled anomalies to mark on the forecast plots: a CSV file or a frame with columns
        `unique_id, ds` (`workbench.data.synthetic.write_fleet` writes one).
    deploy:
        The "what to deploy" section's question (series, cadence, alert budget, metric); None:
        `DeployQuestion()`, a million series hourly with one false alarm per series-week.
    """
    store = ResultsStore(results)
    anomaly_labels = read_labels(labels)
    baselines = list(DEFAULT_BASELINES if baseline is None else [baseline] if isinstance(baseline, str) else baseline)
    page = Page(title)
    ctx = open_context(
        store,
        page,
        metric=metric,
        baselines=baselines,
        n_boot=n_boot,
        drill_series=drill_series,
        seed=seed,
        higher_is_better=higher_is_better,
        papers_folder=papers,
        anomaly_labels=anomaly_labels,
        deploy=deploy,
    )
    try:
        page.tasks = {k: ctx.task_name(k) for k in ctx.tasks()}
        page.metrics = list(ctx.metrics)
        for section in SECTIONS:
            try:
                body = section.render(ctx)
            except Exception as exc:  # one broken section must not cost the reader the others: say so
                ctx.detail(f"section {section.heading!r}", traceback.format_exc())
                body = f"<p class='mismatch'>This section failed: {esc(one_line(f'{type(exc).__name__}: {exc}'))} "
                body += "(the traceback is under Provenance).</p>"
            if body is not None:
                page.add(section.anchor, section.heading, body)
    finally:
        ctx.con.close()
    out = Path(output)
    text = page.render()
    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return out


# `prov`, `table`, `block`, `esc`: the page helpers of `workbench.report.page`, re-exported for code outside the
# package that writes sections (the report's own modules import them from `page`, which imports no section)
__all__ = ["DEFAULT_BASELINES", "block", "build_report", "esc", "prov", "table"]
