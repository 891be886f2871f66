"""The failed units of a results store, one row per task, model and kind of unit.

A unit that ended in `error` or `timeout` is committed like any other (`ResultsStore.write_unit`):
it holds no rows, so no leaderboard or view of a table ever shows it, and a rerun of its grid skips
it unless asked to retry failed units (`retry_failed`). Without a list of them a failure would read
as "no result" or as a smaller board. `failed_units` is that list.

Which units count: those whose current record (the record file of their key; where the same key
occurs twice in what is handed over, the one committed last) is not `ok`, and that are not
superseded (`results_store.superseded`): a unit whose work (`identity`) was committed again later
under other code no longer stands for that work: the views and leaderboards (`workbench.store.sql`)
already read the later unit instead, so its old failure says nothing about the results shown, and
listing it would ask for a retry of work already redone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.store.results_store import ResultsStore, superseded

__all__ = ["FAILED_COLUMNS", "failed_units", "failure_lines"]

FAILED_COLUMNS = ("task_key", "task", "model", "kind", "n_failed", "statuses", "first_error", "first_failed_at")
_GROUP = ("task_key", "task", "model", "kind")
_NEEDED = ("key", "status")


def failed_units(
    store_or_records: ResultsStore | str | Path | pd.DataFrame | Iterable[dict[str, Any]] | None,
) -> pd.DataFrame:
    """One row per (task_key, task, model, kind) of the units that failed and still stand as failed.

    Columns (`FAILED_COLUMNS`): task_key; task (the readable description, the task key where a
    record has none); model (its label); kind (forecast, score, detection, ...); n_failed (units);
    statuses (e.g. "2 error, 1 timeout", most frequent first); first_error (the first line of the
    error of the earliest committed failed unit, so the same store always names the same error);
    first_failed_at (that unit's commit time). Ordered by task, task key, model and kind; empty
    (with these columns) when nothing failed. Units that ended ok, and failed units recomputed since
    under other code (superseded), are not listed: see the module docstring.

    Parameters
    ----------
    store_or_records
        A `ResultsStore`, a store's root (a folder or an fsspec URL; None: WORKBENCH_RESULTS or
        ./results), the frame of `ResultsStore.records()` or of a run's records, or unit record
        dicts. Records need `key` and `status`; a frame's `superseded` column, where present, is
        honoured besides the supersession found among the records themselves.
    """
    records = _as_records(store_or_records)
    current = _latest_per_key(records)
    old = superseded(current) | {r["key"] for r in current if bool(r.get("superseded") or False)}
    failed = [r for r in current if r["key"] not in old and r.get("status", "ok") != "ok"]
    if not failed:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_failed" else object) for c in FAILED_COLUMNS})
    frame = pd.DataFrame(
        {
            "task_key": [_text(r.get("task_key")) for r in failed],
            "task": [_text(r.get("task_description")) or _text(r.get("task_key")) for r in failed],
            "model": [_text(r.get("model")) for r in failed],
            "kind": [_text(r.get("kind")) for r in failed],
            "status": [_text(r.get("status")) for r in failed],
            "error": [_first_line(r.get("error")) for r in failed],
            "committed_at": [_text(r.get("committed_at")) for r in failed],
            "key": [r["key"] for r in failed],
        }
    )
    frame = frame.sort_values(["committed_at", "key"], kind="stable")
    rows = []
    for group, units in frame.groupby(list(_GROUP), sort=False):
        first = units.iloc[0]
        counts = units["status"].value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="stable")
        rows.append(
            {
                **dict(zip(_GROUP, group, strict=True)),
                "n_failed": len(units),
                "statuses": ", ".join(f"{n} {status}" for status, n in counts.items()),
                "first_error": first["error"] or f"({first['status']}, no message recorded)",
                "first_failed_at": first["committed_at"],
            }
        )
    out = pd.DataFrame(rows, columns=list(FAILED_COLUMNS))
    out["n_failed"] = out["n_failed"].astype("int64")
    return out.sort_values(["task", "task_key", "model", "kind"], ignore_index=True)


def failure_lines(failed: pd.DataFrame, limit: int | None = None) -> list[str]:
    """One plain-text line per row of `failed_units`: task, model and kind, the count by status and
    the first error, so a command line or a notebook prints failures the same way.

    Parameters
    ----------
    failed
        A frame of `failed_units`.
    limit
        At most this many lines of rows, then one line saying how many rows were left out.
    """
    missing = [c for c in FAILED_COLUMNS if c not in failed.columns]
    if missing:
        raise ValueError(f"failure_lines: the frame lacks {missing}; pass the frame failed_units returns")
    rows = failed if limit is None else failed.head(limit)
    lines = [
        f"{r.task} · {r.model} ({r.kind} units): {r.statuses}; first error: {r.first_error}"
        for r in rows.itertuples(index=False)
    ]
    if len(rows) < len(failed):
        lines.append(f"... and {len(failed) - len(rows)} more (failed_units lists them all)")
    return lines


def _as_records(source: Any) -> list[dict[str, Any]]:
    """Record dicts from a store, a root, a records frame or an iterable of dicts."""
    if source is None or isinstance(source, str | Path):
        source = ResultsStore(source)
    if isinstance(source, ResultsStore):
        return source.committed()
    if isinstance(source, pd.DataFrame):
        if source.empty and not len(source.columns):
            return []
        missing = [c for c in _NEEDED if c not in source.columns]
        if missing:
            raise ValueError(
                f"failed_units: the frame lacks the column(s) {missing}; pass unit records "
                "(ResultsStore.records(), a RunSummary's records) or the store itself"
            )
        return [{k: v for k, v in row.items() if not _missing(v)} for row in source.to_dict("records")]
    if isinstance(source, dict):
        raise TypeError("failed_units: pass an iterable of unit records (dicts), not one record: [record]")
    records = list(source)
    for i, record in enumerate(records):
        if not isinstance(record, dict) or any(c not in record for c in _NEEDED):
            raise ValueError(
                f"failed_units: item {i} is not a unit record with {list(_NEEDED)} "
                f"(got {type(record).__name__}); pass ResultsStore.committed() or a store"
            )
    return records


def _latest_per_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per key: the one committed last (a store holds one per key; concatenated runs'
    records may hold the same key failed, then retried)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        held = latest.get(record["key"])
        if held is None or _text(record.get("committed_at")) >= _text(held.get("committed_at")):
            latest[record["key"]] = record
    return list(latest.values())


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _first_line(value: Any) -> str:
    """The first non-blank line of an error message (a child's message may carry a traceback)."""
    return next((line.strip() for line in _text(value).splitlines() if line.strip()), "")
