"""What every library adapter shares: a class looked up by name, its arguments checked up front, a
declared fallback model for the series the library fails on."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from workbench.forecasters import Forecaster, make_forecaster


class LibraryAdapter(Forecaster):
    """Subclasses set `family` and implement `resolve(name) -> class`."""

    def __init__(
        self, model_class: str, quantiles: list[float] | None = None, fallback: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model_class=model_class, quantiles=quantiles, fallback=fallback, **kwargs)
        self.name = f"{self.family}.{model_class}"  # type: ignore[misc]  # the instance's name in messages
        self.cls = self.resolve(model_class)
        self.quantiles = sorted(quantiles or [])
        self.fallback = fallback
        if fallback:
            make_forecaster(fallback)  # an unknown fallback fails now, not mid-run

    def check_arguments(self, kwargs: dict[str, Any]) -> None:
        try:
            inspect.signature(self.cls).bind_partial(**kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}: {exc}") from exc

    def resolve(self, name: str) -> type:
        raise NotImplementedError

    def fallback_forecast(self, series: pd.DataFrame, h: int, exc: Exception) -> pd.DataFrame:
        """The fallback model's forecast of one series, marked with the model and the error type."""
        from workbench.data import Panel

        single = Panel(df=series.reset_index(drop=True), freq=self.past_.freq, season_length=self.past_.season_length)
        frame = make_forecaster(self.fallback).fit(single).predict(h)  # type: ignore[arg-type]
        for q in self.quantiles:
            frame[f"q{q:g}"] = np.nan
        frame["fallback"] = f"{self.fallback} ({type(exc).__name__})"
        return frame
