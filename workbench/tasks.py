"""Task: a frozen, validated, hashable statement of what is evaluated, and its windows.

A task names a dataset subset, a protocol and the metrics. `windows()` cuts the data into
(past, truth) pairs; a model is only ever handed `past`, and metric scales are computed on it, so
nothing after a cutoff can leak into a forecast or its score.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from workbench.data import Panel, get_card, load_holdout, load_panel
from workbench.errors import DataFormatError, UnknownNameError
from workbench.keys import TaskIdentity
from workbench.metrics import get_metric


class Task(TaskIdentity, BaseModel):
    """What is evaluated. Protocols: `holdout` (the competition's own train/test) and `rolling`
    (origins stepping back from the end of the train split, expanding or sliding windows)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = "forecast"

    dataset: str
    subset: str
    protocol: Literal["holdout", "rolling"] = "holdout"
    horizon: int | None = None
    season_length: int | None = None
    n_windows: int = 1
    step: int | None = None
    window: Literal["expanding", "sliding"] = "expanding"
    train_length: int | None = None
    metrics: tuple[str, ...] = ("smape", "mase")
    # the levels crps / wql / scaled_ql score (fev's `quantile_levels`); None: every level the model
    # gives. Fixing them keeps crps comparable when a model also returns 0.025/0.975 for msis.
    quantile_levels: tuple[float, ...] | None = None

    @field_validator("quantile_levels")
    @classmethod
    def _levels(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if not value or any(not 0 < q < 1 for q in value) or len(set(value)) != len(value):
            raise ValueError(f"quantile_levels must be distinct levels strictly between 0 and 1, got {list(value)}")
        return tuple(sorted(value))

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            get_metric(name)
        return value

    @model_validator(mode="after")
    def _check(self) -> Task:
        card = get_card(self.dataset)
        sub = card.subset(self.subset)
        for name, v in (("horizon", self.horizon), ("n_windows", self.n_windows), ("step", self.step)):
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if self.horizon is None and sub.horizon is None:
            raise ValueError(f"{self.dataset}/{self.subset} declares no default horizon: give one")
        if self.protocol == "holdout" and "test" not in sub.splits:
            raise ValueError(f"{self.dataset}/{self.subset} has no test split: use protocol='rolling'")
        if self.protocol == "holdout" and self.n_windows != 1:
            raise ValueError("the holdout protocol has exactly one window")
        if self.window == "sliding" and not self.train_length:
            raise ValueError("sliding windows need train_length")
        return self

    @property
    def h(self) -> int:
        return self.horizon or get_card(self.dataset).subsets[self.subset].horizon  # type: ignore[return-value]

    @property
    def m(self) -> int:
        return self.season_length or get_card(self.dataset).subsets[self.subset].season_length

    @classmethod
    def from_resolved(cls, fields: dict) -> Task:
        """The task back from its resolved fields (as unit records store them)."""
        return cls(**{k: v for k, v in fields.items() if k in cls.model_fields})

    def resolved(self) -> dict:
        """The fields as used: the card's default horizon and season length filled in, the rolling
        step resolved, and the data version the card declares (so the key says what was evaluated)."""
        out = self.model_dump(mode="json")
        out["horizon"] = self.h
        out["season_length"] = self.m
        if self.protocol == "rolling":
            out["step"] = self.step or self.h
        out["data_version"] = self.data_version
        return out

    @property
    def data_version(self) -> str | None:
        """Which copy of the data the card reads (e.g. Tcomp's R data), where the card says."""
        try:
            card = get_card(self.dataset)
        except UnknownNameError:  # a panel made in memory (synthetic data) has no card to say
            return None
        return card.subset(self.subset).data_version or card.data_version

    def describe(self) -> str:
        """`m4/Hourly holdout h=48 m=24`, `m4/Hourly rolling 3x48 step 48 expanding h=48 m=24`."""
        if self.protocol == "holdout":
            protocol = "holdout"
        else:
            protocol = f"rolling {self.n_windows}x{self.h} step {self.step or self.h} {self.window}"
            if self.window == "sliding":
                protocol += f" train {self.train_length}"
        return f"{self.dataset}/{self.subset} {protocol} h={self.h} m={self.m}"

    def windows(self) -> Iterator[Window]:
        if self.protocol == "holdout":
            yield from self.windows_of(*load_holdout(self.dataset, self.subset))
        else:
            yield from self.windows_of(load_panel(self.dataset, self.subset, "train"))

    def windows_of(self, train: Panel, test: Panel | None = None) -> Iterator[Window]:
        """The task's windows over given panels (any subset of the series: the engine's chunks).
        `test` (ds continuing train) is needed by the holdout protocol only."""
        if self.protocol == "holdout":
            if test is None:
                raise ValueError("the holdout protocol needs the test panel")
            if self.horizon is not None and self.horizon != train.horizon:
                test = replace(test, df=test.df.groupby("unique_id").head(self.horizon).reset_index(drop=True))
            yield Window(0, _with(train, self), _with(test, self))
            return
        yield from rolling_windows(
            _with(train, self),
            self.h,
            self.n_windows,
            self.step or self.h,
            self.train_length if self.window == "sliding" else None,
        )


def _with(panel: Panel, task: Task) -> Panel:
    return replace(panel, horizon=task.h, season_length=task.m)


@dataclass(frozen=True)
class Window:
    """One evaluation window: `past` goes to the model, `truth` only to the scorer."""

    index: int
    past: Panel
    truth: Panel


def rolling_windows(
    panel: Panel, horizon: int, n_windows: int, step: int, train_length: int | None = None
) -> Iterator[Window]:
    """Origins at len - horizon - k*step for k = n_windows-1 .. 0, per series (ends aligned)."""
    lengths = panel.lengths()
    needed = horizon + (n_windows - 1) * step + 1
    short = lengths[lengths < needed]
    if len(short):
        uid = short.index[0]
        raise DataFormatError(
            f"{panel.name}: series {uid!r} has {short.iloc[0]} points, fewer than the {needed} that "
            f"{n_windows} window(s) of horizon {horizon} and step {step} need ({len(short)} series too short)"
        )
    df = panel.df
    pos = df.groupby("unique_id", sort=False).cumcount().to_numpy()
    n = df["unique_id"].map(lengths).to_numpy()
    for w in range(n_windows):
        cutoff = n - horizon - (n_windows - 1 - w) * step  # rows with pos < cutoff are the past
        past_mask = pos < cutoff
        if train_length is not None:
            past_mask &= pos >= cutoff - train_length
        truth_mask = (pos >= cutoff) & (pos < cutoff + horizon)
        yield Window(
            w,
            replace(panel, df=df.loc[past_mask].reset_index(drop=True), horizon=horizon),
            replace(panel, df=df.loc[truth_mask].reset_index(drop=True), horizon=horizon),
        )


def future_ds(past: Panel, h: int) -> pd.DataFrame:
    """The h timestamps after each series' last one (integer steps, or the panel's frequency)."""
    last = past.last_ds().sort_index()
    ids = np.repeat(last.index.to_numpy(), h)
    steps = np.tile(np.arange(1, h + 1), len(last))
    if pd.api.types.is_datetime64_any_dtype(past.df["ds"]):
        if not past.freq:
            raise DataFormatError(f"{past.name}: timestamps without a frequency; cannot place forecasts")
        offset = pd.tseries.frequencies.to_offset(past.freq)
        ds = np.concatenate([pd.date_range(t, periods=h + 1, freq=offset)[1:].to_numpy() for t in last])
    else:
        ds = np.repeat(last.to_numpy(), h) + steps
    return pd.DataFrame({"unique_id": ids, "ds": ds})
