"""Plotly figures for notebooks and the report: the comparisons people would rather see than read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.report.compare import FriedmanResult

__all__ = ["cd_diagram", "forecast_drilldown", "sampled_series", "skill_figure", "win_rate_heatmap"]


def cd_diagram(result: FriedmanResult, title: str = "Critical difference (Nemenyi)"):
    """Models on an axis of mean rank (best left); bars join models whose ranks differ by less than
    the critical difference, which is drawn to scale above the axis."""
    import plotly.graph_objects as go

    ranks = result.ranks.sort_values()
    k = len(ranks)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=ranks.to_numpy(),
            y=np.zeros(k),
            mode="markers+text",
            text=list(ranks.index),
            textposition=["bottom center" if i % 2 == 0 else "top center" for i in range(k)],
            marker={"size": 10, "color": "#1f77b4"},
            hovertemplate="%{text}: mean rank %{x:.3f}<extra></extra>",
            name="mean rank",
        )
    )
    cd = result.critical_difference
    fig.add_shape(type="line", x0=1, x1=1 + cd, y0=0.8, y1=0.8, line={"width": 3, "color": "black"})
    fig.add_annotation(x=1 + cd / 2, y=0.95, text=f"CD = {cd:.3f}", showarrow=False)
    for i, group in enumerate(result.cliques()):
        lo, hi = ranks[group].min(), ranks[group].max()
        y = -0.35 - 0.15 * i
        fig.add_trace(  # end markers keep a group of equal ranks visible
            go.Scatter(
                x=[lo, hi],
                y=[y, y],
                mode="lines+markers",
                line={"width": 5, "color": "#d62728"},
                marker={"symbol": "line-ns-open", "size": 12, "color": "#d62728"},
                hovertemplate=f"not significantly different: {', '.join(group)}<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"{title}: Friedman χ²={result.statistic:.2f}, p={result.p_value:.2g}, "
        f"{result.n_problems} problems, α={result.alpha}",
        xaxis={"title": "mean rank (lower is better)", "range": [0.8, k + 0.2], "dtick": 1},
        yaxis={"visible": False, "range": [-0.4 - 0.15 * max(1, len(result.cliques())), 1.1]},
        showlegend=False,
        height=320,
        margin={"t": 60, "b": 40},
    )
    return fig


def skill_figure(skill: pd.DataFrame, title: str = ""):
    """Skill against the baseline with bootstrap intervals; right of zero beats the baseline."""
    import plotly.graph_objects as go

    skill = skill.sort_values("skill")
    fig = go.Figure(
        go.Bar(
            x=skill["skill"],
            y=skill["model"],
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": skill["ci_high"] - skill["skill"],
                "arrayminus": skill["skill"] - skill["ci_low"],
            },
            customdata=np.stack([skill["win_rate"], skill["n_problems"]], axis=1),
            hovertemplate="%{y}: skill %{x:.3f}, win rate %{customdata[0]:.2f}, "
            "%{customdata[1]} problems<extra></extra>",
        )
    )
    baseline = skill["baseline"].iloc[0] if len(skill) else ""
    fig.update_layout(
        title=title or f"Skill against {baseline} (1 - geometric mean relative error)",
        xaxis={"title": "skill", "zeroline": True},
        height=220 + 30 * len(skill),
    )
    return fig


def win_rate_heatmap(rates: pd.DataFrame, title: str = "Win rates (row beats column)"):
    import plotly.express as px

    fig = px.imshow(rates, text_auto=".2f", zmin=0, zmax=1, color_continuous_scale="RdBu", title=title)
    fig.update_layout(height=160 + 40 * len(rates))
    return fig


def forecast_drilldown(
    past: pd.DataFrame, truth: pd.DataFrame, forecasts: pd.DataFrame, title: str = "", n_past: int | None = None
):
    """One series at a time (a dropdown picks it): its recent past, the truth and each model's forecast.

    Frames are long (`unique_id, ds, y`; forecasts `unique_id, ds, model, y_hat`)."""
    import plotly.graph_objects as go

    ids = list(dict.fromkeys(forecasts["unique_id"]))
    models = list(dict.fromkeys(forecasts["model"]))
    fig = go.Figure()
    per_series = 2 + len(models)
    for i, uid in enumerate(ids):
        p = past[past["unique_id"] == uid]
        if n_past:
            p = p.tail(n_past)
        t = truth[truth["unique_id"] == uid]
        visible = i == 0
        fig.add_trace(go.Scatter(x=p["ds"], y=p["y"], name="past", line={"color": "black"}, visible=visible))
        dotted = {"color": "black", "dash": "dot"}
        fig.add_trace(go.Scatter(x=t["ds"], y=t["y"], name="truth", line=dotted, visible=visible))
        for model in models:
            f = forecasts[(forecasts["unique_id"] == uid) & (forecasts["model"] == model)]
            fig.add_trace(go.Scatter(x=f["ds"], y=f["y_hat"], name=model, visible=visible))
    buttons = []
    for i, uid in enumerate(ids):
        visible = [False] * (per_series * len(ids))
        visible[i * per_series : (i + 1) * per_series] = [True] * per_series
        buttons.append({"label": str(uid), "method": "update", "args": [{"visible": visible}]})
    fig.update_layout(
        title=title,
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.15}],
        height=max(380, 160 + 22 * per_series),  # room for the whole legend
    )
    return fig


def sampled_series(panel_df: pd.DataFrame, ids: list[str], title: str = ""):
    """A few whole series, one line each, for a first look at a dataset."""
    import plotly.express as px

    part = panel_df[panel_df["unique_id"].isin(ids)]
    fig = px.line(part, x="ds", y="y", color="unique_id", title=title)
    fig.update_layout(height=380)
    return fig
