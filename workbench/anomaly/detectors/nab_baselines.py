"""NAB's own simple detectors, re-implemented to give the scores of its committed result files.

Each follows the behaviour of numenta/NAB's detector of the same name (`nab/detectors/...`), row by
row, with the same arithmetic where the last bit matters (numpy's mean and std over the same slice,
`math.erfc`, scipy's relative entropy), and precomputes what does not depend on the order of events
so that the whole corpus runs in seconds rather than NAB's minutes.

`null`, `random` and `windowedGaussian` score from the past only and have a streaming form
(`Detector.stream`) that gives the batch path's scores bit for bit: the same draws, and for
windowedGaussian numpy's mean and std over the same values in the same order, at the same rows.
"""

from __future__ import annotations

import math
import random

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorStream
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

    def stream(self, probationary: int) -> DetectorStream:
        """The constant, row by row.

        Parameters
        ----------
        probationary
            Unused, as in `score_series`.
        """
        return _ConstantStream(float(self.params.value))


class _ConstantStream(DetectorStream):
    """Scores every row with one value; holds nothing per series beyond it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def update(self, x: float) -> float:
        return self.value

    def state_nbytes(self) -> int:
        return 8


class RandomDetector(Detector):
    """Uniform scores from Python's `random`, re-seeded for every file as NAB's `initialize` does.

    The seed is `random_state`, 42 by default as in NAB, so every file of the same length gets the
    same scores and NAB's committed scores are reproduced whatever the run's seed; with
    `random_state=None` the run's seed is used (42 when there is none)."""

    name = "random"
    Params = RandomParams

    def score_series(self, values: np.ndarray, probationary: int) -> np.ndarray:
        rng = self._rng()
        return np.array([rng.uniform(0, 1) for _ in range(len(values))])

    def stream(self, probationary: int) -> DetectorStream:
        """The same draws, one per row fed, from a generator seeded per series as `score_series` seeds it.

        Parameters
        ----------
        probationary
            Unused, as in `score_series`.
        """
        return _RandomStream(self._rng())

    def _rng(self) -> random.Random:
        return random.Random(resolve_seed(self.params.random_state, self.seed, NAB_SEED))


class _RandomStream(DetectorStream):
    """One uniform draw per row; the state is the Mersenne Twister's (624 words and an index)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def update(self, x: float) -> float:
        return self.rng.uniform(0, 1)

    def state_nbytes(self) -> int:
        return 4 * len(self.rng.getstate()[1])


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
                mean, std = _window_stats(window)
        return out

    def stream(self, probationary: int) -> DetectorStream:
        """The same statistics, refreshed at the same rows over the same values (a ring of the last
        `window_size` values), so the scores are `score_series`'s bit for bit.

        Parameters
        ----------
        probationary
            Unused, as in `score_series`.
        """
        return _WindowedGaussianStream(self.params.window_size, self.params.step_size)


def _window_stats(window: np.ndarray) -> tuple[float, float]:
    """numpy's mean and std of the window (std 0 -> 1e-6, as in NAB); one function for both paths, so
    the stream's arithmetic is the batch path's."""
    mean, std = float(np.mean(window)), float(np.std(window))
    return mean, (std if std != 0.0 else 0.000001)


class _WindowedGaussianStream(DetectorStream):
    """windowedGaussian row by row. The values of the window live in a ring of float64 that grows by
    doubling to `size` while the window fills; a refresh hands numpy a contiguous copy of the window,
    oldest value first, which is the slice `score_series` hands it."""

    def __init__(self, size: int, step: int) -> None:
        self.size, self.step = size, step
        self.ring = np.empty(min(size, 64))
        self.head = 0  # once full: the ring's oldest value, where the next one is written
        self.mean, self.std, self.filled, self.buffered = 0.0, 1.0, 0, 0

    def update(self, x: float) -> float:
        score = 1 - _upper_tail(x, self.mean, self.std) if self.filled else 0.0
        if self.filled < self.size:
            if self.filled == len(self.ring):
                self.ring = np.r_[self.ring, np.empty(min(len(self.ring), self.size - len(self.ring)))]
            self.ring[self.filled] = x
            self.filled += 1
            self.mean, self.std = _window_stats(self.ring[: self.filled])
            return score
        self.ring[self.head] = x
        self.head = (self.head + 1) % self.size
        self.buffered += 1
        if self.buffered == self.step:
            self.buffered = 0
            self.mean, self.std = _window_stats(np.r_[self.ring[self.head :], self.ring[: self.head]])
        return score

    def state_nbytes(self) -> int:
        return self.ring.nbytes + 6 * 8  # the ring, and size, step, head, mean, std, filled/buffered


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
