"""Forecaster interface: a name plus typed parameters resolves to an object.

A forecaster is fitted on a Panel of past values and predicts `h` steps per series as a long frame
(`unique_id`, `ds`, `y_hat`). Names resolve through the registry table (`workbench.registry`), so a
sweep file, a notebook parameter and the CLI all name models the same way; each class declares its
parameters as a frozen pydantic model (`Params`), checked when the model is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.data import Panel
from workbench.data.panel import MissingPolicy
from workbench.errors import DataFormatError
from workbench.registry import ModelParams, forecasters
from workbench.tasks import future_ds

__all__ = [
    "FORECASTERS",
    "Forecaster",
    "Naive",
    "NaiveParams",
    "SeasonParams",
    "SeasonalNaive",
    "SeasonalNaiveParams",
    "make_forecaster",
]

# name -> class, loaded on demand (a Mapping); library families resolve "<family>.<Class>"
FORECASTERS = forecasters


class Forecaster(ABC):
    """Fit on the past, predict h steps.

    `Params` declares the parameters (`self.params` holds them validated); `seed` is the run's seed,
    which a model that draws random numbers uses unless its own parameter (`random_state`) is set.
    A subclass with a `name` defined outside the registry table joins the registry.

    Parameters
    ----------
    seed
        The run's seed; None: none given.
    **params
        The model's parameters, validated by its `Params` (a `ParameterError` names every problem).
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""  # set by library adapters that resolve "<family>.<Class>" names
    Params: ClassVar[type[ModelParams]] = ModelParams
    # global models learn across series: the engine hands them a whole window, not a chunk
    is_global: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("name")
        if isinstance(own, str) and own:
            forecasters.add(own, cls)

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        self.seed = seed
        self.params: Any = self.Params.parse(self.name or type(self).__name__, params)

    def fit(self, past: Panel) -> Forecaster:
        """Remember the past; subclasses that learn fit here. Returns the forecaster.

        Parameters
        ----------
        past
            The history of every series to forecast.
        """
        self.past_ = past
        return self

    @abstractmethod
    def predict(self, h: int) -> pd.DataFrame:
        """The forecasts of the fitted series: a long frame (`unique_id`, `ds`, `y_hat`).

        Parameters
        ----------
        h
            Steps to forecast after each series' last timestamp.
        """


def make_forecaster(name: str, *, seed: int | None = None, **params: Any) -> Forecaster:
    """A registered name (`theta`), or a library model as `<family>.<Class>` (`statsforecast.AutoETS`).

    Unknown names raise `UnknownNameError`; unknown, missing or mistyped parameters `ParameterError`.
    `seed` is the run's seed: models that draw random numbers use it unless given their own
    `random_state`.

    Parameters
    ----------
    name
        A registered name or `<family>.<Class>`.
    seed
        The run's seed; None: none given.
    **params
        The model's parameters (`workbench models info NAME` lists them).
    """
    return forecasters.build(name, seed=seed, **params)


class SeasonParams(ModelParams):
    """Parameters of a model with a season."""

    season_length: int | None = Field(None, ge=1, description="season length; default: the panel's")


class NaiveParams(ModelParams):
    """Parameters of the naive forecasts: what to do with missing values in the history."""

    missing: MissingPolicy = Field(
        "refuse",
        description="missing values in the history: refuse (name the series), last_value (carried forward, a "
        "leading gap takes the first observation: gluonts' LastValueImputation, as fev runs seasonal naive) "
        "or ffill_zero (carried forward, a leading gap 0)",
    )


class SeasonalNaiveParams(SeasonParams, NaiveParams):
    """Parameters of seasonal naive."""


class _ArrayForecaster(Forecaster):
    """Vectorised over the left-padded array of all series: one numpy call per panel."""

    def predict(self, h: int) -> pd.DataFrame:
        past = self.past_.fill_missing(getattr(self.params, "missing", "refuse"))
        values, lengths, ids = past.to_numpy(pad="left")
        if past.df["y"].isna().any():  # only then can a NaN sit inside a series' history
            present = (~np.isnan(values)).sum(axis=1)
            bad = ids[np.flatnonzero(present != lengths)]
            raise DataFormatError(
                f"{self.name}: series {bad[0]!r} has missing values inside its history "
                f"({len(bad)} series in all); fill or drop them before forecasting, or pass missing=last_value "
                "(or ffill_zero) to fill them in the model"
            )
        out = future_ds(self.past_, h)
        out["y_hat"] = self.forecast_array(values, lengths, h).ravel()
        return out

    @abstractmethod
    def forecast_array(self, values: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray: ...


class Naive(_ArrayForecaster):
    """Last value repeated (M4's Naive1).

    Parameters
    ----------
    seed
        Not used (the forecast draws nothing at random).
    **params
        `missing`: what to do with missing values in the history (`NaiveParams`).
    """

    name = "naive"
    Params = NaiveParams

    def forecast_array(self, values, lengths, h):
        """The last value of each row, repeated `h` times.

        Parameters
        ----------
        values
            The histories, left-padded, shape (n_series, max_length).
        lengths
            Each series' length (not read: the last column holds every series' last value).
        h
            Steps to forecast.
        """
        return np.repeat(values[:, -1:], h, axis=1)


class SeasonalNaive(_ArrayForecaster):
    """Last season repeated; season length from the panel unless given.

    Parameters
    ----------
    seed
        Not used (the forecast draws nothing at random).
    **params
        `season_length` (None: the panel's) and `missing` (`SeasonalNaiveParams`).
    """

    name = "seasonal_naive"
    Params = SeasonalNaiveParams

    def forecast_array(self, values, lengths, h):
        """The last season of each row, repeated to `h` steps; a series shorter than a season repeats its last
        value.

        Parameters
        ----------
        values
            The histories, left-padded, shape (n_series, max_length).
        lengths
            Each series' length.
        h
            Steps to forecast.
        """
        m = int(self.params.season_length or self.past_.season_length or 1)
        if m == 1:
            return np.repeat(values[:, -1:], h, axis=1)
        out = np.tile(values[:, -m:], (1, -(-h // m)))[:, :h]
        short = lengths < m  # less than one season of history: fall back to the last value
        out[short] = values[short, -1:]
        return out
