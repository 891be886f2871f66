"""What the zero-shot adapters (Chronos, TimesFM, Toto) share, written once.

Each adapter declares its parameters and its forward pass; this class keeps the rest: the object a
caller hands over ready (a small test model) or the weights loaded once per process through
`workbench.foundation.loading`, the runtime facts every unit records (the adapter's own settings,
seconds of the forward passes, device and dtype, how the weights were had), the forecast frame
(`y_hat` and one `q<level>` column per quantile) and the errors that say how to get what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.errors import SourceUnavailableError, WorkbenchError
from workbench.forecasters import Forecaster
from workbench.foundation import loading
from workbench.tasks import future_ds

__all__ = ["PretrainedForecaster", "needs_extra", "weights_unavailable"]


def needs_extra(family: str) -> WorkbenchError:
    """The error for an adapter whose package is not installed."""
    return WorkbenchError(f"{family} needs the foundation extra: pip install 'workbench[foundation]'")


def weights_unavailable(
    family: str, model: str, exc: Exception, what: str = "the model folder"
) -> SourceUnavailableError:
    """The error for weights that could be had neither from the hub nor from a local folder."""
    return SourceUnavailableError(
        f"{family}: cannot load weights {model!r} ({type(exc).__name__}: {exc}). Without internet, download "
        f"{what} elsewhere and pass its local path as `model`."
    )


class PretrainedForecaster(Forecaster):
    """A zero-shot pretrained forecaster: nothing is fitted, weights are loaded once per process.

    A subclass sets `ready` (the parameter that takes an already loaded object), implements
    `load_weights` and `predict`, and may add settings to `runtime_facts`."""

    uses_accelerator = True  # the engine routes its units to workers that advertise a GPU
    pretrained = True
    training_corpus = None  # not typed from the model's paper here: its units record leakage `unknown`
    ready: ClassVar[str] = ""

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self._loaded: Any = getattr(self.params, self.ready) if self.ready else None
        self._weights: loading.Loaded | None = None
        self._runtime: dict[str, Any] = {}

    def load_weights(self, *args: Any) -> loading.Loaded:
        """The weights through the process's cache (`loading.load`); `args` are what they depend on
        beyond the parameters (TimesFM's horizon)."""
        raise NotImplementedError

    def loaded(self, *args: Any) -> Any:
        """The object given ready, else the weights loaded (once per process) for `args`."""
        if self._loaded is None:
            self._weights = self.load_weights(*args)
            self._loaded = self._weights.value
        return self._loaded

    def torch_module(self) -> Any:
        """The torch module whose device and dtype the runtime facts report (None: not reported)."""
        return None

    def runtime_facts(self) -> dict[str, Any]:
        """The adapter's own settings every unit records (batch size, samples)."""
        return {}

    def runtime_info(self) -> dict[str, Any]:
        """The adapter's settings, seconds of the forward passes, device and dtype, how the weights were had."""
        info = {**self.runtime_facts(), **self._runtime}
        info |= loading.torch_facts(self.torch_module())
        if self._weights is not None:
            info["weights"] = self._weights.describe()
        return info

    @contextmanager
    def timed(self, n_series: int) -> Iterator[None]:
        """Records the seconds of the forward passes inside the block and the series they forecast."""
        start = time.perf_counter()
        yield
        self._runtime = {"inference_s": round(time.perf_counter() - start, 4), "n_series": n_series}

    def forecast_frame(
        self,
        h: int,
        quantiles: np.ndarray,
        levels: Sequence[float],
        point: np.ndarray | None = None,
        keep: Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """The forecast rows of the fitted panel.

        Parameters
        ----------
        h: the horizon.
        quantiles: (series, h, levels) values at `levels`, sorted here per step (a quantile head is
            not guaranteed monotone, and crossing quantiles would score wrongly).
        levels: the quantile level of each column of `quantiles`.
        point: (series, >= h) the model's point forecast, written first as `y_hat`; None: `y_hat`
            is the median, written last.
        keep: the levels written as `q<level>` columns (default: all of them), in this order."""
        out = future_ds(self.past_, h)
        if point is not None:
            out["y_hat"] = np.asarray(point)[:, :h].ravel()
        q = np.sort(quantiles, axis=-1)
        index = list(levels)
        for level in index if keep is None else keep:
            out[f"q{level:g}"] = q[:, :, index.index(level)].ravel()
        if point is None:
            out["y_hat"] = out["q0.5"]
        return out
