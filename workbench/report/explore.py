"""A first look at a dataset: sizes, lengths, trend and seasonal strength, missing values.

Strengths follow Wang, Smith & Hyndman (2006): after a classical decomposition y = T + S + R,
trend strength is max(0, 1 - var(R) / var(T + R)) and seasonal strength max(0, 1 - var(R) / var(S + R)).
They sit in [0, 1], so series of any scale share one scatter plot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data import Panel

__all__ = ["missing_summary", "sample_ids", "series_features", "strengths"]


def _moving_average(x: np.ndarray, m: int) -> np.ndarray:
    """Centred moving average of order m (2×m for even m, as in classical decomposition)."""
    if m <= 1:
        m = 3  # a short smoother stands in for the trend of non-seasonal series
    kernel = np.ones(m) / m
    if m % 2 == 0:
        kernel = np.convolve(kernel, np.ones(2) / 2)
    trend = np.convolve(x, kernel, mode="same")
    half = len(kernel) // 2
    trend[:half] = np.nan
    trend[len(x) - half :] = np.nan
    return trend


def strengths(y: np.ndarray, season_length: int) -> tuple[float, float]:
    """(trend strength, seasonal strength) of one series; NaN where it is too short to decompose."""
    y = y[~np.isnan(y)]
    m = max(int(season_length), 1)
    if len(y) < max(2 * m, 8):
        return np.nan, np.nan
    trend = _moving_average(y, m)
    detrended = y - trend
    if m > 1:
        phase = np.arange(len(y)) % m
        means = np.array([np.nanmean(detrended[phase == p]) for p in range(m)])
        seasonal = (means - means.mean())[phase]
    else:
        seasonal = np.zeros_like(y)
    remainder = detrended - seasonal
    ok = ~np.isnan(remainder)
    var_r = np.var(remainder[ok])
    f_t = max(0.0, 1 - var_r / np.var((trend + remainder)[ok])) if np.var((trend + remainder)[ok]) > 0 else 0.0
    f_s = np.nan
    if m > 1:
        var_sr = np.var((seasonal + remainder)[ok])
        f_s = max(0.0, 1 - var_r / var_sr) if var_sr > 0 else 0.0
    return float(f_t), float(f_s)


def series_features(panel: Panel, max_series: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Per series: length, missing values, trend and seasonal strength (a seeded sample of
    `max_series` series when the panel is larger, so big datasets stay quick to explore)."""
    ids = np.sort(panel.df["unique_id"].unique())
    if max_series and len(ids) > max_series:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_series, replace=False))
    df = panel.df[panel.df["unique_id"].isin(ids)]
    rows = []
    for uid, part in df.groupby("unique_id", sort=True):
        y = part["y"].to_numpy(dtype=float)
        f_t, f_s = strengths(y, panel.season_length or 1)
        rows.append(
            {"unique_id": uid, "length": len(y), "missing": int(np.isnan(y).sum()), "trend": f_t, "seasonality": f_s}
        )
    return pd.DataFrame(rows)


def missing_summary(panel: Panel) -> pd.DataFrame:
    """Series with missing values: explicit NaNs, and for dated panels the timestamps absent between
    a series' first and last one."""
    df = panel.df
    nan = df["y"].isna().groupby(df["unique_id"]).sum()
    out = pd.DataFrame({"nan_values": nan.astype(int)})
    if pd.api.types.is_datetime64_any_dtype(df["ds"]) and panel.freq:
        span = df.groupby("unique_id")["ds"].agg(["min", "max", "size"])
        expected = [len(pd.date_range(a, b, freq=panel.freq)) for a, b in zip(span["min"], span["max"], strict=True)]
        out["absent_timestamps"] = np.asarray(expected) - span["size"].to_numpy()
    out = out[(out != 0).any(axis=1)]
    return out.reset_index()


def sample_ids(panel: Panel, n: int, seed: int = 0) -> list[str]:
    ids = np.sort(panel.df["unique_id"].unique())
    return sorted(np.random.default_rng(seed).choice(ids, min(n, len(ids)), replace=False).tolist())
