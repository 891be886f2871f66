"""The detector interface and its registry.

A detector turns one series (values in row order) into one anomaly score per row, in [0, 1]. The
NAB contract is streaming: the score of row i depends only on rows 0..i. Detectors that need more
say so in `fitted_on` (a batch model fitted on the probationary rows, a quantiser using the file's
range as NAB's relativeEntropy does), so a reader of the results knows what each score could see.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from workbench.anomaly.nab import check_scores
from workbench.registry import resolve

DETECTORS: dict[str, type[Detector]] = {}
# library adapters: "pyod.IForest" -> FAMILIES["pyod"](model_class="IForest", ...)
FAMILIES: dict[str, type[Detector]] = {}


class Detector(ABC):
    """Score each row of a series. `name` registers the class; `fitted_on` declares what it saw."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    # "past": row i's score uses rows 0..i only; anything else names the data a batch step used
    fitted_on: ClassVar[str] = "past"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.name, str) and cls.name:
            DETECTORS[cls.name] = cls
        if cls.family:
            FAMILIES[cls.family] = cls

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.label = self.name  # library adapters name the wrapped class here

    @property
    def streaming(self) -> bool:
        return self.fitted_on == "past"

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


def make_detector(name: str, **params: Any) -> Detector:
    """A registered name (`windowedGaussian`) or a library model as `<family>.<Class>` (`pyod.IForest`)."""
    import workbench.anomaly.detectors.extra
    import workbench.anomaly.detectors.nab_baselines  # noqa: F401

    return resolve("detector", name, DETECTORS, FAMILIES, **params)


def known_detectors() -> list[str]:
    import workbench.anomaly.detectors.extra
    import workbench.anomaly.detectors.nab_baselines  # noqa: F401

    return sorted(DETECTORS) + [f"{f}.<Class>" for f in sorted(FAMILIES)]
