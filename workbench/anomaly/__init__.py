"""Anomaly detection: detectors that score points using only the past, tasks, and scorers (NAB and point-wise)."""
