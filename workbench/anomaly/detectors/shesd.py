"""Twitter's Seasonal Hybrid ESD as a detector: `workbench.anomaly.shesd` in its vector form
(R's `AnomalyDetectionVec`) on each series, score 1 on the rows it reports and 0 elsewhere.

S-H-ESD is a batch test: the STL decomposition and the ESD removals see every row of the series,
so `fitted_on` says so and its scores are not streaming in NAB's sense. Its output is a set of rows,
not a ranking, so the score is that set's indicator: any threshold in (0, 1] gives the same rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector
from workbench.anomaly.shesd import shesd
from workbench.registry import ModelParams

__all__ = ["SHESD", "SHESDParams"]


class SHESDParams(ModelParams):
    """S-H-ESD's options, with the R package's defaults; `period` has none, since the detection
    interface hands a detector values without timestamps or the dataset's season length."""

    period: int = Field(
        ge=2, description="rows per seasonal period (the dataset's season length, e.g. 1440 per minute)"
    )
    max_anoms: float = Field(0.10, ge=0, le=0.49, description="largest share of rows reported as anomalies")
    direction: Literal["pos", "neg", "both"] = Field("pos", description="anomalies above, below or on both sides")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of the ESD test")
    only_last: bool = Field(False, description="report anomalies of the last period only")
    threshold: Literal["None", "med_max", "p95", "p99"] = Field(
        "None", description="keep anomalies at or above the median / 95th / 99th percentile of per-period maxima"
    )
    longterm_period: int | None = Field(
        None, ge=2, description="rows per window with its own median (long series); null: one window"
    )


class SHESD(Detector):
    """S-H-ESD (Hochenbaum, Vallis & Kejariwal 2017), exactly as the R package computes it."""

    name = "shesd"
    Params = SHESDParams
    fitted_on = "whole series (S-H-ESD decomposes and tests all rows at once)"

    def score(self, values: np.ndarray, probationary: int = 0, series: str = "series") -> np.ndarray:
        self._series = series  # named in S-H-ESD's input errors
        return super().score(values, probationary, series)

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        p = self.params
        found = shesd(
            values,
            None,
            period=p.period,
            max_anoms=p.max_anoms,
            direction=p.direction,
            alpha=p.alpha,
            only_last=p.only_last,
            threshold=p.threshold,
            longterm_period=p.longterm_period,
            name=getattr(self, "_series", "series"),
        )
        out = np.zeros(len(values))
        out[found.indices] = 1.0
        return out
