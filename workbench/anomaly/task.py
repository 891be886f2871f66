"""DetectionTask: a frozen, hashable statement of a detection benchmark, and the data it names.

A task names the dataset subset(s), where the labels come from (NAB windows, or point labels turned
into windows), the probationary fraction, the NAB profiles, the threshold strategy of the point-wise
metrics and the calibration split that strategy may read. `load()` returns `DetectionData`: the
series in row order grouped into *items* (a NAB file; a SKAB experiment with its 8 sensor channels),
a 0/1 label per item row, and the windows the NAB scorer needs.

A user card (`workbench.data.cards.UserCard`) is a labelled source too: its `labels:` section names
the user's own points or windows file (`workbench.anomaly.user_labels`), checked against the stamps
present in the data. Its series may have gaps: the task's gap policy (else the card's, else none)
fills them; with none, a card that allows missing data is detected on the rows it has (as NAB's
irregular files are). A filled row is never a labelled one: labels must name stamps of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from workbench.anomaly.errors import LabelError
from workbench.anomaly.metrics import get_detection_metric
from workbench.anomaly.nab import PROBATIONARY_PERCENT, STANDARD_PROFILES, NabCorpus
from workbench.anomaly.point_labels import align_point_labels, point_windows
from workbench.anomaly.thresholds import ThresholdStrategy
from workbench.keys import TaskIdentity
from workbench.semantics import GapPolicy

__all__ = ["METRICS", "DetectionData", "DetectionTask"]

METRICS = ("point_f1", "point_adjusted_f1", "event_f1", "auc_pr", "auc_roc")


class DetectionTask(TaskIdentity, BaseModel):
    """What a detection run is scored on.

    Parameters
    ----------
    dataset
        The card's name (catalog or user card).
    subsets
        The card's subsets scored together as one corpus.
    labels
        `windows` (labelled anomaly windows, NAB) or `points` (a 0/1 label per row).
    labels_table
        The catalog card's labels table (a user card has one, `labels`).
    label_column
        The column of point labels.
    probationary_percent
        The share of each item's start that is not scored (NAB's probation), 0.15 by default.
    profiles
        NAB's scoring profiles (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    metrics
        The detection metrics scored (`METRICS` by default).
    threshold
        How a detector's threshold is chosen (`ThresholdStrategy`).
    calibration
        `every_other_item`: the threshold is chosen on every other item (sorted); `none`: no split.
    items
        Score only these items (a quick slice); None: all of them.
    gap_policy
        How gaps in the series are filled before detection; None: the card's policy, else none.
    mode
        `batch`: each series scored whole (`Detector.score`); `replay`: the chunk's series fed one stamp
        at a time across all of them, as a production pipeline would (`workbench.anomaly.replay`), with
        the same scores and the replay's latency, throughput and state recorded. Only detectors with a
        streaming form can be replayed; the others are refused before any unit runs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str] = "detection"
    protocol: ClassVar[str] = "detection"  # the shared task vocabulary (`workbench.keys.TaskIdentity`)

    dataset: str
    subsets: tuple[str, ...]
    labels: Literal["windows", "points"] = "windows"
    labels_table: str = "windows"
    label_column: str = "anomaly"
    probationary_percent: float = PROBATIONARY_PERCENT
    profiles: tuple[str, ...] = tuple(STANDARD_PROFILES)
    metrics: tuple[str, ...] = METRICS
    threshold: ThresholdStrategy = ThresholdStrategy()
    # the calibration split of the threshold strategy: every other item, in sorted order
    calibration: Literal["every_other_item", "none"] = "every_other_item"
    items: tuple[str, ...] | None = None  # restrict to these items (a quick slice)
    # how gaps in the series are filled before detection; None: the card's policy, else none (see the module)
    gap_policy: GapPolicy | None = None
    # how the detectors are run: whole series (batch) or stamp by stamp across the chunk (replay)
    mode: Literal["batch", "replay"] = "batch"

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            get_detection_metric(name)
        return value

    @field_validator("profiles")
    @classmethod
    def _profiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in value if p not in STANDARD_PROFILES]
        if unknown:
            raise ValueError(f"unknown NAB profile(s) {unknown}; known: {list(STANDARD_PROFILES)}")
        return value

    def resolved(self) -> dict[str, Any]:
        """As `TaskIdentity.resolved`, without `gap_policy` when it is left to the card and without
        `mode` when it is `batch`: the keys of the tasks stored before those fields existed stay what
        they were."""
        out = super().resolved()
        if out.get("gap_policy") is None:
            out.pop("gap_policy", None)
        if out.get("mode") == "batch":
            out.pop("mode", None)
        return out

    def describe(self) -> str:
        """`nab/all detection (windows, probation 15%)`, with the item slice when there is one and
        `, replay` for a replay task."""
        items = f", {len(self.items)} items" if self.items is not None else ""
        mode = ", replay" if self.mode == "replay" else ""
        return f"{self.name} detection ({self.labels}, probation {self.probationary_percent:.0%}{items}{mode})"

    @property
    def name(self) -> str:
        return f"{self.dataset}/{'+'.join(self.subsets)}"

    def load(self) -> DetectionData:
        return self.from_frame(self.frame())

    def frame(self) -> pd.DataFrame:
        """Every row of the task's subsets (item, unique_id, ds, y, ...), gaps filled by the gap policy;
        a filled row has `observed` False where any was filled."""
        return pd.concat([self.subset_frame(s) for s in self.subsets], ignore_index=True)

    def subset_frame(self, subset: str) -> pd.DataFrame:
        """One subset's rows as `frame` gives them: a catalog card's through the catalog, a user card's
        read with gaps allowed where the gap policy fills them or the card allows missing data.

        Parameters
        ----------
        subset
            One of the task's subsets.
        """
        from workbench.data.cards import UserCard, get_card
        from workbench.semantics import apply_gap_policy, series_types
        from workbench.sources.dispatch import load_panel
        from workbench.sources.user import UserSource

        card = get_card(self.dataset)
        policy = self.gap_policy or getattr(card, "gap_policy", None) or "none"
        if isinstance(card, UserCard):
            card.subset(subset)
            allow_gaps = policy != "none" or card.allow_missing
            panel = UserSource(card).load(allow_gaps=allow_gaps)
        else:
            panel = load_panel(self.dataset, subset)
        if policy != "none":
            observed = panel.df[["unique_id", "ds"]].assign(observed=True)
            panel = apply_gap_policy(panel, policy, series_types(panel, card.subset(subset).metric_type))
            df = panel.df.merge(observed, on=["unique_id", "ds"], how="left", validate="one_to_one")
            df["observed"] = df["observed"].astype("boolean").fillna(False).astype(bool)
        else:
            df = panel.df
        return df.assign(item=df["item"] if "item" in df.columns else df["unique_id"])

    def from_frame(self, frame: pd.DataFrame) -> DetectionData:
        """The task's data from its rows (item, unique_id, ds, and y unless only stamps are needed):
        the item slice checked, the labels read and matched to the rows. A user card's labels are
        checked against the rows the data has (`observed`, where gaps were filled).

        Parameters
        ----------
        frame
            The task's rows (`frame`, or the rows of a chunk of items).

        Raises
        ------
        LabelError
            An item of the slice is not in the data, or a user card's labels do not fit the task or the rows.
        """
        from workbench.data.cards import UserCard, get_card

        card = get_card(self.dataset)
        if isinstance(card, UserCard):
            return self._from_user_labels(card, frame)
        from workbench.data.catalog import load_table

        frame = self._sliced(frame)
        table = load_table(self.dataset, self.labels_table)
        if self.labels == "windows":
            return DetectionData.from_windows(self, frame, table)
        return DetectionData.from_points(self, frame, table)

    def _sliced(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.items is None:
            return frame
        unknown = sorted(set(self.items) - set(frame["item"]))
        if unknown:
            raise LabelError(f"{self.name}: item(s) {unknown[:5]} not in the data")
        return frame[frame["item"].isin(self.items)].reset_index(drop=True)

    def _from_user_labels(self, card: Any, frame: pd.DataFrame) -> DetectionData:
        """A user card's labels (`workbench.anomaly.user_labels`), checked against the observed rows, then
        matched to the task's rows: points as a 0/1 per row, windows as they are. With an item slice, the
        labels of series outside it are left unread (the unsliced task checks every row of the file)."""
        from workbench.anomaly.user_labels import check_labels, labels_fingerprint, read_labels

        if self.labels_table not in ("windows", "labels"):
            raise LabelError(f"{self.name}: a user card has one labels table, `labels`, not {self.labels_table!r}")
        declared = card.labels.kind if card.labels is not None else None
        if declared is not None and declared != self.labels:
            raise LabelError(
                f"{self.name}: the task asks for labels={self.labels!r} but the card {card.path or card.name} "
                f"declares labels of kind {declared!r}; use DetectionTask(labels={declared!r})"
            )
        frame = self._sliced(frame)
        observed = frame[frame["observed"]] if "observed" in frame.columns else frame
        labels = read_labels(card)
        if self.items is not None:  # a slice: the labels of series outside it are not read (checked unsliced)
            labels = labels[labels["unique_id"].isin(set(frame["unique_id"].astype(str)))]
        labels = check_labels(card, labels, observed[["unique_id", "ds"]])
        item_of = dict(zip(frame["unique_id"].astype(str), frame["item"], strict=False))
        if self.labels == "windows":
            windows = labels[labels["unique_id"].isin(item_of)].assign(unique_id=lambda w: w["unique_id"].map(item_of))
            data = DetectionData.from_windows(self, frame, windows[["unique_id", "start", "end"]])
        else:
            rows = frame[["item", "unique_id", "ds"]].astype({"unique_id": str})
            hit = rows.merge(labels[["unique_id", "ds"]].assign(_hit=1), on=["unique_id", "ds"], how="left")["_hit"]
            table = rows[["item", "ds"]].assign(**{self.label_column: hit.fillna(0).astype(np.int8).to_numpy()})
            table = table.groupby(["item", "ds"], sort=False, as_index=False)[self.label_column].max()
            data = DetectionData.from_points(self, frame, table)
        return replace(data, labels_fingerprint=labels_fingerprint(labels))


@dataclass
class DetectionData:
    """Items in row order: `frame` (item, unique_id, ds, y), `rows` (item, ds, label), `windows`.

    Parameters
    ----------
    task
        The task the data are of.
    frame
        The series' rows (item, unique_id, ds, y); empty in a scoring view.
    rows
        One row per item and stamp (item, ds, label).
    windows
        The anomaly windows (unique_id = item, start, end).
    corpus
        The NAB corpus the detections are scored against.
    chunk_files
        Item -> the chunk file holding its values (a scoring view's); empty: the values are in `frame`.
    labels_fingerprint
        The content hash of a user card's labels, keying its scoreboards; None for a catalog card.
    """

    task: DetectionTask
    frame: pd.DataFrame
    rows: pd.DataFrame
    windows: pd.DataFrame
    corpus: NabCorpus
    # a scoring view's values stay in the chunk files the worker wrote: item -> file, read per item
    chunk_files: dict[str, str] = field(default_factory=dict)
    # a user card's labels are the user's file, not pinned: their content hash keys the scoreboards
    labels_fingerprint: str | None = None

    @property
    def items(self) -> list[str]:
        return self.corpus.files

    @classmethod
    def from_windows(cls, task: DetectionTask, frame: pd.DataFrame, windows: pd.DataFrame) -> DetectionData:
        """NAB: one channel per item; a row is labelled when it lies inside a window.

        Parameters
        ----------
        task
            The task.
        frame
            The rows (item, unique_id, ds, y).
        windows
            The labelled windows (unique_id = item, start, end); those of items outside a slice are dropped.
        """
        items = list(dict.fromkeys(frame["item"]))
        rows = frame[["item", "ds"]].rename(columns={"item": "unique_id"})
        if task.items is not None:
            windows = windows[windows["unique_id"].isin(items)]
        corpus = NabCorpus.build(rows, windows, task.probationary_percent, files=items)
        rows = rows.rename(columns={"unique_id": "item"}).reset_index(drop=True)
        rows["label"] = (corpus.window >= 0).astype(np.int8)
        return cls(task, frame, rows, windows.reset_index(drop=True), corpus)

    @classmethod
    def from_points(cls, task: DetectionTask, frame: pd.DataFrame, labels: pd.DataFrame) -> DetectionData:
        """Point labels (SKAB, Cloud Monitoring): several channels per item may share timestamps;
        windows = runs of labelled rows (`point_windows`).

        Labels are matched to rows by `align_point_labels`: by row order where an item's label
        stamps are its rows' stamps (files that repeat stamps label each row), else by timestamp.

        Parameters
        ----------
        task
            The task (its `label_column` names the labels' column).
        frame
            The rows (item, unique_id, ds, y).
        labels
            Point labels per (item, ds).
        """
        first = frame.groupby("item", sort=False)["unique_id"].transform("first")
        rows = frame.loc[frame["unique_id"] == first, ["item", "ds"]].reset_index(drop=True)
        merged = align_point_labels(task.name, rows, labels, task.label_column)
        windows = point_windows(merged)
        corpus = NabCorpus.build(
            merged[["item", "ds"]].rename(columns={"item": "unique_id"}),
            windows,
            task.probationary_percent,
            files=list(dict.fromkeys(merged["item"])),
        )
        return cls(task, frame, merged, windows, corpus)

    def calibration_mask(self) -> np.ndarray:
        """Rows of the calibration split (every other item in sorted order), per row of `rows`."""
        if self.task.calibration == "none":
            return np.zeros(len(self.rows), bool)
        chosen = set(sorted(self.items)[::2])
        return self.rows["item"].isin(chosen).to_numpy()

    def scoring_view(self, chunk_files: dict[str, str]) -> DetectionData:
        """This data without the series' values: what scoring the corpus needs (each row's item,
        stamp and label, the windows, the NAB corpus), sent back by the worker that cut the chunks,
        so that the process scoring a run never holds the values themselves; `channels(item)`
        reads one item's values from its chunk file when a figure asks for them.

        Parameters
        ----------
        chunk_files
            Item -> the chunk file holding its values.
        """
        return replace(self, frame=self.frame.iloc[:0].copy(), chunk_files=dict(chunk_files))

    def channels(self, item: str) -> dict[str, np.ndarray]:
        """The values of each channel of one item, in row order.

        Parameters
        ----------
        item
            The item's name.
        """
        if item in self.chunk_files:
            sub = pd.read_parquet(self.chunk_files[item], filters=[("item", "==", item)])
        else:
            sub = self.frame[self.frame["item"] == item]
        return {uid: g["y"].to_numpy(float) for uid, g in sub.groupby("unique_id", sort=False)}
