"""NAB's own simple detectors, re-implemented to give the scores of its committed result files.

Each follows the behaviour of numenta/NAB's detector of the same name (`nab/detectors/...`), row by
row, with the same arithmetic where the last bit matters (numpy's mean and std over the same slice,
`math.erfc`, scipy's relative entropy), and precomputes what does not depend on the order of events
so that the whole corpus runs in seconds rather than NAB's minutes.
"""

from __future__ import annotations

import math
import random

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector
from workbench.registry import ModelParams, resolve_seed

__all__ = [
    "NAB_SEED",
    "NullDetector",
    "NullParams",
    "RandomDetector",
    "RandomParams",
    "RelativeEntropyDetector",
    "RelativeEntropyParams",
    "WindowedGaussianDetector",
    "WindowedGaussianParams",
]

NAB_SEED = 42  # NAB's `random` detector seeds Python's generator with 42 for every file


class NullParams(ModelParams):
    """Parameters of NAB's null detector."""

    value: float = Field(0.5, ge=0, le=1, description="the constant score")


class RandomParams(ModelParams):
    """Parameters of NAB's random detector."""

    random_state: int | None = Field(
        NAB_SEED,
        description="seed, re-applied for every file; NAB's 42 by default whatever the run's seed "
        "(so NAB's scores are reproduced); null: the run's seed",
    )


class WindowedGaussianParams(ModelParams):
    """Parameters of NAB's windowedGaussian detector."""

    window_size: int = Field(6400, ge=1, description="values in the trailing window")
    step_size: int = Field(100, ge=1, description="rows between refreshes of a full window's statistics")


class RelativeEntropyParams(ModelParams):
    """Parameters of NAB's relativeEntropy detector."""

    window: int = Field(52, ge=2, description="values per histogram window")


class NullDetector(Detector):
    """A constant 0.5: NAB's baseline, whose optimal threshold detects nothing (normalised score 0)."""

    name = "null"
    Params = NullParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        return np.full(len(values), self.params.value)


class RandomDetector(Detector):
    """Uniform scores from Python's `random`, re-seeded for every file as NAB's `initialize` does.

    The seed is `random_state`, 42 by default as in NAB, so every file of the same length gets the
    same scores and NAB's committed scores are reproduced whatever the run's seed; with
    `random_state=None` the run's seed is used (42 when there is none)."""

    name = "random"
    Params = RandomParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        rng = random.Random(resolve_seed(self.params.random_state, self.seed, NAB_SEED))
        return np.array([rng.uniform(0, 1) for _ in range(len(values))])


def _upper_tail(x: float, mean: float, std: float) -> float:
    """NAB's `normalProbability`: the Gaussian tail beyond x, mirrored below the mean."""
    if x < mean:
        x = 2 * mean - x
    return 0.5 * math.erfc((x - mean) / std / math.sqrt(2))


class WindowedGaussianDetector(Detector):
    """1 - the Gaussian tail probability of each value under the mean and std of a trailing window.

    The window grows to `window_size` values (statistics refreshed at every row), then slides by
    `step_size` rows at a time (refreshed once per step); row i is scored with the statistics
    before it is added, so the score uses the past only. std 0 is replaced by 1e-6, as in NAB.
    """

    name = "windowedGaussian"
    Params = WindowedGaussianParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        size = self.params.window_size
        step = self.params.step_size
        out = np.zeros(len(values))
        mean, std, filled, buffered = 0.0, 1.0, 0, 0
        for i, x in enumerate(values.tolist()):
            if filled:
                out[i] = 1 - _upper_tail(x, mean, std)
            window = None
            if filled < size:
                filled += 1
                window = values[:filled]
            else:
                buffered += 1
                if buffered == step:
                    buffered = 0
                    window = values[i - size + 1 : i + 1]
            if window is not None:
                mean, std = float(np.mean(window)), float(np.std(window))
                std = std if std != 0.0 else 0.000001
        return out


class RelativeEntropyDetector(Detector):
    """Wang et al. (2011) relative-entropy hypothesis test over quantised windows, as NAB tuned it.

    Values are quantised into 5 bins of the file's range (NAB's `inputMin`/`inputMax` are the whole
    file's: hence `fitted_on`); each window of 52 values gives a histogram, compared with the known
    hypotheses by 2 W KL divergence against the chi-squared 0.99 point with 4 degrees of freedom. A
    window no hypothesis accepts scores 1 and becomes a new hypothesis. The test of a histogram
    against a hypothesis never changes, so results are memoised per histogram.
    """

    name = "relativeEntropy"
    Params = RelativeEntropyParams
    fitted_on = "file range (min and max of all rows, as NAB's relativeEntropy)"

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        from scipy import stats

        n_bins, width, c_th = 5, self.params.window, 1
        threshold = stats.chi2.isf(0.01, n_bins - 1)
        out = np.zeros(len(values))
        lo, hi = float(np.min(values)), float(np.max(values))
        step = (hi - lo) / n_bins
        if step == 0.0 or len(values) < width:
            return out
        codes = np.ceil((values - lo) / step)
        # numpy.histogram(range=(0, 5), bins=5): values 0..4 in their own bin, 5 in the last, others dropped
        bins = np.where((codes >= 0) & (codes <= n_bins), np.minimum(codes, n_bins - 1), -1).astype(np.int64)
        onehot = np.zeros((len(values) + 1, n_bins), dtype=np.int64)
        valid = bins >= 0
        onehot[1:][valid, bins[valid]] = 1
        cum = np.cumsum(onehot, axis=0)
        counts = cum[width:] - cum[:-width]  # row j: the window ending at row j + width - 1
        # normalised hypotheses, as scipy.stats.entropy normalises its second argument
        hypotheses = np.zeros((0, n_bins))
        seen: list[int] = []
        memo: dict[tuple, tuple[int, int, float]] = {}
        for j, row in enumerate(counts.tolist()):
            i = j + width - 1
            p_hat = np.array(row, dtype=float) / sum(row)
            if not len(hypotheses):
                hypotheses = np.vstack([hypotheses, p_hat / p_hat.sum()])
                seen.append(1)
                continue
            key = tuple(row)
            checked, index, best = memo.get(key, (0, -1, math.inf))
            if checked < len(hypotheses):
                entropies = 2 * width * _relative_entropy(p_hat, hypotheses[checked:])
                for h, entropy in enumerate(entropies.tolist(), start=checked):
                    if entropy < threshold and entropy < best:
                        index, best = h, entropy
                memo[key] = (len(hypotheses), index, best)
            if index != -1:
                seen[index] += 1
                if seen[index] <= c_th:
                    out[i] = 1.0
            else:
                out[i] = 1.0
                hypotheses = np.vstack([hypotheses, p_hat / p_hat.sum()])
                seen.append(1)
        return out


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """scipy.stats.entropy(p, q_k) for every row q_k of `q` (already normalised), with scipy's arithmetic:
    p normalised, then the sum of rel_entr over the bins."""
    from scipy.special import rel_entr

    return np.sum(rel_entr(p / p.sum(), q), axis=1)
