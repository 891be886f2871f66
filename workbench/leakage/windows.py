"""Leakage, second question: did a model the workbench trains see the test windows?

**Training the workbench does itself** (`check_windows`, `check_panels`): a model the workbench trains on a
window's past (the neural trainer, few-shot TTM tuning) can only have seen what it was handed.
Every length-`L` subsequence of that training data is hashed; a test window whose hash is in the
set is then compared value by value, so a reported overlap is a real one (no hash collision
counts). A deliberate leak (test values copied into the training split) is flagged; a clean
split passes. Constant windows (a run of zeros in an intermittent series) match by coincidence,
so they are counted apart and never flag. Values are compared exactly: a copy rescaled or
rounded is not found (say so when quoting a pass). An exactly periodic series (a noiseless
sine) repeats its test window in its own past and is flagged: the check says those values were
seen in training, which is true, not how they got there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.leakage.corpus import LeakageError

__all__ = ["WindowCheck", "check_panels", "check_windows", "panel_series", "trains_here", "window_hashes"]

_P = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


@dataclass(frozen=True)
class WindowCheck:
    """Result of hashing every length-`length` window of the training data and looking up every
    test window: `n_seen` test windows occur verbatim in training (constant ones apart, in
    `n_constant_seen`); `example` names the first seen one (test series, offset; training series,
    offset)."""

    length: int
    n_train_windows: int
    n_test_windows: int
    n_seen: int
    n_constant_seen: int
    example: str = ""
    method: str = "hashed subsequences (exact after hash match)"

    @property
    def passed(self) -> bool:
        return self.n_seen == 0

    def record(self) -> dict[str, Any]:
        return {"leakage_check": "passed" if self.passed else "flagged", "leakage_check_detail": asdict(self)}

    def __add__(self, other: WindowCheck) -> WindowCheck:
        return WindowCheck(
            self.length,
            self.n_train_windows + other.n_train_windows,
            self.n_test_windows + other.n_test_windows,
            self.n_seen + other.n_seen,
            self.n_constant_seen + other.n_constant_seen,
            self.example or other.example,
        )


def _mix(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads a float's bits (whose low bits are often zero) over the word."""
    x = bits.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def window_hashes(values: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every complete length-`length` window of `values` without a NaN, its start).

    A polynomial hash over the mixed float bits, computed for all windows at once from prefix sums
    modulo 2**64 (numpy's unsigned arithmetic wraps): O(n), not O(n * length)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v) - length + 1
    if n <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    v = np.where(v == 0, 0.0, v)  # -0.0 and 0.0 are one value
    x = _mix(np.ascontiguousarray(v).view(np.uint64))
    powers = np.cumprod(np.concatenate([[np.uint64(1)], np.full(len(v) - 1, _P, np.uint64)]), dtype=np.uint64)
    inverse = np.cumprod(np.concatenate([[np.uint64(1)], np.full(n - 1, _P_INV, np.uint64)]), dtype=np.uint64)
    prefix = np.concatenate([[np.uint64(0)], np.cumsum(x * powers, dtype=np.uint64)])
    hashes = (prefix[length:] - prefix[:n]) * inverse
    nan = np.concatenate([[0], np.cumsum(np.isnan(v))])
    ok = (nan[length:] - nan[:n]) == 0
    starts = np.arange(n, dtype=np.int64)
    return hashes[ok], starts[ok]


def check_windows(
    train: Sequence[np.ndarray], test: Sequence[np.ndarray], length: int, test_ids: Sequence[Any] | None = None
) -> WindowCheck:
    """Is any length-`length` window of the `test` series a window of the `train` series (pooled
    across series: a global model sees them all)?"""
    if length < 1:
        raise LeakageError(f"window length {length} must be at least 1")
    table, owner, start = _hashed(train, length)
    order = np.argsort(table, kind="stable")
    table, owner, start = table[order], owner[order], start[order]
    probe, probe_owner, probe_start = _hashed(test, length)
    lo = np.searchsorted(table, probe, "left")  # one sorted look-up for every test window
    found = np.flatnonzero((lo < len(table)) & (table[np.minimum(lo, len(table) - 1)] == probe)) if len(table) else []
    seen = constant = 0
    example = ""
    for k in found:
        j, at = int(probe_owner[k]), int(probe_start[k])
        window = np.asarray(test[j][at : at + length], dtype=np.float64)
        hit = None
        c = int(lo[k])
        while c < len(table) and table[c] == probe[k]:
            if np.array_equal(np.asarray(train[owner[c]][start[c] : start[c] + length], dtype=np.float64), window):
                hit = c
                break
            c += 1
        if hit is None:
            continue  # a hash collision, not a copy
        if np.all(window == window[0]):
            constant += 1
            continue
        seen += 1
        if not example:
            name = test_ids[j] if test_ids is not None else j
            example = f"test series {name!r} at {at} = training series {int(owner[hit])} at {int(start[hit])}"
    return WindowCheck(length, len(table), len(probe), seen, constant, example)


def _hashed(series: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, series index, start) of every window of every series, concatenated."""
    parts = [(*window_hashes(values, length), i) for i, values in enumerate(series)]
    if not parts:
        return np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int64)
    hashes = np.concatenate([h for h, _, _ in parts])
    owners = np.concatenate([np.full(len(h), i, np.int64) for h, _, i in parts])
    starts = np.concatenate([s for _, s, _ in parts])
    return hashes, owners, starts


def panel_series(panel: Any) -> tuple[list[np.ndarray], list[Any]]:
    """Each series' values of a Panel (in the panel's order) and their ids."""
    ids, lengths, starts, order = panel.layout()
    y = panel.df["y"].to_numpy(dtype=np.float64)
    if order is not None:
        y = y[order]
    return [y[a : a + n] for a, n in zip(starts, lengths, strict=True)], list(ids)


def check_panels(past: Any, truth: Any, length: int | None = None) -> WindowCheck:
    """`check_windows` over a window's past (everything a model trained here is handed) and its
    truth; `length` defaults to the horizon (each series' whole test window)."""
    train, _ = panel_series(past)
    test, ids = panel_series(truth)
    if length is None:
        length = max((len(t) for t in test), default=1)
    return check_windows(train, test, length, ids)


def trains_here(model: Any) -> bool:
    """Does the workbench fit this model's weights on the window (so `check_panels` applies)? A
    model says so with `trains_weights`; else a global model (one learnt across series) does."""
    own = getattr(model, "trains_weights", None)
    return bool(own if own is not None else getattr(model, "is_global", False))
