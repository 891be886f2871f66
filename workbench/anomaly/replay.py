"""Streaming replay: a chunk of series fed to a detector one stamp at a time, as production feeds it.

The batch path (`workbench.anomaly.run.score_item`) hands a detector each series whole. A
production scorer sees stamps arrive in time order and scores each as it comes. `replay` does
that: the stamps of every series of the chunk are merged in time order, and each stamp is fed
across all the series that have it (each series' `DetectorStream.update`), then the next stamp.
An item with several channels gets, per row, the largest of its channels' scores, with the
probationary length of the batch path, so a replay's scores equal the batch path's row for row.

What the replay measures (`ReplayStats`): the latency of one stamp across all series (p50, p99),
the points fed per CPU second of the thread that fed them, and the state each series' stream holds.

Only detectors whose scores use the past only and that have a streaming form can be replayed
(`Detector.stream`); the others are refused up front (`check_replayable`), naming each and what it
is fitted on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from workbench.anomaly.detectors.base import Detector, DetectorStream
from workbench.anomaly.nab import check_scores, probationary_length
from workbench.errors import DataFormatError, WorkbenchError

__all__ = ["NotStreamingError", "ReplayStats", "check_replayable", "replay"]

REPLAY_COLUMNS = ("item", "unique_id", "ds", "y")


class NotStreamingError(WorkbenchError, ValueError):
    """A replay asked of detectors that have no streaming form; the message names each and why."""


def check_replayable(detectors: Iterable[Detector]) -> None:
    """Refuse, in one error, every detector that cannot be replayed stamp by stamp.

    A replay of a detector without a streaming form would either fail half-way or give scores that
    are not the batch path's, so it is refused before any work.

    Parameters
    ----------
    detectors
        The detectors a replay is asked of.

    Raises
    ------
    NotStreamingError
        Naming each refused detector and why (what its scores are fitted on).
    """
    refused = [(d.label, why) for d in detectors if (why := d.stream_refusal()) is not None]
    if refused:
        lines = "; ".join(f"{label}: {why}" for label, why in refused)
        raise NotStreamingError(
            f"a replay feeds each series one stamp at a time, so it needs detectors whose scores use the past "
            f"only and that have a streaming form; refused: {lines}. Run them with mode='batch'"
        )


@dataclass(frozen=True)
class ReplayStats:
    """What feeding a chunk stamp by stamp took.

    Parameters
    ----------
    n_series
        Series (channels) fed.
    n_stamps
        Distinct stamps fed, each across every series that has it.
    n_points
        Values fed (rows of all series).
    n_late
        Rows stamped before the row before them in their series (a clock that went back), fed when they
        arrive: at the latest stamp of their series so far.
    latency_p50_s
        Median seconds to process one stamp across all its series.
    latency_p99_s
        99th percentile of those seconds.
    cpu_s
        CPU seconds of the thread that fed the stamps (a Dask worker runs several units in threads of
        one process, so the process's clock would count the others' work too).
    wall_s
        Wall seconds of the feed.
    points_per_cpu_s
        `n_points / cpu_s`: points per second on one core.
    state_bytes_mean
        Mean over series of the bytes each series' stream holds after its last row.
    state_bytes_max
        The largest of those.
    """

    n_series: int
    n_stamps: int
    n_points: int
    n_late: int
    latency_p50_s: float
    latency_p99_s: float
    cpu_s: float
    wall_s: float
    points_per_cpu_s: float
    state_bytes_mean: float
    state_bytes_max: int

    def as_record(self) -> dict[str, float | int]:
        """Plain numbers for a unit record (JSON)."""
        return {k: (round(v, 9) if isinstance(v, float) else int(v)) for k, v in asdict(self).items()}


@dataclass
class _Series:
    """One channel of one item: where its rows go and the stream that scores them."""

    item: str
    channel: str
    stream: DetectorStream
    scores: np.ndarray


def replay(
    detector: Detector, frame: pd.DataFrame, probationary_percent: float
) -> tuple[dict[str, np.ndarray], ReplayStats]:
    """Score every item of `frame` by feeding its series one stamp at a time across all series.

    Parameters
    ----------
    detector
        A detector with a streaming form (`check_replayable`).
    frame
        The rows of the chunk: `item`, `unique_id` (the channel), `ds` (the stamp) and `y`, each
        series' rows in row order (the order the batch path scores them in, and the order they arrive
        in: a row stamped before the row before it is fed right after it, see `n_late`).
    probationary_percent
        The task's probationary fraction; each item's probationary length is the batch path's
        (`probationary_length` of its channels' common length).

    Returns
    -------
    scores, stats
        Item -> one score per row of the item (the largest of its channels'), in row order; and what the
        feed took (`ReplayStats`).

    Raises
    ------
    NotStreamingError
        The detector has no streaming form.
    DataFormatError
        A column is missing, or an item's channels differ in length.
    """
    check_replayable([detector])
    missing = [c for c in REPLAY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFormatError(f"replay needs the columns {list(REPLAY_COLUMNS)}; missing {missing}")
    series, sid, row = _plan(detector, frame, probationary_percent)
    stamps = frame["ds"].to_numpy()
    arrival = _arrival_stamps(stamps, sid)
    order = np.argsort(arrival, kind="stable")  # stable: rows fed at one stamp keep their row order
    starts = _group_starts(arrival[order])
    latencies, cpu_s, wall_s = _feed(series, sid[order], row[order], frame["y"].to_numpy(float)[order], starts)
    states = np.array([s.stream.state_nbytes() for s in series], dtype=float)
    scores = _combine(detector, series)
    n_points = len(frame)
    stats = ReplayStats(
        n_series=len(series),
        n_stamps=len(starts) - 1,
        n_points=n_points,
        n_late=int((arrival != stamps).sum()),
        latency_p50_s=float(np.percentile(latencies, 50)) if len(latencies) else 0.0,
        latency_p99_s=float(np.percentile(latencies, 99)) if len(latencies) else 0.0,
        cpu_s=cpu_s,
        wall_s=wall_s,
        points_per_cpu_s=n_points / cpu_s if cpu_s > 0 else 0.0,
        state_bytes_mean=float(states.mean()) if len(states) else 0.0,
        state_bytes_max=int(states.max()) if len(states) else 0,
    )
    return scores, stats


def _plan(detector: Detector, frame: pd.DataFrame, percent: float) -> tuple[list[_Series], np.ndarray, np.ndarray]:
    """One stream per (item, channel), with the item's probationary length as `score_item` computes it;
    per row of `frame`, its series' index and its row within the series. Channels of unequal length are
    refused, as `score_item` refuses them."""
    keys = frame[["item", "unique_id"]].astype(str)
    sid = keys.groupby(["item", "unique_id"], sort=False).ngroup().to_numpy(np.int64)  # in order of appearance
    uniques = list(keys.drop_duplicates().itertuples(index=False, name=None))
    row = pd.Series(sid).groupby(sid, sort=False).cumcount().to_numpy()
    lengths = np.bincount(sid, minlength=len(uniques))
    by_item: dict[str, list[int]] = {}
    for k, (item, _) in enumerate(uniques):
        by_item.setdefault(item, []).append(k)
    series: list[_Series] = [None] * len(uniques)  # type: ignore[list-item]
    for item, members in by_item.items():
        n = {int(lengths[k]) for k in members}
        if len(n) != 1:
            raise DataFormatError(f"{item}: channels of different lengths {sorted(n)}; cannot combine their scores")
        prob = int(probationary_length(n.pop(), percent))
        for k in members:
            stream = detector.stream(prob)
            if stream is None:  # a detector whose streaming form depends on the series: refused as a whole
                raise NotStreamingError(f"{detector.label}: no streaming form for {item} (probationary {prob})")
            series[k] = _Series(item, uniques[k][1], stream, np.empty(int(lengths[k])))
    return series, sid, row


def _arrival_stamps(stamps: np.ndarray, sid: np.ndarray) -> np.ndarray:
    """The stamp at which each row is fed: its own, or, where its series' clock went back (a row
    stamped before the row before it), the latest stamp of its series so far. Rows arrive in row
    order, so a late-stamped row is processed when it arrives, right after the row before it, as a
    production pipeline would; its series is then fed in row order, as the batch path scores it."""
    return pd.Series(stamps).groupby(sid, sort=False).cummax().to_numpy()


def _group_starts(sorted_stamps: np.ndarray) -> np.ndarray:
    """Start of each run of equal stamps in the sorted stamps, and the end: one group per stamp."""
    if not len(sorted_stamps):
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(sorted_stamps[1:] != sorted_stamps[:-1]) + 1
    return np.r_[0, change, len(sorted_stamps)].astype(np.int64)


def _feed(
    series: list[_Series], sid: np.ndarray, row: np.ndarray, values: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Feed the points in stamp order; per stamp, the seconds it took across its series; and the feed's
    CPU (this thread's) and wall seconds."""
    updates = [s.stream.update for s in series]
    outs = [s.scores for s in series]
    sids, rows, xs = sid.tolist(), row.tolist(), values.tolist()
    bounds = starts.tolist()
    latencies = np.empty(len(bounds) - 1)
    clock = time.perf_counter
    cpu0, wall0 = time.thread_time(), clock()
    for g in range(len(bounds) - 1):
        t0 = clock()
        for k in range(bounds[g], bounds[g + 1]):
            s = sids[k]
            outs[s][rows[k]] = updates[s](xs[k])
        latencies[g] = clock() - t0
    return latencies, time.thread_time() - cpu0, clock() - wall0


def _combine(detector: Detector, series: list[_Series]) -> dict[str, np.ndarray]:
    """Each channel's scores checked as `Detector.score` checks them, then the largest channel score per
    row of each item, as `score_item` combines them."""
    per_item: dict[str, list[np.ndarray]] = {}
    for s in series:
        check_scores(s.scores, f"{detector.label} on {s.item}:{s.channel}")
        per_item.setdefault(s.item, []).append(s.scores)
    return {item: np.max(per, axis=0) for item, per in per_item.items()}
