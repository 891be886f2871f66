"""What every section of the report reads: the store, one DuckDB connection, the leaderboard, the
problem matrices (computed once per task and metric), the papers' reports, and the full texts the
provenance section keeps (errors and notes that other sections show as one line).

Also what makes the page readable as a whole: one title per task that no other task shares
(`queries.task_titles`), one short label per model (`names.short_labels`, with a legend of the full
parameters), the breakdowns by series metadata (`breakdown.compute_breakdowns`, computed once: the
summary and the breakdown section share them) and the labelled anomalies the forecast plots mark."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.errors import DataFormatError
from workbench.metrics import METRICS, get_metric
from workbench.report import queries
from workbench.report.data import claims_in_store, leaderboard_with_provenance, paper_reports
from workbench.report.names import short_labels
from workbench.report.page import Page
from workbench.store.results_store import ResultsStore

if TYPE_CHECKING:
    from workbench.report.deploy import DeployQuestion

__all__ = [
    "LEAKAGE_HOOK",
    "MAX_METRICS",
    "MAX_TASK_FIGURES",
    "PREFERRED",
    "ReportContext",
    "breakdown_metrics",
    "choose_metrics",
    "leakage_column",
    "open_context",
    "read_labels",
]

# metrics given their own ranks, skill and critical-difference blocks (the rest stay in the tables)
MAX_METRICS = 4
# tasks given their own figures (the rest are listed in tables)
MAX_TASK_FIGURES = 12
PREFERRED = ("mase", "smape", "mae")
# where the leakage column of the leaderboard comes from, when that module exists
LEAKAGE_HOOK = ("workbench.report.leakage", "leakage_column")


@dataclass
class ReportContext:
    store: ResultsStore
    page: Page
    con: Any  # duckdb connection with the store's views
    everything: pd.DataFrame  # every committed record, superseded ones flagged
    board: pd.DataFrame  # the leaderboard with provenance (units, runs) per task, model, metric
    facts: pd.DataFrame  # queries.task_facts
    metrics: list[str]  # metrics compared (primary first)
    baselines: list[str]
    n_boot: int = 1000
    drill_series: int = 20
    seed: int = 0
    higher_is_better: bool = False
    papers_folder: str | Path | None = None
    anomaly_labels: pd.DataFrame | None = None  # unique_id, ds of labelled anomalies, marked on the plots
    details: list[tuple[str, str]] = field(default_factory=list)  # (where, full text) for provenance
    titles: dict[str, str] = field(default_factory=dict)  # task_key -> unique title (queries.task_titles)
    labels: dict[str, str] = field(default_factory=dict)  # model -> short label (names.short_labels)
    breakdown_note: str = ""  # why there is no breakdown, where there is none
    deploy: DeployQuestion | None = None  # the "what to deploy" section's scale, cadence and alert budget
    _wide: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    _papers: list | None = None
    _breakdowns: list | None = None

    @property
    def records(self) -> pd.DataFrame:
        e = self.everything
        return e[~e["superseded"]] if "superseded" in e else e

    @property
    def primary(self) -> str | None:
        return self.metrics[0] if self.metrics else None

    def task_name(self, task_key: str) -> str:
        """The task's title: unique in the report (`queries.task_titles`)."""
        if task_key in self.titles:
            return self.titles[task_key]
        names = dict(zip(self.facts["task_key"], self.facts["task"], strict=True)) if len(self.facts) else {}
        return str(names.get(task_key, task_key))

    def names(self, models) -> list[str]:
        """Short labels of these models (the legend in the overview lists their full parameters)."""
        return [self.labels.get(str(m)) or short_labels([str(m)])[str(m)] for m in models]

    def hib(self, metric: str) -> bool | None:
        """`higher_is_better` for a comparison of `metric`: None for a registered metric (its declared
        direction decides), the report's option for other scores (detection metrics)."""
        try:
            get_metric(metric)
        except Exception:  # not registered: a score whose direction only the caller knows
            return self.higher_is_better
        return None

    def breakdowns(self) -> list:
        """Which model where, per task, metric and metadata column (`breakdown.compute_breakdowns`), once."""
        if self._breakdowns is None:
            from workbench.report.breakdown import compute_breakdowns
            from workbench.store.sql import series_columns, series_metrics

            metrics = breakdown_metrics(self.metrics)
            rows = series_metrics(self.store, metrics=metrics) if metrics else pd.DataFrame()
            columns = series_columns(self.store)
            found, note = compute_breakdowns(rows, columns, metrics, self.titles, n_boot=self.n_boot, seed=self.seed)
            self._breakdowns, self.breakdown_note = found, note
        return self._breakdowns

    def tasks(self) -> list[str]:
        """Forecasting task keys, by description."""
        return list(self.facts["task_key"]) if len(self.facts) else []

    def wide(self, task_key: str, metric: str) -> pd.DataFrame:
        """Problems × models of one task and metric (cached: ranks, skill and the CD diagram share it)."""
        if (task_key, metric) not in self._wide:
            self._wide[(task_key, metric)] = queries.task_problem_matrix(self.con, task_key, metric)
        return self._wide[(task_key, metric)]

    def paper_reports(self) -> list[tuple[str, pd.DataFrame, dict[str, str]]]:
        """(paper, claimed-vs-reproduced rows, provenance): the store's claims, then CSVs of papers
        the store has none of."""
        if self._papers is None:
            reports = []
            claims = claims_in_store(self.store)
            if len(claims):
                for paper, frame in claims.groupby("paper", sort=True):
                    units = ", ".join(sorted(set(frame["unit"])))
                    reports.append((str(paper), frame.reset_index(drop=True), {"store units": units}))
            stored = {paper for paper, _, _ in reports}
            reports += [r for r in paper_reports(self.papers_folder) if r[0] not in stored]
            self._papers = reports
        return self._papers

    def detail(self, where: str, text: str) -> None:
        """Keep a full text (an error, a note) for the provenance section, once."""
        if text and (where, text) not in self.details:
            self.details.append((where, text))


def choose_metrics(facts: pd.DataFrame, preferred: str | None) -> list[str]:
    """The metric asked for (an error naming the known ones if it is not in the store), else every
    metric of the store up to MAX_METRICS, mase / smape / mae first."""
    names = sorted({m for ms in facts["metrics"] for m in ms}) if len(facts) else []
    if preferred:
        if preferred not in names:
            raise KeyError(f"metric {preferred!r} is not in the results; they hold {', '.join(names)}")
        return [preferred, *[m for m in names if m != preferred]][:MAX_METRICS]
    ordered = [m for m in PREFERRED if m in names] + [m for m in names if m not in PREFERRED]
    return ordered[:MAX_METRICS]


def leakage_column(store: ResultsStore) -> pd.DataFrame | None:
    """The hook for the leakage check: `workbench.report.leakage.leakage_column(store)` -> (task_key, model,
    leakage, corpus_entry), or None where that module is not there."""
    module_name, function = LEAKAGE_HOOK
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    fn = getattr(module, function, None)
    return None if fn is None else fn(store)


def open_context(
    store: ResultsStore,
    page: Page,
    *,
    metric: str | None,
    baselines: list[str],
    **options: Any,
) -> ReportContext:
    """Read what every section needs; a missing or empty store is an error here (never an empty report)."""
    from workbench.store.sql import connect

    everything = store.records()
    board = leaderboard_with_provenance(store, everything)  # a missing or empty store raises here
    con = connect(store, views=["metrics", "forecasts"])
    con.execute("SET enable_progress_bar = false")
    facts = queries.task_facts(con)
    metrics = choose_metrics(facts, metric)
    ctx = ReportContext(store, page, con, everything, board, facts, metrics, baselines, **options)
    records = ctx.records
    ctx.titles = queries.task_titles(facts, queries.resolved_tasks(records).to_dict())
    models = sorted(set(board["model"].astype(str))) if len(board) else []
    ctx.labels = short_labels(models)
    return ctx


def breakdown_metrics(metrics: list[str]) -> list[str]:
    """The metrics broken down by series metadata: the first registered point metric and the first
    probabilistic one (a point and a probabilistic answer to "which model where"), in that order."""
    registered = [m for m in metrics if m in METRICS]
    point = [m for m in registered if not METRICS[m].probabilistic][:1]
    prob = [m for m in registered if METRICS[m].probabilistic][:1]
    return point + prob


def read_labels(labels: str | Path | pd.DataFrame | None) -> pd.DataFrame | None:
    """Labelled anomalies as a frame of `unique_id, ds` (a CSV with those columns, or a frame).

    Parameters
    ----------
    labels:
        A CSV file (`unique_id,ds` per labelled stamp, as `write_fleet` writes `labels.csv`), a frame
        with those columns, or None.
    """
    if labels is None:
        return None
    if isinstance(labels, pd.DataFrame):
        frame, where = labels, "the labels frame"
    else:
        path = Path(labels)
        if not path.is_file():
            raise DataFormatError(f"labels file {path}: no such file (a CSV with columns unique_id, ds)")
        frame, where = pd.read_csv(path), f"labels file {path}"
    missing = [c for c in ("unique_id", "ds") if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"{where}: no column(s) {missing}; it has {list(frame.columns)} (write one row per labelled "
            "anomaly with columns unique_id, ds)"
        )
    return frame[["unique_id", "ds"]].astype({"unique_id": str}).reset_index(drop=True)
