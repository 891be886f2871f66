"""What a task's series are: one `series` unit per (task, chunk) stores each series' metadata once.

Results answer "which model wins on latency, which on request counts" only when every metric row can
be joined to what its series measures. That is a property of the data, not of a model, so it is
stored once per task and chunk (a unit of kind `series`, keyed by the task, the chunk and its data
hash, never by a model) rather than copied into every model's rows, and read back as the store's
`series` view (`workbench.store.sql`), joined on (task_key, unique_id).

A series' row holds: `unique_id`, `dataset`, `subset`, `n_obs` (defined values in the training
data, before any gap filling), `n_rows` (its rows there), `n_missing` (stamps absent between its
first and last at the panel's fixed frequency; null where the frequency is not fixed), `metric_type` (its
`metric_type` column, else the task's or the card's declaration; null where unknown), and every
per-series column of the source (a user card's `metadata_cols`, hive partition keys), as text; a
column named like a column of the metric rows (`metric`, `model`, `window`, ...: `RESERVED`) is
stored as `series_<name>` (a fleet's `metric` column, cpu or latency, is `series_metric`), so a
breakdown never confuses the two.
A series whose metadata column holds two values is an error naming the series and the column:
a breakdown could not put it in one group.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd

from workbench.engine.units import Unit
from workbench.engine.worker import commit, failure
from workbench.errors import DataFormatError
from workbench.semantics import series_types
from workbench.sources.chunkfiles import read_refs
from workbench.tasks import Task

__all__ = ["RESERVED", "SERIES_CODE", "describe_series", "run_series_unit", "series_units"]

# what a series unit's rows depend on besides the data: the source reachable from here
SERIES_CODE = ("workbench.engine.series",)
_CORE = ("unique_id", "ds", "y")
# columns of the metric rows a series is joined to: a per-series column of that name is stored as series_<name>
RESERVED = ("task_key", "task", "dataset", "subset", "model", "window", "metric", "value", "unit", "kind", "seed")


def series_units(tasks: list[tuple[Task, list]], code: str) -> list[Unit]:
    """One series unit per (task, chunk) of the planned tasks."""
    return [Unit(task, None, (chunk,), kind="series", code=code) for task, chunks in tasks for chunk in chunks]


def describe_series(task: Task, panel: pd.DataFrame | object) -> pd.DataFrame:
    """One row per series of `panel` (a Panel of the task's training data): see the module docstring.

    Parameters
    ----------
    task
        The task whose series these are: its dataset and subset, and the metric types it or its
        card declares.
    panel
        The chunk's training panel as read from the source (gaps not filled), with the source's
        per-series columns beside unique_id, ds and y.
    """
    df = panel.df  # type: ignore[attr-defined]
    grouped = df.groupby("unique_id", sort=True)
    out = pd.DataFrame({"n_obs": grouped["y"].count().astype("int64")})
    stamps = grouped["ds"].agg(["min", "max", "size"])
    out["n_rows"] = stamps["size"].astype("int64")
    out["n_missing"] = _missing_stamps(stamps, getattr(panel, "freq", None))
    extra = [c for c in df.columns if c not in _CORE]
    conflicts = []
    for col in extra:
        values = grouped[col].agg(lambda s: s.dropna().astype(str).unique().tolist())
        mixed = values[values.map(len) > 1]
        conflicts += [f"series {uid!r}: column {col!r} holds {v[:3]}" for uid, v in mixed.head(5).items()]
        name = f"series_{col}" if col in RESERVED else col
        out[name] = values.map(lambda v: v[0] if v else None).astype("string")
    if conflicts:
        raise DataFormatError(
            f"{task.describe()}: per-series column(s) vary within a series, so a breakdown cannot place it: "
            + "; ".join(conflicts)
            + " (per-series columns, metadata_cols, must hold one value per series)"
        )
    declared = task.metric_type or task.declared_metric_types()
    types = series_types(panel, declared)  # type: ignore[arg-type]
    out["metric_type"] = types.reindex(out.index).astype("string")
    out = out.reset_index()
    out.insert(1, "subset", task.subset)
    out.insert(1, "dataset", task.dataset)
    return out


def _missing_stamps(stamps: pd.DataFrame, freq: str | None) -> pd.Series:
    """Stamps absent between each series' first and last, at a fixed frequency (hourly, daily...);
    null where the frequency is unknown or calendar-based (months), or the stamps are integers."""
    empty = pd.Series(pd.NA, index=stamps.index, dtype="Int64")
    if not freq or not pd.api.types.is_datetime64_any_dtype(stamps["min"]):
        return empty
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        return empty
    expected = (stamps["max"] - stamps["min"]) // step + 1
    return (expected - stamps["size"]).astype("Int64")


def run_series_unit(unit: Unit, store_root: str, run_id: str, chunk_size: int | None = None) -> dict:
    """Describe one chunk's series and commit them as a `series` unit; a chunk that cannot be read
    or described is a failed unit with its message (never raised)."""
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    task: Task = unit.task  # type: ignore[assignment]
    rows, record = None, {"status": "ok"}
    try:
        panel = read_refs(unit.chunks, "train", True)  # type: ignore[arg-type]
        rows = describe_series(task, panel)
        rows.insert(0, "task", task.describe())
        rows.insert(0, "task_key", task.key())
        rows["unit"] = unit.key
    except Exception as exc:
        record = failure(exc)
    return commit(unit, store_root, run_id, {"series": rows}, chunk_size, started_at=started_at,
                  duration_s=round(time.perf_counter() - start, 4), **record)  # fmt: skip
