"""Anomaly detectors: NAB's own baselines re-implemented, and detectors built on workbench models and pyod."""

from workbench.anomaly.detectors.base import DETECTORS, Detector, known_detectors, make_detector

__all__ = ["DETECTORS", "Detector", "known_detectors", "make_detector"]
