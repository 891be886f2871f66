"""What the report asks the results store, answered by DuckDB so that the client never holds the rows.

A store of 100,000 series × 8 models holds millions of metric rows and tens of millions of forecast
rows; the report needs a few hundred numbers per task. Every function here runs aggregate queries on
one connection (`workbench.store.sql.connect`: views over the committed files) and returns what the
page shows: task facts, one problem matrix (problems × models) of one task and metric at a time, the
sampled series of the drill-down and their forecasts.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd


def task_facts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per forecasting task of the metric rows: task_key, task (readable), dataset, n_series,
    n_models, metrics (sorted list)."""
    return con.execute(
        """SELECT task_key, coalesce(min(task), task_key) AS task, min(dataset) AS dataset,
                  count(DISTINCT unique_id) AS n_series, count(DISTINCT model) AS n_models,
                  list(DISTINCT metric ORDER BY metric) AS metrics
           FROM metrics GROUP BY task_key ORDER BY task"""
    ).df()


def problem_matrix(con: duckdb.DuckDBPyConnection, task_key: str, metric: str) -> pd.DataFrame:
    """Problems × models of one task and metric, only problems every model has a finite value for;
    `attrs["n_left_out"]` counts the others. The index numbers the problems ((window, series) in
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
    values[~np.isfinite(values)] = np.nan
    complete = ~np.isnan(values).any(axis=1)
    wide = pd.DataFrame(values[complete], index=pd.Index(codes[complete], name="problem"), columns=list(models))
    wide.attrs["n_left_out"] = int((~complete).sum())
    return wide


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
