"""Scoring a detector on the whole NAB corpus, three profiles: the workbench's numpy scorer vs NAB's design.

NAB's scorer (`nab/sweeper.py`) walks every row in Python to weight it, sorts the rows, and walks them
again keeping a dict of score parts; it does this once over the concatenated corpus to optimise the
threshold, then once more per file to score it at that threshold. `tests/anomaly/nab_reference.py`
is that design written out (the oracle of the tests); `workbench.anomaly.nab.NabCorpus` weights the rows once per corpus
(detector-independent) and scores with a sort, a cumulative sum and a few bincounts.

Both run in this process, one after the other, on one core (BLAS threads pinned to 1), on the same
scores; the totals they find are printed side by side and must agree. Loading the data is excluded.

Usage: WORKBENCH_DATA_MIRROR=/abs/path/to/shared/datasets python benchmarks/nab_scoring.py [--detector D] [--reps 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def reference(corpus_input: dict, profiles: dict) -> tuple[float, dict]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "anomaly"))
    import nab_reference as ref

    start = time.perf_counter()
    out = {}
    for name, profile in profiles.items():
        threshold, _ = ref.optimise(corpus_input, profile)
        out[name] = (threshold, ref.score_corpus(corpus_input, profile, threshold))
    return time.perf_counter() - start, out


def vectorised(data, windows, scores_by_file: dict, profiles: dict) -> tuple[float, float, dict]:
    from workbench.anomaly.nab import NabCorpus

    start = time.perf_counter()
    corpus = NabCorpus.build(data, windows)
    built = time.perf_counter() - start
    scores = corpus.align(scores_by_file)
    out = {}
    for name, profile in profiles.items():
        threshold, _ = corpus.optimise(scores, profile)
        out[name] = (threshold, corpus.score(scores, profile, threshold))
    return time.perf_counter() - start, built, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="numenta")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from workbench.anomaly.nab import nab_profiles
    from workbench.data.catalog import load_panel, load_table

    data = load_panel("nab", "all").df[["unique_id", "ds"]]
    windows = load_table("nab", "windows")
    results = load_table("nab", "results")
    results = results[results["detector"] == args.detector]
    if results.empty:
        raise SystemExit(f"no committed results for detector {args.detector!r}")
    profiles = nab_profiles()
    scores_by_file = {u: g["anomaly_score"].to_numpy(float) for u, g in results.groupby("unique_id", sort=False)}
    corpus_input = {}
    for uid, g in data.groupby("unique_id", sort=False):
        w = windows[windows["unique_id"] == uid]
        corpus_input[uid] = (list(g["ds"]), scores_by_file[uid].tolist(), list(zip(w["start"], w["end"], strict=True)))

    ref_times, vec_times, build_times = [], [], []
    for _ in range(args.reps):
        t, ref_out = reference(corpus_input, profiles)
        ref_times.append(t)
        t, built, vec_out = vectorised(data, windows, scores_by_file, profiles)
        vec_times.append(t)
        build_times.append(built)
    print(f"NAB corpus: {len(data)} rows, {data['unique_id'].nunique()} files, {len(windows)} windows; "
          f"detector {args.detector}; 3 profiles; optimise + score; {args.reps} reps, one core")  # fmt: skip
    print(f"{'profile':<22}{'threshold (NAB design)':>24}{'score (NAB design)':>22}{'threshold (numpy)':>20}"
          f"{'score (numpy)':>18}")  # fmt: skip
    for name in profiles:
        (t_r, s_r), (t_v, s_v) = ref_out[name], vec_out[name]
        print(f"{name:<22}{t_r:>24.10f}{s_r:>22.10f}{t_v:>20.10f}{s_v:>18.10f}")
        assert np.isclose(s_r, s_v, atol=1e-8) and t_r == t_v, name
    ref_med, vec_med = statistics.median(ref_times), statistics.median(vec_times)
    runs = ", ".join(f"{t:.2f}" for t in ref_times)
    print(f"NAB design (row loop, dict of parts): median {ref_med:.2f} s  (runs {runs})")
    print(f"workbench numpy scorer:               median {vec_med:.3f} s  (of which corpus rows/windows "
          f"{statistics.median(build_times):.3f} s; runs {', '.join(f'{t:.3f}' for t in vec_times)})")  # fmt: skip
    print(f"ratio: {ref_med / vec_med:.1f}x faster; target (< 5 s for corpus x 3 profiles): "
          f"{'met' if vec_med < 5 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
