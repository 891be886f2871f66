"""What a series measures: gauges, counts and rates, their gaps, and how intermittent counts are.

Observability metrics are not all alike. A *gauge* (CPU %, queue length, latency) is a level that
holds between samples; a *count* (errors, crashes, purchases per interval) is a non-negative integer
that is zero when nothing happened; a *rate* (requests per second) is a count per unit of time. A
series' type comes from its `metric_type` column (a user card's metadata column, or a catalog card's
per-series metadata), else from the task's `metric_type`, else it is unknown (`None`).

A task's `gap_policy` says what a missing timestamp means, so that an irregular or gappy series
becomes one regular series at the panel's frequency before any model sees it:

    none            the data must be regular already (gaps stay an error, as in a competition set)
    nan             resample to the frequency, missing values left NaN (models that refuse NaN fail,
                    with the series named)
    ffill           resample, forward-fill every series
    zero            resample, zero-fill every series
    by_metric_type  resample; gauges and rates forward-filled (a level holds until the next sample),
                    counts zero-filled (no sample, no event); a series of unknown type is an error

Counts are checked wherever their type is known: a negative or fractional count is an error naming
the series and its row. `intermittency` gives the per-series statistics of demand forecasting (share
of zeros, ADI, CV²) and the Syntetos-Boylan class. A series whose seasonal-naive scale is 0 has
undefined scaled metrics (its MASE is not finite, `workbench.metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from workbench.data.cards import METRIC_TYPES
from workbench.data.panel import Panel
from workbench.errors import DataFormatError

__all__ = [
    "ADI_CUTOFF",
    "CV2_CUTOFF",
    "FILL_BY_TYPE",
    "GAP_POLICIES",
    "GapPolicy",
    "MetricType",
    "MetricTypeError",
    "apply_gap_policy",
    "check_counts",
    "declared_type",
    "intermittency",
    "series_types",
]

MetricType = Literal["gauge", "count", "rate"]
GapPolicy = Literal["none", "nan", "ffill", "zero", "by_metric_type"]
GAP_POLICIES: tuple[str, ...] = ("none", "nan", "ffill", "zero", "by_metric_type")
FILL_BY_TYPE = {"gauge": "ffill", "rate": "ffill", "count": "zero"}
# Syntetos, Boylan & Croston (2005): the cut-offs between smooth, erratic, intermittent and lumpy demand
ADI_CUTOFF, CV2_CUTOFF = 1.32, 0.49


class MetricTypeError(DataFormatError):
    """A series' values contradict its metric type, or its type is unknown where it must be known."""


def declared_type(uid: str, declared: str | Mapping[str, str] | None) -> str | None:
    """A series' type as a card declares it: one type for all, or by series-id prefix (longest wins)."""
    if declared is None or isinstance(declared, str):
        return declared
    matches = [prefix for prefix in declared if str(uid).startswith(prefix)]
    return declared[max(matches, key=len)] if matches else None


def series_types(panel: Panel, default: str | Mapping[str, str] | None = None) -> pd.Series:
    """The metric type of every series (index `unique_id`): its `metric_type` column, else `default`
    (the task's type, or the card's declaration: one type, or types by series-id prefix)."""
    ids = panel.df["unique_id"].drop_duplicates()
    if "metric_type" in panel.df.columns:
        per = panel.df.groupby("unique_id", sort=False)["metric_type"].agg(lambda s: s.dropna().unique().tolist())
        mixed = per[per.map(len) > 1]
        if len(mixed):
            raise MetricTypeError(
                f"{panel.name or 'panel'}: series {mixed.index[0]!r} has metric types {mixed.iloc[0]}"
            )
        types = pd.Series([v[0] if v else declared_type(u, default) for u, v in per.items()], index=per.index)
    else:
        index = pd.Index(ids, name="unique_id")
        types = pd.Series([declared_type(u, default) for u in index], index=index, dtype=object)
    unknown = types[types.notna() & ~types.isin(METRIC_TYPES)]
    if len(unknown):
        raise MetricTypeError(
            f"{panel.name or 'panel'}: series {unknown.index[0]!r} has metric type {unknown.iloc[0]!r}; "
            f"known types: {', '.join(METRIC_TYPES)}"
        )
    return types


def check_counts(panel: Panel, types: pd.Series) -> None:
    """Count series hold non-negative integers (NaN allowed where a gap is): else an error naming
    the series, its row (1-based, within the series) and the value."""
    counts = types[types == "count"].index
    if not len(counts):
        return
    df = panel.df[panel.df["unique_id"].isin(counts)]
    y = df["y"].to_numpy(float)
    bad = np.flatnonzero(~np.isnan(y) & ((y < 0) | (y != np.round(y))))
    if len(bad):
        first = df.iloc[bad[0]]
        row = int(df.iloc[: bad[0] + 1]["unique_id"].eq(first["unique_id"]).sum())
        what = "negative" if first["y"] < 0 else "not an integer"
        raise MetricTypeError(
            f"{panel.name or 'panel'}: count series {first['unique_id']!r} row {row} (ds={first['ds']}) has "
            f"value {float(first['y'])!r}, {what}: counts are non-negative integers ({len(bad)} such rows)"
        )


def _regular(ds: np.ndarray, freq: str | None) -> np.ndarray:
    """Every stamp from the first to the last at the frequency (integer stamps step by 1)."""
    if np.issubdtype(ds.dtype, np.integer):
        return np.arange(ds.min(), ds.max() + 1)
    if not freq:
        raise DataFormatError("a gap policy resamples to the panel's frequency, and this panel declares none")
    return pd.date_range(ds.min(), ds.max(), freq=freq).to_numpy()


def apply_gap_policy(panel: Panel, policy: str, types: pd.Series) -> Panel:
    """The panel on a regular grid at its frequency, filled as the policy says (`none`: unchanged)."""
    if policy == "none":
        return panel
    if policy not in GAP_POLICIES:
        raise ValueError(f"unknown gap policy {policy!r}; known: {', '.join(GAP_POLICIES)}")
    parts = []
    for uid, g in panel.df.groupby("unique_id", sort=False):
        ds = g["ds"].to_numpy()
        grid = _regular(ds, panel.freq)
        out = g.set_index("ds").reindex(grid)
        out.index.name = "ds"
        out["unique_id"] = uid
        fill = policy
        if policy == "by_metric_type":
            kind = types.get(uid)
            if kind is None or (isinstance(kind, float) and np.isnan(kind)):
                raise MetricTypeError(
                    f"{panel.name or 'panel'}: series {uid!r} has no metric type, and the gap policy "
                    "'by_metric_type' fills each type its own way: give the series a metric_type column or "
                    "the task a metric_type"
                )
            fill = FILL_BY_TYPE[kind]
        extra = [c for c in out.columns if c not in ("unique_id", "y")]
        if extra:
            out[extra] = out[extra].ffill().bfill()
        if fill == "ffill":
            out["y"] = out["y"].ffill()
        elif fill == "zero":
            out["y"] = out["y"].fillna(0.0)
        parts.append(out.reset_index()[g.columns])
    df = pd.concat(parts, ignore_index=True) if parts else panel.df
    return replace(panel, df=df)


def intermittency(panel: Panel, types: pd.Series | None = None) -> pd.DataFrame:
    """Per series: length, share of zeros, ADI (mean interval between non-zero values), CV² of the
    non-zero values, the Syntetos-Boylan class, and whether it is zero-inflated (intermittent or
    lumpy: ADI >= 1.32). Undefined statistics (no non-zero value) are NaN, never dropped."""
    rows = []
    for uid, g in panel.df.groupby("unique_id", sort=False):
        y = g["y"].to_numpy(float)
        y = y[~np.isnan(y)]
        nonzero = np.flatnonzero(y != 0)
        zero_share = float(np.mean(y == 0)) if len(y) else np.nan
        adi = len(y) / len(nonzero) if len(nonzero) else np.nan
        sizes = y[nonzero]
        cv2 = float((sizes.std() / sizes.mean()) ** 2) if len(sizes) and sizes.mean() != 0 else np.nan
        if np.isnan(adi) or np.isnan(cv2):
            kind = None
        elif adi < ADI_CUTOFF:
            kind = "smooth" if cv2 < CV2_CUTOFF else "erratic"
        else:
            kind = "intermittent" if cv2 < CV2_CUTOFF else "lumpy"
        rows.append(
            {
                "unique_id": uid,
                "metric_type": None if types is None else types.get(uid),
                "n": len(y),
                "zero_share": zero_share,
                "adi": adi,
                "cv2": cv2,
                "demand_class": kind,
                "zero_inflated": bool(adi >= ADI_CUTOFF) if not np.isnan(adi) else bool(len(y)),
            }
        )
    return pd.DataFrame(rows)
