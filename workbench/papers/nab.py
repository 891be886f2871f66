"""NAB v1.1 (Lavin & Ahmad 2015): the committed scoreboard re-scored, and NAB's detectors re-run.

Claims are the values of NAB's `results/final_results.json` (the scoreboard of the README) for the
detectors whose raw results the mirror carries. Three routes reach them:

- primary: the committed raw result files (`results/<detector>/...csv`) scored with
  `workbench.anomaly.nab` at the committed thresholds (`config/thresholds.json`), normalised with
  the null detector's raw score and the perfect score (116 windows x A_TP);
- `re-run`: NAB's random, windowedGaussian and relativeEntropy re-implemented
  (`workbench.anomaly.detectors.nab_baselines`), run on the corpus and scored the same way; only
  when every file was run, since the scoreboard is a corpus total;
- `re-optimised` (reported beside, not a claim): the threshold NAB's optimiser finds today on the
  committed raw results, which shows where `thresholds.json` is stale.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.anomaly.detectors import make_detector
from workbench.anomaly.nab import NabCorpus, nab_profiles, normalise, probationary_length

__all__ = [
    "DATASET",
    "DETECTORS",
    "RERUNNABLE",
    "SUBSET",
    "Nab",
    "as_written",
    "beyond_tasks",
    "load",
    "metric_name",
    "reoptimise",
    "reproduced_rows",
    "rerun",
    "rerun_scoreboard",
    "rescore_committed",
    "scoreboard",
]

if TYPE_CHECKING:
    from workbench.anomaly.task import DetectionTask

DATASET = "nab"
SUBSET = "v1.1 scoreboard"
DETECTORS = ("null", "random", "numenta", "windowedGaussian", "relativeEntropy")
RERUNNABLE = ("null", "random", "windowedGaussian", "relativeEntropy")


def metric_name(profile: str) -> str:
    return f"NAB score ({profile})"


@dataclass(frozen=True)
class Nab:
    """The corpus, its profiles, the committed thresholds and scoreboard, and the published raw results."""

    corpus: NabCorpus
    data: pd.DataFrame
    profiles: dict
    thresholds: pd.DataFrame
    final: pd.DataFrame
    results: pd.DataFrame

    def threshold(self, detector: str, profile: str) -> float:
        return float(self.thresholds.loc[(detector, profile), "threshold"])

    def published_scores(self, detector: str) -> np.ndarray:
        rows = self.results[self.results["detector"] == detector]
        if rows.empty:
            raise KeyError(f"no committed raw results for {detector!r} in the mirror")
        return self.corpus.align(rows, detector, published=True)


@lru_cache(maxsize=1)
def load() -> Nab:
    """Everything the reproduction reads, through the dataset card (hash-checked, offline mirror)."""
    from workbench.data.catalog import load_panel, load_table

    data = load_panel(DATASET, "all").df
    corpus = NabCorpus.build(data[["unique_id", "ds"]], load_table(DATASET, "windows"))
    thresholds = load_table(DATASET, "thresholds").set_index(["detector", "profile"])
    final = load_table(DATASET, "final_results").set_index(["detector", "profile"])
    results = load_table(DATASET, "results")
    return Nab(corpus, data, nab_profiles(), thresholds, final, results)


def _raw_scores(nab: Nab, scores: dict[str, np.ndarray], profile: str) -> dict[str, float]:
    prof = nab.profiles[profile]
    return {d: nab.corpus.score(s, prof, nab.threshold(d, profile)) for d, s in scores.items()}


def scoreboard(nab: Nab, scores: dict[str, np.ndarray], null_scores: np.ndarray) -> pd.DataFrame:
    """(detector, profile, threshold, raw, normalised) at the committed thresholds."""
    rows = []
    for profile, prof in nab.profiles.items():
        null_raw = nab.corpus.score(null_scores, prof, nab.threshold("null", profile))
        for detector, raw in _raw_scores(nab, scores, profile).items():
            rows.append(
                {
                    "detector": detector,
                    "profile": profile,
                    "threshold": nab.threshold(detector, profile),
                    "raw": raw,
                    "score": normalise(raw, null_raw, nab.corpus.perfect(prof)),
                }
            )
    return pd.DataFrame(rows)


def rescore_committed(detectors: Iterable[str] = DETECTORS) -> pd.DataFrame:
    """The committed raw results at the committed thresholds: the primary route to every claim."""
    nab = load()
    scores = {d: nab.published_scores(d) for d in detectors}
    board = scoreboard(nab, scores, nab.published_scores("null"))
    pairs = zip(board["detector"], board["profile"], strict=True)
    board["published"] = [nab.final.loc[pair, "score"] for pair in pairs]
    return board


def reproduced_rows(board: pd.DataFrame, route: str = "", note: str = "") -> pd.DataFrame:
    """A scoreboard in the shape `workbench.papers.compare` reads."""
    return pd.DataFrame(
        {
            "dataset": DATASET,
            "subset": SUBSET,
            "method": board["detector"],
            "metric": board["profile"].map(metric_name),
            "route": route,
            "value": board["score"],
            "note": note,
        }
    )


def reoptimise(detectors: Iterable[str] = DETECTORS) -> pd.DataFrame:
    """NAB's optimiser re-run on the committed raw results, beside the committed threshold and score."""
    nab = load()
    null = nab.published_scores("null")
    rows = []
    for detector in detectors:
        scores = nab.published_scores(detector)
        for profile, prof in nab.profiles.items():
            null_raw = nab.corpus.optimise(null, prof)[1]
            committed_t = nab.threshold(detector, profile)
            committed_raw = nab.corpus.score(scores, prof, committed_t)
            best_t, best_raw = nab.corpus.optimise(scores, prof)
            perfect = nab.corpus.perfect(prof)
            rows.append(
                {
                    "detector": detector,
                    "profile": profile,
                    "committed_threshold": committed_t,
                    "committed_score": normalise(committed_raw, null_raw, perfect),
                    "thresholds_json_raw": float(nab.thresholds.loc[(detector, profile), "score"]),
                    "committed_raw": committed_raw,
                    "optimal_threshold": best_t,
                    "optimal_raw": best_raw,
                    "optimal_score": normalise(best_raw, null_raw, perfect),
                }
            )
    out = pd.DataFrame(rows)
    out["gain"] = out["optimal_score"] - out["committed_score"]
    out["committed_is_optimal"] = out["gain"] <= 1e-9
    return out


def as_written(scores: np.ndarray) -> np.ndarray:
    """Scores as NAB's result files hold them: Python 2's `str(float)`, 12 significant digits.

    NAB scored those files, so a threshold of exactly 1.0 (windowedGaussian's) counts a score of
    0.99999999999995 as a detection because its file says "1.0"; a re-run must round the same way
    to give the same scoreboard."""
    return np.array([float(f"{x:.12g}") for x in np.asarray(scores, dtype=float).tolist()])


def rerun(detectors: Iterable[str] = RERUNNABLE, max_files: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Run the re-implemented detectors; compare each file's scores with the committed raw file.

    Returns (per-detector comparison, {detector: scores aligned to the corpus} for complete runs, rounded
    `as_written`).
    """
    nab = load()
    files = nab.corpus.files[:max_files] if max_files else nab.corpus.files
    groups = {uid: g["y"].to_numpy(float) for uid, g in nab.data.groupby("unique_id", sort=False)}
    rows, complete = [], {}
    for name in detectors:
        detector = make_detector(name)
        published = nab.results[nab.results["detector"] == name]
        by_file = dict(tuple(published.groupby("unique_id", sort=False)))
        start = time.perf_counter()
        mine, worst, worst_file, n_off, worst_written = {}, 0.0, "", 0, 0.0
        for uid in files:
            values = groups[uid]
            scores = detector.score(values, int(probationary_length(len(values))), uid)
            theirs = by_file[uid]["anomaly_score"].to_numpy(float)
            diff = np.abs(scores - theirs)
            n_off += int((diff > 1e-6).sum())
            if diff.max() > worst:
                worst, worst_file = float(diff.max()), uid
            mine[uid] = as_written(scores)
            worst_written = max(worst_written, float(np.max(np.abs(mine[uid] - theirs))))
        rows.append(
            {
                "detector": name,
                "files": len(files),
                "rows": int(sum(len(s) for s in mine.values())),
                "max_abs_diff": worst,
                "worst_file": worst_file,
                "rows_off_by_more_than_1e-6": n_off,
                "max_abs_diff_as_written": worst_written,
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
        if len(files) == len(nab.corpus.files):
            complete[name] = nab.corpus.align(mine, name)
    return pd.DataFrame(rows), complete


def rerun_scoreboard(complete: dict[str, np.ndarray]) -> pd.DataFrame:
    """The scoreboard of complete re-runs at the committed thresholds (the `re-run` route)."""
    if not complete:
        return pd.DataFrame(columns=["detector", "profile", "threshold", "raw", "score"])
    nab = load()
    null = complete.get("null", nab.published_scores("null"))
    return scoreboard(nab, complete, null)


def _spread(items: list[str], n: int | None) -> tuple[str, ...] | None:
    """`n` items spread evenly over the sorted list (None: all)."""
    if n is None or n >= len(items):
        return None
    picks = np.linspace(0, len(items) - 1, n).round().astype(int)
    return tuple(sorted(items)[i] for i in sorted(set(picks)))


def beyond_tasks(skab_subsets: Iterable[str] = ("valve1",), max_items: int | None = None) -> list[DetectionTask]:
    """The detection tasks of the beyond-NAB scoreboard: NAB's corpus and SKAB's experiments."""
    from workbench.anomaly.task import DetectionTask
    from workbench.data.catalog import load_panel

    tasks = [DetectionTask(dataset="nab", subsets=("all",), items=_spread(load().corpus.files, max_items))]
    subsets = tuple(skab_subsets)
    if subsets:
        items = sorted({i for s in subsets for i in load_panel("skab", s).df["item"].unique()})
        tasks.append(
            DetectionTask(
                dataset="skab",
                subsets=subsets,
                labels="points",
                labels_table="labels",
                items=_spread(items, max_items),
            )
        )
    return tasks
