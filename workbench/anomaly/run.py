"""Run detectors over a task's items and score them on one scoreboard.

`detect` runs one detector locally (the engine runs the same `score_item` per chunk of items on
Dask, `workbench.anomaly.engine`). `scoreboard` turns aligned scores into long rows: the NAB score
per profile (NAB's protocol: threshold optimised on the whole labelled corpus, hence flagged
`tuned_on_test`), and the point-wise metrics at the task's threshold strategy, evaluated on the
rows outside the calibration split and outside each item's probationary period.

Every configuration has its own label wherever detectors are listed: a `Detection` carries its
detector's name, the parameters it was given and the seed, `config_label` spells all of them, and
`distinct_labels` (what `scoreboard` and the figures show) the name with the parameters that differ
between configurations of one detector (`forecast_band(forecaster=theta)` beside
`forecast_band(forecaster=seasonal_naive)`), so no two configurations share a row or a bar.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.anomaly.detectors import Detector, make_detector
from workbench.anomaly.errors import DetectionInputError
from workbench.anomaly.metrics import get_detection_metric
from workbench.anomaly.nab import STANDARD_PROFILES, normalise, probationary_length
from workbench.anomaly.replay import check_replayable, replay
from workbench.anomaly.task import DetectionData
from workbench.anomaly.thresholds import choose_threshold
from workbench.errors import DataFormatError

__all__ = [
    "SCOREBOARD_COLUMNS",
    "Detection",
    "as_detector",
    "config_label",
    "detect",
    "detection_labels",
    "distinct_labels",
    "score_item",
    "scoreboard",
]

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
    """One detector's scores over all items (corpus row order) and what it took; `name`, `params` and
    `seed` say which configuration made them (`distinct_labels`)."""

    label: str
    fitted_on: str
    scores: np.ndarray
    seconds: float
    name: str = ""  # the detector's registered name (default: `label`)
    params: dict[str, Any] = field(default_factory=dict)  # the parameters it was given
    seed: int = 0

    @property
    def config(self) -> tuple[str, dict[str, Any], int]:
        return self.name or self.label, self.params, self.seed


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as dotted names (`forecaster_params.model`), so a label names the leaf that differs."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _spelt(name: str, params: Mapping[str, Any], seed: int) -> str:
    shown = f"{name}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else name
    return shown if seed == 0 else f"{shown} (seed {seed})"


def config_label(name: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> str:
    """Every given parameter spelt out: `forecast_band(context=100, forecaster=theta)`, `(seed 3)` for a seed
    other than 0.

    Parameters
    ----------
    name:
        The detector's registered name.
    params:
        The parameters it was given.
    seed:
        The run's seed.
    """
    return _spelt(name, _flat(params or {}), seed)


def distinct_labels(configs: Sequence[tuple[str, Mapping[str, Any] | None, int]]) -> list[str]:
    """One label per (name, params, seed): the name, with the parameters (and seed) that differ among the
    configurations of that name; equal configurations get equal labels, different ones never do.

    Parameters
    ----------
    configs:
        (detector name, given parameters, seed) per configuration, in the order the labels are returned.
    """
    flat = [(name, _flat(params or {}), seed) for name, params, seed in configs]
    missing = object()
    out = []
    for name, params, seed in flat:
        group = [(p, s) for n, p, s in flat if n == name]
        keys = sorted({k for p, _ in group for k in p})
        differ = [k for k in keys if len({repr(p.get(k, missing)) for p, _ in group}) > 1]
        seeds = len({s for _, s in group}) > 1
        out.append(_spelt(name, {k: params.get(k, "default") for k in differ}, seed if seeds else 0))
    return out


def detection_labels(detections: Sequence[Detection]) -> list[str]:
    """`distinct_labels` of the detections' configurations; the same configuration twice is refused
    (its rows would be counted as one detector's)."""
    labels = distinct_labels([d.config for d in detections])
    seen: dict[str, int] = {}
    for i, (label, det) in enumerate(zip(labels, detections, strict=True)):
        if label in seen:
            raise DetectionInputError(
                f"detections {seen[label]} and {i} are the same detector configuration ({config_label(*det.config)}); "
                "give each configuration once"
            )
        seen[label] = i
    return labels


def detect(data: DetectionData, spec: str | dict | Detector, seed: int = 0) -> Detection:
    """Run a detector locally over every item of `data` (with the run's `seed`, as the engine does).

    Parameters
    ----------
    data:
        The task's data (`DetectionTask.load()`).
    spec:
        A detector name, a `{name, params}` mapping or a detector.
    seed:
        The run's seed.
    """
    detector = as_detector(spec, seed=seed)
    start = time.perf_counter()
    if data.task.mode == "replay":  # fed a stamp at a time across every item, as the engine's replay units are
        check_replayable([detector])
        if not len(data.frame):
            raise DetectionInputError(
                f"{data.task.name}: a replay needs the values and stamps: pass `task.load()`, not a scoring view"
            )
        per_item, _ = replay(detector, data.frame, data.task.probationary_percent)
    else:
        per_item = {
            item: score_item(detector, data.channels(item), item, data.task.probationary_percent) for item in data.items
        }
    scores = data.corpus.align(per_item, detector.label)
    given = detector.params.given() if hasattr(detector.params, "given") else {}
    label = config_label(detector.label, given, seed)
    return Detection(label, detector.fitted_on, scores, time.perf_counter() - start, detector.label, given, seed)


def scoreboard(data: DetectionData, detections: list[Detection]) -> pd.DataFrame:
    """Long rows (one per detector x metric) on the task's metrics and NAB profiles; each configuration
    under its own label (`detection_labels`: the same configuration twice is refused)."""
    task, corpus = data.task, data.corpus
    labels = data.rows["label"].to_numpy(bool)
    calibration = data.calibration_mask()
    evaluated = corpus.scorable & (~calibration if task.threshold.split == "calibration" else True)
    groups = corpus.file_index
    null = np.full(len(labels), 0.5)
    rows = []
    for det, label in zip(detections, detection_labels(detections), strict=True):
        base = {"dataset": task.name, "detector": label, "fitted_on": det.fitted_on}
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
