"""The LTSF protocol's data: one multivariate table, chronological borders, a train-only scaler.

Long-horizon forecasting papers (Informer, Autoformer, LTSF-Linear) evaluate on one table per
dataset, cut by row into train / validation / test. Their borders differ by dataset family: ETT
uses calendar months (12/4/4 months of 30 days, hourly), every other table 70/10/20 % of its rows.
Validation and test start `input_len` rows before their first target so that their first window
has a full input. The scaler is fitted on the training rows only: statistics from later rows would
leak the future into every input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench.data import get_card, load_panel
from workbench.errors import DataFormatError

__all__ = ["SPLITS", "Borders", "SplitRule", "StandardScaler", "Table", "borders", "load_ltsf_table"]

SplitRule = Literal["ett_hour", "ett_minute", "ratio"]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Table:
    """A multivariate series as one (time x channel) float64 array, channels in the file's order."""

    name: str
    values: np.ndarray
    columns: tuple[str, ...]
    data_hash: str = ""

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise DataFormatError(f"{self.name}: values of shape {self.values.shape} for {len(self.columns)} columns")
        bad = ~np.isfinite(self.values)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise DataFormatError(
                f"{self.name}: column {self.columns[col]!r} has {int(bad[:, col].sum())} missing or infinite "
                f"value(s), first at row {row}; the LTSF protocol needs complete tables"
            )

    @property
    def n_rows(self) -> int:
        return self.values.shape[0]

    def select(self, columns: list[str] | tuple[str, ...]) -> Table:
        """Only `columns` (univariate mode: one channel), in the order given."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise DataFormatError(f"{self.name}: no column(s) {missing}; columns are {list(self.columns)}")
        idx = [self.columns.index(c) for c in columns]
        return Table(self.name, self.values[:, idx], tuple(columns), self.data_hash)

    def rows(self, start: int, stop: int) -> Table:
        return Table(f"{self.name}[{start}:{stop}]", self.values[start:stop], self.columns, self.data_hash)


def load_ltsf_table(dataset: str, subset: str) -> Table:
    """A catalog subset as one table, channels in the order the card lists them (the file's)."""
    panel = load_panel(dataset, subset)
    values, lengths, ids = panel.to_numpy()
    if len(set(lengths.tolist())) != 1:
        raise DataFormatError(f"{dataset}/{subset}: channels of unequal length {sorted(set(lengths.tolist()))}")
    order = list(get_card(dataset).subset(subset).options.get("value_cols") or sorted(ids, key=_natural))
    index = {uid: i for i, uid in enumerate(ids)}
    values = np.ascontiguousarray(values[[index[c] for c in order]].T, dtype=np.float64)
    return Table(f"{dataset}/{subset}", values, tuple(str(c) for c in order), str(panel.attrs.get("data_hash", "")))


def _natural(name: str) -> tuple[int, str]:
    return (int(name), "") if str(name).isdigit() else (1 << 30, str(name))


@dataclass(frozen=True)
class Borders:
    """Row ranges [start, stop) of the three splits; val and test include `input_len` rows of context."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def __getitem__(self, split: str) -> tuple[int, int]:
        return getattr(self, split)


def borders(n_rows: int, input_len: int, rule: SplitRule) -> Borders:
    """The reference code's borders (`data_provider/data_loader.py` of Autoformer / LTSF-Linear)."""
    if rule in ("ett_hour", "ett_minute"):
        per_month = 30 * 24 * (4 if rule == "ett_minute" else 1)
        n_train, n_val, n_test = 12 * per_month, 4 * per_month, 4 * per_month
        if n_rows < n_train + n_val + n_test:
            raise DataFormatError(f"an ETT table needs {n_train + n_val + n_test} rows, got {n_rows}")
        return Borders(
            (0, n_train),
            (n_train - input_len, n_train + n_val),
            (n_train + n_val - input_len, n_train + n_val + n_test),
        )
    n_train, n_test = int(n_rows * 0.7), int(n_rows * 0.2)
    n_val = n_rows - n_train - n_test
    return Borders((0, n_train), (n_train - input_len, n_train + n_val), (n_rows - n_test - input_len, n_rows))


@dataclass(frozen=True)
class StandardScaler:
    """Per-channel z-score with the population standard deviation (sklearn's StandardScaler)."""

    mean: np.ndarray
    scale: np.ndarray
    fitted_rows: tuple[int, int]

    @classmethod
    def fit(cls, values: np.ndarray, rows: tuple[int, int]) -> StandardScaler:
        part = values[rows[0] : rows[1]]
        scale = part.std(axis=0)
        scale[scale == 0] = 1.0  # a constant channel stays constant rather than turning into NaN
        return cls(part.mean(axis=0), scale, rows)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to the original scale; channels on the last axis."""
        return values * self.scale + self.mean
