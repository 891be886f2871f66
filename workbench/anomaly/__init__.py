"""Anomaly detection: detectors that score points using only the past, tasks, and scorers (NAB and point-wise)."""

__all__: list[str] = []  # the API lives in the submodules
