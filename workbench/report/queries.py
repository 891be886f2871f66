"""What the report asks the results store, answered by DuckDB so that the client never holds the rows.

A store of 100,000 series × 8 models holds millions of metric rows and tens of millions of forecast
rows; the report needs a few hundred numbers per task. Every function here runs aggregate queries on
one connection (`workbench.store.sql.connect`: views over the committed files) and returns what the
page shows: task facts, one problem matrix (problems × models) of one task and metric at a time, the
sampled series of the drill-down and their forecasts (`drilldown`: what the report's forecasts
section and the notebooks draw).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from workbench.report.compare import complete_problems
from workbench.tasks import Task

__all__ = [
    "Drilldown",
    "drilldown",
    "forecast_tasks",
    "forecasts_of",
    "past_and_truth",
    "resolved_tasks",
    "sample_series",
    "task_facts",
    "task_problem_matrix",
    "task_titles",
]


def task_facts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per forecasting task of the metric rows: task_key, task (readable), dataset, n_series,
    n_models, metrics (sorted list)."""
    return con.execute(
        """SELECT task_key, coalesce(min(task), task_key) AS task, min(dataset) AS dataset,
                  count(DISTINCT unique_id) AS n_series, count(DISTINCT model) AS n_models,
                  list(DISTINCT metric ORDER BY metric) AS metrics
           FROM metrics GROUP BY task_key ORDER BY task"""
    ).df()


def task_problem_matrix(con: duckdb.DuckDBPyConnection, task_key: str, metric: str) -> pd.DataFrame:
    """Problems × models of one task and metric, only problems every model has a finite value for;
    `attrs["n_left_out"]` counts the others (`workbench.report.compare.complete_problems`, as for
    `compare.problem_matrix` over per-series rows held in memory). The index numbers the problems ((window, series) in
    order), the same numbers for every metric of the task. Copies of a row stored twice are averaged
    (the leaderboard counts them). DuckDB numbers problems and models; numpy only scatters values."""
    rows = con.execute(
        """WITH k AS (SELECT "window", unique_id, model, avg(value) AS value FROM metrics
                      WHERE task_key = $task AND metric = $metric GROUP BY ALL),
                p AS (SELECT "window", unique_id, row_number() OVER (ORDER BY "window", unique_id) - 1 AS problem
                      FROM (SELECT DISTINCT "window", unique_id FROM metrics WHERE task_key = $task))
           SELECT problem, dense_rank() OVER (ORDER BY model) - 1 AS m, model, value
           FROM k JOIN p USING ("window", unique_id)""",
        {"task": task_key, "metric": metric},
    ).fetchnumpy()
    if len(rows["problem"]) == 0:
        return pd.DataFrame()
    problem, m = np.asarray(rows["problem"], dtype=np.int64), np.asarray(rows["m"], dtype=np.int64)
    models = pd.Series(np.asarray(rows["model"], dtype=object)).groupby(m).first().sort_index()
    codes, problems = np.unique(problem, return_inverse=True)
    values = np.full((len(codes), len(models)), np.nan)
    values[problems, m] = np.ma.filled(np.ma.asarray(rows["value"], dtype=float), np.nan)  # null -> NaN
    wide = complete_problems(pd.DataFrame(values, index=pd.Index(codes, name="problem"), columns=list(models)))
    wide.attrs["metric"] = metric  # what orders the models (`compare.wide_ranks` reads the metric's direction)
    return wide


# fields of a resolved task that tell two tasks of one dataset apart, as a reader names them
TITLE_FIELDS = {
    "subset": "subset {}",
    "horizon": "horizon {}",
    "n_windows": "{} windows",
    "step": "step {}",
    "protocol": "{}",
    "window": "{} window",
    "train_length": "train {}",
    "season_length": "season {}",
    "gap_policy": "gaps {}",
    "mode": "{}",  # a detection task fed as a stream (`replay`) beside its batch twin
    "metric_type": "{}",
    "data_fingerprint": "data {:.8}",
}


def task_titles(facts: pd.DataFrame, resolved: Mapping[str, Any]) -> dict[str, str]:
    """task_key -> a title that is unique in the report: the task's description where its dataset has one
    task; where several tasks share a dataset, `dataset/subset: ` and only the fields that differ among
    them (`fleet/all: horizon 24, 3 windows` beside `fleet/all: horizon 48, 2 windows`); the start of
    the key where nothing recorded tells them apart.

    Parameters
    ----------
    facts:
        `task_facts` (task_key, task, dataset).
    resolved:
        task_key -> the resolved task its units record (`resolved_tasks`); absent keys fall back to the
        description.
    """
    if facts.empty:
        return {}
    titles = dict(zip(facts["task_key"], facts["task"].astype(str), strict=True))
    for _, group in facts.groupby("dataset", sort=False, dropna=False):
        keys = list(group["task_key"])
        if len(keys) < 2:
            continue
        fields = {k: dict(resolved[k]) if isinstance(resolved.get(k), Mapping) else {} for k in keys}
        differing = [f for f in TITLE_FIELDS if len({repr(fields[k].get(f)) for k in keys}) > 1]
        for k in keys:
            shown = [
                TITLE_FIELDS[f].format(fields[k][f]) for f in differing if fields[k].get(f) not in (None, "", "none")
            ]
            if shown:
                f0 = fields[k]
                head = f"{f0.get('dataset', group['dataset'].iloc[0])}/{f0.get('subset', 'all')}"
                titles[k] = f"{head}: {', '.join(shown)}"
    counts = pd.Series(list(titles.values())).value_counts()
    return {k: (f"{t} [{k[:8]}]" if counts[t] > 1 else t) for k, t in titles.items()}


def sample_series(con: duckdb.DuckDBPyConnection, task_key: str, n: int, seed: int = 0) -> tuple[list[str], int]:
    """`n` series of a task drawn with `seed` among those with stored forecasts (sorted), and how
    many there were: the drill-down shows a sample whatever the size of the task."""
    ids = con.execute(
        "SELECT DISTINCT unique_id FROM forecasts WHERE task_key = $task ORDER BY unique_id", {"task": task_key}
    ).df()["unique_id"]
    ids = ids.astype(str).to_numpy()
    if len(ids) <= n:
        return list(ids), len(ids)
    chosen = np.random.default_rng(seed).choice(len(ids), n, replace=False)
    return sorted(ids[chosen].tolist()), len(ids)


def forecasts_of(con: duckdb.DuckDBPyConnection, task_key: str, ids: list[str]) -> pd.DataFrame:
    """The stored forecasts of these series of a task (every model, the first window stored)."""
    return con.execute(
        """SELECT * FROM forecasts WHERE task_key = $task AND list_contains($ids, unique_id)
             AND "window" = (SELECT min("window") FROM forecasts WHERE task_key = $task)
           ORDER BY model, unique_id, ds""",
        {"task": task_key, "ids": ids},
    ).df()


def forecast_tasks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Task keys with stored forecasts."""
    return [r[0] for r in con.execute("SELECT DISTINCT task_key FROM forecasts ORDER BY 1").fetchall()]


@dataclass(frozen=True)
class Drilldown:
    """One task's drill-down: a seeded sample of its series with stored forecasts, their forecasts in
    the first stored window, and their recent past and truth re-cut from the task itself."""

    task_key: str
    window: int
    ids: list[str]
    n_series: int  # series of the task with stored forecasts, of which `ids` is the sample
    forecasts: pd.DataFrame
    past: pd.DataFrame
    truth: pd.DataFrame
    why: str  # why past and truth are empty (the task or its data cannot be had here), else ""


def resolved_tasks(records: pd.DataFrame) -> pd.Series:
    """task_key -> the resolved task its forecast units record (units written by other tools may
    record none: those keys are absent)."""
    units = records[records["kind"] == "forecast"] if "kind" in records else records
    if not {"task_key", "task"} <= set(units.columns):
        return pd.Series(dtype=object)
    return units.dropna(subset=["task_key"]).drop_duplicates("task_key").set_index("task_key")["task"]


def drilldown(
    con: duckdb.DuckDBPyConnection,
    task_key: str,
    task: Task | Mapping[str, Any] | None,
    n: int,
    seed: int = 0,
) -> Drilldown:
    """The drill-down of a task with stored forecasts (`forecast_tasks`).

    Parameters
    ----------
    con: a connection with the store's `forecasts` view (`workbench.store.sql.connect`).
    task_key: the task's key in the store.
    task: the task itself, or the resolved task its units record (`resolved_tasks`), to re-cut the
        past and truth from; None (or data that cannot be had here) leaves them empty, with `why`.
    n, seed: how many series to sample, with which seed (`sample_series`)."""
    ids, n_total = sample_series(con, task_key, n, seed)
    stored = forecasts_of(con, task_key, ids)
    window = int(stored["window"].min())
    past, truth, why = past_and_truth(task, ids, window)
    return Drilldown(task_key, window, ids, n_total, stored, past, truth, why)


def past_and_truth(
    task: Task | Mapping[str, Any] | None, ids: list[str], window_index: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The recent past and the truth of these series in that window, recomputed from the task; empty
    frames and the reason where the task or its data cannot be had here."""
    empty = pd.DataFrame(columns=["unique_id", "ds", "y"])
    if not isinstance(task, Task | Mapping):
        return empty, empty, "the units record no resolved task"
    try:
        task = task if isinstance(task, Task) else Task.from_resolved(dict(task))
        window = next(w for w in task.windows() if w.index == window_index)
    except Exception as exc:  # the data behind a stored task may be unavailable here
        return empty, empty, f"{type(exc).__name__}: {exc}"
    past = window.past.df[window.past.df["unique_id"].isin(ids)]
    truth = window.truth.df[window.truth.df["unique_id"].isin(ids)]
    return past, truth, ""
