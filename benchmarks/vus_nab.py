"""VUS-PR and VUS-ROC on NAB's data files: the workbench's numpy implementation vs TSB-AD v1.5's.

TSB-AD (`TSB_AD.evaluation.basic_metrics.generate_curve`, what `get_metrics` calls for VUS, version
'opt') loops over the 101 ramp widths and the 250 thresholds and, at each, over every row of the
series; `workbench.anomaly.vus` holds the soft labels only on the rows near a labelled range and
reads every threshold off cumulative sums. Both run here, one after the other, on one core (BLAS
threads pinned to 1), on the same scores: one published detector's raw NAB result files (default
numenta), every row of each file (TSB-AD scores whole series; NAB's probationary rows included),
labels = rows inside NAB's anomaly windows. Files without a window (artificialNoAnomaly) have no
VUS (TSB-AD raises on them) and are left out and counted. Loading the data is excluded; nothing is
written.

Usage: WORKBENCH_DATA_MIRROR=/abs/path/to/shared/datasets python benchmarks/vus_nab.py
       [--detector numenta] [--sliding-window 100] [--max-files N]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def series(detector: str) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], list[str]]:
    """(file, labels, scores) of every NAB file with a labelled window, and the files without one."""
    from workbench.papers import nab

    data = nab.load()
    scores = data.published_scores(detector)
    labels = (data.corpus.window >= 0).astype(int)
    out, skipped = [], []
    for i, name in enumerate(data.corpus.files):
        rows = data.corpus.file_index == i
        if labels[rows].any():
            out.append((name, labels[rows], scores[rows]))
        else:
            skipped.append(name)
    return out, skipped


def run_workbench(files: list, window: int) -> tuple[float, np.ndarray]:
    from workbench.anomaly.vus import vus

    start = time.perf_counter()
    values = np.array([tuple(vus(y, s, sliding_window=window)) for _, y, s in files])
    return time.perf_counter() - start, values


def run_tsb_ad(files: list, window: int) -> tuple[float, np.ndarray]:
    from TSB_AD.evaluation.basic_metrics import generate_curve

    start = time.perf_counter()
    values = np.array([generate_curve(y, s, window, "opt", 250)[-2:] for _, y, s in files])
    return time.perf_counter() - start, values


def _row(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """A markdown table row: the first cell left-aligned, the numbers right-aligned."""
    padded = [f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
    return "| " + " | ".join(padded) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="numenta", help="a detector whose NAB result files the mirror holds")
    parser.add_argument("--sliding-window", type=int, default=100, help="TSB-AD's slidingWindow (get_metrics: 100)")
    parser.add_argument("--max-files", type=int, default=None, help="only the first N files with a window")
    args = parser.parse_args()

    files, skipped = series(args.detector)
    files = files[: args.max_files]
    n_rows = sum(len(y) for _, y, _ in files)
    ours_s, ours = run_workbench(files, args.sliding_window)
    theirs_s, theirs = run_tsb_ad(files, args.sliding_window)
    diff = np.abs(ours - theirs)

    header = f"NAB v1.1, detector {args.detector}: {len(files)} files with a window, {n_rows} rows"
    print(f"{header} ({len(skipped)} without a window left out); slidingWindow {args.sliding_window}, 250 thresholds")
    print()
    widths = (26, 9, 9, 11, 12)
    print(_row(("implementation", "seconds", "ms / file", "mean VUS-PR", "mean VUS-ROC"), widths))
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for name, seconds, values in (
        ("workbench.anomaly.vus", ours_s, ours),
        ("TSB-AD 1.5 generate_curve", theirs_s, theirs),
    ):
        per_file = f"{1000 * seconds / len(files):.2f}"
        cells = (name, f"{seconds:.3f}", per_file, f"{values[:, 1].mean():.6f}", f"{values[:, 0].mean():.6f}")
        print(_row(cells, widths))
    print()
    print(f"TSB-AD / workbench time: {theirs_s / ours_s:.1f}x")
    print(f"max |difference| over files: VUS-PR {diff[:, 1].max():.3e}, VUS-ROC {diff[:, 0].max():.3e}")
    worst = int(np.argmax(diff[:, 1]))
    print(f"largest VUS-PR difference at {files[worst][0]}: {float(ours[worst, 1])!r} vs {float(theirs[worst, 1])!r}")


if __name__ == "__main__":
    main()
