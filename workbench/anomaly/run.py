"""Run detectors over a task's items and score them on one scoreboard.

`detect` runs one detector locally (the engine runs the same `score_item` per chunk of items on
Dask, `workbench.anomaly.engine`). `scoreboard` turns aligned scores into long rows: the NAB score
per profile (NAB's protocol: threshold optimised on the whole labelled corpus, hence flagged
`tuned_on_test`), and the point-wise metrics at the task's threshold strategy, evaluated on the
rows outside the calibration split and outside each item's probationary period.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.anomaly.detectors import Detector, make_detector
from workbench.anomaly.metrics import get_detection_metric
from workbench.anomaly.nab import STANDARD_PROFILES, normalise, probationary_length
from workbench.anomaly.task import DetectionData
from workbench.anomaly.thresholds import choose_threshold
from workbench.errors import DataFormatError

__all__ = ["SCOREBOARD_COLUMNS", "Detection", "as_detector", "detect", "score_item", "scoreboard"]

SCOREBOARD_COLUMNS = [
    "dataset",
    "detector",
    "fitted_on",
    "metric",
    "value",
    "threshold",
    "threshold_from",
    "tuned_on_test",
]


def as_detector(spec: str | dict | Detector, seed: int | None = None) -> Detector:
    """A detector from a name, a `{name, params}` mapping or a detector; `seed` is the run's seed."""
    if isinstance(spec, Detector):
        return spec
    if isinstance(spec, str):
        return make_detector(spec, seed=seed)
    return make_detector(spec["name"], seed=seed, **spec.get("params", {}))


def score_item(detector: Detector, channels: Mapping[str, np.ndarray], item: str, percent: float) -> np.ndarray:
    """One item's scores: the detector on each channel, the largest channel score per row."""
    lengths = {len(v) for v in channels.values()}
    if len(lengths) != 1:
        raise DataFormatError(f"{item}: channels of different lengths {sorted(lengths)}; cannot combine their scores")
    n = lengths.pop()
    prob = int(probationary_length(n, percent))
    per = [detector.score(values, prob, f"{item}:{ch}") for ch, values in channels.items()]
    return np.max(per, axis=0)


@dataclass
class Detection:
    """One detector's scores over all items (corpus row order) and what it took."""

    label: str
    fitted_on: str
    scores: np.ndarray
    seconds: float


def detect(data: DetectionData, spec: str | dict | Detector, seed: int = 0) -> Detection:
    """Run a detector locally over every item of `data` (with the run's `seed`, as the engine does)."""
    detector = as_detector(spec, seed=seed)
    start = time.perf_counter()
    per_item = {
        item: score_item(detector, data.channels(item), item, data.task.probationary_percent) for item in data.items
    }
    scores = data.corpus.align(per_item, detector.label)
    return Detection(detector.label, detector.fitted_on, scores, time.perf_counter() - start)


def scoreboard(data: DetectionData, detections: list[Detection]) -> pd.DataFrame:
    """Long rows (one per detector x metric) on the task's metrics and NAB profiles."""
    task, corpus = data.task, data.corpus
    labels = data.rows["label"].to_numpy(bool)
    calibration = data.calibration_mask()
    evaluated = corpus.scorable & (~calibration if task.threshold.split == "calibration" else True)
    groups = corpus.file_index
    null = np.full(len(labels), 0.5)
    rows = []
    for det in detections:
        base = {"dataset": task.name, "detector": det.label, "fitted_on": det.fitted_on}
        for name in task.profiles:
            profile = STANDARD_PROFILES[name]
            threshold, raw = corpus.optimise(det.scores, profile)
            null_raw = corpus.optimise(null, profile)[1]
            rows.append(
                base
                | {
                    "metric": f"nab_{name}",
                    "value": normalise(raw, null_raw, corpus.perfect(profile)),
                    "threshold": threshold,
                    "threshold_from": "optimised on the whole labelled corpus (NAB's protocol)",
                    "tuned_on_test": True,
                }
            )
        chosen = None
        for name in task.metrics:
            fn, needs_threshold = get_detection_metric(name)
            y, s, g = labels[evaluated], det.scores[evaluated], groups[evaluated]
            if not needs_threshold:
                rows.append(base | {"metric": name, "value": fn(y, s, g), "threshold": np.nan,
                                    "threshold_from": "", "tuned_on_test": False})  # fmt: skip
                continue
            if chosen is None:
                chosen = choose_threshold(task.threshold, det.scores, labels, calibration & corpus.scorable, groups)
            rows.append(
                base
                | {
                    "metric": name,
                    "value": fn(y, s >= chosen.value, g),
                    "threshold": chosen.value,
                    "threshold_from": chosen.strategy,
                    "tuned_on_test": chosen.tuned_on_test,
                }
            )
    return pd.DataFrame(rows, columns=SCOREBOARD_COLUMNS)
