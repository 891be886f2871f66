"""NAB's scorer with its own structure: a Python loop per row, a sorted list, a dict of score parts.

This is the design of numenta/NAB's `Sweeper` (`calcSweepScore`, `calcScoreByThreshold`,
`scoreDataSet`) written independently from its description, kept for two reasons: tests check the
vectorised `workbench.anomaly.nab` against it on awkward inputs (ties, duplicated timestamps,
windows in the probationary period), and `benchmarks/nab_scoring.py` times the two side by side.
It does not validate its input; use `NabCorpus` for anything but comparisons. It lives with the
tests, not in the package: it is an oracle, not something a user runs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from workbench.anomaly.nab import START_THRESHOLD, CostProfile, probationary_length

Corpus = dict[str, tuple[list, list[float], list[tuple]]]


class Point(NamedTuple):
    score: float
    weight: float
    window: str | None  # None outside windows, "probationary" in the first rows


def _sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2 * (1 / (1 + math.exp(5 * position))) - 1.0


MAX_TP = _sigmoid(-1.0)


def sweep_points(name: str, timestamps: list, scores: list[float], windows: list[tuple], profile: CostProfile) -> list:
    """One row at a time, entering and leaving windows as the timestamps reach their limits."""
    timestamps, pending = list(timestamps), list(windows)
    points, prob = [], probationary_length(len(timestamps))
    cur = cur_name = cur_right = cur_width = prev_right = prev_width = None
    for i, (t, s) in enumerate(zip(timestamps, scores, strict=True)):
        if pending and t == pending[0][0]:
            cur = pending.pop(0)
            cur_name = f"{name}|{cur[0]}"
            cur_right = timestamps.index(cur[1])
            cur_width = float(cur_right - timestamps.index(cur[0]) + 1)
        if cur is not None:
            weight = _sigmoid(-(cur_right - i + 1) / cur_width) * profile.tp / MAX_TP
        elif prev_right is None:
            weight = -1.0 * profile.fp
        else:
            weight = _sigmoid(abs(prev_right - i) / float(prev_width - 1)) * profile.fp
        points.append(Point(s, weight, cur_name if i >= prob else "probationary"))
        if cur is not None and t == cur[1]:
            prev_right, prev_width = i, cur_width
            cur = cur_name = cur_right = cur_width = None
    return points


def score_by_threshold(points: list[Point], profile: CostProfile) -> list[tuple[float, float]]:
    """(threshold, score) records, walking the rows from the highest anomaly score down."""
    ranked = sorted((p for p in points if p.window != "probationary"), key=lambda p: p.score, reverse=True)
    parts: dict[str | None, float] = {"fp": 0}
    for p in ranked:
        if p.window is not None:
            parts[p.window] = -profile.fn
    records, threshold = [], START_THRESHOLD
    for p in ranked:
        if p.score != threshold:
            records.append((threshold, sum(parts.values())))
            threshold = p.score
        if p.window is None:
            parts["fp"] += p.weight
        else:
            parts[p.window] = max(parts[p.window], p.weight)
    records.append((threshold, sum(parts.values())))
    return records


def score_at(records: list[tuple[float, float]], threshold: float) -> float | None:
    """The record at `threshold`, else the last one above it (None where NAB finds none)."""
    prev = None
    for t, score in records:
        if t == threshold:
            return score
        if t < threshold:
            return prev
        prev = score
    return None


def score_corpus(corpus: Corpus, profile: CostProfile, threshold: float) -> float:
    """Sum of the per-file scores at `threshold` (the Totals row)."""
    total = 0.0
    for name, (stamps, scores, windows) in corpus.items():
        score = score_at(score_by_threshold(sweep_points(name, stamps, scores, windows, profile), profile), threshold)
        if score is None:  # NAB would fail here; the threshold means all rows detected, or none above 1.1
            records = score_by_threshold(sweep_points(name, stamps, scores, windows, profile), profile)
            score = records[0][1] if threshold > records[0][0] else records[-1][1]
        total += score
    return total


def optimise(corpus: Corpus, profile: CostProfile) -> tuple[float, float]:
    """The best (threshold, score) over the concatenated rows of every file (ties: highest threshold)."""
    points = []
    for name, (stamps, scores, windows) in corpus.items():
        points.extend(sweep_points(name, stamps, scores, windows, profile))
    records = sorted(score_by_threshold(points, profile), key=lambda r: r[1], reverse=True)
    return records[0]
