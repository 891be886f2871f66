"""A test-only forecaster whose fits can be counted across processes (Dask workers, units' children).

It lives in a module of its own so that Dask worker processes can import it by name (a class
defined in a test module would be registered in the test process only).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import norm

from workbench.data import Panel
from workbench.forecasters import Forecaster
from workbench.registry import ModelParams
from workbench.tasks import future_ds


class CountingParams(ModelParams):
    count_file: str = Field(description="each fit appends one line (its PID) to this file")
    quantiles: list[float] | None = Field(None, description="quantile levels to forecast (q0.1, ...)")


class CountingNaive(Forecaster):
    """The last value, with normal quantiles around it scaled by the series' step spread; every
    `fit` appends a line to `count_file` (O_APPEND: whole lines from any number of processes)."""

    name = "test_counting_naive"
    Params = CountingParams

    def fit(self, past: Panel) -> CountingNaive:
        fd = os.open(self.params.count_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return super().fit(past)

    def predict(self, h: int) -> pd.DataFrame:
        df = self.past_.df
        last = df.groupby("unique_id", sort=True)["y"].last()
        spread = df.groupby("unique_id", sort=True)["y"].agg(lambda y: float(np.nanstd(np.diff(y))) or 1.0)
        out = future_ds(self.past_, h)
        out["y_hat"] = np.repeat(last.to_numpy(), h)
        steps = np.tile(np.sqrt(np.arange(1, h + 1)), len(last))
        for q in self.params.quantiles or []:
            out[f"q{q:g}"] = out["y_hat"] + norm.ppf(q) * np.repeat(spread.to_numpy(), h) * steps
        return out


def fits(count_file: str) -> int:
    """How many fits have been counted in `count_file`."""
    try:
        with open(count_file) as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0
