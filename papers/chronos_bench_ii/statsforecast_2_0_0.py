"""fev's statsforecast protocol with fev's statsforecast version (2.0.0), outside the workbench.

The workbench runs the installed statsforecast; fev ran 2.0.0 (`examples/statsforecast/requirements.txt`
at 0cedcbfa). To tell a difference of version from a difference of protocol, this script reruns fev's
`predict_with_model` (gaps forward-filled then 0, the last 2,500 points, `fallback_model=SeasonalNaive`,
levels from the quantiles, the level-0 interval for 0.5) and fev 0.6.0's MASE and WQL, in an
environment holding statsforecast 2.0.0 and no workbench:

    python -m venv /tmp/sf200 && /tmp/sf200/bin/pip install statsforecast==2.0.0 pandas pyarrow
    python -c "from workbench.papers.chronos_bench_ii import export_series as e; e('monash_m3_yearly', 'm3y.parquet')"
    /tmp/sf200/bin/python statsforecast_2_0_0.py m3y.parquet 6 1 auto_theta

It prints one line: the version, the model, MASE and WQL. NOTES.md lists what it gave.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import statsforecast
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
MODELS = {"auto_ets": AutoETS, "auto_theta": AutoTheta, "auto_arima": AutoARIMA}


def column(name: str, q: float) -> str:
    return name + (f"-lo-{int(100 - 200 * q)}" if q < 0.5 else f"-hi-{int(200 * q - 100)}")


def main(path: str, h: int, m: int, model: str) -> None:
    frame = pd.read_parquet(path)
    past = frame.groupby("unique_id").head(-h)
    future = frame.groupby("unique_id").tail(h).sort_values(["unique_id", "ds"])
    filled = past.set_index("unique_id").groupby("unique_id").ffill().reset_index().fillna(0.0)
    filled = filled.groupby("unique_id").tail(2500).reset_index(drop=True)
    first = filled[filled["unique_id"] == filled["unique_id"].iloc[0]]["ds"]
    sf = StatsForecast(
        models=[MODELS[model](season_length=m)],
        freq=pd.infer_freq(first) or "D",
        n_jobs=1,
        fallback_model=SeasonalNaive(season_length=m),
    )
    levels = sorted({round(abs(q - 0.5) * 200) for q in QUANTILES})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecast = sf.forecast(df=filled, h=h, level=levels)
    forecast = (forecast if "unique_id" in forecast else forecast.reset_index()).sort_values(["unique_id", "ds"])
    name = str(MODELS[model](season_length=m))
    n = frame["unique_id"].nunique()
    y = future["y"].to_numpy().reshape(n, h)
    f = forecast[name].to_numpy().reshape(n, h)
    q = np.stack([forecast[column(name, level)].to_numpy().reshape(n, h) for level in QUANTILES], axis=-1)
    scales = []
    for _, g in past.groupby("unique_id", sort=True):
        x = g["y"].to_numpy()
        d = np.abs(x[m:] - x[:-m]) if len(x) > m else np.array([])
        v = np.nanmean(d) if np.isfinite(d).any() else np.nan
        scales.append(1.0 if np.isnan(v) else v)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.abs(y - f) / np.array(scales)[:, None]
    mase = scaled[np.isfinite(scaled)].mean()
    ql = 2 * np.abs((y[..., None] - q) * ((y[..., None] <= q) - np.array(QUANTILES)))
    wql = np.nanmean(ql) / np.nanmean(np.abs(y))
    print(f"statsforecast {statsforecast.__version__} {model}: MASE {mase:.10f} WQL {wql:.10f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
