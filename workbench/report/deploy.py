"""What to deploy: per candidate model, accuracy, alert quality at a budget and cost at scale, in one
table and one figure, with the Pareto frontier of accuracy against cost.

The decision is rarely "the most accurate model": it is the model accurate enough, raising few
false alarms, and cheap enough to run on every series watched. Each number comes from the store:

- **accuracy**: skill against seasonal naive (1 - geometric mean relative error of `metric` over
  the problems every candidate has a value for; `workbench.report.compare.which_model_where`), with
  its bootstrap interval and win rate, overall and per kind of series (`by`, e.g. `metric_type`:
  `skill[gauge]`, `skill[count]`);
- **cost**: CPU seconds per 1,000 series forecasts (`workbench.store.cost`), pooled over the
  forecasting tasks every candidate was measured on (so candidates are costed on the same work;
  the table says which tasks), and the core-hours per day of running it over `n_series` series
  every `every`, with the bootstrap interval over units;
- **alert quality**: the candidate's detector (a `forecast_residual` / `forecast_band` built on the
  candidate's forecaster, matched by its `forecaster` parameter, or a mapping given) at the
  threshold meeting the alert budget, chosen on a calibration split of each detection task
  (`workbench.anomaly.alert_board`): events detected, time to detect, false alarms per series-day,
  event precision, and whether a threshold was tuned on the scored rows. Over several detection
  tasks (`workbench.joint` stores one per folder) the counts are summed and the rates are ratios
  of the sums; the time to detect shown is the slowest task's median;
- **frontier**: a candidate is on the Pareto frontier when no other candidate is at least as
  skilful and at most as costly, and strictly better in one of the two; candidates without a skill
  or a cost are listed and never on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.anomaly.alert_board import AlertBoard, alert_board_from_store
from workbench.anomaly.alerts import AlertBudget
from workbench.anomaly.task import DetectionTask
from workbench.errors import WorkbenchError
from workbench.report.compare import CompareError, seasonal_naive_baseline, which_model_where
from workbench.report.page import esc, prov, table
from workbench.store.cost import cost_board, project, unit_costs
from workbench.store.results_store import ResultsStore, superseded
from workbench.store.sql import series_columns, series_metrics

if TYPE_CHECKING:
    from workbench.report.context import ReportContext

__all__ = [
    "ALERT_COLUMNS",
    "DeployQuestion",
    "DeployTable",
    "deploy_section",
    "deploy_summary",
    "deploy_table",
    "detection_tasks",
    "frontier_figure",
    "pareto_front",
    "stored_alert_boards",
]

# what the deploy table takes of a detector's alert row (`workbench.anomaly.alerts.ROW_COLUMNS`)
ALERT_COLUMNS = (
    "detector",
    "threshold",
    "budget_met",
    "tuned_on_test",
    "share_detected",
    "ttd_median",
    "false_alarms_per_series_day",
    "event_precision",
)
_FORECASTER = re.compile(r"forecaster=([^,()]+)")


@dataclass(frozen=True)
class DeployQuestion:
    """What the deploy table answers: how many series, how often, and how many false alarms are tolerable.

    Parameters
    ----------
    n_series
        Series the chosen model would run on.
    every
        A forecast per series this often (a pandas duration: `1h`, `15min`).
    budget
        The alert budget: false alarms per series-day (default one per series per week).
    metric
        The accuracy metric; None: `mase` where stored, else the first metric the store holds.
    by
        The series column accuracy is broken down by (`metric_type`); "" for none.
    split, hold
        The alert thresholds' calibration split (`items`: every other series; `time`: an earlier
        time range) and hysteresis (rows), as `workbench.anomaly.alert_board` takes them.
    """

    n_series: int = 1_000_000
    every: str = "1h"
    budget: AlertBudget = field(default_factory=lambda: AlertBudget.per_week(1))
    metric: str | None = None
    by: str = "metric_type"
    split: str = "items"
    hold: int = 0


@dataclass
class DeployTable:
    """The deploy table, and what it was computed from.

    Parameters
    ----------
    table
        One row per candidate (see `deploy_table`).
    question
        The question it answers.
    metric, baseline
        The accuracy metric and the model skill is measured against.
    cost_tasks
        The forecasting tasks the costs are pooled over.
    alerts
        The alert boards the alert columns come from (one per detection task), by task description.
    notes
        What the reader must know about the table (candidates left without a number, and why).
    """

    table: pd.DataFrame
    question: DeployQuestion
    metric: str
    baseline: str
    cost_tasks: list[str]
    alerts: dict[str, AlertBoard] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def frontier(self) -> list[str]:
        """The candidates on the Pareto frontier, cheapest first."""
        on = self.table[self.table["on_frontier"]].sort_values("cpu_s_per_1k")
        return list(on["candidate"])

    def figure(self, names: Mapping[str, str] | None = None):
        """`frontier_figure` of this table.

        Parameters
        ----------
        names
            Candidate -> the name drawn beside its point (default: its label).
        """
        return frontier_figure(self, names)


def pareto_front(skill: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Which points are on the Pareto frontier of higher skill and lower cost (undefined: never).

    Parameters
    ----------
    skill
        Higher is better.
    cost
        Lower is better.
    """
    s, c = np.asarray(skill, float), np.asarray(cost, float)
    defined = np.isfinite(s) & np.isfinite(c)
    out = np.zeros(len(s), bool)
    for i in np.flatnonzero(defined):
        others = defined.copy()
        others[i] = False
        dominated = others & (s >= s[i]) & (c <= c[i]) & ((s > s[i]) | (c < c[i]))
        out[i] = not dominated.any()
    return out


def _metric(rows: pd.DataFrame, wanted: str | None) -> str:
    stored = sorted(set(rows["metric"]))
    if wanted is not None:
        if wanted not in stored:
            raise WorkbenchError(f"metric {wanted!r} is not stored; the store holds {stored or '(none)'}")
        return wanted
    if not stored:
        raise WorkbenchError("the store holds no forecast metric rows: run a forecasting grid first")
    return "mase" if "mase" in stored else stored[0]


def _accuracy(rows: pd.DataFrame, metric: str, by: str, n_boot: int, seed: int) -> tuple[pd.DataFrame, str]:
    """Per model: skill overall (with interval and win rate) and per `by` group, and the baseline."""
    baseline = seasonal_naive_baseline(rows["model"].unique())
    overall = which_model_where(rows, metric, [], baseline, n_boot=n_boot, seed=seed)
    out = overall.set_index("model")[["skill", "ci_low", "ci_high", "win_rate", "n_problems", "mean"]]
    out = out.rename(columns={"ci_low": "skill_lo", "ci_high": "skill_hi", "mean": f"mean_{metric}"})
    if by and by in rows.columns and rows[by].notna().any():
        rows = rows.assign(**{by: rows[by].astype(object).where(rows[by].notna(), "(unknown)")})
        groups = which_model_where(rows, metric, [by], baseline, n_boot=n_boot, seed=seed)
        wide = groups.pivot_table(index="model", columns=by, values="skill", aggfunc="first", dropna=False)
        wide.columns = [f"skill[{c}]" for c in wide.columns]
        out = out.join(wide)
    return out, baseline


def _costs(store: ResultsStore, models: list[str], question: DeployQuestion) -> tuple[pd.DataFrame, list[str]]:
    """Per model: the cost pooled over the forecasting tasks every candidate has measured units on
    (all of each model's tasks where they share none), and its projection."""
    units = unit_costs(store, kinds=("forecast",))
    if units.empty:
        return pd.DataFrame(index=pd.Index([], name="model")), []
    units = units[units["model"].isin(models) & units["cpu_s"].notna()]
    per_model = units.groupby("model")["task"].agg(set)
    common = set.intersection(*per_model) if len(per_model) == len(models) and len(per_model) else set()
    if common:
        units = units[units["task"].isin(common)]
    board = cost_board(units=units.assign(task_key="(pooled)", task="(pooled)"))
    projected = project(board, question.n_series, question.every).set_index("model")
    keep = ["cpu_s_per_1k", "cpu_s_per_1k_lo", "cpu_s_per_1k_hi", "cpu_s_per_1k_step", "throughput_per_s"]
    keep += ["core_hours_per_day", "core_hours_per_day_lo", "core_hours_per_day_hi", "cores", "cost_basis"]
    keep += ["load_s", "device"]
    return projected[keep], sorted(common or set(units["task"]))


def detection_tasks(store: ResultsStore) -> dict[str, tuple[DetectionTask, list[dict]]]:
    """The detection tasks whose scores the store holds, by task key: the task (rebuilt from its
    resolved fields) and its detectors' specs (`{name, params}`, as their units recorded them).

    Parameters
    ----------
    store
        The results store.
    """
    records = store.committed()
    old = superseded(records)
    out: dict[str, tuple[DetectionTask, list[dict]]] = {}
    for r in records:
        if r["key"] in old or r.get("kind") != "detection" or r.get("status", "ok") != "ok":
            continue
        if "detection_scores" not in (r.get("tables") or {}):
            continue
        if r["task_key"] not in out:
            out[r["task_key"]] = (DetectionTask(**r["task"]), [])
        spec = {"name": r["model_name"], "params": dict(r.get("params") or {})}
        if spec not in out[r["task_key"]][1]:
            out[r["task_key"]][1].append(spec)
    return out


def stored_alert_boards(store: ResultsStore, question: DeployQuestion) -> dict[str, AlertBoard]:
    """The alert board of every detection task of the store (its detectors at the question's budget,
    thresholds chosen on its calibration split), by task description.

    Parameters
    ----------
    store
        The results store.
    question
        The budget, split and hysteresis; a task without calibration items (`calibration="none"`,
        as `workbench.joint` runs) is calibrated on the earlier half of each series instead of
        on held-out items.
    """
    boards = {}
    for task, specs in detection_tasks(store).values():
        # a task scored on every item (no calibration items) is calibrated on an earlier time range
        split = "time" if question.split == "items" and task.calibration == "none" else question.split
        boards[task.describe()] = alert_board_from_store(
            store, task, specs, question.budget, split=split, hold=question.hold
        )
    return boards


def _candidate_of(detector: str, models: list[str]) -> str | None:
    """The forecasting candidate a residual detector is built on (its `forecaster` parameter): the
    candidate of that label, else the one candidate of that model name (`ttm` for `ttm(model=...)`);
    None where there is none, or several (two configurations of one model: pass `detectors=`)."""
    match = _FORECASTER.search(detector)
    if not match:
        return None
    name = match.group(1).strip()
    if name in models:
        return name
    same = [m for m in models if m.split("(", 1)[0] == name]
    return same[0] if len(same) == 1 else None


def _short_detector(config: str) -> str:
    """A residual detector's name and forecaster (`forecast_band(forecaster=theta)`), else the label whole."""
    match = _FORECASTER.search(config)
    return f"{config.split('(', 1)[0]}(forecaster={match.group(1).strip()})" if match else config


def _pooled(rows: list[dict]) -> dict:
    """One candidate's alert rows over several detection tasks (each with its own threshold), pooled:
    counts summed, rates as ratios of the sums; time to detect is the slowest task's median."""
    frame = pd.DataFrame(rows)

    def ratio(num: str, den: str) -> float:
        total = float(frame[den].sum())
        return float(frame[num].sum()) / total if total > 0 else float("nan")

    slowest = frame.loc[frame["ttd_seconds_median"].idxmax()] if frame["ttd_seconds_median"].notna().any() else None
    return {
        "detector": ", ".join(dict.fromkeys(_short_detector(str(c)) for c in frame["config"])),
        "threshold": float(frame["threshold"].iloc[0]) if len(frame) == 1 else float("nan"),
        "budget_met": bool(frame["budget_met"].all()),
        "tuned_on_test": bool(frame["tuned_on_test"].any()),
        "share_detected": ratio("detected", "events"),
        "ttd_median": "" if slowest is None else str(slowest["ttd_median"]),
        "false_alarms_per_series_day": ratio("false_alarms", "series_days"),
        "event_precision": ratio("true_episodes", "episodes"),
        "detection_task": ", ".join(frame["task"]),
        "n_detection_tasks": len(frame),
    }


def _alert_columns(boards: Mapping[str, AlertBoard], models: list[str], detectors: Mapping[str, str] | None):
    """Per candidate: its detector's alert rows on every detection task, pooled (`_pooled`)."""
    found: dict[str, list[dict]] = {}
    for task, board in boards.items():
        for row in board.table.to_dict("records"):
            label = str(row["config"])
            if detectors is not None:
                candidate = next((m for m, d in detectors.items() if d in (row["detector"], label)), None)
            else:
                candidate = _candidate_of(label, models)
            if candidate is not None:
                found.setdefault(candidate, []).append(row | {"task": task})
    frame = pd.DataFrame.from_dict({m: _pooled(rows) for m, rows in found.items()}, orient="index")
    frame.index.name = "model"
    return frame


def deploy_table(
    store: ResultsStore | str | None = None,
    question: DeployQuestion | None = None,
    *,
    candidates: Sequence[str] | None = None,
    detectors: Mapping[str, str] | None = None,
    alerts: Mapping[str, AlertBoard] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> DeployTable:
    """Per candidate model, accuracy, cost at scale and alert quality at the budget, and the frontier.

    Columns: candidate, skill (with skill_lo, skill_hi, win_rate, n_problems and the mean of the
    metric), `skill[<group>]` per kind of series, cpu_s_per_1k (with _lo, _hi, _step),
    throughput_per_s, core_hours_per_day (with _lo, _hi), cores, cost_basis, load_s, device, the
    alert columns (`ALERT_COLUMNS`, with detection_task; empty where the candidate has no
    detector), and on_frontier.

    Parameters
    ----------
    store
        The results store (a `ResultsStore`, a folder or an fsspec URL; None: `WORKBENCH_RESULTS`).
    question
        Scale, cadence, budget and metric (`DeployQuestion()`: a million series hourly, one false
        alarm per series-week, MASE).
    candidates
        The forecasting models to compare (labels as stored); None: every model with metric rows.
    detectors
        Candidate -> the label of its detector; None: residual detectors matched by their `forecaster`.
    alerts
        Alert boards to read the alert columns from; None: `stored_alert_boards` of the store.
    n_boot, seed
        The skill's bootstrap resamples and seed.
    """
    question = question or DeployQuestion()
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    by = question.by if question.by and question.by in series_columns(store) else ""
    rows = series_metrics(store)
    metric = _metric(rows, question.metric)
    rows = rows[rows["metric"] == metric]
    models = sorted(rows["model"].unique()) if candidates is None else list(candidates)
    unknown = sorted(set(models) - set(rows["model"]))
    if unknown:
        have = sorted(set(rows["model"]))
        raise WorkbenchError(f"candidate(s) {unknown} have no {metric} rows; models with rows: {have}")
    try:
        accuracy, baseline = _accuracy(rows[rows["model"].isin(models)], metric, by, n_boot, seed)
    except CompareError as exc:
        raise WorkbenchError(f"what to deploy: {exc}") from exc
    costs, cost_tasks = _costs(store, models, question)
    boards = dict(alerts) if alerts is not None else stored_alert_boards(store, question)
    alert = _alert_columns(boards, models, detectors)
    table = accuracy.join(costs, how="left").join(alert, how="left").reindex(models)
    table.index.name = "candidate"
    table = table.reset_index()
    for col in (*ALERT_COLUMNS, "detection_task", "n_detection_tasks"):
        if col not in table:
            table[col] = np.nan
    table["on_frontier"] = pareto_front(table["skill"], table.get("cpu_s_per_1k", np.nan))
    notes = []
    for _, row in table.iterrows():
        if not np.isfinite(row.get("cpu_s_per_1k", np.nan)):
            notes.append(f"{row['candidate']}: no unit with CPU seconds on the costed tasks, so no cost")
        if pd.isna(row["detector"]):
            notes.append(f"{row['candidate']}: no detector built on it in the store, so no alert quality")
        elif row["tuned_on_test"] is True:
            notes.append(f"{row['candidate']}: its alert threshold was tuned on the scored rows (flagged)")
    table = table.sort_values(["on_frontier", "cpu_s_per_1k"], ascending=[False, True], kind="stable")
    return DeployTable(table.reset_index(drop=True), question, metric, baseline, cost_tasks, boards, notes)


def frontier_figure(result: DeployTable, names: Mapping[str, str] | None = None):
    """The accuracy-cost plane: skill against seasonal naive (y) against CPU seconds per 1,000 series
    forecasts (x, log scale), both with their intervals, the Pareto frontier drawn as a line through
    its candidates and each candidate named.

    Parameters
    ----------
    result
        A `deploy_table` result.
    names
        Candidate -> the name drawn beside its point (default: its label).
    """
    import plotly.graph_objects as go

    table = result.table.assign(candidate=lambda t: [(names or {}).get(c, c) for c in t["candidate"]])
    shown = table[np.isfinite(table["skill"]) & np.isfinite(table["cpu_s_per_1k"])]
    fig = go.Figure()
    for on, name, symbol in ((False, "dominated", "circle-open"), (True, "on the frontier", "diamond")):
        part = shown[shown["on_frontier"] == on]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["cpu_s_per_1k"],
                y=part["skill"],
                mode="markers+text",
                name=name,
                text=part["candidate"],
                textposition="top center",
                marker={"symbol": symbol, "size": 12},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": part["cpu_s_per_1k_hi"] - part["cpu_s_per_1k"],
                    "arrayminus": part["cpu_s_per_1k"] - part["cpu_s_per_1k_lo"],
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": part["skill_hi"] - part["skill"],
                    "arrayminus": part["skill"] - part["skill_lo"],
                },
                customdata=np.stack([part["core_hours_per_day"], part["win_rate"]], axis=1),
                hovertemplate="%{text}: skill %{y:.3f}, %{x:.3g} CPU s per 1,000 series forecasts, "
                "%{customdata[0]:.3g} core-hours/day, win rate %{customdata[1]:.2f}<extra></extra>",
            )
        )
    front = shown[shown["on_frontier"]].sort_values("cpu_s_per_1k")
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=front["cpu_s_per_1k"],
                y=front["skill"],
                mode="lines",
                name="Pareto frontier",
                line={"dash": "dash"},
                hoverinfo="skip",
            )
        )
    q = result.question
    fig.update_layout(
        title=f"Accuracy against cost: skill on {result.metric} against {result.baseline}, "
        f"cost of one forecast per series every {q.every}",
        xaxis={"title": "CPU seconds per 1,000 series forecasts (log scale)", "type": "log"},
        yaxis={"title": f"skill against {result.baseline} (1 - geometric mean relative {result.metric})"},
        height=480,
    )
    return fig


# ---- the report's section -------------------------------------------------------------------------
def _interval_text(lo: float, hi: float, digits: int = 2) -> str:
    return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"{lo:.{digits}g} to {hi:.{digits}g}"


def deploy_summary(result: DeployTable, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The deploy table as a reader scans it: one row per candidate (short names), skill and its
    interval, cost per 1,000 series forecasts and its interval, core-hours per day, the detector (short
    label) and its alert quality at the budget, and whether the candidate is on the frontier.

    Parameters
    ----------
    result
        A `deploy_table` result.
    names
        Candidate -> a short name (default: the candidate's label).
    """
    t = result.table
    q = result.question
    return pd.DataFrame(
        {
            "candidate": [(names or {}).get(c, c) for c in t["candidate"]],
            f"skill ({result.metric})": t["skill"],
            "skill 95% CI": [_interval_text(lo, hi) for lo, hi in zip(t["skill_lo"], t["skill_hi"], strict=True)],
            "CPU s / 1k forecasts": t["cpu_s_per_1k"],
            "cost 95% CI": [
                _interval_text(lo, hi, 3) for lo, hi in zip(t["cpu_s_per_1k_lo"], t["cpu_s_per_1k_hi"], strict=True)
            ],
            f"core-h/day ({q.n_series:,} every {q.every})": t["core_hours_per_day"],
            "detector": [d if isinstance(d, str) else "" for d in t["detector"]],
            "budget met": t["budget_met"],
            "events detected": t["share_detected"],
            "time to detect": t["ttd_median"],
            "false alarms / series-day": t["false_alarms_per_series_day"],
            "event precision": t["event_precision"],
            "frontier": t["on_frontier"],
        }
    )


def deploy_section(ctx: ReportContext) -> str | None:
    """The report's "What to deploy" section: the sentence naming the frontier, the figure, the table,
    the alert boards behind its alert columns, and what the numbers were computed from; None where no
    forecast unit of the store measured its CPU seconds (nothing to cost).

    Parameters
    ----------
    ctx
        The report's context (`ctx.deploy` is the question).
    """
    records = ctx.records  # read once for the report: no second listing of the store to decide
    if "cpu_s" not in records or not records.loc[records["kind"] == "forecast", "cpu_s"].notna().any():
        return None
    try:
        result = deploy_table(ctx.store, ctx.deploy or DeployQuestion(), n_boot=ctx.n_boot, seed=ctx.seed)
    except WorkbenchError as exc:
        return f"<p class='note'>No deploy table: {esc(str(exc))}</p>"
    q = result.question
    names = dict(zip(result.table["candidate"], ctx.names(result.table["candidate"]), strict=True))
    front = ", ".join(names[c] for c in result.frontier) or "none (no candidate has both a skill and a cost)"
    text = (
        f"<p>On the Pareto frontier of accuracy against cost: <b>{esc(front)}</b>. Cost of running each over "
        f"{q.n_series:,} series, one forecast per series every {esc(q.every)}; alert thresholds chosen on a "
        f"calibration split for {esc(q.budget.describe())}.</p>"
    )
    body = text + ctx.page.figure(result.figure(names), "deploy") + table(deploy_summary(result, names), digits=3)
    groups = [c for c in result.table.columns if c.startswith("skill[")]
    if groups:
        by_kind = result.table[["candidate", *groups]].assign(candidate=lambda f: f["candidate"].map(names))
        body += "<h3>Skill by kind of series</h3>" + table(by_kind, digits=3)
    for task, board in result.alerts.items():
        figure = board.figure().update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.25})
        body += f"<h3>Alerts on {esc(task)}</h3>" + ctx.page.figure(figure, "alerts")
        cols = ["detector", "threshold", "tuned_on_test", "budget_met", "share_detected", "ttd_median", "ttd_p90"]
        cols += ["false_alarms", "series_days", "false_alarms_per_series_day", "event_precision"]
        body += table(board.table[[c for c in cols if c in board.table.columns]], digits=3)
        body += prov(f"thresholds: {'; '.join(dict.fromkeys(board.table['threshold_from'].astype(str)))}")
        for label, error in board.failures.items():
            ctx.detail(f"alerts of {label} on {task}", error)
    notes = "; ".join(result.notes)
    body += prov(
        f"skill: {result.metric} against {result.baseline}, {ctx.n_boot} bootstrap resamples of problems, seed "
        f"{ctx.seed}; cost: CPU seconds of the models' calls pooled over {', '.join(result.cost_tasks)} "
        "(workbench.store.cost; weights loading apart; measured on the machine the units name, an upper bound "
        "when it was loaded)" + (f". {notes}." if notes else ".")
    )
    return body
