"""What every library adapter shares: a class looked up by name, its arguments checked up front
against a parameter model derived from its signature, a declared fallback model for the series the
library fails on, and the run's seed passed as the class's `random_state` where it takes one."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from workbench.errors import ParameterError
from workbench.forecasters import Forecaster, make_forecaster
from workbench.models.params import LibraryParams, library_params
from workbench.registry import Quantile

__all__ = ["AdapterParams", "LibraryAdapter"]


class AdapterParams(LibraryParams):
    """What every library adapter takes beside the library class's own arguments."""

    quantiles: list[Quantile] | None = Field(None, description="quantile levels to forecast, each in (0, 1)")
    fallback: str | None = Field(
        None, description="a registered forecaster for the series the model fails on (named in `fallback`)"
    )


class LibraryAdapter(Forecaster):
    """Subclasses set `family`, `Params` (their own parameters) and implement `resolve(name) -> class`.

    An explicit `random_state` parameter wins over the run's seed."""

    Params: ClassVar[type[LibraryParams]] = AdapterParams
    # library parameters the adapter sets itself (not the caller's)
    exclude: ClassVar[tuple[str, ...]] = ()
    # library parameters the adapter fills in when the caller does not (required ones become optional)
    optional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model_class: str, *, seed: int | None = None, **params: Any) -> None:
        self.name = f"{self.family}.{model_class}"  # type: ignore[misc]  # the instance's name in messages
        self.seed = seed
        self.cls = self.resolve(model_class)
        self.params = self.params_model(model_class).parse(self.name, params)
        self.kwargs = self.params.library_kwargs()
        self.quantiles = sorted(self.params.quantiles or [])
        self.fallback = self.params.fallback
        if self.fallback:
            make_forecaster(self.fallback)  # an unknown fallback fails now, not mid-run

    @classmethod
    def resolve(cls, name: str) -> type:
        raise NotImplementedError

    @staticmethod
    def global_class(library_class: type) -> bool:
        """Whether the library trains `library_class` across series (the engine then gives it a whole window)."""
        return False

    @classmethod
    def also(cls, library_class: type) -> list[Callable]:
        """Further constructors the class's `**kwargs` go to (their parameters are valid too)."""
        return []

    @classmethod
    def params_model(cls, model_class: str) -> type[LibraryParams]:
        """The parameter model of `<family>.<model_class>`: the adapter's fields plus the class's."""
        return _params_model(cls, model_class)

    def seeded(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` with the run's seed as `random_state` when the class takes one and none was given."""
        accepted = "random_state" in self.params.library_fields
        if accepted and self.seed is not None and kwargs.get("random_state") is None:
            return {**kwargs, "random_state": self.seed}
        return kwargs

    def fallback_forecast(self, series: pd.DataFrame, h: int, exc: Exception) -> pd.DataFrame:
        """The fallback model's forecast of one series, marked with the model and the error type."""
        from workbench.data import Panel

        single = Panel(df=series.reset_index(drop=True), freq=self.past_.freq, season_length=self.past_.season_length)
        model = None
        if self.quantiles:  # the fallback's own quantiles where it takes `quantiles` (statsforecast's SeasonalNaive)
            with contextlib.suppress(ParameterError):
                model = make_forecaster(self.fallback, seed=self.seed, quantiles=self.quantiles)
        if model is None:
            model = make_forecaster(self.fallback, seed=self.seed)
        frame = model.fit(single).predict(h)  # type: ignore[arg-type]
        for q in self.quantiles:
            if f"q{q:g}" not in frame:
                frame[f"q{q:g}"] = np.nan
        frame["fallback"] = f"{self.fallback} ({type(exc).__name__})"
        return frame


@functools.cache
def _params_model(adapter: type[LibraryAdapter], model_class: str) -> type[LibraryParams]:
    cls = adapter.resolve(model_class)
    label = f"{adapter.family}.{model_class}"
    return library_params(
        cls, adapter.Params, label=label, exclude=adapter.exclude, optional=adapter.optional, also=adapter.also(cls)
    )
