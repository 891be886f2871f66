"""Anomaly detectors: NAB's own baselines re-implemented, and detectors built on workbench models and pyod.

Names are re-exported lazily (PEP 562), so importing one submodule does not import the others.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["DETECTORS", "Detector", "known_detectors", "make_detector"]

_WHERE = {
    "DETECTORS": "workbench.anomaly.detectors.base",
    "Detector": "workbench.anomaly.detectors.base",
    "known_detectors": "workbench.anomaly.detectors.base",
    "make_detector": "workbench.anomaly.detectors.base",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
