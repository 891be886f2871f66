"""Streaming replay vs the batch path: points per CPU second of each streaming detector, per-stamp latency.

The batch path is what a detection unit runs (`workbench.anomaly.run.score_item`: each item's
series handed to the detector whole). The replay (`workbench.anomaly.replay.replay`) feeds the same
series one stamp at a time across all of them, as a production scorer sees them, each series through
its detector's `DetectorStream`. Both run here, one after the other, on the same rows (the NAB
corpus, 58 files, or its first `--items`), on one core (BLAS threads pinned to 1); loading the data
is excluded. The scores of the two must be equal item by item (`items differing` must be 0).

Points/s are points per CPU second of the thread that scored them (best of `--reps`). The replay is
reported twice: the feed alone (`ReplayStats.points_per_cpu_s`, what a production scorer would sustain)
and the whole call (planning the feed order included). The ratio is batch points/s over replay feed
points/s: how many times more a batch pass scores per core. Latency is the seconds to process one
stamp across every series that has it (p50, p99 of the best run); state is the bytes one series'
stream holds after its last row.

Usage: WORKBENCH_DATA_MIRROR=/abs/path/to/shared/datasets python benchmarks/replay_throughput.py [--reps 2]
       [--items 58] [--detectors null random windowedGaussian rolling_robust_z] [--output FILE.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

STREAMING = ["null", "random", "windowedGaussian", "rolling_robust_z"]


def batch_pass(detector, frame: pd.DataFrame, percent: float) -> tuple[float, dict[str, np.ndarray]]:
    """The batch path over every item (as `compute_detection_unit` runs it); CPU seconds and the scores."""
    from workbench.anomaly.run import score_item

    items = {
        item: {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
        for item, sub in frame.groupby("item", sort=False)
    }
    start = time.thread_time()
    scores = {item: score_item(detector, channels, item, percent) for item, channels in items.items()}
    return time.thread_time() - start, scores


def replay_pass(detector, frame: pd.DataFrame, percent: float) -> tuple[float, dict[str, np.ndarray], object]:
    """The replay over every item; CPU seconds of the whole call, the scores and its `ReplayStats`."""
    from workbench.anomaly.replay import replay

    start = time.thread_time()
    scores, stats = replay(detector, frame, percent)
    return time.thread_time() - start, scores, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2, help="timed repetitions of each; the fastest is reported")
    parser.add_argument("--items", type=int, default=None, help="the corpus' first N files (default: all 58)")
    parser.add_argument("--detectors", nargs="+", default=STREAMING)
    parser.add_argument("--output", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()

    from workbench.anomaly.detectors import make_detector
    from workbench.anomaly.task import DetectionTask

    task = DetectionTask(dataset="nab", subsets=("all",))
    frame = task.frame()
    if args.items is not None:
        frame = frame[frame["item"].isin(list(dict.fromkeys(frame["item"]))[: args.items])]
    frame = frame[["item", "unique_id", "ds", "y"]].reset_index(drop=True)
    percent, n = task.probationary_percent, len(frame)
    rows = []
    for name in args.detectors:
        detector = make_detector(name)
        batch_s, replay_s, feed_s, stats = np.inf, np.inf, np.inf, None
        for _ in range(args.reps):
            b, batch_scores = batch_pass(detector, frame, percent)
            r, replay_scores, s = replay_pass(detector, frame, percent)
            batch_s, replay_s = min(batch_s, b), min(replay_s, r)
            if s.cpu_s < feed_s:
                feed_s, stats = s.cpu_s, s
        differ = [i for i, s in batch_scores.items() if not np.array_equal(s, replay_scores[i])]
        rows.append({
            "detector": name,
            "points": n,
            "stamps": stats.n_stamps,
            "items differing": len(differ),
            "batch pts/s": n / batch_s,
            "replay feed pts/s": stats.points_per_cpu_s,
            "replay call pts/s": n / replay_s,
            "batch/replay": (n / batch_s) / stats.points_per_cpu_s,
            "p50 us/stamp": stats.latency_p50_s * 1e6,
            "p99 us/stamp": stats.latency_p99_s * 1e6,
            "state B mean": stats.state_bytes_mean,
            "state B max": stats.state_bytes_max,
        })  # fmt: skip
        if differ:
            print(f"{name}: replay scores differ from the batch path's on {differ}")
    series = frame.groupby(["item", "unique_id"]).ngroups
    print(f"NAB corpus: {frame['item'].nunique()} files, {series} series, {n} points; best of {args.reps} runs each;")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU seconds of the scoring thread")
    with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(pd.DataFrame(rows).to_string(index=False))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
