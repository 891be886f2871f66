"""Task: a frozen, validated, hashable statement of what is evaluated, and its windows.

A task names a source (a catalog card's subset, a user card, or data handed over in memory), a
protocol and the metrics. `windows()` cuts the data into (past, truth) pairs; a model is only ever
handed `past`, and metric scales are computed on it, so nothing after a cutoff can leak into a
forecast or its score.

Sources a task can name:

    Task(dataset="m4", subset="Hourly")          a catalog card's subset
    Task(dataset="mydata", protocol="rolling")   a user card (`source:` section; its one subset `all`)
    Task.for_panel(panel, horizon=24)            an in-memory Panel (or a pandas frame: Task.for_data)
    Task.for_frame(ddf, horizon=24, freq="h")    a Dask DataFrame, never gathered
    Task.for_chunks(refs, horizon=48)            chunk files written elsewhere

The last three carry the data's content fingerprint (`data_fingerprint`) in the task, so its key
tells two data sets apart; a card's data fingerprint goes into each unit's key through its chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from workbench.data import Panel, get_card
from workbench.errors import DataFormatError, UnknownNameError
from workbench.keys import TaskIdentity
from workbench.metrics import get_metric
from workbench.semantics import GapPolicy, MetricType, apply_gap_policy, check_counts, series_types
from workbench.sources.dispatch import task_panels
from workbench.sources.memory import ChunkSource, PanelSource, info, materialize_frame, register

__all__ = [
    "COUNT_METRICS",
    "DEFAULT_METRICS",
    "Task",
    "Window",
    "default_metrics",
    "future_ds",
    "rolling_windows",
    "source_metric_types",
]

# a task's metrics where none are given: sMAPE and MASE (the M4 pair); where the series may be counts,
# MASE and RMSSE instead: counts sit at zero often, where sMAPE is 0/0 or its maximum of 200 whatever
# the forecast, while MASE and RMSSE are scaled by the series' own in-sample errors and defined there
DEFAULT_METRICS: tuple[str, ...] = ("smape", "mase")
COUNT_METRICS: tuple[str, ...] = ("mase", "rmsse")


def source_metric_types(
    dataset: str, subset: str = "all", data_fingerprint: str | None = None, metric_type: str | None = None
) -> set[str] | None:
    """The metric types a task's series may have, as far as known without reading them: the task's own
    `metric_type`; for data handed over in memory, their `metric_type` column; for a card, its
    subset's declared types, and for a user card whose files carry a `metric_type` column, `count`
    among the possibilities (the column is read only with the data). None: nothing is declared.

    Parameters
    ----------
    dataset, subset, data_fingerprint, metric_type:
        The task's fields of the same names."""
    if metric_type:
        return {metric_type}
    if data_fingerprint:
        source = info(data_fingerprint)
        return source.metric_types() if source is not None and hasattr(source, "metric_types") else None
    try:
        card = get_card(dataset)
        declared = card.subset(subset).metric_type
    except (UnknownNameError, AttributeError, KeyError, ValueError):
        return None  # an unknown card or subset: the task's own validation says so
    if declared:
        return {declared} if isinstance(declared, str) else set(declared.values())
    source_spec = getattr(card, "source", None)
    if source_spec is not None and "metric_type" in getattr(source_spec, "metadata_cols", []):
        return {"count", "gauge", "rate"}
    return None


def default_metrics(types: set[str] | None) -> tuple[str, ...]:
    """`COUNT_METRICS` where the series may be counts, else `DEFAULT_METRICS`.

    Parameters
    ----------
    types:
        The metric types the series may have (`source_metric_types`); None: unknown."""
    return COUNT_METRICS if types and "count" in types else DEFAULT_METRICS


class Task(TaskIdentity, BaseModel):
    """What is evaluated. Protocols: `holdout` (the competition's own train/test) and `rolling`
    (origins stepping back from the end of the train split, expanding or sliding windows).

    Parameters
    ----------
    dataset
        A catalog card's name, a user card's, or the name given to data handed over in memory.
    subset
        The card's subset; `"all"` (the default) for a user card or data in memory.
    data_fingerprint
        The content fingerprint of data handed over in memory (set by `for_panel`, `for_frame`,
        `for_chunks`); None for a card.
    protocol
        `holdout` (the card's own train/test, one window) or `rolling` (origins in the train split).
    horizon
        Steps forecast per window; None: the card subset's default (data in memory must state it).
    season_length
        The seasonal period of the naive scales; None: the card subset's default.
    n_windows
        Rolling origins (at least 1); the holdout protocol has exactly one.
    step
        Steps between rolling origins; None: the horizon.
    window
        `expanding` (the past grows with each origin) or `sliding` (the last `train_length` steps only).
    train_length
        The length of a sliding window's past; required by `window="sliding"`.
    metrics
        Metric names (`workbench.metrics.METRICS`); not given or None: `default_metrics` of the source's types.
    quantile_levels
        The levels `crps`, `wql` and `scaled_ql` score, distinct and strictly between 0 and 1;
        None: every level the model gives.
    gap_policy
        What a missing timestamp means (`none`, `nan`, `ffill`, `zero`, `by_metric_type`); a user card's
        own policy where not given.
    metric_type
        The type (`gauge`, `count`, `rate`) of series without a `metric_type` column; None: as declared.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = "forecast"
    # what is scored, not what is forecast: outside the key (`workbench.keys`), so a run that asks
    # for one more metric scores the stored forecasts (score units) instead of refitting
    scoring_fields: ClassVar[tuple[str, ...]] = ("metrics", "quantile_levels")

    dataset: str
    subset: str = "all"
    # content fingerprint of data handed over in memory (Task.for_panel / for_frame / for_chunks)
    data_fingerprint: str | None = None
    protocol: Literal["holdout", "rolling"] = "holdout"
    horizon: int | None = None
    season_length: int | None = None
    n_windows: int = 1
    step: int | None = None
    window: Literal["expanding", "sliding"] = "expanding"
    train_length: int | None = None
    # None (the default): `default_metrics` of the source's metric types, resolved at validation
    metrics: tuple[str, ...] = DEFAULT_METRICS
    # the levels crps / wql / scaled_ql score (fev's `quantile_levels`); None: every level the model
    # gives. Fixing them keeps crps comparable when a model also returns 0.025/0.975 for msis.
    quantile_levels: tuple[float, ...] | None = None
    # what a missing timestamp means, and the type of series without a `metric_type` column
    # (`workbench.semantics`: none | nan | ffill | zero | by_metric_type; gauge | count | rate)
    gap_policy: GapPolicy = "none"
    metric_type: MetricType | None = None
    # the source's defaults, resolved once at validation (pickled with the task, so a worker never
    # looks a card up): horizon, season_length, data_version
    _defaults: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("quantile_levels")
    @classmethod
    def _levels(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if not value or any(not 0 < q < 1 for q in value) or len(set(value)) != len(value):
            raise ValueError(f"quantile_levels must be distinct levels strictly between 0 and 1, got {list(value)}")
        return tuple(sorted(value))

    @model_validator(mode="before")
    @classmethod
    def _default_metrics(cls, data: Any) -> Any:
        """Metrics not given (or None) are the defaults that fit the source's series (`default_metrics`)."""
        if isinstance(data, dict) and data.get("metrics") is None:
            where = (data.get("dataset", ""), data.get("subset", "all"), data.get("data_fingerprint"))
            types = source_metric_types(*where, data.get("metric_type"))
            data = {**data, "metrics": default_metrics(types)}
        return data

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            get_metric(name)
        return value

    @model_validator(mode="after")
    def _check(self) -> Task:
        for name, v in (("horizon", self.horizon), ("n_windows", self.n_windows), ("step", self.step)):
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if self.data_fingerprint:
            has_test = self._memory_has_test()
            for name in ("horizon", "season_length"):
                if getattr(self, name) is None:
                    raise ValueError(f"a task over data handed over in memory states its {name}")
            defaults = {"horizon": self.horizon, "season_length": self.season_length, "data_version": None}
        else:
            card = get_card(self.dataset)
            sub = card.subset(self.subset)
            has_test = "test" in sub.splits
            if self.horizon is None and sub.horizon is None:
                raise ValueError(f"{self.dataset}/{self.subset} declares no default horizon: give one")
            defaults = {
                "horizon": sub.horizon,
                "season_length": sub.season_length,
                "data_version": sub.data_version or card.data_version,
            }
            # a user card's series may miss stamps: its gap policy is the default of tasks over it
            card_policy = getattr(card, "gap_policy", None)
            if card_policy is not None and "gap_policy" not in self.model_fields_set:
                object.__setattr__(self, "gap_policy", card_policy)
            defaults["gap_policy"] = card_policy
        if self.protocol == "holdout" and has_test is False:
            raise ValueError(f"{self.dataset}/{self.subset} has no test split: use protocol='rolling'")
        if self.protocol == "holdout" and self.n_windows != 1:
            raise ValueError("the holdout protocol has exactly one window")
        if self.window == "sliding" and not self.train_length:
            raise ValueError("sliding windows need train_length")
        self._defaults = defaults
        return self

    def _memory_has_test(self) -> bool | None:
        source = info(self.data_fingerprint or "")
        return None if source is None else bool(source.has_test)

    def _default(self, name: str) -> Any:
        if self._defaults is None:  # built without validation (model_construct, model_copy of one)
            sub = get_card(self.dataset).subsets[self.subset]
            card = get_card(self.dataset)
            self._defaults = {
                "horizon": sub.horizon,
                "season_length": sub.season_length,
                "data_version": sub.data_version or card.data_version,
            }
        return self._defaults[name]

    @property
    def subsets(self) -> tuple[str, ...]:
        """The shared task vocabulary (`workbench.keys.TaskIdentity`): one subset per task here."""
        return (self.subset,)

    @property
    def h(self) -> int:
        return self.horizon or self._default("horizon")

    @property
    def m(self) -> int:
        return self.season_length or self._default("season_length")

    @classmethod
    def from_resolved(cls, fields: dict) -> Task:
        """The task back from its resolved fields (as unit records store them).

        Parameters
        ----------
        fields
            A task's resolved fields (`Task.resolved`); keys that are not task fields are dropped.
        """
        return cls(**{k: v for k, v in fields.items() if k in cls.model_fields})

    def resolved(self) -> dict:
        """The fields as used: the card's default horizon and season length filled in, the rolling
        step resolved, and the data version the card declares (so the key says what was evaluated).
        `data_fingerprint` appears only where it is set (tasks over cards keep the keys they had)."""
        out = self.model_dump(mode="json")
        if out.get("data_fingerprint") is None:
            out.pop("data_fingerprint", None)
        # declared only where set, so tasks without them keep the keys they had
        if out.get("gap_policy") == "none" and (self._defaults or {}).get("gap_policy") in (None, "none"):
            out.pop("gap_policy", None)  # kept where the card's default is another policy
        if out.get("metric_type") is None:
            out.pop("metric_type", None)
        out["horizon"] = self.h
        out["season_length"] = self.m
        if self.protocol == "rolling":
            out["step"] = self.step or self.h
        out["data_version"] = self.data_version
        return out

    @property
    def data_version(self) -> str | None:
        """Which copy of the data the card reads (e.g. Tcomp's R data), where the card says."""
        if self.data_fingerprint:
            return None
        try:
            return self._default("data_version")
        except UnknownNameError:  # a panel made in memory (synthetic data) has no card to say
            return None

    def describe(self) -> str:
        """`m4/Hourly holdout h=48 m=24`, `m4/Hourly rolling 3x48 step 48 expanding h=48 m=24`; data
        handed over in memory add the start of their fingerprint (`mydata/all@1a2b3c4d ...`)."""
        if self.protocol == "holdout":
            protocol = "holdout"
        else:
            protocol = f"rolling {self.n_windows}x{self.h} step {self.step or self.h} {self.window}"
            if self.window == "sliding":
                protocol += f" train {self.train_length}"
        data = f"@{self.data_fingerprint[:8]}" if self.data_fingerprint else ""
        gaps = f" gaps={self.gap_policy}" if self.gap_policy != "none" else ""
        return f"{self.dataset}/{self.subset}{data} {protocol} h={self.h} m={self.m}{gaps}"

    # ---- tasks over data handed over directly -----------------------------------------------
    @classmethod
    def for_panel(
        cls,
        panel: Panel,
        *,
        test: Panel | None = None,
        horizon: int | None = None,
        season_length: int | None = None,
        name: str | None = None,
        protocol: Literal["holdout", "rolling"] | None = None,
        **fields: Any,
    ) -> Task:
        """A task over an in-memory Panel (rolling origins; `test=` a test Panel for a holdout).
        The horizon and season length default to the panel's.

        Parameters
        ----------
        panel
            The series; for the rolling protocol, the data the origins step back in.
        test
            The test Panel (timestamps continuing `panel`'s) for a holdout; None: no test split.
        horizon
            Steps forecast; None: the panel's horizon (a `ValueError` where it has none).
        season_length
            None: the panel's season length, else 1.
        name
            The task's `dataset`; None: the panel's name, else `"panel"`.
        protocol
            None: `holdout` where `test` is given, else `rolling`.
        **fields
            Other `Task` fields (`n_windows`, `metrics`, ...).
        """
        fingerprint = register(PanelSource(panel, test))
        h = horizon or panel.horizon
        if h is None:
            raise ValueError(f"{panel.name or 'panel'}: the panel declares no horizon: give one (horizon=...)")
        return cls(
            dataset=name or panel.name or "panel",
            data_fingerprint=fingerprint,
            horizon=h,
            season_length=season_length or panel.season_length or 1,
            protocol=protocol or ("holdout" if test is not None else "rolling"),
            **fields,
        )

    @classmethod
    def for_frame(
        cls,
        ddf: Any,
        *,
        horizon: int,
        season_length: int = 1,
        freq: str | None = None,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        metadata_cols: tuple[str, ...] | list[str] = (),
        allow_missing: bool = False,
        name: str = "frame",
        **fields: Any,
    ) -> Task:
        """A task over a Dask DataFrame in long layout, never gathered: unless it is indexed by series
        with known divisions it is shuffled by series, and each partition is validated, hashed and
        written to the chunk cache on its worker (with the active Dask scheduler).

        Parameters
        ----------
        ddf
            A Dask DataFrame in long layout (one row per series and timestamp).
        horizon
            Steps forecast per window.
        season_length
            The seasonal period of the naive scales; 1 by default.
        freq
            The timestamps' pandas frequency; None for integer steps.
        id_col, time_col, target_col
            The columns holding the series id, the timestamp and the value.
        metadata_cols
            Extra per-series columns written with the data (e.g. `metric_type`).
        allow_missing
            Keep missing values (NaN) of the target instead of refusing them.
        name
            The task's `dataset`.
        **fields
            Other `Task` fields; `protocol` defaults to `rolling`.
        """
        source = materialize_frame(
            ddf,
            id_col=id_col,
            time_col=time_col,
            target_col=target_col,
            freq=freq,
            season_length=season_length,
            horizon=horizon,
            name=name,
            metadata_cols=tuple(metadata_cols),
            allow_missing=allow_missing,
        )
        fields.setdefault("protocol", "rolling")
        return cls(
            dataset=name, data_fingerprint=source.fingerprint(), horizon=horizon, season_length=season_length, **fields
        )

    @classmethod
    def for_chunks(
        cls, chunks: list, *, horizon: int, season_length: int = 1, name: str = "chunks", **fields: Any
    ) -> Task:
        """A task over chunk files written elsewhere (e.g. generated on the workers): the refs are the
        data, their data hashes and series ranges its fingerprint. Holdout when every chunk has a test.

        Parameters
        ----------
        chunks
            The chunk references (`workbench.data.chunks.ChunkRef`) of the data.
        horizon
            Steps forecast per window.
        season_length
            The seasonal period of the naive scales; 1 by default.
        name
            The task's `dataset`.
        **fields
            Other `Task` fields; `protocol` defaults to `holdout` when every chunk has a test, else `rolling`.
        """
        source = ChunkSource(chunks)
        fingerprint = register(source)
        fields.setdefault("protocol", "holdout" if source.has_test else "rolling")
        return cls(dataset=name, data_fingerprint=fingerprint, horizon=horizon, season_length=season_length, **fields)

    @classmethod
    def for_data(cls, data: Any, **fields: Any) -> Task:
        """A task over a Panel, a pandas frame (long layout: `id_col`, `time_col`, `target_col`, `freq`),
        a Dask frame or chunk refs, with the task's fields (horizon, season_length, protocol, ...).

        Parameters
        ----------
        data
            A `Panel`, a pandas frame in long layout, a Dask frame, or a list of chunk references.
        **fields
            The task's fields, and for a pandas frame `id_col`, `time_col`, `target_col`, `freq`,
            `allow_missing` and `name`.

        Raises
        ------
        TypeError
            `data` is none of these.
        """
        if isinstance(data, Panel):
            return cls.for_panel(data, **fields)
        if isinstance(data, pd.DataFrame):
            layout = {k: fields.pop(k) for k in ("id_col", "time_col", "target_col") if k in fields}
            meta = {k: fields.pop(k) for k in ("freq", "allow_missing") if k in fields}
            name = fields.pop("name", None) or "frame"
            fields.pop("metadata_cols", None)  # extra columns stay in a Panel as they are
            panel = Panel.from_long(
                data,
                **layout,
                **meta,
                source=name,
                name=name,
                season_length=fields.get("season_length") or 1,
                horizon=fields.get("horizon"),
            )
            return cls.for_panel(panel, name=name, **fields)
        if isinstance(data, list | tuple):
            return cls.for_chunks(list(data), **fields)
        if hasattr(data, "to_delayed") and hasattr(data, "npartitions"):
            return cls.for_frame(data, **fields)
        raise TypeError(f"cannot evaluate a {type(data).__name__}: give a Task, a Panel, a pandas or Dask frame")

    def windows(self) -> Iterator[Window]:
        train, test = task_panels(self)
        yield from self.windows_of(train, test if self.protocol == "holdout" else None)

    def declared_metric_types(self) -> str | dict[str, str] | None:
        """The metric types the subset's card declares (none for data handed over in memory)."""
        if self.data_fingerprint:
            return None
        try:
            return get_card(self.dataset).subset(self.subset).metric_type
        except (UnknownNameError, AttributeError):
            return None

    def prepared(self, panel: Panel) -> Panel:
        """The panel as the task's models see it: counts checked, gaps filled by the gap policy.

        Parameters
        ----------
        panel
            Series of the task's source (all of them or a chunk).
        """
        declared = self.metric_type or self.declared_metric_types()
        if declared is None and self.gap_policy == "none" and "metric_type" not in panel.df.columns:
            return panel
        types = series_types(panel, declared)
        check_counts(panel, types)
        return apply_gap_policy(panel, self.gap_policy, types)

    def windows_of(self, train: Panel, test: Panel | None = None) -> Iterator[Window]:
        """The task's windows over given panels (any subset of the series: the engine's chunks).
        `test` (ds continuing train) is needed by the holdout protocol only. Count series are
        checked, and the gap policy applied, first (`workbench.semantics`).

        Parameters
        ----------
        train
            The train panel (or a chunk of it).
        test
            The test panel of the same series; required by the holdout protocol, ignored by `rolling`.
        """
        train, test = self.prepared(train), (self.prepared(test) if test is not None else None)
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
    """One evaluation window: `past` goes to the model, `truth` only to the scorer.

    Parameters
    ----------
    index
        The window's position, 0 for the earliest origin.
    past
        The history the model is given.
    truth
        The `horizon` observations after the origin, for scoring.
    """

    index: int
    past: Panel
    truth: Panel


def rolling_windows(
    panel: Panel, horizon: int, n_windows: int, step: int, train_length: int | None = None
) -> Iterator[Window]:
    """Origins at len - horizon - k*step for k = n_windows-1 .. 0, per series (ends aligned).

    Parameters
    ----------
    panel
        The series to cut.
    horizon
        Steps in each window's truth.
    n_windows
        Number of origins.
    step
        Steps between consecutive origins.
    train_length
        Keep only this many steps of past before each origin (sliding windows); None: all of it.

    Raises
    ------
    DataFormatError
        A series is shorter than `horizon + (n_windows - 1) * step + 1`.
    """
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
    """The h timestamps after each series' last one (integer steps, or the panel's frequency).

    Parameters
    ----------
    past
        The history; its last timestamp per series is the origin.
    h
        Steps to place after it.

    Raises
    ------
    DataFormatError
        The timestamps are dates and the panel has no frequency.
    """
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
