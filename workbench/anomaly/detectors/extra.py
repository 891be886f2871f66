"""Detectors beyond NAB's: pyod models and a rolling robust z-score (the forecast-residual
detectors live in `workbench.anomaly.detectors.residual`).

Standardised deviations are squashed to [0, 1] with 2 Phi(z) - 1 = erf(z / sqrt 2) (`squash`), the
same map for all of them (the standardised forecast residual included), so that thresholds mean the
same thing across detectors.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import math
import sys
from collections import deque
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.special import erf

from workbench.anomaly.detectors.base import Detector, DetectorStream
from workbench.errors import UnknownNameError, WorkbenchError
from workbench.models.params import LibraryParams, library_params
from workbench.registry import ModelParams

__all__ = ["PyodDetector", "PyodParams", "RobustZParams", "RollingRobustZ", "squash"]


def squash(z: np.ndarray) -> np.ndarray:
    """|z| -> erf(|z| / sqrt 2): 0 at no deviation, towards 1 far in the tail; NaN (no past yet) -> 0."""
    out = erf(np.abs(z) / np.sqrt(2.0))
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0), 0.0, 1.0)


_SQRT2 = math.sqrt(2.0)  # == np.sqrt(2.0): both correctly rounded


def _squash_one(z: float) -> float:
    """`squash` of one value, with the same arithmetic (scipy's erf of |z| / sqrt 2, clipped; NaN -> 0)
    without the array calls: a stream squashes one row at a time."""
    if z != z:
        return 0.0
    return min(max(float(erf(abs(z) / _SQRT2)), 0.0), 1.0)


class RobustZParams(ModelParams):
    """Parameters of the rolling robust z-score."""

    window: int = Field(500, ge=1, description="previous values the median and MAD are taken over")


class RollingRobustZ(Detector):
    """|x - median| / (1.4826 MAD) over the previous `window` values: cheap, streaming, robust to
    the spikes it is looking for.

    The median is of the previous `window` values, the MAD the median of the previous `window`
    absolute deviations (each from the median before its row); both need 30 non-missing values (or
    `window`, if fewer). A MAD of 0 (a flat stretch) is floored at 1e-9 + 1e-6 times the largest
    |value| so far: rows 0..i, never a later row, so the score stays past-only and a stream
    (`stream`) gives the same floor as the batch path."""

    name = "rolling_robust_z"
    Params = RobustZParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        window = self.params.window
        past = pd.Series(values).shift(1).rolling(window, min_periods=min(30, window))
        median = past.median().to_numpy()
        mad = (pd.Series(np.abs(values - median)).shift(1).rolling(window, min_periods=min(30, window))).median()
        scale = 1.4826 * mad.to_numpy()
        floor = 1e-9 + 1e-6 * np.fmax.accumulate(np.abs(values))  # NaN until a value is seen
        return squash((values - median) / np.maximum(scale, floor))

    def stream(self, probationary: int) -> DetectorStream:
        """The same medians, kept sorted as the windows slide, so the scores are `score_series`'s bit for
        bit (pandas' rolling median is the middle value, or the mean of the two middle values, of the
        same sorted window).

        Parameters
        ----------
        probationary
            Unused, as in `score_series`.
        """
        return _RobustZStream(self.params.window, min(30, self.params.window))


class _RollingMedian:
    """The median of the last `window` values fed (NaN skipped, as pandas' rolling median skips it),
    or NaN below `min_periods` non-missing ones: a ring of the values and a sorted list of the
    non-missing ones."""

    def __init__(self, window: int, min_periods: int) -> None:
        self.window, self.min_periods = window, min_periods
        self.values: deque[float] = deque()
        self.ordered: list[float] = []

    def median(self) -> float:
        n = len(self.ordered)
        if n < self.min_periods or n == 0:
            return math.nan
        mid = n // 2
        return self.ordered[mid] if n % 2 else (self.ordered[mid] + self.ordered[mid - 1]) / 2

    def push(self, x: float) -> None:
        if len(self.values) == self.window:
            old = self.values.popleft()
            if old == old:
                del self.ordered[bisect.bisect_left(self.ordered, old)]
        self.values.append(x)
        if x == x:
            bisect.insort(self.ordered, x)

    def nbytes(self) -> int:
        """The ring and the sorted list (pointers) and the floats they point to (shared between them)."""
        return sys.getsizeof(self.values) + sys.getsizeof(self.ordered) + 24 * len(self.values)


class _RobustZStream(DetectorStream):
    """rolling_robust_z row by row: the median of the past values, the median of the past deviations,
    and the largest |value| so far, with the batch path's arithmetic per row."""

    def __init__(self, window: int, min_periods: int) -> None:
        self.values = _RollingMedian(window, min_periods)
        self.deviations = _RollingMedian(window, min_periods)
        self.peak = math.nan  # the largest |value| so far; NaN until a value is seen (np.fmax)

    def update(self, x: float) -> float:
        median = self.values.median()
        deviation = abs(x - median)
        scale = 1.4826 * self.deviations.median()
        size = abs(x)
        if not size <= self.peak and size == size:  # np.fmax: NaN never wins, and loses to a number
            self.peak = size
        floor = 1e-9 + 1e-6 * self.peak
        self.values.push(x)
        self.deviations.push(deviation)
        # np.maximum: NaN if either is; floor > 0 whenever it is a number, so the division never is by 0
        denominator = math.nan if scale != scale or floor != floor else max(scale, floor)
        return _squash_one((x - median) / denominator)

    def state_nbytes(self) -> int:
        return self.values.nbytes() + self.deviations.nbytes() + 8


class PyodParams(LibraryParams):
    """The pyod adapter's parameters, beside the class's own."""

    lags: int = Field(10, ge=2, description="values per feature window (row i sees rows i - lags + 1 .. i)")


class PyodDetector(Detector):
    """A pyod model on lag windows (row i sees values i - lags + 1 .. i), fitted on the probationary
    rows of each series only; a score is the share of training scores it exceeds, so it lies in [0, 1].

    A class that takes `random_state` gets the run's seed unless the caller gave `random_state`."""

    family = "pyod"
    fitted_on = "probationary rows of each series"
    Params: ClassVar[type[LibraryParams]] = PyodParams

    def __init__(self, model_class: str, *, seed: int | None = None, **params: Any) -> None:
        self.seed = seed
        self.label = f"pyod.{model_class}"
        self.cls = self.resolve(model_class)
        self.params = self.params_model(model_class).parse(self.label, params)

    @classmethod
    def resolve(cls, name: str) -> type:
        return _pyod_class(name)

    @classmethod
    def params_model(cls, model_class: str) -> type[LibraryParams]:
        return _pyod_params(model_class)

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        kwargs = self.params.library_kwargs()
        takes_seed = "random_state" in self.params.library_fields
        if takes_seed and self.seed is not None and kwargs.get("random_state") is None:
            kwargs["random_state"] = self.seed
        lags = self.params.lags
        fit_rows = max(int(probationary), lags + 10)
        model = self.cls(**kwargs)
        padded = np.r_[np.full(lags - 1, values[0]), values]
        features = np.lib.stride_tricks.sliding_window_view(padded, lags)
        features = features - features[:, -1:]  # shape, not level: a window relative to its last value
        features = np.c_[features[:, :-1], np.r_[0.0, np.diff(values)]]
        model.fit(features[:fit_rows])
        train = np.sort(model.decision_function(features[:fit_rows]))
        raw = model.decision_function(features)
        return np.searchsorted(train, raw, side="right") / len(train)


# pyod's detectors and their modules (any other class of `pyod.models.<lower-case name>` works too)
_PYOD_MODULES = {
    "ABOD": "abod", "AutoEncoder": "auto_encoder", "CBLOF": "cblof", "CD": "cd", "COF": "cof", "COPOD": "copod",
    "DeepSVDD": "deep_svdd", "DIF": "dif", "ECOD": "ecod", "FeatureBagging": "feature_bagging", "GMM": "gmm",
    "HBOS": "hbos", "IForest": "iforest", "INNE": "inne", "KDE": "kde", "KNN": "knn", "KPCA": "kpca",
    "LMDD": "lmdd", "LOCI": "loci", "LODA": "loda", "LOF": "lof", "LUNAR": "lunar", "MAD": "mad", "MCD": "mcd",
    "OCSVM": "ocsvm", "PCA": "pca", "QMCD": "qmcd", "ROD": "rod", "Sampling": "sampling", "SOD": "sod",
    "SOS": "sos", "SUOD": "suod", "VAE": "vae",
}  # fmt: skip


def _pyod_class(name: str) -> type:
    try:
        import pyod.models  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pyod is a declared dependency
        raise WorkbenchError("pyod detectors need the `pyod` package (pip install pyod)") from exc
    try:
        module = importlib.import_module(f"pyod.models.{_PYOD_MODULES.get(name, name.lower())}")
    except ImportError:
        module = None
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or name.startswith("_"):
        raise UnknownNameError("pyod model", name, list(_PYOD_MODULES))
    return cls


@functools.cache
def _pyod_params(model_class: str) -> type[LibraryParams]:
    return library_params(_pyod_class(model_class), PyodParams, label=f"pyod.{model_class}")
