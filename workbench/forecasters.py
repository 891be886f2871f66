"""Forecaster interface and registry: a name plus parameters resolves to an object.

A forecaster is fitted on a Panel of past values and predicts `h` steps per series as a long frame
(`unique_id`, `ds`, `y_hat`). Subclasses register themselves by name, so a sweep file, a notebook
parameter and the CLI all name models the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.data import Panel
from workbench.errors import DataFormatError
from workbench.registry import resolve
from workbench.tasks import future_ds

FORECASTERS: dict[str, type[Forecaster]] = {}
# library adapters: "statsforecast.AutoETS" -> FAMILIES["statsforecast"](model_class="AutoETS", ...)
FAMILIES: dict[str, type[Forecaster]] = {}


class Forecaster(ABC):
    """Fit on the past, predict h steps. `name` registers the class."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""  # set by library adapters that resolve "<family>.<Class>" names

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.name, str) and cls.name:
            FORECASTERS[cls.name] = cls
        if cls.family:
            FAMILIES[cls.family] = cls

    def __init__(self, **params: Any) -> None:
        self.params = params

    @property
    def is_global(self) -> bool:
        """Global models learn across series: the engine hands them a whole window, not a chunk."""
        return False

    def fit(self, past: Panel) -> Forecaster:
        self.past_ = past
        return self

    @abstractmethod
    def predict(self, h: int) -> pd.DataFrame: ...


def make_forecaster(name: str, **params: Any) -> Forecaster:
    """A registered name (`theta`), or a library model as `<family>.<Class>` (`statsforecast.AutoETS`)."""
    return resolve("model", name, FORECASTERS, FAMILIES, **params)


class _ArrayForecaster(Forecaster):
    """Vectorised over the left-padded array of all series: one numpy call per panel."""

    def predict(self, h: int) -> pd.DataFrame:
        values, lengths, ids = self.past_.to_numpy(pad="left")
        if self.past_.df["y"].isna().any():  # only then can a NaN sit inside a series' history
            present = (~np.isnan(values)).sum(axis=1)
            bad = ids[np.flatnonzero(present != lengths)]
            raise DataFormatError(
                f"{self.name}: series {bad[0]!r} has missing values inside its history "
                f"({len(bad)} series in all); fill or drop them before forecasting"
            )
        out = future_ds(self.past_, h)
        out["y_hat"] = self.forecast_array(values, lengths, h).ravel()
        return out

    @abstractmethod
    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray: ...


class Naive(_ArrayForecaster):
    """Last value repeated (M4's Naive1)."""

    name = "naive"

    def forecast_array(self, values, lengths, h):
        return np.repeat(values[:, -1:], h, axis=1)


class SeasonalNaive(_ArrayForecaster):
    """Last season repeated; season length from the panel unless given."""

    name = "seasonal_naive"

    def forecast_array(self, values, lengths, h):
        m = int(self.params.get("season_length") or self.past_.season_length or 1)
        if m == 1:
            return np.repeat(values[:, -1:], h, axis=1)
        out = np.tile(values[:, -m:], (1, -(-h // m)))[:, :h]
        short = lengths < m  # less than one season of history: fall back to the last value
        out[short] = values[short, -1:]
        return out


# registers naive2, ses, holt, damped, theta, comb and the library adapters (imported last: they
# subclass the classes above)
import workbench.classic.forecasters  # noqa: E402
import workbench.foundation.chronos  # noqa: E402
import workbench.foundation.timesfm  # noqa: E402
import workbench.foundation.toto  # noqa: E402
import workbench.ltsf.forecaster  # noqa: E402
import workbench.models.darts_models  # noqa: E402
import workbench.models.monash_dhr  # noqa: E402
import workbench.models.statsforecast_models  # noqa: E402
import workbench.neural.mlp  # noqa: E402, F401
