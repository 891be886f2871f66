"""Threshold strategies: every threshold says where it came from.

- `fixed`: a number chosen before looking at any data;
- `quantile`: the q-quantile of the scores on a declared split (no labels used);
- `tuned`: the threshold maximising a metric on the labels of a declared split.

Tuning on the split that is then evaluated ("test") leaks the labels into the threshold. It is
refused unless `allow_test_labels=True`, and the resulting `Threshold` carries `tuned_on_test=True`
so that every table built from it can say so (NAB's own protocol is of this kind: its thresholds are
optimised on the whole labelled corpus).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from workbench.anomaly.errors import ThresholdError
from workbench.anomaly.metrics import THRESHOLDED

__all__ = ["Threshold", "ThresholdStrategy", "choose_threshold", "tune"]


class ThresholdStrategy(BaseModel):
    """How a threshold is chosen; `split` names the rows it may look at ("calibration" or "test")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fixed", "quantile", "tuned"] = "tuned"
    value: float | None = None
    q: float | None = None
    metric: str = "point_f1"
    split: Literal["calibration", "test"] = "calibration"
    allow_test_labels: bool = False
    # candidate thresholds for tuning: at most this many quantiles of the split's scores
    n_candidates: int = 200

    @model_validator(mode="after")
    def _check(self) -> ThresholdStrategy:
        if self.kind == "fixed" and self.value is None:
            raise ValueError("a fixed threshold needs `value`")
        if self.kind == "quantile" and (self.q is None or not 0 <= self.q <= 1):
            raise ValueError(f"a quantile threshold needs 0 <= q <= 1, got {self.q}")
        if self.kind == "tuned" and self.metric not in THRESHOLDED:
            raise ValueError(f"cannot tune on {self.metric!r}; thresholded metrics: {sorted(THRESHOLDED)}")
        return self

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed {self.value}"
        if self.kind == "quantile":
            return f"quantile {self.q} of {self.split} scores"
        return f"tuned for {self.metric} on {self.split} labels"


@dataclass(frozen=True)
class Threshold:
    """A threshold and its provenance."""

    value: float
    strategy: str
    tuned_on_test: bool = False


def choose_threshold(
    strategy: ThresholdStrategy,
    scores: np.ndarray,
    labels: np.ndarray | None = None,
    calibration: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> Threshold:
    """Apply a strategy. `calibration` marks the rows of the declared calibration split (all rows
    are the test split); labels are read only for `tuned`, and only on the rows the split allows."""
    scores = np.asarray(scores, dtype=float)
    if strategy.kind == "fixed":
        return Threshold(float(strategy.value), strategy.describe())  # type: ignore[arg-type]
    on_test = strategy.split == "test"
    if on_test and strategy.kind == "tuned" and not strategy.allow_test_labels:
        raise ThresholdError(
            "a threshold tuned on the test labels was asked for without allow_test_labels=True; "
            "tune on a calibration split, or allow it explicitly (the results are then flagged)"
        )
    rows = np.ones(len(scores), bool) if on_test else np.asarray(calibration, bool) if calibration is not None else None
    if rows is None or not rows.any():
        raise ThresholdError(f"threshold strategy '{strategy.describe()}' needs a non-empty {strategy.split} split")
    if strategy.kind == "quantile":
        return Threshold(float(np.quantile(scores[rows], strategy.q)), strategy.describe())  # type: ignore[arg-type]
    if labels is None:
        raise ThresholdError(f"threshold strategy '{strategy.describe()}' needs labels")
    value = tune(scores[rows], np.asarray(labels)[rows], strategy.metric, strategy.n_candidates,
                 None if groups is None else np.asarray(groups)[rows])  # fmt: skip
    return Threshold(value, strategy.describe(), tuned_on_test=on_test)


def tune(scores: np.ndarray, labels: np.ndarray, metric: str, n_candidates: int = 200, groups=None) -> float:
    """The candidate threshold with the best metric (ties: the highest threshold, the fewest alarms)."""
    fn = THRESHOLDED[metric]
    # observed scores only: a threshold between two scores detects the same rows as the upper one
    candidates = np.unique(np.quantile(scores, np.linspace(0, 1, n_candidates), method="inverted_cdf"))[::-1]
    values = [fn(labels, scores >= c, groups) for c in candidates]
    return float(candidates[int(np.argmax(values))])
