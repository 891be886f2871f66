"""What the report asks the results store, answered by DuckDB so that the client never holds the rows.

A store of 100,000 series × 8 models holds millions of metric rows and tens of millions of forecast
rows; the report needs a few hundred numbers per task. Every function here runs aggregate queries on
one connection (`workbench.results.connect`: views over the committed files) and returns what the
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
    """Problems (window, series) × models of one task and metric, only problems every model has a
    finite value for; `attrs["n_left_out"]` counts the others. Copies of a row stored twice are
    averaged (the leaderboard counts them). The pivot is done in numpy from one grouped query."""
    rows = con.execute(
        """SELECT "window", unique_id, model, avg(value) AS value FROM metrics
           WHERE task_key = $task AND metric = $metric GROUP BY ALL""",
        {"task": task_key, "metric": metric},
    ).df()
    if rows.empty:
        return pd.DataFrame()
    p_codes, p_uniques = pd.factorize(pd.MultiIndex.from_frame(rows[["window", "unique_id"]]), sort=True)
    m_codes, models = pd.factorize(rows["model"], sort=True)
    values = np.full((len(p_uniques), len(models)), np.nan)
    values[p_codes, m_codes] = rows["value"].to_numpy(dtype=float)
    values[~np.isfinite(values)] = np.nan
    complete = ~np.isnan(values).any(axis=1)
    index = pd.MultiIndex.from_tuples(list(p_uniques[complete]), names=["window", "unique_id"])
    wide = pd.DataFrame(values[complete], index=index, columns=list(models))
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
