"""The Monash archive's Table 5 (mean MASE) for SES, Theta, ETS and ARIMA, run through the Dask engine.

Protocol of the archive's code (rakshitha123/TSForecasting, R forecast 8.12): the last `horizon`
points of each series are the test set (the same split as the competitions' own train/test), models
see the raw series (no seasonal adjustment around SES), and MASE uses the archive's seasonal lag
(weekly 52, daily 7, hourly 24), falling back to lag 1 for series not longer than it; series with an
undefined MASE are left out of the mean.

Models: SES = `monash_ses`, Theta = `monash_theta` (forecast 8.12's `ses` / `thetaf`, compiled in
`workbench.classic.monash`); ETS = statsforecast's AutoETS and ARIMA = statsforecast's AutoARIMA with
a log transform (the archive's `auto.arima(x, lambda = 0)`), falling back to seasonal naive where
it fails, as the archive does; on M4 Weekly and Hourly the archive ran DHR-ARIMA instead, which is
`monash_dhr_arima` (`workbench.models.monash_dhr`, with the archive's own fallback). AutoETS and
AutoARIMA are ports of R's functions, not R itself: hence their wider
tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.engine import evaluate
from workbench.errors import SourceUnavailableError
from workbench.models.spec import ModelSpec
from workbench.tasks import Task

__all__ = ["DATASETS", "DHR_PERIODS", "LAGS", "METHODS", "MODEL_SEASON", "model_spec", "reproduce", "task_for"]

# the archive's dataset names -> (card, subset)
DATASETS = {
    "M1 Yearly": ("m1", "yearly"),
    "M1 Quarterly": ("m1", "quarterly"),
    "M1 Monthly": ("m1", "monthly"),
    "M3 Yearly": ("m3", "yearly"),
    "M3 Quarterly": ("m3", "quarterly"),
    "M3 Monthly": ("m3", "monthly"),
    "M3 Other": ("m3", "other"),
    "Tourism Yearly": ("tourism", "yearly"),
    "Tourism Quarterly": ("tourism", "quarterly"),
    "Tourism Monthly": ("tourism", "monthly"),
    "M4 Yearly": ("m4", "Yearly"),
    "M4 Quarterly": ("m4", "Quarterly"),
    "M4 Monthly": ("m4", "Monthly"),
    "M4 Weekly": ("m4", "Weekly"),
    "M4 Daily": ("m4", "Daily"),
    "M4 Hourly": ("m4", "Hourly"),
}
# the archive's MASE lag per frequency (experiments/fixed_horizon_functions.R)
LAGS = {"yearly": 1, "quarterly": 4, "monthly": 12, "weekly": 52, "daily": 7, "hourly": 24, "other": 1}
METHODS = ("SES", "Theta", "ETS", "(DHR-)ARIMA")
# The season length the archive's R models saw, where it is not the MASE lag. Hourly series carry
# several seasonalities (24, 168, 8766); `thetaf` and `ets` behave as on a series of frequency 8766:
# non-seasonal (thetaf needs n > 2m, ets refuses m > 24). Inferred: thetaf with m = 1 reproduces the
# archive's M4 Hourly Theta (11.524) to 3 decimals, with m = 24 it gives 2.455.
MODEL_SEASON = {"hourly": 1}
# Where the archive ran `dhr_arima` instead of `arima` (experiments/fixed_horizon.R: M4 Weekly and
# Hourly), with the msts periods of the frequency (`workbench.models.monash_dhr` says what that does).
DHR_PERIODS = {"weekly": (365.25 / 7,), "hourly": (24.0, 168.0, 8766.0)}


def model_spec(
    method: str, lag: int, model_season: int | None = None, dhr_periods: tuple[float, ...] | None = None
) -> dict:
    """The workbench model standing for one of the archive's methods (`model_season`: the season
    length the archive's models saw, when it differs from the MASE lag; `dhr_periods`: the msts
    periods where the archive ran DHR-ARIMA)."""
    m = lag if model_season is None else model_season
    if method == "SES":
        return {"name": "monash_ses"}
    if method == "Theta":
        return {"name": "monash_theta", "params": {"season_length": m}} if m != lag else {"name": "monash_theta"}
    if method == "ETS":
        # R's ets refuses seasonal models with m > 24 and fits a non-seasonal one instead
        return {"name": "statsforecast.AutoETS", "params": {"season_length": m if m <= 24 else 1}}
    if method == "(DHR-)ARIMA" and dhr_periods:
        return {"name": "monash_dhr_arima", "params": {"periods": list(dhr_periods)}}
    if method == "(DHR-)ARIMA":
        return {
            "name": "statsforecast.AutoARIMA",
            "params": {"season_length": lag, "log": True, "fallback": "seasonal_naive"},
        }
    raise ValueError(f"unknown method {method!r}; known: {METHODS}")


def task_for(dataset: str) -> Task:
    card, subset = DATASETS[dataset]
    lag = LAGS[subset.lower()]
    return Task(dataset=card, subset=subset, season_length=lag, metrics=("mase_monash",))


def reproduce(
    datasets: Iterable[str] = tuple(DATASETS),
    methods: Iterable[str] = METHODS,
    store: str | Path | None = None,
    progress: bool = True,
    **engine: object,
) -> pd.DataFrame:
    """Mean MASE per (dataset, method), computed by the engine; unavailable data is reported as such."""
    rows = []
    for dataset in datasets:
        task = task_for(dataset)
        freq = DATASETS[dataset][1].lower()
        season, periods = MODEL_SEASON.get(freq), DHR_PERIODS.get(freq)
        specs = [ModelSpec(**model_spec(m, task.m, season, periods)) for m in methods]
        try:
            summary = evaluate(task, specs, store=store, progress=progress, **engine)  # type: ignore[arg-type]
        except SourceUnavailableError as exc:
            rows += [(dataset, m, np.nan, f"data unavailable: {exc}") for m in methods]
            continue
        metrics = summary.store.metrics()
        metrics = metrics[metrics["task_key"] == task.key()]
        records = summary.store.records()
        records = records[records["task_key"] == task.key()]
        for method, spec in zip(methods, specs, strict=True):
            failed = records[(records["model"] == spec.label) & (records["status"] != "ok")]
            if len(failed):
                rows.append((dataset, method, np.nan, f"{len(failed)} unit(s) failed: {failed['error'].iloc[0]}"))
                continue
            values = metrics.loc[metrics["model"] == spec.label, "value"].to_numpy()
            dropped = int(np.isnan(values).sum())
            note = f"{dropped} series with undefined MASE left out" if dropped else ""
            rows.append((dataset, method, float(np.nanmean(values)), note))
    out = pd.DataFrame(rows, columns=["subset", "method", "value", "note"])
    out.insert(0, "dataset", "monash")
    out.insert(3, "metric", "mean MASE")
    out.insert(4, "route", "")
    return out
