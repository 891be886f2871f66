"""Seeded synthetic panels: seasonal + trend + noise series of varied lengths, for scale tests.

Chunk `k` of a panel depends only on (seed, k), so a panel of 100,000 series can be written chunk by
chunk, on different workers, without ever holding all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.panel import Panel

__all__ = [
    "FLEET_COLUMNS",
    "FLEET_METRICS",
    "FLEET_SERVICES",
    "Fleet",
    "synthetic_chunk",
    "synthetic_panel",
    "write_fleet",
]


def synthetic_chunk(
    seed: int,
    chunk: int,
    n_series: int,
    *,
    min_length: int = 100,
    max_length: int = 1000,
    season_length: int = 24,
    horizon: int = 48,
    first_id: int = 0,
) -> tuple[Panel, Panel]:
    """(train, test) panels of `n_series` positive series; the test holds the next `horizon` points.

    Parameters
    ----------
    seed
        The generator's seed; with `chunk`, everything drawn follows from it.
    chunk
        The chunk's number: chunks of one seed draw different series.
    n_series
        Series in the chunk.
    min_length, max_length
        The range of the train lengths (both included).
    season_length
        The period of the sine season (also the panels' `season_length`).
    horizon
        Test points per series (also the panels' `horizon`).
    first_id
        The number of the first series' id (`S0000000`): give chunks disjoint ranges.
    """
    rng = np.random.default_rng([seed, chunk])
    lengths = rng.integers(min_length, max_length + 1, n_series)
    ids, ds, ys = [], [], []
    test_ids, test_ds, test_ys = [], [], []
    for i, n in enumerate(lengths):
        t = np.arange(n + horizon)
        level = rng.uniform(50, 500)
        trend = rng.normal(0, 0.05) * level / 100
        amplitude = rng.uniform(0, 0.3) * level
        phase = rng.uniform(0, 2 * np.pi)
        noise = rng.normal(0, rng.uniform(0.01, 0.1) * level, n + horizon)
        y = level + trend * t + amplitude * np.sin(2 * np.pi * t / season_length + phase) + noise
        y = np.maximum(y, 1.0)
        uid = f"S{first_id + i:07d}"
        ids.append(np.repeat(uid, n))
        ds.append(t[:n] + 1)
        ys.append(y[:n])
        test_ids.append(np.repeat(uid, horizon))
        test_ds.append(t[n:] + 1)
        test_ys.append(y[n:])
    meta = {"season_length": season_length, "horizon": horizon, "name": f"synthetic-{seed}"}
    train = pd.DataFrame({"unique_id": np.concatenate(ids), "ds": np.concatenate(ds), "y": np.concatenate(ys)})
    test = pd.DataFrame(
        {"unique_id": np.concatenate(test_ids), "ds": np.concatenate(test_ds), "y": np.concatenate(test_ys)}
    )
    return Panel(df=train, **meta), Panel(df=test, **meta)


def synthetic_panel(n_series: int, seed: int = 0, **kwargs) -> tuple[Panel, Panel]:
    """A whole synthetic (train, test) pair in memory (small panels, tests).

    Parameters
    ----------
    n_series
        Series in the panel.
    seed
        The generator's seed.
    **kwargs
        `synthetic_chunk`'s keywords (`min_length`, `max_length`, `season_length`, `horizon`, `first_id`).
    """
    return synthetic_chunk(seed, 0, n_series, **kwargs)


# ---- a fleet of observability metrics ----------------------------------------------------------
FLEET_SERVICES = ("api", "checkout", "search", "auth", "payments")
FLEET_METRICS = {"cpu": "gauge", "latency_p99": "gauge", "requests": "count", "errors": "count"}
FLEET_COLUMNS = ["metric_type", "metric", "service", "host"]


@dataclass(frozen=True)
class Fleet:
    """What `write_fleet` wrote: the hive-partitioned parquet folder, a user catalog folder holding
    the card `fleet.yaml` over it, and the labelled anomaly stamps (CSV: unique_id, ds).

    Parameters
    ----------
    data
        The hive-partitioned parquet folder.
    catalog
        The user catalog folder holding the card.
    card
        The card file, `fleet.yaml`.
    labels
        The labelled anomaly stamps, `labels.csv`.
    n_series
        Series written.
    n_missing
        (series, stamp) rows left out.
    n_anomalies
        Spikes injected.
    """

    data: Path
    catalog: Path
    card: Path
    labels: Path
    n_series: int
    n_missing: int
    n_anomalies: int


def _fleet_series(rng: np.random.Generator, metric: str, t: np.ndarray) -> np.ndarray:
    """One series of a fleet metric at hourly stamps `t` (hours since a Monday 00:00)."""
    daily = np.sin(2 * np.pi * (t % 24) / 24 - np.pi / 2)
    weekend = np.where((t // 24) % 7 >= 5, 0.7, 1.0)
    if metric == "cpu":
        level, amp = rng.uniform(20, 60), rng.uniform(5, 20)
        noise = np.zeros(len(t))
        eps = rng.normal(0, rng.uniform(1, 4), len(t))
        for i in range(1, len(t)):
            noise[i] = 0.7 * noise[i - 1] + eps[i]
        return np.clip(level + amp * daily * weekend + noise, 0, 100)
    if metric == "latency_p99":
        base = rng.uniform(80, 400)
        return base * np.exp(0.3 * daily + rng.normal(0, 0.15, len(t)))
    if metric == "requests":
        rate = rng.uniform(200, 2000) * (1 + 0.6 * daily) * weekend
        return rng.poisson(rate).astype(float)
    return rng.poisson(rng.uniform(0.02, 0.3) * (1 + 0.5 * daily)).astype(float)


def write_fleet(
    folder: str | Path,
    seed: int = 0,
    *,
    hosts_per_service: int = 10,
    n_hours: int = 24 * 28,
    n_missing: int = 35,
    n_anomalies: int = 64,
) -> Fleet:
    """Write a seeded fleet of hourly infrastructure and application metrics, as a user's own files.

    Five services × `hosts_per_service` hosts × four metrics (with the defaults, 200 series):
    `cpu` (%) and `latency_p99` (ms) are gauges, `requests` and the mostly-zero `errors` are counts
    (per hour). Columns `unique_id, ds, y, metric_type, metric, host`, hive-partitioned by
    `service=<name>/`; `n_missing` (series, stamp) rows are left out (gaps inside the series) and
    `n_anomalies` spikes are injected and listed in `labels.csv`. The card `fleet.yaml` (in
    `catalog/`) declares the per-series columns, hourly frequency, a daily season and a 24-hour
    horizon, and allows the gaps. It exists so that the breakdown-by-metadata path (which model wins
    on which kind of metric) can be exercised end to end on data shaped like a real fleet.

    Parameters
    ----------
    folder
        Where to write: `data/`, `catalog/fleet.yaml` and `labels.csv` are created inside.
    seed
        Everything drawn (levels, noise, gaps, anomalies) follows from it.
    hosts_per_service, n_hours, n_missing, n_anomalies
        The fleet's size, length in hours, rows left out and anomalies injected.
    """
    import yaml

    root = Path(folder)
    rng = np.random.default_rng(seed)
    t = np.arange(n_hours)
    stamps = pd.Timestamp("2026-01-05") + pd.to_timedelta(t, unit="h")
    series = []
    for service in FLEET_SERVICES:
        for h in range(hosts_per_service):
            host = f"{service}-{h:02d}"
            for metric, kind in FLEET_METRICS.items():
                y = _fleet_series(rng, metric, t)
                series.append({"service": service, "host": host, "metric": metric, "metric_type": kind, "y": y})
    # anomalies: spikes at stamps away from the series' ends
    picks = rng.choice(len(series) * (n_hours - 48), n_anomalies, replace=False)
    labels = []
    for p in picks:
        s, i = divmod(int(p), n_hours - 48)
        i += 24
        one = series[s]
        jump = rng.uniform(2.0, 4.0)
        if one["metric"] == "cpu":
            one["y"][i] = min(100.0, one["y"][i] * jump + 20)
        elif one["metric_type"] == "count":
            one["y"][i] = np.round(one["y"][i] * jump) + rng.poisson(20)
        else:
            one["y"][i] = one["y"][i] * jump
        labels.append({"unique_id": f"{one['host']}/{one['metric']}", "ds": stamps[i]})
    # gaps: rows left out inside the series (never an anomaly's stamp, never the first or last hours)
    frames = []
    for one in series:
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"{one['host']}/{one['metric']}",
                    "ds": stamps,
                    "y": one["y"],
                    "metric_type": one["metric_type"],
                    "metric": one["metric"],
                    "service": one["service"],
                    "host": one["host"],
                }
            )
        )
    long = pd.concat(frames, ignore_index=True)
    labelled = set(zip(*(pd.DataFrame(labels).values.T), strict=True)) if labels else set()
    inner = long[(long["ds"] > stamps[24]) & (long["ds"] < stamps[-49])]
    inner = inner[[(u, d) not in labelled for u, d in zip(inner["unique_id"], inner["ds"], strict=True)]]
    dropped = rng.choice(inner.index.to_numpy(), n_missing, replace=False)
    long = long.drop(index=dropped)
    data = root / "data"
    for service, part in long.groupby("service", sort=True):
        target = data / f"service={service}"
        target.mkdir(parents=True, exist_ok=True)
        part = part.drop(columns="service").sort_values(["unique_id", "ds"], kind="stable")
        part.to_parquet(target / "part-0.parquet", index=False)
    label_file = root / "labels.csv"
    pd.DataFrame(labels).sort_values(["unique_id", "ds"]).to_csv(label_file, index=False)
    catalog = root / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    card = catalog / "fleet.yaml"
    raw = {
        "name": "fleet",
        "title": "Fleet metrics (synthetic)",
        "description": "CPU %, p99 latency, requests and errors per host, hourly; gaps and labelled spikes.",
        "source": {"path": str(data.resolve()), "metadata_cols": FLEET_COLUMNS},
        "freq": "h",
        "season_length": 24,
        "horizon": 24,
        "allow_missing": True,
    }
    card.write_text(yaml.safe_dump(raw, sort_keys=False))
    return Fleet(data, catalog, card, label_file, len(series), n_missing, n_anomalies)
