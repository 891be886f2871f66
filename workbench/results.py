"""SQL over the results store through DuckDB, and the leaderboards.

Views available to every query, built from the committed records (no file is hashed):

    metrics, forecasts, detection_scores, detection_metrics, claims
                 the rows of every committed unit's table (an empty view with the usual columns when
                 no unit has that table); any other stored table gets a view of its name too
    units        one row per committed unit: key, kind, status, run_id, task_key, model, ...
    runs         one row per run: provenance, counts, timings

A missing store folder, or one without a single committed unit, is an error rather than an empty
answer: a typo in a path must not read as "no results".

`leaderboard` never averages across tasks: one row per (task_key, model, metric), the mean over the
defined per-series values, with the number of undefined (NaN, inf, null) values beside it. A metric
row stored twice (the same task_key, model, window, unique_id and metric in two committed units, as
when one series was stored under two chunk sizes) is an error unless `allow_duplicates`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from workbench.engine.store import TABLES, ResultsStore
from workbench.errors import WorkbenchError

_V, _B, _D, _I = "VARCHAR", "BOOLEAN", "DOUBLE", "BIGINT"
SCHEMAS: dict[str, dict[str, str]] = {
    "metrics": {
        **{"task_key": _V, "task": _V, "dataset": _V, "subset": _V, "model": _V, "window": _I, "unique_id": _V},
        **{"metric": _V, "value": _D, "unit": _V},
    },
    "forecasts": {
        **{"task_key": _V, "dataset": _V, "subset": _V, "model": _V, "window": _I, "unique_id": _V},
        **{"ds": "TIMESTAMP", "y_hat": _D, "unit": _V},
    },
    "detection_scores": {
        **{"task_key": _V, "dataset": _V, "subset": _V, "model": _V, "unique_id": _V, "row": _I},
        **{"anomaly_score": _D, "unit": _V},
    },
    "detection_metrics": {
        **{"task_key": _V, "task": _V, "dataset": _V, "subset": _V, "model": _V, "unique_id": _V},
        **{"metric": _V, "value": _D, "higher_is_better": _B, "unit": _V},
    },
    "claims": {
        **{"paper": _V, "table": _V, "dataset": _V, "subset": _V, "method": _V, "metric": _V},
        **{"claimed": _D, "reproduced": _D, "tolerance": _D, "status": _V, "note": _V, "unit": _V},
    },
}
UNIT_COLUMNS: dict[str, pa.DataType] = {
    **{"key": pa.string(), "kind": pa.string(), "status": pa.string(), "run_id": pa.string()},
    **{"task_key": pa.string(), "dataset": pa.string(), "subset": pa.string(), "model": pa.string()},
    **{"model_name": pa.string(), "n_series": pa.int64(), "window": pa.int64(), "seed": pa.int64()},
    **{"worker": pa.string(), "duration_s": pa.float64(), "peak_rss_mb": pa.float64(), "error": pa.string()},
    **{"committed_at": pa.string(), "committed_by": pa.string(), "tables": pa.string()},
}
_RUN_NESTED = ("tasks", "packages", "status_counts")
Store = str | Path | ResultsStore | None


def _as_store(store: Store) -> ResultsStore:
    return store if isinstance(store, ResultsStore) else ResultsStore(store)


def _quote(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _empty_view(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str]) -> None:
    cols = ", ".join(f"NULL::{t} AS {_ident(c)}" for c, t in columns.items())
    con.execute(f"CREATE VIEW {_ident(name)} AS SELECT {cols} WHERE false")


def _scalar(value, kind: pa.DataType):
    if value is None or isinstance(value, dict | list):
        return None if kind != pa.string() or value is None else json.dumps(value, default=str)
    if kind == pa.string():
        return str(value)
    try:
        return int(value) if kind == pa.int64() else float(value)
    except (TypeError, ValueError):
        return None


def _units_table(records: list[dict]) -> pa.Table:
    columns = {}
    for col, kind in UNIT_COLUMNS.items():
        if col == "tables":
            values = [",".join(sorted(r["tables"])) for r in records]
        else:
            values = [_scalar(r.get(col), kind) for r in records]
        columns[col] = pa.array(values, type=kind)
    return pa.table(columns)


def connect(store: Store = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store's views (see the module docstring)."""
    store = _as_store(store)
    if not store.root.is_dir():
        raise WorkbenchError(f"results store {store.root}: no such folder")
    records = store.committed()
    if not records:
        raise WorkbenchError(f"results store {store.root}: no committed unit (nothing has been run into it yet?)")
    con = duckdb.connect()
    try:
        tables = store.tables(records)
        for name in sorted(set(tables) | set(SCHEMAS)):
            if name in ("units", "runs") or not name.isidentifier():
                continue
            files = tables.get(name)
            if files:
                listing = ", ".join(_quote(f) for f in files)
                con.execute(
                    f"CREATE VIEW {_ident(name)} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
                )
            else:
                _empty_view(con, name, SCHEMAS[name])
        con.register("units_arrow", _units_table(records))
        con.execute("CREATE VIEW units AS SELECT * FROM units_arrow")
        runs = store.runs()
        if runs.empty:
            _empty_view(con, "runs", {"run_id": _V, "started_at": _V, "finished_at": _V, "seconds": _D})
        else:
            con.register("runs_df", runs.drop(columns=[c for c in _RUN_NESTED if c in runs]))
            con.execute("CREATE VIEW runs AS SELECT * FROM runs_df")
    except BaseException:
        con.close()
        raise
    return con


def sql(query: str, store: Store = None, params: list | None = None) -> pd.DataFrame:
    """Answer a SQL query over the store (views: see the module docstring)."""
    con = connect(store)
    try:
        return con.execute(query, params).df()
    except duckdb.Error as exc:
        raise WorkbenchError(f"SQL error: {exc}") from exc
    finally:
        con.close()


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {_ident(view)}").fetchall()}


def _board(
    con: duckdb.DuckDBPyConnection,
    view: str,
    series_key: tuple[str, ...],
    metrics: Iterable[str] | None,
    extra: str = "",
) -> pd.DataFrame:
    """One row per (task_key, model, metric) of `view`: the mean over the defined values of each
    series key (copies of one key averaged first), counts of series, windows, undefined values and
    duplicated rows."""
    cols = _columns(con, view)
    missing = {"task_key", "model", "metric", "value", *series_key} - cols
    if missing:
        raise WorkbenchError(f"view {view} lacks the column(s) {sorted(missing)} a leaderboard needs")
    task = "coalesce(task, task_key)" if "task" in cols else "task_key"
    unit = "unit" if "unit" in cols else "NULL"
    window = '"window"' if "window" in series_key else "NULL"
    keys = ", ".join(_ident(c) for c in series_key)
    where = "WHERE list_contains(?, metric)" if metrics else ""
    hib = ", bool_or(hib_or) AS hib_any, bool_and(hib_and) AS hib_all" if extra else ""
    query = f"""
        WITH per_key AS (
            SELECT task_key, min({task}) AS task, model, metric, {keys},
                   avg(value) FILTER (WHERE isfinite(value)) AS mean,
                   count(*) AS n, count(*) FILTER (WHERE value IS NULL OR NOT isfinite(value)) AS n_undefined,
                   count(DISTINCT {unit}) AS n_units {extra}
            FROM {_ident(view)} {where}
            GROUP BY task_key, model, metric, {keys}
        )
        SELECT task_key, min(task) AS task, model, metric, avg(mean) AS value,
               count(DISTINCT unique_id) AS n_series, count(DISTINCT {window}) AS n_windows,
               sum(n_undefined)::BIGINT AS n_undefined, (sum(n) - count(*))::BIGINT AS n_duplicates,
               count(*) FILTER (WHERE n_units > 1) AS n_keys_in_several_units,
               count(unique_id) AS n_keyed, count(*) AS n_keys {hib}
        FROM per_key
        GROUP BY task_key, model, metric
    """
    try:
        return con.execute(query, [list(metrics)] if metrics else None).df()
    except duckdb.Error as exc:
        raise WorkbenchError(f"SQL error in the leaderboard of {view}: {exc}") from exc


def _check_duplicates(frame: pd.DataFrame, what: str, allow: bool) -> pd.DataFrame:
    if allow:
        return frame
    dup = frame[frame["n_duplicates"] > 0]
    if len(dup):
        per = dup.groupby(["task", "task_key", "model"], sort=True)[["n_duplicates", "n_keys_in_several_units"]].sum()
        lines = [
            f"  task {task!r} (task_key {key}), model {model!r}: {int(r.n_duplicates)} duplicated rows"
            f" ({int(r.n_keys_in_several_units)} keys stored in more than one unit)"
            for (task, key, model), r in per.iterrows()
        ]
        raise WorkbenchError(
            f"{what}: the same {'/'.join(('task_key', 'model', 'window', 'unique_id', 'metric'))} appears more than "
            "once (a grid run under two chunk sizes?); the leaderboard would count those series twice:\n"
            + "\n".join(lines)
            + "\nPass allow_duplicates=True (--allow-duplicates) to see the board with an n_duplicates column."
        )
    return frame.drop(columns=["n_duplicates"])


def leaderboard(
    store: Store = None, metrics: Iterable[str] | None = None, allow_duplicates: bool = False
) -> pd.DataFrame:
    """One row per (task, model, metric) of the forecast metric rows, lower values first.

    Columns: task_key, task (readable; task_key where rows carry none), model, metric, value (mean
    over the defined per-series values, all windows), n_series, n_windows, n_undefined (values
    that are NaN, inf or null: counted here, left out of the mean), aggregation, and n_duplicates
    when `allow_duplicates` (then each duplicated row's copies are averaged into one value)."""
    metrics = list(metrics) if metrics else None
    con = connect(store)
    try:
        frame = _board(con, "metrics", ("window", "unique_id"), metrics)
    finally:
        con.close()
    frame = _check_duplicates(frame, f"leaderboard of {_as_store(store).root}", allow_duplicates)
    frame["aggregation"] = "mean of per-series"
    frame = frame.drop(columns=["n_keys_in_several_units", "n_keyed", "n_keys"])
    return frame.sort_values(["task", "task_key", "metric", "value", "model"], ignore_index=True)


def detection_leaderboard(
    store: Store = None, metrics: Iterable[str] | None = None, allow_duplicates: bool = False
) -> pd.DataFrame:
    """One row per (task, model, metric) of the detection metric rows, best first (higher is
    better where the rows say so). Columns as `leaderboard`, with n_items for n_series and
    aggregation `corpus` (one value for the whole corpus: rows without unique_id) or
    `mean of per-item`."""
    metrics = list(metrics) if metrics else None
    con = connect(store)
    try:
        frame = _board(
            con,
            "detection_metrics",
            ("unique_id",),
            metrics,
            extra=", bool_or(higher_is_better) AS hib_or, bool_and(higher_is_better) AS hib_and",
        )
    finally:
        con.close()
    root = _as_store(store).root
    mixed = frame[frame["hib_any"] != frame["hib_all"]]
    if len(mixed):
        raise WorkbenchError(f"{root}: metric(s) {sorted(set(mixed['metric']))} mix higher_is_better true and false")
    both = frame[(frame["n_keyed"] > 0) & (frame["n_keyed"] < frame["n_keys"])]
    if len(both):
        raise WorkbenchError(
            f"{root}: metric(s) {sorted(set(both['metric']))} mix corpus rows (no unique_id) and per-item rows"
        )
    frame = _check_duplicates(frame, f"detection leaderboard of {root}", allow_duplicates)
    frame["higher_is_better"] = frame["hib_all"].fillna(False).astype(bool)
    frame["aggregation"] = frame["n_series"].map(lambda n: "mean of per-item" if n else "corpus")
    frame = frame.rename(columns={"n_series": "n_items"}).drop(
        columns=["n_windows", "n_keys_in_several_units", "n_keyed", "n_keys", "hib_any", "hib_all"]
    )
    frame["_order"] = frame["value"].where(~frame["higher_is_better"], -frame["value"])
    return frame.sort_values(["task", "task_key", "metric", "_order", "model"], ignore_index=True).drop(
        columns="_order"
    )


__all__ = ["SCHEMAS", "TABLES", "connect", "detection_leaderboard", "leaderboard", "sql"]
