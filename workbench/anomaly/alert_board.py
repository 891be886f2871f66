"""Alert tables and operating curves of detectors, read from the scores the engine stored.

`workbench.anomaly.alerts` counts what an on-call team would (events detected, time to detect, false
alarms per series-day, event precision) for one detector's scores; this module does it for every
detector configuration of a detection run, from the per-row scores the engine committed to the
results store (`detection_scores`), without recomputing any score:

- `alert_board(run, budget)` takes what `workbench.anomaly.engine.detect_on_engine` returned (its
  detections are the stored scores, read back and aligned to the corpus rows);
- `alert_board_from_store(store, task, detectors, budget)` reads the stored units of each detector on
  the task itself, and refuses, naming the detector, the missing items and the call to run, where
  the store does not hold them;
- `operating_curve_figure(board)` draws the curves: share of events detected against false alarms
  per series-day (log scale), the budget as a vertical line and each detector's chosen threshold.

The table has one row per detector configuration: `detector` (its label among the run's
detectors), `config` (every parameter spelt out), then `workbench.anomaly.alerts.ROW_COLUMNS`: the
budget, the split the threshold was chosen on, the hysteresis, the threshold and where it came from,
`tuned_on_test`, `budget_met`, the calibration rows' false-alarm rate, and on the scored rows:
events, detected, share, time to detect (median and p90, in steps, in seconds and as text), alerting
rows, episodes, false alarms, series-days, false alarms per series-day and event precision. The
definitions are in `workbench.anomaly.alerts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.anomaly.alerts import (
    CURVE_COLUMNS,
    ROW_COLUMNS,
    AlertBudget,
    AlertRows,
    alert_curves,
    alert_row,
)
from workbench.anomaly.run import Detection, as_detector, config_label, detection_labels, distinct_labels
from workbench.anomaly.task import DetectionData, DetectionTask
from workbench.errors import WorkbenchError
from workbench.models.spec import ModelSpec
from workbench.store.results_store import ResultsStore

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.anomaly.engine import EngineDetections

__all__ = [
    "ALERT_TABLE_COLUMNS",
    "CURVES_COLUMNS",
    "AlertBoard",
    "StoredScoresError",
    "alert_board",
    "alert_board_from_store",
    "alert_board_of",
    "alert_rows",
    "operating_curve_figure",
    "stored_detections",
]

ALERT_TABLE_COLUMNS = ["detector", "config", *ROW_COLUMNS]
CURVES_COLUMNS = ["detector", "split", "hold", *CURVE_COLUMNS]


class StoredScoresError(WorkbenchError):
    """The results store does not hold the detection scores an alert table needs."""


@dataclass
class AlertBoard:
    """The alert table and operating curves of a run's detectors.

    Parameters
    ----------
    table
        One row per detector configuration (`ALERT_TABLE_COLUMNS`).
    curves
        The operating curves, long (`CURVES_COLUMNS`): one row per detector, part and candidate threshold.
    budget
        The alert budget the thresholds were chosen for.
    split, hold, fraction
        The calibration split, the hysteresis (rows) and the time split's calibration share.
    failures
        Detector label -> the error of a detector that has no scores (it failed on the engine).
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    budget: AlertBudget
    split: str
    hold: int
    fraction: float
    failures: dict[str, str] = field(default_factory=dict)

    def figure(self, part: str = "scored") -> go.Figure:
        """`operating_curve_figure` of this board.

        Parameters
        ----------
        part
            `scored` (the rows the thresholds are judged on) or `calibration` (where they were chosen).
        """
        return operating_curve_figure(self, part)


def alert_rows(data: DetectionData) -> AlertRows:
    """The rows of a detection task's corpus as `workbench.anomaly.alerts` counts them: each file an item,
    its windows, its probation, and the task's calibration items (`DetectionData.calibration_mask`).

    Parameters
    ----------
    data
        The task's data (a scoring view suffices: no values are read).
    """
    return AlertRows.from_corpus(data.corpus, data.calibration_mask())


def _check_split(data: DetectionData, split: str) -> None:
    if split == "items" and data.task.calibration == "none":
        raise WorkbenchError(
            f"{data.task.describe()}: split='items' needs the task's calibration items, but the task says "
            "calibration='none'; use split='time', or a task with calibration='every_other_item'"
        )


def alert_board_of(
    data: DetectionData,
    detections: Sequence[Detection],
    budget: AlertBudget,
    *,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
    allow_test_labels: bool = False,
    failures: dict[str, str] | None = None,
) -> AlertBoard:
    """The alert table and curves of detections aligned to `data`'s corpus rows.

    Parameters
    ----------
    data
        The task's data (a scoring view suffices).
    detections
        One per detector configuration, scores in corpus row order (as the engine's, read from the store).
    budget
        The false alarms per series-day a team accepts; each threshold is chosen to meet it.
    split
        Where thresholds are chosen: `items` (every other item), `time` (each item's earlier rows) or
        `none` (on the scored rows: needs `allow_test_labels`, and the rows say tuned_on_test).
    hold
        Hysteresis in rows: an episode stays open through up to `hold` non-alerting rows.
    fraction
        The time split's calibration share of each item's evaluated rows.
    n_candidates
        At most this many candidate thresholds per detector and part.
    allow_test_labels
        Consent to `split="none"`.
    failures
        Detector label -> error, of detectors without scores (kept on the board, never dropped silently).
    """
    if not detections:
        raise WorkbenchError(f"{data.task.describe()}: no detections to build an alert table of")
    _check_split(data, split)
    rows = alert_rows(data)
    table, curves = [], []
    for det, label in zip(detections, detection_labels(list(detections)), strict=True):
        options: dict[str, Any] = {"split": split, "hold": hold, "fraction": fraction, "n_candidates": n_candidates}
        row = alert_row(rows, det.scores, budget, allow_test_labels=allow_test_labels, **options)
        table.append({"detector": label, "config": config_label(*det.config), **row})
        curves.append(alert_curves(rows, det.scores, **options).assign(detector=label, split=split, hold=hold))
    return AlertBoard(
        table=pd.DataFrame(table, columns=ALERT_TABLE_COLUMNS),
        curves=pd.concat(curves, ignore_index=True)[CURVES_COLUMNS],
        budget=budget,
        split=split,
        hold=hold,
        fraction=fraction,
        failures=dict(failures or {}),
    )


def alert_board(
    run: EngineDetections,
    budget: AlertBudget,
    *,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
    allow_test_labels: bool = False,
) -> AlertBoard:
    """The alert table and curves of a `detect_on_engine` run: its detections are the scores it read back
    from the store; a detector that failed has no row and is listed in `failures`.

    Parameters
    ----------
    run
        What `workbench.anomaly.engine.detect_on_engine` returned.
    budget, split, hold, fraction, n_candidates, allow_test_labels
        As `alert_board_of` takes them.
    """
    return alert_board_of(run.data, run.detections, budget, split=split, hold=hold, fraction=fraction,
                          n_candidates=n_candidates, allow_test_labels=allow_test_labels,
                          failures=run.failures)  # fmt: skip


def _call(task: DetectionTask, specs: Sequence[ModelSpec], store: ResultsStore, seed: int) -> str:
    given = [s.name if not s.params else {"name": s.name, "params": s.params} for s in specs]
    return f"workbench.anomaly.engine.detect_on_engine(task, {given!r}, store={str(store.root)!r}, seed={seed})"


def _latest_per_item(scores: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    """Where two current units hold the same item (the task run with two chunk sizes), the rows of the
    one committed last; their scores are the same detector's on the same rows."""
    committed = {r["key"]: str(r.get("committed_at", "")) for r in records}
    last = scores.assign(_at=scores["unit"].map(committed)).groupby("unique_id")["_at"].transform("max")
    return scores[scores["unit"].map(committed) == last]


def stored_detections(
    store: ResultsStore | str | Path | None,
    task: DetectionTask,
    detectors: Sequence[str | dict | ModelSpec],
    *,
    seed: int = 0,
    data: DetectionData | None = None,
) -> tuple[DetectionData, list[Detection]]:
    """The detectors' scores on `task` as the store holds them (the `detection_scores` of their current
    units), aligned to the task's corpus rows; nothing is recomputed.

    Parameters
    ----------
    store
        The results store (or its root; None: the default store).
    task
        The detection task the scores were stored for (its key: an item slice is another task).
    detectors
        Detector names, `{name, params}` dicts or `ModelSpec`s, as they were given to the engine.
    seed
        The run's seed.
    data
        The task's data; None: `task.load()`.

    Raises
    ------
    StoredScoresError
        A detector has no stored scores of some item of the task (never run, or failed), naming the
        detector, the items and the call that stores them.
    """
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    specs = [ModelSpec.of(d) for d in detectors]
    key = task.key()
    mine = [r for r in store.current() if r.get("kind") == "detection" and r.get("task_key") == key]
    units = {s.label: [r for r in mine if r.get("model") == s.labelled(seed)] for s in specs}
    ok = {
        label: [r for r in recs if r.get("status") == "ok" and "detection_scores" in (r.get("tables") or {})]
        for label, recs in units.items()
    }
    for spec in specs:
        if not ok[spec.label]:
            raise StoredScoresError(_missing(store, task, spec, seed, units[spec.label], mine, None))
    data = data if data is not None else task.load()
    detections = []
    labels = distinct_labels([(s.name, s.params, seed) for s in specs])
    for spec, label in zip(specs, labels, strict=True):
        records = ok[spec.label]
        scores = _latest_per_item(store.read_table("detection_scores", [r["key"] for r in records]), records)
        per_item = {item: g.sort_values("row")["anomaly_score"].to_numpy() for item, g in scores.groupby("unique_id")}
        absent = [item for item in data.items if item not in per_item]
        if absent:
            raise StoredScoresError(_missing(store, task, spec, seed, units[spec.label], mine, absent))
        fitted_on = as_detector(spec.model_dump()).fitted_on
        seconds = float(sum(r.get("duration_s", 0.0) or 0.0 for r in records))
        scored = data.corpus.align(per_item, spec.label)
        detections.append(Detection(label, fitted_on, scored, seconds, spec.name, dict(spec.params), seed))
    return data, detections


def _missing(
    store: ResultsStore,
    task: DetectionTask,
    spec: ModelSpec,
    seed: int,
    units: list[dict],
    mine: list[dict],
    absent: list[str] | None,
) -> str:
    """Why a detector's scores cannot be read: no unit of it (`absent` None) or none of these items."""
    what = "no detection scores" if absent is None else f"no detection scores of item(s) {absent[:5]}"
    failed = [r for r in units if r.get("status") != "ok"]
    why = f"; {len(failed)} unit(s) of it failed, first: {failed[0].get('error', '')!s:.300}" if failed else ""
    held = sorted({str(r.get("model")) for r in mine if "detection_scores" in (r.get("tables") or {})})
    return (
        f"{task.describe()} [task {task.key()}]: the results store {store.root} holds {what} of detector "
        f"{spec.labelled(seed)!r}{why} (it holds scores of {held or 'no detector'} on this task). "
        f"Store them first, with this task: {_call(task, [spec], store, seed)}; the alert table is read from the "
        "stored scores, never recomputed"
    )


def alert_board_from_store(
    store: ResultsStore | str | Path | None,
    task: DetectionTask,
    detectors: Sequence[str | dict | ModelSpec],
    budget: AlertBudget,
    *,
    seed: int = 0,
    data: DetectionData | None = None,
    split: str = "items",
    hold: int = 0,
    fraction: float = 0.5,
    n_candidates: int = 200,
    allow_test_labels: bool = False,
) -> AlertBoard:
    """The alert table and curves of detectors whose scores on `task` the store holds (`stored_detections`).

    Parameters
    ----------
    store, task, detectors, seed, data
        As `stored_detections` takes them.
    budget, split, hold, fraction, n_candidates, allow_test_labels
        As `alert_board_of` takes them.

    Raises
    ------
    StoredScoresError
        A detector's scores are not stored (see `stored_detections`).
    """
    data, detections = stored_detections(store, task, detectors, seed=seed, data=data)
    return alert_board_of(data, detections, budget, split=split, hold=hold, fraction=fraction,
                          n_candidates=n_candidates, allow_test_labels=allow_test_labels)  # fmt: skip


# ---- the figure ---------------------------------------------------------------------------------------
def _floor(values: np.ndarray, budget: float) -> float:
    """Where a rate of 0 is drawn on the log axis: a decade below the smallest positive rate (or the budget)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return float(min(positive.min() if len(positive) else budget, budget)) / 10


def operating_curve_figure(board: AlertBoard, part: str = "scored") -> go.Figure:
    """The operating curves: share of labelled events detected (y) against false alarms per series-day
    (x, log scale), one line per detector; the budget as a dashed vertical line (a legend entry); each
    detector's chosen threshold as a star in its line's colour (a cross where no threshold met the
    budget: nothing alerts). A rate of 0 cannot sit on a log axis: it is drawn a decade below the
    smallest positive rate, as the axis title says.

    Parameters
    ----------
    board
        The alert board.
    part
        `scored` (the rows the chosen thresholds are judged on) or `calibration` (where they were chosen).
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    curves = board.curves[board.curves["part"] == part]
    if curves.empty:
        raise WorkbenchError(f"the alert board has no {part!r} curves; parts: {sorted(set(board.curves['part']))}")
    cap = board.budget.max_false_alarms_per_series_day
    prefix = "calibration_" if part == "calibration" else ""
    chosen_x = board.table[f"{prefix}false_alarms_per_series_day"].to_numpy(float)
    floor = _floor(np.r_[curves["false_alarms_per_series_day"].to_numpy(float), chosen_x], cap)
    palette = qualitative.Plotly
    colour = {d: palette[k % len(palette)] for k, d in enumerate(board.table["detector"])}
    fig = go.Figure()
    for detector, curve in curves.groupby("detector", sort=False):
        fig.add_trace(
            go.Scatter(
                x=curve["false_alarms_per_series_day"].clip(lower=floor),
                y=curve["share_detected"],
                customdata=np.c_[curve["threshold"], curve["false_alarms"], curve["detected"], curve["events"]],
                mode="lines+markers",
                line={"color": colour.get(detector)},
                name=str(detector),
                hovertemplate="threshold %{customdata[0]:.4g}<br>%{customdata[1]} false alarms, "
                "%{customdata[2]} of %{customdata[3]} events<extra>%{fullData.name}</extra>",
            )
        )
    for (_, row), x in zip(board.table.iterrows(), chosen_x, strict=True):
        met = bool(row["budget_met"])
        text = f"threshold {row['threshold']:.4g}" if met else "budget not met: nothing alerts"
        fig.add_trace(
            go.Scatter(
                x=[max(x, floor)],
                y=[row[f"{prefix}share_detected"]],
                mode="markers",
                marker={
                    "symbol": "star" if met else "x",
                    "size": 14,
                    "color": colour[row["detector"]],
                    "line": {"width": 1, "color": "black"},
                },
                name=f"{row['detector']}: {text}",
            )
        )
    # a trace, not add_vline's annotation: annotations on a log axis are placed at log10 of their x
    fig.add_trace(
        go.Scatter(
            x=[cap, cap],
            y=[0, 1.05],
            mode="lines",
            line={"dash": "dash", "color": "grey"},
            name=f"budget: {board.budget.describe()}",
            hoverinfo="name",
        )
    )
    fig.update_xaxes(
        type="log",
        title=f"false alarms per series-day (episodes outside labelled windows / series-days; log scale; "
        f"0 drawn at {floor:.2g})",
    )
    fig.update_yaxes(title="share of labelled events detected (% of events)", range=[0, 1.05], tickformat=".0%")
    fig.update_layout(
        title=f"Operating curves on the {part} rows ({board.split} split, hold {board.hold} rows)",
        legend_title_text="detector",
    )
    return fig
