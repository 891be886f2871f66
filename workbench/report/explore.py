"""A first look at a dataset: sizes, lengths, trend and seasonal strength, missing values.

Strengths follow Wang, Smith & Hyndman (2006): after a classical decomposition y = T + S + R,
trend strength is max(0, 1 - var(R) / var(T + R)) and seasonal strength max(0, 1 - var(R) / var(S + R)).
They sit in [0, 1], so series of any scale share one scatter plot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data import Panel

__all__ = ["load", "missing_summary", "sample_ids", "series_features", "strengths"]


def load(dataset: str, subset: str | None = None, split: str = "train") -> Panel:
    """A card's split to explore, either kind of card, as recorded: a user card's series keep the
    stamps they miss on the grid (`workbench.observability.load_with_gaps`), so that
    `missing_summary` can count them instead of the load refusing the card.

    Parameters
    ----------
    dataset, subset, split
        The card, its subset (default: the first; a user card's `all`) and split.
    """
    from workbench.observability import load_with_gaps

    return load_with_gaps(dataset, subset, split)


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
    """(trend strength, seasonal strength) of one series; NaN where it is too short to decompose.

    Missing values inside the series (NaN, or stamps it misses, placed on its grid by
    `series_features`) are interpolated linearly rather than dropped, so every value keeps its phase
    in the season; leading and trailing ones are cut."""
    y = np.asarray(y, dtype=float)
    present = np.flatnonzero(~np.isnan(y))
    if not len(present):
        return np.nan, np.nan
    y = y[present[0] : present[-1] + 1]
    if np.isnan(y).any():
        at = np.arange(len(y))
        ok = ~np.isnan(y)
        y = np.interp(at, at[ok], y[ok])
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


def _on_grid(part: pd.DataFrame, freq: str | None) -> np.ndarray:
    """A series' values on its regular grid (stamps it misses as NaN); as they are where there is no grid."""
    ds = part["ds"]
    if pd.api.types.is_datetime64_any_dtype(ds):
        if not freq:
            return part["y"].to_numpy(dtype=float)
        grid = pd.date_range(ds.iloc[0], ds.iloc[-1], freq=freq)
    elif pd.api.types.is_integer_dtype(ds):
        grid = np.arange(ds.iloc[0], ds.iloc[-1] + 1)
    else:
        return part["y"].to_numpy(dtype=float)
    return part.set_index("ds")["y"].reindex(grid).to_numpy(dtype=float)


def series_features(panel: Panel, max_series: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Per series: length (rows), missing values (NaN), stamps missing on its grid (`absent`), trend
    and seasonal strength, computed on the series placed on its grid so that a gap does not shift
    the season (a seeded sample of `max_series` series when the panel is larger, so big datasets stay
    quick to explore)."""
    ids = np.sort(panel.df["unique_id"].unique())
    if max_series and len(ids) > max_series:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_series, replace=False))
    df = panel.df[panel.df["unique_id"].isin(ids)]
    rows = []
    for uid, part in df.groupby("unique_id", sort=True):
        part = part.sort_values("ds", kind="stable")
        y = part["y"].to_numpy(dtype=float)
        gridded = _on_grid(part, panel.freq)
        f_t, f_s = strengths(gridded, panel.season_length or 1)
        rows.append(
            {
                "unique_id": uid,
                "length": len(y),
                "missing": int(np.isnan(y).sum()),
                "absent": len(gridded) - len(y),
                "trend": f_t,
                "seasonality": f_s,
            }
        )
    return pd.DataFrame(rows)


def missing_summary(panel: Panel, n_first: int = 3) -> pd.DataFrame:
    """Series with missing values: explicit NaNs (`nan_values`), and for panels on a grid the stamps
    absent between a series' first and last one (`absent_timestamps`, the first `n_first` of them in
    `first_absent`), so a card whose series miss stamps (`load`) is summarised rather than refused.

    Parameters
    ----------
    panel
        The series as recorded (not filled by a gap policy).
    n_first
        How many absent stamps to list per series.
    """
    from workbench.observability import missing_stamps

    df = panel.df
    nan = df["y"].isna().groupby(df["unique_id"], sort=True).sum()
    out = pd.DataFrame({"nan_values": nan.astype(int)})
    absent = missing_stamps(panel, n_first).set_index("unique_id")
    out["absent_timestamps"] = absent["missing_stamps"].reindex(out.index, fill_value=0).astype(int)
    out["first_absent"] = absent["first_missing"].reindex(out.index, fill_value="")
    out = out[(out[["nan_values", "absent_timestamps"]] != 0).any(axis=1)]
    out.index.name = "unique_id"
    return out.reset_index()


def sample_ids(panel: Panel, n: int, seed: int = 0) -> list[str]:
    ids = np.sort(panel.df["unique_id"].unique())
    return sorted(np.random.default_rng(seed).choice(ids, min(n, len(ids)), replace=False).tolist())
