"""SQL over the results store through DuckDB, and the leaderboard.

Views available to every query: `metrics` (per-series rows of intact units), `units` (one record per
unit: status, error, duration, worker, memory), `runs` (provenance per run) and, when stored,
`forecasts`. Only units whose files still match their recorded hashes are visible.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from workbench.engine.store import ResultsStore
from workbench.errors import WorkbenchError

_UNIT_COLUMNS = [
    *("key", "run_id", "dataset", "subset", "model", "status", "error", "duration_s", "worker", "peak_rss_mb"),
]


def connect(store: str | Path | ResultsStore | None = None) -> duckdb.DuckDBPyConnection:
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    con = duckdb.connect()
    records = store.records()  # hashes every unit once; both views and the units table use it
    for kind in ("metrics", "forecasts"):
        files = [str(p) for p in store.valid_files(kind, records)]
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)")
        elif kind == "metrics":
            con.execute(
                "CREATE VIEW metrics AS SELECT NULL::VARCHAR AS task_key, NULL::VARCHAR AS dataset, "
                "NULL::VARCHAR AS subset, NULL::VARCHAR AS model, NULL::BIGINT AS window, "
                "NULL::VARCHAR AS unique_id, NULL::VARCHAR AS metric, NULL::DOUBLE AS value, "
                "NULL::VARCHAR AS unit WHERE false"
            )
    if records.empty:
        units = pd.DataFrame(columns=_UNIT_COLUMNS)
    else:
        units = records[[c for c in _UNIT_COLUMNS if c in records]]
    con.register("units_df", units)
    con.execute("CREATE VIEW units AS SELECT * FROM units_df")
    runs = store.runs()
    if not runs.empty:
        runs = runs.drop(columns=[c for c in ("tasks", "packages", "status_counts") if c in runs])
        con.register("runs_df", runs)
        con.execute("CREATE VIEW runs AS SELECT * FROM runs_df")
    return con


def sql(query: str, store: str | Path | ResultsStore | None = None) -> pd.DataFrame:
    """Answer a SQL query over the store (views metrics, units, runs, forecasts)."""
    con = connect(store)
    try:
        return con.execute(query).df()
    except duckdb.Error as exc:
        raise WorkbenchError(f"SQL error: {exc}") from exc
    finally:
        con.close()


def leaderboard(store: str | Path | ResultsStore | None = None, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Mean of per-series values per (dataset, subset, model, metric), with the aggregation named."""
    where = ""
    if metrics:
        where = "WHERE metric IN (" + ", ".join(f"'{m}'" for m in metrics if m.isidentifier()) + ")"
    return sql(
        f"""
        SELECT dataset, subset, model, metric, avg(value) AS value, count(DISTINCT unique_id) AS n_series,
               count(DISTINCT "window") AS n_windows, 'mean of per-series' AS aggregation
        FROM metrics {where}
        GROUP BY ALL
        ORDER BY dataset, subset, metric, value
        """,
        store,
    )
