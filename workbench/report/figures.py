"""Plotly figures for notebooks and the report: the comparisons people would rather see than read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.report.compare import FriedmanResult

__all__ = [
    "cd_diagram",
    "decimate",
    "forecast_drilldown",
    "interval_columns",
    "sampled_series",
    "skill_figure",
    "win_rate_heatmap",
]


def cd_diagram(
    result: FriedmanResult, title: str = "Critical difference (Nemenyi)", labels: dict[str, str] | None = None
):
    """Models on an axis of mean rank (best left), drawn as Demšar (2006) draws them: each model's
    label on a row of its own, the better half to the left of the axis and the worse half to the
    right, joined to its rank by an elbow line, so no two labels can overlap however close the ranks
    are; bars join models whose ranks differ by less than the critical difference, drawn to scale.

    Parameters
    ----------
    result:
        `compare.wide_friedman`'s result.
    title:
        The figure's title (the test's statistics are appended).
    labels:
        Model -> the label shown (`names.short_labels`); default the model names.
    """
    import plotly.graph_objects as go

    ranks = result.ranks.sort_values()
    names = [str((labels or {}).get(m, m)) for m in ranks.index]
    k = len(ranks)
    groups = result.cliques()
    left = (k + 1) // 2  # the better half is labelled on the left
    row_gap = 0.3
    first_row = -0.25 - 0.12 * len(groups) - 0.15
    rows = [first_row - row_gap * (i if i < left else k - 1 - i) for i in range(k)]
    lo, hi = 1.0, float(max(k, 2))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=ranks.to_numpy(),
            y=np.zeros(k),
            mode="markers",
            marker={"size": 9, "color": "#1f77b4"},
            customdata=names,
            hovertemplate="%{customdata}: mean rank %{x:.3f}<extra></extra>",
            name="mean rank",
        )
    )
    for i, (rank, name) in enumerate(zip(ranks.to_numpy(), names, strict=True)):
        edge = lo - 0.05 if i < left else hi + 0.05
        fig.add_trace(
            go.Scatter(
                x=[rank, rank, edge],
                y=[0, rows[i], rows[i]],
                mode="lines",
                line={"width": 1, "color": "#555"},
                hoverinfo="skip",
            )
        )
        fig.add_annotation(
            x=edge,
            y=rows[i],
            text=f"{name} ({rank:.2f})",
            showarrow=False,
            xanchor="right" if i < left else "left",
            font={"size": 12},
        )
    cd = result.critical_difference
    fig.add_shape(type="line", x0=lo, x1=lo + cd, y0=0.45, y1=0.45, line={"width": 3, "color": "black"})
    fig.add_annotation(x=lo + cd / 2, y=0.62, text=f"CD = {cd:.3f}", showarrow=False)
    for i, group in enumerate(groups):
        g_lo, g_hi = ranks[group].min(), ranks[group].max()
        y = -0.22 - 0.12 * i
        fig.add_trace(  # end markers keep a group of equal ranks visible
            go.Scatter(
                x=[g_lo, g_hi],
                y=[y, y],
                mode="lines+markers",
                line={"width": 5, "color": "#d62728"},
                marker={"symbol": "line-ns-open", "size": 10, "color": "#d62728"},
                hovertemplate=f"not significantly different: {', '.join(map(str, group))}<extra></extra>",
            )
        )
    longest = max((len(n) for n in names), default=4) + 7
    bottom = min(rows, default=first_row) - 0.25
    span = 0.8 - bottom
    fig.update_layout(
        title=f"{title}: Friedman χ²={result.statistic:.2f}, p={result.p_value:.2g}, "
        f"{result.n_problems} problems, α={result.alpha}",
        xaxis={
            "title": "mean rank (lower is better)",
            "range": [lo - 0.05, hi + 0.05],
            "dtick": 1,
            "side": "top",
            "showgrid": False,
        },
        yaxis={"visible": False, "range": [bottom, 0.8]},
        showlegend=False,
        height=int(110 + 85 * span),  # 0.3 between label rows is ~25 px: rows never touch
        margin={"t": 110, "b": 10, "l": 20 + 7 * longest, "r": 20 + 7 * longest},
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


def interval_columns(columns) -> tuple[str, str, float] | None:
    """The widest central interval among quantile columns (`q0.1`, `q0.9`): (low column, high column,
    coverage), or None where no pair of levels q and 1 - q is there."""
    levels = {}
    for c in columns:
        text = str(c)
        if text.startswith("q"):
            try:
                levels[round(float(text[1:]), 6)] = text
            except ValueError:
                continue
    pairs = [(q, round(1 - q, 6)) for q in levels if q < 0.5 and round(1 - q, 6) in levels]
    if not pairs:
        return None
    q, upper = min(pairs)
    return levels[q], levels[upper], upper - q


def decimate(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most `max_points` rows, evenly spaced, the first and last kept (a long past drawn as a line
    looks the same; the page stays small)."""
    if len(frame) <= max_points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[keep]


def forecast_drilldown(
    past: pd.DataFrame,
    truth: pd.DataFrame,
    forecasts: pd.DataFrame,
    title: str = "",
    n_past: int | None = None,
    *,
    anomalies: pd.DataFrame | None = None,
    max_points: int = 200,
):
    """One series at a time (a dropdown picks it): its recent past, the truth, each model's forecast
    and, for models with quantile columns (`q0.1` ... `q0.9`), the widest central interval they have
    as a shaded band; labelled anomalies (`anomalies`: unique_id, ds) in view are marked with an x.

    Frames are long (`unique_id, ds, y`; forecasts `unique_id, ds, model, y_hat` and quantile columns).
    The past shown is the last `n_past` points, decimated to `max_points` (figure size is bounded
    whatever the series' length)."""
    import plotly.graph_objects as go

    ids = list(dict.fromkeys(forecasts["unique_id"]))
    models = list(dict.fromkeys(forecasts["model"]))
    band = interval_columns(forecasts.columns)
    with_band = [
        m
        for m in models
        if band is not None and forecasts.loc[forecasts["model"] == m, [band[0], band[1]]].notna().all(axis=None)
    ]
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    colour = {m: palette[i % len(palette)] for i, m in enumerate(models)}
    fig = go.Figure()
    counts = []
    for i, uid in enumerate(ids):
        before = len(fig.data)
        p = past[past["unique_id"] == uid]
        if n_past:
            p = p.tail(n_past)
        p = decimate(p, max_points)
        t = truth[truth["unique_id"] == uid]
        visible = i == 0
        black = {"color": "black", "width": 1.5}
        fig.add_trace(go.Scatter(**_x(p["ds"]), y=_y(p["y"]), name="past", line=black, visible=visible))
        dotted = {"color": "black", "dash": "dot"}
        fig.add_trace(go.Scatter(**_x(t["ds"]), y=_y(t["y"]), name="truth", line=dotted, visible=visible))
        for model in models:
            f = forecasts[(forecasts["unique_id"] == uid) & (forecasts["model"] == model)]
            if model in with_band:
                lo_col, hi_col, coverage = band
                edge = {"width": 0, "color": colour[model]}
                fig.add_trace(  # the lower edge, then the upper one filled down to it
                    go.Scatter(
                        **_x(f["ds"]), y=_y(f[lo_col]), line=edge, showlegend=False, hoverinfo="skip", visible=visible
                    )
                )
                fig.add_trace(
                    go.Scatter(
                        **_x(f["ds"]),
                        y=_y(f[hi_col]),
                        fill="tonexty",
                        fillcolor=_rgba(colour[model], 0.2),
                        line=edge,
                        name=f"{model} {coverage:.0%} interval",
                        hoverinfo="skip",
                        visible=visible,
                    )
                )
            line = {"color": colour[model]}
            fig.add_trace(go.Scatter(**_x(f["ds"]), y=_y(f["y_hat"]), name=model, line=line, visible=visible))
        if anomalies is not None and len(anomalies):
            shown = pd.concat([p, t])
            marks = anomalies[anomalies["unique_id"].astype(str) == str(uid)]
            marks = shown[shown["ds"].isin(_like(marks["ds"], shown["ds"]))]
            if len(marks):
                fig.add_trace(
                    go.Scatter(
                        **_x(marks["ds"]),
                        y=_y(marks["y"]),
                        mode="markers",
                        name="labelled anomaly",
                        marker={"symbol": "x", "size": 11, "color": "#d62728"},
                        visible=visible,
                    )
                )
        counts.append(len(fig.data) - before)
    buttons = []
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    for i, uid in enumerate(ids):
        visible = [False] * len(fig.data)
        visible[starts[i] : starts[i + 1]] = [True] * counts[i]
        buttons.append({"label": str(uid), "method": "update", "args": [{"visible": visible}]})
    dates = any(pd.api.types.is_datetime64_any_dtype(f["ds"]) for f in (past, truth, forecasts) if "ds" in f)
    fig.update_layout(
        title=title,
        xaxis={"type": "date"} if dates else {},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.15}],
        height=max(380, 160 + 22 * max(counts, default=2)),  # room for the whole legend
    )
    return fig


def _x(stamps: pd.Series) -> dict:
    """Stamps as plotly takes them most compactly: regular ones as a start and a step (`x0`, `dx`: no
    array at all), others as an array; datetimes as milliseconds since the epoch (a date axis reads
    them as dates; a typed array in the page, ~11 characters a point against ~22 for text)."""
    values = stamps.to_numpy()
    if pd.api.types.is_datetime64_any_dtype(stamps):
        values = values.astype("datetime64[ms]").astype(np.int64).astype(np.float64)
    elif not pd.api.types.is_numeric_dtype(stamps):
        return {"x": values}
    steps = np.diff(values.astype(np.float64))
    if len(values) >= 3 and steps[0] > 0 and np.all(steps == steps[0]):
        return {"x0": float(values[0]), "dx": float(steps[0])}
    return {"x": values}


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _y(values: pd.Series) -> np.ndarray:
    """Values as float32 (a typed array of 4 bytes a point: what a plot can show, at half the size)."""
    return values.to_numpy(dtype=np.float32, na_value=np.nan)


def _like(stamps: pd.Series, reference: pd.Series) -> pd.Series:
    """Label stamps in the dtype of the series' stamps (timestamps read from a CSV are text)."""
    if pd.api.types.is_datetime64_any_dtype(reference):
        return pd.to_datetime(stamps, errors="coerce")
    if pd.api.types.is_numeric_dtype(reference):
        return pd.to_numeric(stamps, errors="coerce")
    return stamps


def sampled_series(panel_df: pd.DataFrame, ids: list[str], title: str = ""):
    """A few whole series, one line each, for a first look at a dataset."""
    import plotly.express as px

    part = panel_df[panel_df["unique_id"].isin(ids)]
    fig = px.line(part, x="ds", y="y", color="unique_id", title=title, render_mode="svg")  # webgl: not in the bundle
    fig.update_layout(height=380)
    return fig
