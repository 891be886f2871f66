"""SQL over the results store through DuckDB, and the leaderboards.

Views available to every query, built from the committed records (no file is hashed):

    metrics, forecasts, detection_scores, detection_metrics, claims
                 the rows of every committed unit's table (an empty view with the usual columns when
                 no unit has that table); any other stored table gets a view of its name too
    units        one row per committed unit: key, kind, status, run_id, task_key, model, ...,
                 runtime (device, routed, fit_s, predict_s, inference_s, batch_size; `runtime` and
                 `hardware` as JSON), leakage (leakage, leakage_entry, leakage_check),
                 superseded (recomputed since by other code: its rows are left out of the views above)
    runs         one row per run: provenance, counts, timings

A missing store folder, or one without a single committed unit, is an error rather than an empty
answer: a typo in a path must not read as "no results".

A store at a URL (`s3://bucket/results`) is queried the same way: the views read the committed
files through fsspec, registered with DuckDB (`con.register_filesystem`; DuckDB's own httpfs
extension is not needed) as `workbench.storage.KnownFiles`, which answers DuckDB's size and
existence questions from the records and fetches each small file in one request, many at once.

`task_key` names what is forecast: the resolved task without its scoring fields (metrics, quantile
levels; `workbench.keys`), so the rows of a metric a later run added (score units computed from the
stored forecasts) belong to the same task as the first run's. `metrics` rows are committed by score
units (kind `score`, one per forecast unit and metric) and name the forecast unit they score
(`forecast_unit`); stores written before store format 3 hold them in the forecast units themselves.

`leaderboard` never averages across tasks: one row per (task_key, model, metric), the mean over the
defined per-series values, with the number of undefined (NaN, inf, null) values beside it. A metric
row stored twice (the same task_key, model, window, unique_id and metric in two committed units, as
when one series was stored under two chunk sizes) is an error unless `allow_duplicates`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from workbench import storage
from workbench.errors import WorkbenchError
from workbench.metrics import get_metric
from workbench.storage import Location
from workbench.store.cost import COST_COLUMNS, cost_board
from workbench.store.kinds import TABLES
from workbench.store.results_store import ResultsStore, superseded

_V, _B, _D, _I = "VARCHAR", "BOOLEAN", "DOUBLE", "BIGINT"
SCHEMAS: dict[str, dict[str, str]] = {
    "metrics": {
        **{"task_key": _V, "task": _V, "dataset": _V, "subset": _V, "model": _V, "window": _I, "unique_id": _V},
        **{"metric": _V, "value": _D, "point_as_quantiles": _B, "forecast_unit": _V, "unit": _V},
    },
    "series": {
        **{"task_key": _V, "task": _V, "dataset": _V, "subset": _V, "unique_id": _V},
        **{"n_obs": _I, "n_rows": _I, "n_missing": _I, "metric_type": _V, "unit": _V},
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
    # runtime (workbench.store.records): device and routing, seconds, what it ran on (JSON objects)
    **{"routed": pa.string(), "device": pa.string(), "dtype": pa.string(), "batch_size": pa.int64()},
    **{"fit_s": pa.float64(), "predict_s": pa.float64(), "inference_s": pa.float64(), "train_s": pa.float64()},
    **{"runtime": pa.string(), "hardware": pa.string()},
    # cost (workbench.store.cost): CPU seconds of the model's calls, weights loading, first unit of its model
    **{"cpu_s": pa.float64(), "load_s": pa.float64(), "load_cpu_s": pa.float64(), "first_in_process": pa.bool_()},
    # leakage (workbench.leakage): pretraining corpus verdict and entry, hashed-window check of training here
    **{"leakage": pa.string(), "leakage_entry": pa.string(), "leakage_check": pa.string()},
    # a score unit's forecast unit and metric (workbench.engine.units)
    **{"forecast_unit": pa.string(), "metric": pa.string()},
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
    if kind == pa.bool_():
        return bool(value)
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


def _files_by_schema(store: ResultsStore, records: list[dict]) -> dict[str, dict[tuple, list[Location]]]:
    """Table -> schema (as recorded at commit; None where unknown) -> files."""
    out: dict[str, dict[tuple, list[Location]]] = {}
    for record in records:
        for name, entry in record["tables"].items():
            columns = entry.get("columns")
            schema = tuple(map(tuple, columns)) if columns else None
            out.setdefault(name, {}).setdefault(schema, []).append(store.path(entry["path"]))
    return out


def _register_remote(con: duckdb.DuckDBPyConnection, store: ResultsStore, records: list[dict], views) -> None:
    """Let DuckDB read the store's objects (of the views it will create) through fsspec."""
    sizes = {}
    for record in records:
        for name, entry in record["tables"].items():
            if (views is None or name in views) and entry.get("bytes") is not None:
                sizes[store.path(entry["path"])] = entry["bytes"]
    fs = storage.for_duckdb(sizes) or storage.split(str(store.root))[0]
    con.register_filesystem(fs)


def _scan(groups: dict[tuple | None, list[Location]]) -> str:
    """One scan per schema, so DuckDB reads one footer per schema to bind the view (files of unknown
    schema are unified by name); the scans joined by name when the table's schema changed over time."""
    scans = []
    for schema, files in groups.items():
        listing = ", ".join(_quote(f) for f in files)
        scans.append(f"SELECT * FROM read_parquet([{listing}]{'' if schema else ', union_by_name = true'})")
    return " UNION ALL BY NAME ".join(scans)


RAW = "stored_"  # the view of a table's rows as stored; the view under the table's own name adds to it
WINDOW_ALIAS = "window_index"  # `window` is a reserved word in DuckDB's SQL: this name needs no quotes


def _view(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """The view `name` over the stored rows: a `window` column is also `window_index` (usable
    without quotes); `series` keeps one row per (task_key, unique_id), since a task's series are
    described once per chunk and a store may hold the same series under two chunkings."""
    raw = _ident(RAW + name)
    cols = _columns(con, RAW + name)
    extra = f', "window" AS {WINDOW_ALIAS}' if "window" in cols and WINDOW_ALIAS not in cols else ""
    if name == "series" and {"task_key", "unique_id"} <= cols:
        order = "unit" if "unit" in cols else "unique_id"
        con.execute(
            f"""CREATE VIEW series AS SELECT * EXCLUDE (_n) FROM (
                    SELECT *, row_number() OVER (PARTITION BY task_key, unique_id ORDER BY {order}) AS _n FROM {raw}
                ) WHERE _n = 1"""
        )
        return
    con.execute(f"CREATE VIEW {_ident(name)} AS SELECT *{extra} FROM {raw}")


def connect(store: Store = None, views: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store's views (see the module docstring); `views` names the only
    ones to create (a query that reads one table need not bind the others).

    Parameters
    ----------
    store
        The results store (a folder, an fsspec URL, a `ResultsStore`; None: `WORKBENCH_RESULTS`, else `./results`).
    views
        The only views to create; None: every view.

    Raises
    ------
    WorkbenchError
        The store does not exist or holds no committed unit.
    """
    store = _as_store(store)
    records = store.committed()
    if not records:  # asked only now: at a URL, every question is a request
        if not store.exists():
            raise WorkbenchError(f"results store {store.root}: no such folder")
        raise WorkbenchError(f"results store {store.root}: no committed unit (nothing has been run into it yet?)")
    wanted = None if views is None else set(views)
    old = superseded(records)
    con = duckdb.connect()
    try:
        current = [r for r in records if r["key"] not in old]
        if store.remote:
            _register_remote(con, store, current, wanted)
        groups = _files_by_schema(store, current)
        for name in sorted(set(groups) | set(SCHEMAS)):
            if name in ("units", "runs") or not name.isidentifier() or (wanted is not None and name not in wanted):
                continue
            if name in groups:
                con.execute(f"CREATE VIEW {_ident(RAW + name)} AS {_scan(groups[name])}")
            else:
                _empty_view(con, RAW + name, SCHEMAS[name])
            _view(con, name)
        if wanted is None or "units" in wanted:
            units = _units_table(records)
            units = units.append_column("superseded", pa.array([r["key"] in old for r in records], pa.bool_()))
            con.register("units_arrow", units)
            con.execute("CREATE VIEW units AS SELECT * FROM units_arrow")
        if wanted is None or "runs" in wanted:
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


def sql(query: str, store: Store = None, params: list | dict | None = None) -> pd.DataFrame:
    """Answer a SQL query over the store (views: see the module docstring). Only the views whose
    names occur in the query are created.

    Parameters
    ----------
    query
        A DuckDB SQL query over the views.
    store
        The results store (a folder, an fsspec URL, a `ResultsStore`; None: `WORKBENCH_RESULTS`, else `./results`).
    params
        Values for the query's `?` or `$name` placeholders; None: none.

    Raises
    ------
    WorkbenchError
        The store is missing or empty, or DuckDB refuses the query.
    """
    names = set(re.findall(r"[a-z_]+", query.lower()))
    con = connect(store, views={n.removeprefix(RAW) for n in names})
    try:
        return con.execute(query, params).df()
    except duckdb.Error as exc:
        raise WorkbenchError(f"SQL error: {exc}") from exc
    finally:
        con.close()


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {_ident(view)}").fetchall()}


_GROUP = ["task_key", "model", "metric"]
_BOARD = ["task_key", "task", "model", "metric", "value", "n_series", "n_windows", "n_undefined"]


def _board(
    con: duckdb.DuckDBPyConnection,
    view: str,
    windowed: bool,
    metrics: list[str] | None,
    what: str,
    allow_duplicates: bool,
    detection: bool = False,
    by: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (task_key, model, metric) of `view`: the mean over the defined values, counts of
    series, windows and undefined values; duplicated rows (the same task_key, model, window,
    unique_id and metric more than once) raise unless `allow_duplicates`, which then averages each
    row's copies into one value and adds `n_duplicates`.

    Exact, and one scan where every task has one window: rows are grouped per window (the distinct
    series of a window tell its duplicates apart); only tasks with several windows are scanned again
    for their distinct series. `by` adds grouping columns of the view (series metadata joined in by
    `_by_view`), so each row is one (task_key, model, metric, group)."""
    by = list(by or [])
    group = [*_GROUP, *by]
    gsql = ", ".join(_ident(c) for c in group)
    cols = _columns(con, view)
    needed = {"task_key", "model", "metric", "value", "unique_id"} | ({"window"} if windowed else set())
    needed |= {"higher_is_better"} if detection else set()
    if needed - cols:
        raise WorkbenchError(f"{what}: view {view} lacks the column(s) {sorted(needed - cols)}")
    task = "min(task)" if "task" in cols else "NULL::VARCHAR"
    window = '"window"' if windowed else "NULL::BIGINT"
    where = "WHERE list_contains($metrics, metric)" if metrics else ""
    params = {"metrics": metrics} if metrics else None
    hib = ", bool_or(higher_is_better) AS hib_any, bool_and(higher_is_better) AS hib_all" if detection else ""
    paq = ", bool_or(coalesce(point_as_quantiles, false)) AS paq" if "point_as_quantiles" in cols else ""
    # a metric stored with per-series parts (crps, wql, mase_fev) is also pooled over the task's cells, as
    # its peers report it: sum(numerator) / sum(denominator), undefined if any row lacks its numerator
    parts = "numerator" in cols and "denominator" in cols and not detection
    pool = (
        (
            ", sum(numerator) FILTER (WHERE isfinite(numerator)) AS pn, sum(denominator) AS pd,"
            " count(*) FILTER (WHERE numerator IS NULL OR NOT isfinite(numerator)) AS pbad"
        )
        if parts
        else ""
    )
    source = f"(SELECT * FROM {_ident(view)} {where})"
    finite = "WHERE isfinite(value)"
    try:
        per_window = con.execute(
            f"""
            SELECT {gsql}, {window} AS "window", {task} AS task, count(*) AS n,
                   count(DISTINCT unique_id) AS ids, count(unique_id) AS keyed,
                   sum(value) FILTER ({finite}) AS s, count(*) FILTER ({finite}) AS k {hib} {paq} {pool}
            FROM {source} GROUP BY {gsql}, {window}
            """,
            params,
        ).df()
        if per_window.empty:
            extra = ["n_duplicates"] if allow_duplicates else []
            return pd.DataFrame(columns=[*_BOARD[:4], *by, *_BOARD[4:], *extra, *(["hib_all"] if detection else [])])
        # per window: surplus rows of named series, and surplus rows of unnamed (corpus) ones
        per_window["dup"] = (per_window["keyed"] - per_window["ids"]) + (
            per_window["n"] - per_window["keyed"] - 1
        ).clip(lower=0)
        agg = {"task": ("task", "min"), "n_windows": ("window", "size"), "n": ("n", "sum"), "k": ("k", "sum")}
        agg |= {"s": ("s", "sum"), "ids": ("ids", "first"), "keyed": ("keyed", "sum"), "dup": ("dup", "sum")}
        if detection:
            agg |= {"hib_any": ("hib_any", "max"), "hib_all": ("hib_all", "min")}
        if paq:
            agg |= {"point_as_quantiles": ("paq", "max")}
        if parts:
            agg |= {"pn": ("pn", "sum"), "pd": ("pd", "sum"), "pbad": ("pbad", "sum")}
        board = per_window.groupby(group, sort=False, dropna=False).agg(**agg).reset_index()
        if parts:
            ok = (board["pbad"] == 0) & (board["pd"] > 0)
            board["pooled"] = (board["pn"] / board["pd"].where(ok)).astype(float)
        board["task"] = board["task"].fillna(board["task_key"])
        board["value"] = board["s"] / board["k"].where(board["k"] > 0)
        board["n_undefined"] = (board["n"] - board["k"]).astype("int64")
        board["n_series"] = board["ids"].astype("int64")
        using = ", ".join(_ident(c) for c in group)
        multi = board.loc[board["n_windows"] > 1, group]
        if len(multi):
            con.register("_board_multi", multi)
            counted = con.execute(
                f"""SELECT {gsql}, count(DISTINCT unique_id) AS n_series
                    FROM {source} SEMI JOIN _board_multi USING ({using}) GROUP BY ALL""",
                params,
            ).df()
            board = _update(board, counted, "n_series", group)
        dup = board.loc[board["dup"] > 0, group]
        if len(dup) and not allow_duplicates:
            con.register("_board_dup", dup)
            spread = con.execute(
                f"""SELECT task_key, model, count(*) AS keys FROM (
                        SELECT task_key, model, count(DISTINCT unit) AS units
                        FROM {source} SEMI JOIN _board_dup USING ({using})
                        GROUP BY {gsql}, {window}, unique_id HAVING count(*) > 1
                    ) WHERE units > 1 GROUP BY ALL""",
                params,
            ).df() if "unit" in cols else pd.DataFrame(columns=["task_key", "model", "keys"])  # fmt: skip
            _refuse(board[board["dup"] > 0], spread, what)
        if len(dup):
            con.register("_board_dup", dup)
            averaged = con.execute(
                f"""SELECT {gsql}, avg(mean) AS value FROM (
                        SELECT {gsql}, avg(value) FILTER ({finite}) AS mean
                        FROM {source} SEMI JOIN _board_dup USING ({using})
                        GROUP BY {gsql}, {window}, unique_id
                    ) GROUP BY ALL""",
                params,
            ).df()
            board = _update(board, averaged, "value", group)
    except duckdb.Error as exc:
        raise WorkbenchError(f"{what}: SQL error: {exc}") from exc
    if detection:
        mixed = board[board["hib_any"] != board["hib_all"]]
        if len(mixed):
            raise WorkbenchError(
                f"{what}: metric(s) {sorted(set(mixed['metric']))} mix higher_is_better true and false"
            )
        both = board[(board["keyed"] > 0) & (board["keyed"] < board["n"])]
        if len(both):
            raise WorkbenchError(
                f"{what}: metric(s) {sorted(set(both['metric']))} mix corpus rows (no unique_id) and per-item rows"
            )
    if allow_duplicates:
        board["n_duplicates"] = board["dup"].astype("int64")
    keep = [*_BOARD[:4], *by, *_BOARD[4:], *(["n_duplicates"] if allow_duplicates else [])]
    keep += ["hib_all"] if detection else []
    keep += ["point_as_quantiles"] if paq else []
    keep += ["pooled"] if parts else []
    return board[keep]


def _update(board: pd.DataFrame, values: pd.DataFrame, column: str, group: list[str]) -> pd.DataFrame:
    merged = board.merge(values, on=group, how="left", suffixes=("", "_new"))
    merged[column] = merged[f"{column}_new"].where(merged[f"{column}_new"].notna(), merged[column])
    return merged.drop(columns=f"{column}_new")


def _refuse(dup: pd.DataFrame, spread: pd.DataFrame, what: str) -> None:
    per = dup.groupby(["task", "task_key", "model"], sort=True)["dup"].sum().reset_index()
    per = per.merge(spread, on=["task_key", "model"], how="left")
    lines = [
        f"  task {r.task!r} (task_key {r.task_key}), model {r.model!r}: {int(r.dup)} duplicated rows"
        + (f" ({int(r.keys)} keys stored in more than one committed unit)" if pd.notna(r.keys) else "")
        for r in per.itertuples()
    ]
    raise WorkbenchError(
        f"{what}: the same task_key/model/window/unique_id/metric appears more than once (a grid stored "
        "under two chunk sizes?), so those series would count twice:\n"
        + "\n".join(lines)
        + "\nPass allow_duplicates=True (--allow-duplicates) to see the board with an n_duplicates column."
    )


UNKNOWN_GROUP = "(unknown)"  # the group of a metric row whose series has no description or no value there


def series_columns(store: Store = None) -> list[str]:
    """The per-series columns a store's results can be broken down by: the `series` view's columns
    (dataset, subset, metric_type, a user card's metadata columns, ...) besides the keys and counts.

    Parameters
    ----------
    store
        The results store (a folder, an fsspec URL, a `ResultsStore`; None: `WORKBENCH_RESULTS`, else `./results`).
    """
    con = connect(_as_store(store), views=["series"])
    try:
        cols = [row[0] for row in con.execute("DESCRIBE series").fetchall()]
    finally:
        con.close()
    return [c for c in cols if c not in _SERIES_OWN]


_SERIES_OWN = ("task_key", "task", "unique_id", "n_obs", "n_rows", "n_missing", "unit", "kind", "window_index")


def _by_view(con: duckdb.DuckDBPyConnection, by: list[str], what: str) -> str:
    """A view of the metric rows with the `by` columns of their series joined in (left join: a row
    whose series was never described falls in the group `(unknown)`, counted, never dropped)."""
    mcols, scols = _columns(con, "metrics"), _columns(con, "series")
    unknown = [c for c in by if c not in mcols and c not in scols]
    if unknown:
        available = sorted(({"dataset", "subset"} | scols) - set(_SERIES_OWN))
        hint = ""
        if any(c in mcols for c in ("metric",)) and any(f"series_{c}" in scols for c in unknown):
            hint = " (a series column named like a metric row's column is stored with the prefix series_)"
        raise WorkbenchError(
            f"{what}: cannot break down by {unknown}: the series of this store have the column(s) {available}{hint}"
        )
    picks = []
    for c in by:
        if c in mcols:
            continue
        picks.append(f"coalesce(CAST(s.{_ident(c)} AS VARCHAR), '{UNKNOWN_GROUP}') AS {_ident(c)}")
    select = ", ".join(["m.*", *picks])
    con.execute(
        f"CREATE TEMP VIEW metrics_by AS SELECT {select} FROM metrics m "
        "LEFT JOIN (SELECT * FROM series) s USING (task_key, unique_id)"
    )
    return "metrics_by"


def _failures(store: ResultsStore, metrics: list[str] | None, records: list[dict] | None = None) -> pd.DataFrame:
    """Failed forecast and score units per (task_key, model, metric): a failed forecast unit counts
    for every metric of its task, a failed score unit for its metric. Columns: task_key, task, model,
    metric, n_failed_units, n_series_failed (the series those units covered), first_error."""
    records = store.committed() if records is None else records
    old = superseded(records)
    rows = []
    for r in records:
        if r["key"] in old or r.get("status", "ok") == "ok" or r.get("kind") not in ("forecast", "score"):
            continue
        task_metrics = list((r.get("task") or {}).get("metrics") or [])
        names = [r.get("metric")] if r["kind"] == "score" else task_metrics
        for name in names:
            if name and (not metrics or name in metrics):
                rows.append(
                    {
                        "task_key": r.get("task_key"),
                        "task": r.get("task_description") or r.get("task_key"),
                        "model": r.get("model"),
                        "metric": name,
                        "n_series": int(r.get("n_series") or 0),
                        "error": str(r.get("error") or r.get("status")).splitlines()[0] if r.get("error") else "",
                        "at": str(r.get("committed_at") or ""),
                    }
                )
    if not rows:
        return pd.DataFrame(columns=[*_GROUP, "task", "n_failed_units", "n_series_failed", "first_error"])
    frame = pd.DataFrame(rows).sort_values("at", kind="stable")
    return (
        frame.groupby(_GROUP, sort=True)
        .agg(
            task=("task", "first"),
            n_failed_units=("n_series", "size"),
            n_series_failed=("n_series", "sum"),
            first_error=("error", "first"),
        )
        .reset_index()
    )


def leaderboard(
    store: Store = None,
    metrics: Iterable[str] | None = None,
    allow_duplicates: bool = False,
    by: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """One row per (task, model, metric), or per (task, model, metric, group) with `by`.

    Columns: task_key, task (readable; task_key where rows carry none), model, metric, the `by`
    columns, value (mean over the defined per-series values, all windows), n_series, n_windows,
    n_undefined (values that are NaN, inf or null: counted here, left out of the mean),
    aggregation, pooled (for a metric stored with per-series parts, `crps`, `wql`, `mase_fev`: the
    value pooled over every cell of the task as GIFT-Eval, BOOM and fev report it, sum(numerator) /
    sum(denominator); undefined for other metrics), point_as_quantiles (a point model's
    probabilistic metric, scored with its point forecast as every quantile), n_failed_units /
    n_series_failed / first_error (failed forecast or score units of that task, model and metric:
    `workbench run --retry-failed` recomputes them),
    and n_duplicates when `allow_duplicates` (then each duplicated row's copies are averaged into
    one value). A model whose units all failed still has its rows, value undefined, with the
    failures counted. The cost of the model on the task (`workbench.store.cost.cost_board`): CPU
    seconds per 1,000 series forecasts with its bootstrap interval, throughput, and the basis they
    were measured on; undefined where no unit recorded CPU seconds. Rows are ordered best first by
    the metric's direction (`workbench.metrics.Metric.direction`: lower, higher, or closest to a
    target such as coverage's nominal level).

    Parameters
    ----------
    store
        The results store (a folder, an fsspec URL, a `ResultsStore`; None: WORKBENCH_RESULTS).
    metrics
        Only these metrics (default: all).
    allow_duplicates
        Average duplicated rows into one instead of refusing them.
    by
        Series columns to break each row down by (`series_columns`: metric_type, a user card's
        metadata columns, dataset, subset), e.g. `["metric_type", "service"]` or "metric_type,service".
        Metric rows whose series has no value there form the group `(unknown)`.
    """
    store = _as_store(store)
    groups = [c.strip() for c in by.split(",")] if isinstance(by, str) else list(by or [])
    groups = [c for c in groups if c]
    wanted = list(metrics) if metrics else None
    con = connect(store, views=["metrics", *(["series"] if groups else [])])
    try:
        what = f"leaderboard of {store.root}"
        view = _by_view(con, groups, what) if groups else "metrics"
        board = _board(con, view, True, wanted, what, allow_duplicates, by=groups)
        spread = None
        if groups:
            spread = con.execute(f"SELECT DISTINCT task_key, {', '.join(_ident(c) for c in groups)} FROM {view}").df()
    finally:
        con.close()
    board.insert(8 + len(groups), "aggregation", "mean of per-series")
    if "point_as_quantiles" not in board:
        board["point_as_quantiles"] = False
    board["point_as_quantiles"] = board["point_as_quantiles"].fillna(False).astype(bool)
    records = store.committed()
    failed = _failures(store, wanted, records)
    board = board.merge(failed.drop(columns="task"), on=_GROUP, how="left")
    # a (task, model, metric) with failures and no rows at all: its own rows, undefined
    have = set(map(tuple, board[_GROUP].itertuples(index=False))) if len(board) else set()
    absent = failed[[tuple(r) not in have for r in failed[_GROUP].itertuples(index=False)]]
    if len(absent):
        rows = absent.assign(value=float("nan"), n_series=0, n_windows=0, n_undefined=0,
                             aggregation="mean of per-series", point_as_quantiles=False)  # fmt: skip
        if groups and spread is not None:
            rows = rows.merge(spread, on="task_key", how="left")
        board = pd.concat([board, rows[[c for c in board.columns if c in rows.columns]]], ignore_index=True)
    for col in ("n_failed_units", "n_series_failed"):
        board[col] = pd.to_numeric(board[col]).fillna(0).astype("int64")
    board["first_error"] = board["first_error"].astype(object).where(board["first_error"].notna(), "")
    costs = cost_board(store, records=records)[["task_key", "model", *COST_COLUMNS]]
    board = board.merge(costs, on=["task_key", "model"], how="left")
    return _best_first(board, ["task", "task_key", "metric", *groups])


def _best_first(board: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows ordered within each (task, metric, group) best first by the metric's direction;
    undefined values last."""
    if board.empty:
        return board.reset_index(drop=True)
    loss = pd.Series(float("nan"), index=board.index)
    for name, part in board.groupby("metric", sort=False):
        try:
            metric = get_metric(str(name))
        except WorkbenchError:
            loss[part.index] = part["value"].astype(float)
            continue
        loss[part.index] = metric.loss(part["value"].astype(float).to_numpy())
    ordered = board.assign(_loss=loss).sort_values([*keys, "_loss", "model"], na_position="last", kind="stable")
    # 1 = best of its task, metric and group; ties share the better rank; undefined values have none
    ordered["rank"] = (
        ordered.groupby([k for k in keys if k != "task"], dropna=False)["_loss"].rank(method="min").astype("Int64")
    )
    return ordered.drop(columns="_loss").reset_index(drop=True)


def series_metrics(store: Store = None, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """The per-series metric rows with their series' columns joined in: what breakdowns by series
    metadata (`workbench.report.compare.which_model_where`) start from.

    Columns: task_key, task, dataset, subset, model, window, unique_id, metric, value,
    point_as_quantiles, and every `series_columns` column (null where a series was never described).

    Parameters
    ----------
    store
        The results store.
    metrics
        Only these metrics (default: all).
    """
    store = _as_store(store)
    con = connect(store, views=["metrics", "series"])
    try:
        mcols, scols = _columns(con, "metrics"), _columns(con, "series")
        keep = [c for c in ("task_key", "task", "dataset", "subset", "model", "window", "unique_id") if c in mcols]
        keep += ["metric", "value"] + (["point_as_quantiles"] if "point_as_quantiles" in mcols else [])
        extra = [c for c in scols if c not in _SERIES_OWN and c not in mcols]
        select = ", ".join([*(f"m.{_ident(c)}" for c in keep), *(f"s.{_ident(c)}" for c in extra)])
        where = "WHERE list_contains($metrics, m.metric)" if metrics else ""
        frame = con.execute(
            f"SELECT {select} FROM metrics m LEFT JOIN series s USING (task_key, unique_id) {where}",
            {"metrics": list(metrics)} if metrics else None,
        ).df()
    except duckdb.Error as exc:
        raise WorkbenchError(f"series metrics of {store.root}: SQL error: {exc}") from exc
    finally:
        con.close()
    if "point_as_quantiles" not in frame:
        frame["point_as_quantiles"] = False
    frame["point_as_quantiles"] = frame["point_as_quantiles"].fillna(False).astype(bool)
    return frame


def detection_leaderboard(
    store: Store = None, metrics: Iterable[str] | None = None, allow_duplicates: bool = False
) -> pd.DataFrame:
    """One row per (task, model, metric) of the detection metric rows, best first (higher is
    better where the rows say so). Columns as `leaderboard` with n_items for n_series (no
    n_windows), higher_is_better, aggregation `corpus` (one value for the whole corpus: rows
    without unique_id) or `mean of per-item`, and the detector's cost on the task
    (`workbench.store.cost`: CPU seconds per 1,000 scored points with its interval, throughput).

    Parameters
    ----------
    store
        The results store (a folder, an fsspec URL, a `ResultsStore`; None: `WORKBENCH_RESULTS`, else `./results`).
    metrics
        Only these metrics (default: all).
    allow_duplicates
        Average duplicated rows into one instead of refusing them.
    """
    store = _as_store(store)
    con = connect(store, views=["detection_metrics"])
    try:
        what = f"detection leaderboard of {store.root}"
        board = _board(
            con, "detection_metrics", False, list(metrics) if metrics else None, what, allow_duplicates, True
        )
    finally:
        con.close()
    board = board.rename(columns={"n_series": "n_items", "hib_all": "higher_is_better"}).drop(columns="n_windows")
    board["higher_is_better"] = board["higher_is_better"].fillna(False).astype(bool)
    board.insert(7, "aggregation", board["n_items"].map(lambda n: "mean of per-item" if n else "corpus"))
    costs = cost_board(store)[["task_key", "model", *COST_COLUMNS]]  # per 1,000 scored points
    board = board.merge(costs, on=["task_key", "model"], how="left")
    order = board["value"].where(~board["higher_is_better"], -board["value"])
    board = board.assign(_order=order).sort_values(["task", "task_key", "metric", "_order", "model"])
    return board.drop(columns="_order").reset_index(drop=True)


__all__ = [
    "RAW",
    "SCHEMAS",
    "TABLES",
    "UNKNOWN_GROUP",
    "WINDOW_ALIAS",
    "connect",
    "detection_leaderboard",
    "leaderboard",
    "series_columns",
    "series_metrics",
    "sql",
]
