"""The report's joint section: forecast skill beside the residual detectors' scores on Cloud Monitoring.

`joint_section(store)` is an HTML fragment (a table and one plotly div that relies on the page's
embedded plotly.js, as every figure of the report does), or "" when the store holds no joint run,
so the report can leave the section out.
"""

from __future__ import annotations

import html
from pathlib import Path

from workbench.joint import DATASET, JointError, joint_table, skill_vs_detection_figure
from workbench.report.page import prov, table
from workbench.store.results_store import ResultsStore

__all__ = ["SOURCE", "joint_section"]

SOURCE = (
    f"metrics and detection_metrics rows of the store for {DATASET} (workbench.joint): mase is the mean of per-series, "
    "per-window values over the series each model scored, mase_common the same over the series every model scored; "
    "detection scores are those of each model's residual detector (95% band, alert at the band's edge), across "
    "folders weighted by items; n_not_forecastable counts series too short for the model's context, n_failed "
    "series in failed units."
)


def joint_section(store: ResultsStore | str | Path, metric: str = "nab_standard") -> str:
    """The joint table and the skill-vs-detection figure as an HTML fragment ("" without a joint run)."""
    import plotly.io as pio

    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    try:
        frame = joint_table(store)
    except JointError:
        return ""
    fig = skill_vs_detection_figure(frame, metric=metric)
    div = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id="fig-joint-skill",
                      config={"displaylogo": False, "responsive": True})  # fmt: skip
    heading = "<p class='note'>Does a better forecaster make a better alert? " + html.escape(
        f"Lower {('mase_common')} is better forecasting; higher {metric} is better detection."
    )
    return heading + "</p>\n" + table(frame) + prov(SOURCE) + div
