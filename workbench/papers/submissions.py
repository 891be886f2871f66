"""Submitted forecasts stored long (unique_id, step, y_hat), laid out per series."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["steps_to_array"]


def steps_to_array(table: pd.DataFrame, ids: np.ndarray, h: int) -> np.ndarray:
    """(len(ids), h) forecasts in the order of `ids`; NaN where the table has no value."""
    row = pd.Index(ids).get_indexer(table["unique_id"].to_numpy())
    step = table["step"].to_numpy()
    keep = (row >= 0) & (step <= h)
    out = np.full((len(ids), h), np.nan)
    out[row[keep], step[keep] - 1] = table["y_hat"].to_numpy()[keep]
    return out
