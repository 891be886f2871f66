"""The LTSF task: what is evaluated, and the prepared splits a model trains and is scored on.

An `LTSFTask` is a frozen value: dataset subset, split rule, input length L, horizon H, mode
(multivariate `M`: every channel in and out; univariate `S`: one target channel), and how the test
windows are scored. By default every test window counts. The reference code of LTSF-Linear (and of
Informer / Autoformer before it) drops the last incomplete test batch, so its numbers skip up to
batch-size - 1 windows and depend on the batch size; `test_batch_size` + `drop_last_test=True` is
the explicit paper-compatibility switch, and every result records which was used.

`check_protocol` is the guard: it warns (`ProtocolWarning`) when a scaler was fitted on rows beyond
the training split or when test windows are dropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from workbench.errors import DataFormatError, WorkbenchError
from workbench.keys import TaskIdentity
from workbench.ltsf.data import Borders, SplitRule, StandardScaler, Table, borders, load_ltsf_table
from workbench.ltsf.windows import Windows, kept_windows

__all__ = ["LTSFConfigError", "LTSFTask", "Prepared", "ProtocolWarning", "check_protocol", "prepare"]


class ProtocolWarning(UserWarning):
    """A run departs from the clean protocol (future rows in the scaler, test windows dropped)."""


class LTSFConfigError(WorkbenchError, ValueError):
    """An LTSF task or model configuration that cannot be run."""


class LTSFTask(TaskIdentity, BaseModel):
    """What an LTSF run evaluates (frozen, hashable, serialisable into provenance)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = "ltsf"
    protocol: ClassVar[str] = "ltsf"  # the shared task vocabulary (`workbench.keys.TaskIdentity`)

    dataset: str
    subset: str
    split_rule: SplitRule = "ratio"
    input_len: int = 336
    horizon: int = 96
    features: Literal["M", "S"] = "M"
    target: str | None = None  # univariate mode: the channel (default: the last one, `OT` in the LTSF files)
    rows: tuple[int, int] | None = None  # a row range of the table (to align a table with a paper's file)
    scaler_rows: Literal["train", "all"] = "train"  # "all" leaks the future; allowed only to show the check
    test_batch_size: int | None = None
    drop_last_test: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:  # one error type for every bad task, naming the field
            raise LTSFConfigError(f"invalid LTSF task: {exc}") from exc

    @model_validator(mode="after")
    def _check(self) -> LTSFTask:
        for name in ("input_len", "horizon"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.drop_last_test and not self.test_batch_size:
            raise ValueError("drop_last_test needs test_batch_size (the batch whose tail is dropped)")
        if self.test_batch_size is not None and self.test_batch_size < 1:
            raise ValueError(f"test_batch_size must be >= 1, got {self.test_batch_size}")
        return self

    @property
    def subsets(self) -> tuple[str, ...]:
        """The shared task vocabulary (`workbench.keys.TaskIdentity`): one subset, a table."""
        return (self.subset,)

    @property
    def test_windows_rule(self) -> str:
        """How test windows were scored, as recorded beside every result."""
        if self.drop_last_test:
            return f"paper-compatible: batches of {self.test_batch_size}, last incomplete batch dropped"
        return "all test windows"

    def describe(self) -> str:
        """`ett/ETTh1 LTSF L=336 H=96 M ratio, all test windows`."""
        mode = self.features if self.target is None else f"{self.features}:{self.target}"
        rows = f" rows {self.rows[0]}-{self.rows[1]}" if self.rows else ""
        return (
            f"{self.dataset}/{self.subset} LTSF L={self.input_len} H={self.horizon} {mode} {self.split_rule}{rows}, "
            f"{self.test_windows_rule}"
        )


@dataclass(frozen=True)
class Prepared:
    """A task's scaled splits as windows, with the scaler and the borders that produced them."""

    task: LTSFTask
    table: Table
    borders: Borders
    scaler: StandardScaler
    train: Windows
    val: Windows
    test: Windows

    @property
    def channels(self) -> tuple[str, ...]:
        return self.table.columns

    @property
    def n_test_scored(self) -> int:
        t = self.task
        return kept_windows(len(self.test), t.test_batch_size or 1, t.drop_last_test)


def prepare(task: LTSFTask, table: Table | None = None) -> Prepared:
    """Load (or take) the table, cut it, fit the scaler on the training rows, window the splits."""
    table = table if table is not None else load_ltsf_table(task.dataset, task.subset)
    if task.rows is not None:
        start, stop = task.rows
        if not 0 <= start < stop <= table.n_rows:
            raise LTSFConfigError(f"{table.name}: rows {task.rows} outside the table's {table.n_rows} rows")
        table = table.rows(start, stop)
    if task.features == "S":
        table = table.select([task.target or table.columns[-1]])
    elif task.target is not None and task.target not in table.columns:
        raise DataFormatError(f"{table.name}: no target column {task.target!r}; columns are {list(table.columns)}")
    need = task.input_len + task.horizon
    if table.n_rows < need:
        raise DataFormatError(
            f"{table.name}: {table.n_rows} rows, shorter than input length {task.input_len} + horizon {task.horizon}"
        )
    cut = borders(table.n_rows, task.input_len, task.split_rule)
    fit_rows = cut.train if task.scaler_rows == "train" else (0, table.n_rows)
    scaler = StandardScaler.fit(table.values, fit_rows)
    scaled = scaler.transform(table.values)
    splits = {
        s: Windows.of(scaled[cut[s][0] : cut[s][1]], task.input_len, task.horizon, f"{table.name} {s} split")
        for s in ("train", "val", "test")
    }
    return Prepared(task, table, cut, scaler, splits["train"], splits["val"], splits["test"])


def check_protocol(prepared: Prepared, warn: bool = True) -> list[str]:
    """What departs from the clean protocol in this run; each finding is also a `ProtocolWarning`."""
    findings = []
    lo, hi = prepared.scaler.fitted_rows
    train_lo, train_hi = prepared.borders.train
    if lo < train_lo or hi > train_hi:
        findings.append(
            f"{prepared.table.name}: scaler fitted on rows [{lo}, {hi}), beyond the training split "
            f"[{train_lo}, {train_hi}): test statistics leak into every input"
        )
    n, kept = len(prepared.test), prepared.n_test_scored
    if kept < n:
        findings.append(
            f"{prepared.table.name}: {n - kept} of {n} test windows dropped "
            f"({prepared.task.test_windows_rule}); the score depends on the batch size"
        )
    if warn:
        for text in findings:
            warnings.warn(text, ProtocolWarning, stacklevel=2)
    return findings
