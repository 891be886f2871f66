"""S-H-ESD throughput: the workbench's `workbench.anomaly.shesd` vs the obvious Python version.

The obvious version is what one writes from the R package's `detect_anoms`: statsmodels' `STL` with
the settings of R's `stl(s.window="periodic", robust=TRUE)` (seasonal 10 n + 1 of degree 0, R's
trend and low-pass spans, jumps of a tenth of each span, 1 inner and 15 outer passes, then the
mean of each cycle-subseries as the seasonal), then a generalised ESD that recomputes the median
and MAD of a pandas Series and drops the arg-max row at every step. The workbench's version runs
its own numpy STL (R's Fortran step by step) and an incremental ESD over the sorted residuals.

Both run here, one after the other, on the same series, single-threaded: all 60 Cloud Monitoring
series (R's `AnomalyDetectionTs` defaults: max_anoms 0.10, direction 'pos', period from the
granularity: 24 hourly, 1440 per minute; inner gaps linearly interpolated first, as the R package
tells its users to) and the package's `raw_data` (max_anoms 0.02, direction 'both', its test
settings). The anomaly counts of the two must agree series by series; the table prints series/s
of each and their ratio. Nothing is written.

Usage: WORKBENCH_DATA_MIRROR=/abs/path/to/shared/datasets python benchmarks/shesd_throughput.py [--reps 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PERIOD_BY_FREQ = {"h": 24, "min": 1440}  # R's AnomalyDetectionTs: switch(gran, hr = 24, min = 1440)


def obvious_shesd(y: np.ndarray, period: int, max_anoms: float, direction: str, alpha: float = 0.05) -> list[int]:
    """detect_anoms written the plain way: statsmodels' STL, then ESD recomputed from scratch each step."""
    from scipy import stats
    from statsmodels.tsa.seasonal import STL

    n = len(y)
    s_win = 10 * n + 1
    t_win = int(np.ceil(1.5 * period / (1 - 1.5 / s_win)))
    t_win += t_win % 2 == 0
    l_win = period + (period % 2 == 0)
    fit = STL(y, period=period, seasonal=s_win, trend=t_win, low_pass=l_win, seasonal_deg=0, trend_deg=1,
              low_pass_deg=1, robust=True, seasonal_jump=int(np.ceil(s_win / 10)), trend_jump=int(np.ceil(t_win / 10)),
              low_pass_jump=int(np.ceil(l_win / 10))).fit(inner_iter=1, outer_iter=15)  # fmt: skip
    seasonal = pd.Series(np.asarray(fit.seasonal)).groupby(np.arange(n) % period).transform("mean").to_numpy()
    data = pd.Series(y - seasonal - np.median(y))
    max_outliers = int(n * max(max_anoms, 1 / n))
    removed, num_anoms = [], 0
    for i in range(1, max_outliers + 1):
        med = data.median()
        if direction == "pos":
            ares = data - med
        elif direction == "neg":
            ares = med - data
        else:
            ares = (data - med).abs()
        sigma = 1.4826 * (data - med).abs().median()
        if sigma == 0:
            break
        ares = ares / sigma
        stat = ares.max()
        row = ares.idxmax()  # the first row holding the maximum
        removed.append(int(row))
        data = data.drop(row)
        p = 1 - alpha / (2 * (n - i + 1)) if direction == "both" else 1 - alpha / (n - i + 1)
        t = stats.t.ppf(p, n - i - 1)
        lam = t * (n - i) / np.sqrt((n - i - 1 + t**2) * (n - i + 1))
        if stat > lam:
            num_anoms = i
    return sorted(removed[:num_anoms])


def cloud_series() -> list[tuple[str, np.ndarray, int]]:
    """The 60 Cloud Monitoring series (folder subsets), values only, inner gaps interpolated."""
    from workbench.data.cards import get_card
    from workbench.data.catalog import load_panel

    out = []
    for subset in [s for s in get_card("cloud_monitoring").subsets if s != "all"]:
        panel = load_panel("cloud_monitoring", subset)
        for uid, g in panel.df.groupby("unique_id", sort=False):
            y = pd.Series(g["y"].to_numpy(float)).interpolate(limit_area="inside").to_numpy()
            out.append((uid, y, PERIOD_BY_FREQ[panel.freq]))
    return out


def _time(fn, series, reps: int) -> tuple[float, list[int]]:
    best, counts = np.inf, []
    for _ in range(reps):
        start = time.perf_counter()
        counts = [fn(y, period) for _, y, period in series]
        best = min(best, time.perf_counter() - start)
    return best, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="timed repetitions of each; the fastest is reported")
    args = parser.parse_args()

    from workbench.anomaly.shesd import shesd
    from workbench.data.catalog import load_panel

    raw = load_panel("twitter_raw_data", "raw_data").df["y"].to_numpy(float)
    cases = {
        "cloud_monitoring (60 series, max_anoms 0.10, pos)": (cloud_series(), 0.10, "pos"),
        "twitter raw_data (1 series, max_anoms 0.02, both)": ([("raw_data", raw, 1440)], 0.02, "both"),
    }
    rows = []
    for label, (series, max_anoms, direction) in cases.items():

        def ours(y, period, m=max_anoms, d=direction):
            return shesd(y, None, period=period, max_anoms=m, direction=d).indices.tolist()

        def plain(y, period, m=max_anoms, d=direction):
            return obvious_shesd(y, period, m, d)

        t_ours, found_ours = _time(ours, series, args.reps)
        t_plain, found_plain = _time(plain, series, args.reps)
        differ = [uid for (uid, _, _), a, b in zip(series, found_ours, found_plain, strict=True) if a != b]
        rows.append({
            "case": label,
            "rows": sum(len(y) for _, y, _ in series),
            "anomalies": sum(len(a) for a in found_ours),
            "series differing": len(differ),
            "workbench series/s": len(series) / t_ours,
            "statsmodels+pandas series/s": len(series) / t_plain,
            "ratio": t_plain / t_ours,
        })  # fmt: skip
        if differ:
            print(f"{label}: anomalies differ on {differ}")
    print(f"best of {args.reps} runs each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.2f}".format):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
