"""What the anomaly notebook and a detector sweep need: a task over categories, and two figures.

NAB keeps all 58 files in one subset and names each item `<category>/<file>.csv`; a sweep over
"NAB categories" therefore restricts the task's items by that prefix, which works the same for
SKAB (`valve1/0.csv`). The figures live here so the notebook stays a list of calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.anomaly.run import Detection
from workbench.anomaly.task import DetectionData, DetectionTask
from workbench.errors import WorkbenchError

__all__ = ["category_task", "scoreboard_figure", "scores_figure"]


def category_task(
    dataset: str,
    categories: Sequence[str] | None = None,
    *,
    subsets: Sequence[str] = ("all",),
    max_items: int | None = None,
    **options: object,
) -> DetectionTask:
    """The dataset's detection task restricted to items whose name starts with `<category>/`.

    `max_items` keeps an evenly spread slice of them (for quick runs); errors list the categories
    the dataset has."""
    full = DetectionTask(dataset=dataset, subsets=tuple(subsets), **options)  # type: ignore[arg-type]
    if not categories and not max_items:
        return full
    items = sorted(full.load().items)
    known = sorted({item.split("/")[0] for item in items})
    unknown = [c for c in categories or () if c not in known]
    if unknown:
        raise WorkbenchError(f"{dataset}: unknown categories {unknown}; known: {known}")
    chosen = [i for i in items if not categories or i.split("/")[0] in categories]
    if max_items and len(chosen) > max_items:
        chosen = [chosen[int(k)] for k in np.linspace(0, len(chosen) - 1, max_items).round()]
    return DetectionTask(dataset=dataset, subsets=tuple(subsets), items=tuple(chosen), **options)  # type: ignore[arg-type]


def scoreboard_figure(board: pd.DataFrame, title: str = "Scoreboard"):
    """Grouped bars: one group per metric, one bar per detector (NAB scores and [0, 1] metrics
    are drawn on separate panels, their scales differ by two orders of magnitude)."""
    import plotly.express as px

    frame = board.assign(panel=np.where(board["metric"].str.startswith("nab_"), "NAB score", "metrics in [0, 1]"))
    fig = px.bar(
        frame, x="metric", y="value", color="detector", barmode="group", facet_col="panel", title=title,
        hover_data=["threshold", "threshold_from", "tuned_on_test", "fitted_on"],
    )  # fmt: skip
    fig.update_xaxes(matches=None)
    fig.update_yaxes(matches=None, showticklabels=True)
    return fig


def scores_figure(data: DetectionData, detections: Sequence[Detection], item: str):
    """One item: its values, each detector's anomaly score below, labelled windows shaded."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = np.flatnonzero(data.rows["item"].to_numpy() == item)
    if not len(rows):
        raise WorkbenchError(f"{data.task.name}: no item {item!r}; items: {data.items[:5]}...")
    ds = data.rows["ds"].to_numpy()[rows]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.05)
    for uid, channel in data.channels(item).items():
        fig.add_trace(go.Scatter(x=ds, y=channel, name=str(uid), mode="lines"), row=1, col=1)
    for det in detections:
        fig.add_trace(go.Scatter(x=ds, y=det.scores[rows], name=det.label, mode="lines"), row=2, col=1)
    windows = data.windows[data.windows["unique_id"] == item]
    for _, window in windows.iterrows():
        fig.add_vrect(x0=window["start"], x1=window["end"], fillcolor="red", opacity=0.15, line_width=0)
    fig.update_yaxes(title_text="value", row=1, col=1)
    fig.update_yaxes(title_text="anomaly score", range=[0, 1.02], row=2, col=1)
    fig.update_layout(title=item, height=450)
    return fig
