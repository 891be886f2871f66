"""Figures for reproduction reports: where people would rather look than read a table."""

from __future__ import annotations

import pandas as pd

__all__ = ["STATUS_COLOURS", "claimed_vs_reproduced", "status_table"]

STATUS_COLOURS = {"match": "#2ca02c", "mismatch": "#d62728", "unavailable": "#7f7f7f"}


def claimed_vs_reproduced(report: pd.DataFrame, title: str = ""):
    """Scatter of reproduced against claimed values, one panel per metric, coloured by status;
    points on the diagonal reproduce the paper. Unavailable cells are left out (counted in the title)."""
    import plotly.express as px

    shown = report[report["status"] != "unavailable"]
    n_unavailable = int((report["status"] == "unavailable").sum())
    fig = px.scatter(
        shown,
        x="claimed",
        y="reproduced",
        color="status",
        color_discrete_map=STATUS_COLOURS,
        facet_col="metric",
        render_mode="svg",  # webgl (scattergl) is not in the report's plotly.js bundle
        hover_data=["subset", "method", "note"],
        title=f"{title} — {len(shown)} cells reproduced, {n_unavailable} unavailable".strip(" —"),
    )
    fig.update_xaxes(matches=None)
    fig.update_yaxes(matches=None)
    for i, metric in enumerate(shown["metric"].unique(), 1):
        values = shown.loc[shown["metric"] == metric, ["claimed", "reproduced"]].to_numpy()
        lo, hi = float(values.min()), float(values.max())
        fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line={"dash": "dot", "color": "black"}, row=1, col=i)
    return fig


def status_table(report: pd.DataFrame) -> pd.DataFrame:
    """Counts of match / mismatch / unavailable per subset: the one-glance summary."""
    counts = report.pivot_table(index="subset", columns="status", values="claimed", aggfunc="size", fill_value=0)
    return counts.reindex(columns=["match", "mismatch", "unavailable"], fill_value=0)
