"""Errors of the anomaly-detection harness: each names the file, window, detector or parameter at fault."""

from __future__ import annotations

from workbench.errors import WorkbenchError

__all__ = ["DetectionInputError", "LabelError", "ScoreRangeError", "ThresholdError", "TimestampOrderError"]


class DetectionInputError(WorkbenchError):
    """Detection input that cannot be scored as given (labels, timestamps, scores)."""


class LabelError(DetectionInputError):
    """Labels that do not fit the corpus: an unknown file, a window outside the data, windows out of order."""


class TimestampOrderError(DetectionInputError):
    """A detector's rows do not line up with the data rows they claim to score."""


class ScoreRangeError(DetectionInputError):
    """Anomaly scores outside [0, 1] or NaN, which NAB's threshold sweep cannot rank."""


class ThresholdError(DetectionInputError):
    """A threshold strategy that cannot be applied (unknown split, test labels used without consent)."""
