"""Seeded synthetic panels: seasonal + trend + noise series of varied lengths, for scale tests.

Chunk `k` of a panel depends only on (seed, k), so a panel of 100,000 series can be written chunk by
chunk, on different workers, without ever holding all of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.panel import Panel

__all__ = ["synthetic_chunk", "synthetic_panel"]


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
    """(train, test) panels of `n_series` positive series; the test holds the next `horizon` points."""
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
    """A whole synthetic (train, test) pair in memory (small panels, tests)."""
    return synthetic_chunk(seed, 0, n_series, **kwargs)
