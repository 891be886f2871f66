"""The detector interface; names resolve through the registry table (`workbench.registry`).

A detector turns one series (values in row order) into one anomaly score per row, in [0, 1]. The
NAB contract is streaming: the score of row i depends only on rows 0..i. Detectors that need more
say so in `fitted_on` (a batch model fitted on the probationary rows, a quantiser using the file's
range as NAB's relativeEntropy does), so a reader of the results knows what each score could see.

A detector whose scores use the past only may also run as a stream (`Detector.stream`): a
`DetectorStream` is fed one value at a time and returns that row's score at once, as a production
pipeline would score each stamp as it arrives (`workbench.anomaly.replay` feeds a chunk of series
stamp by stamp). A stream's scores equal the batch path's (`Detector.score`) row for row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from workbench.anomaly.nab import check_scores
from workbench.registry import ModelParams, detectors

__all__ = ["DETECTORS", "Detector", "DetectorStream", "known_detectors", "make_detector"]

# name -> class, loaded on demand (a Mapping); library families resolve "<family>.<Class>"
DETECTORS = detectors


class DetectorStream(ABC):
    """One series scored row by row: `update(x)` takes the next value and returns its score, computed
    from the values fed so far (rows 0..i) and nothing else."""

    @abstractmethod
    def update(self, x: float) -> float:
        """The score of the row just fed.

        Parameters
        ----------
        x
            The next value of the series (NaN where the row has none, as in the batch path).
        """

    @abstractmethod
    def state_nbytes(self) -> int:
        """Bytes of state the stream holds for its series now (buffers and counters): what a production
        scorer keeps in memory per series, so replays report it."""


class Detector(ABC):
    """Score each row of a series. `Params` declares the parameters; `fitted_on` declares what it saw.

    `seed` is the run's seed, which a detector that draws random numbers uses unless its own
    parameter (`random_state`) is set. A subclass with a `name` defined outside the registry table
    joins the registry."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    Params: ClassVar[type[ModelParams]] = ModelParams
    # "past": row i's score uses rows 0..i only; anything else names the data a batch step used
    fitted_on: ClassVar[str] = "past"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("name")
        if isinstance(own, str) and own:
            detectors.add(own, cls)

    def __init__(self, *, seed: int | None = None, **params: Any) -> None:
        self.seed = seed
        self.label = self.name or type(self).__name__  # library adapters name the wrapped class here
        self.params: Any = self.Params.parse(self.label, params)

    @property
    def streaming(self) -> bool:
        return self.fitted_on == "past"

    def stream(self, probationary: int) -> DetectorStream | None:
        """A fresh stream over one series whose scores equal `score` on the same values, or None where
        the detector has none (the default: a detector that needs more than the past, or whose
        streaming form is not written).

        Parameters
        ----------
        probationary
            The series' probationary rows, as `score_series` gets them (known up front from the
            series' length, as in the batch path).
        """
        return None

    def stream_refusal(self) -> str | None:
        """Why this detector cannot be replayed row by row, or None when it can: a replay is refused up
        front rather than giving scores that differ from the batch path's."""
        if self.fitted_on != "past":
            return f"its scores are fitted on the {self.fitted_on}, not on the past only"
        if self.stream(0) is None:
            return "its scores use the past only, but it has no streaming implementation (batch path only)"
        return None

    @abstractmethod
    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        """Scores for `values`; `probationary` rows at the start are the ones a batch model may fit on."""

    def score(self, values: np.ndarray, probationary: int = 0, series: str = "series") -> np.ndarray:
        """Run the detector and check what it returns: one finite score in [0, 1] per row."""
        values = np.asarray(values, dtype=float)
        out = np.asarray(self.score_series(values, probationary), dtype=float)
        if out.shape != values.shape:
            raise ValueError(f"{self.label}: returned {out.shape} scores for {values.shape} rows of {series}")
        check_scores(out, f"{self.label} on {series}")
        return out


def make_detector(name: str, *, seed: int | None = None, **params: Any) -> Detector:
    """A registered name (`windowedGaussian`) or a library model as `<family>.<Class>` (`pyod.IForest`).

    Unknown names raise `UnknownNameError`; unknown, missing or mistyped parameters `ParameterError`.
    `seed` is the run's seed: detectors that draw random numbers use it unless given their own
    `random_state` (NAB's `random` has NAB's 42 as its default)."""
    return detectors.build(name, seed=seed, **params)


def known_detectors() -> list[str]:
    return sorted(detectors) + [f"{f}.<Class>" for f in sorted(detectors.families)]
