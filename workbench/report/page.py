"""The page the report is written on: sections, figures sharing one embedded plotly.js, tables that
fit the width, status badges and the task / metric filters.

Self-contained: plotly.js is inlined once in a script tag (`plotly.offline.get_plotlyjs()`), the
filters are a few lines of plain JavaScript, nothing is fetched from elsewhere. A block of the page
that belongs to one task or metric is a `<div class="block" data-task=... data-metric=...>`; the two
`<select>`s at the top show the blocks that match and hide the others (blocks without the attribute
always show), and figures that come back into view are resized by plotly.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["CSS", "FILTER_JS", "Page", "badges", "block", "esc", "prov", "table"]

CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin:1.2em 0 .4em}
.wrap{max-width:100%;overflow-x:auto}.scroll{max-height:420px;overflow:auto;max-width:100%}
table.data{border-collapse:collapse;font-size:13px;margin:.5em 0}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
table.data td{max-width:36em;overflow-wrap:anywhere}
table.data th{background:#f3f3f3;position:sticky;top:0}
table.data td:first-child,table.data th:first-child{text-align:left}
.prov{font-size:12px;color:#555;margin:.2em 0 1em}.note{color:#555}
nav{position:sticky;top:0;background:#fff;padding:.3em 0;border-bottom:1px solid #eee;z-index:10;font-size:13px}
nav a{margin-right:1em}.filters{margin:.4em 0}.filters label{margin-right:1.2em}
.match{color:#2ca02c}.mismatch{color:#d62728;font-weight:bold}.unavailable{color:#7f7f7f}
.badge{display:inline-block;border-radius:1em;padding:.1em .7em;margin-right:.4em;font-size:13px;font-weight:normal}
.badge.match{background:#2ca02c;color:#fff}.badge.mismatch{background:#d62728;color:#fff}
.badge.unavailable{background:#7f7f7f;color:#fff}.badge.known{background:#ff7f0e;color:#fff}
pre.error{white-space:pre-wrap;font-size:12px;background:#f7f7f7;padding:.5em;max-height:240px;overflow:auto}
"""

FILTER_JS = """
function workbenchFilter(){
  var t=document.getElementById('filter-task').value, m=document.getElementById('filter-metric').value;
  document.querySelectorAll('.block').forEach(function(b){
    var show=(t==='*'||!b.dataset.task||b.dataset.task===t)&&(m==='*'||!b.dataset.metric||b.dataset.metric===m);
    var was=b.style.display!=='none'; b.style.display=show?'':'none';
    if(show&&!was&&window.Plotly){b.querySelectorAll('.plotly-graph-div').forEach(function(d){Plotly.Plots.resize(d);});}
  });
}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


@dataclass
class Page:
    """Sections and figures as they are added; figures are divs sharing one plotly.js."""

    title: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, heading, body)
    tasks: dict[str, str] = field(default_factory=dict)  # filter options: task_key -> description
    metrics: list[str] = field(default_factory=list)
    n_figures: int = 0

    def figure(self, fig: Any, name: str) -> str:
        import plotly.io as pio

        self.n_figures += 1
        div_id = f"fig-{self.n_figures:02d}-{name}"
        config = {"displaylogo": False, "responsive": True}
        return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=config)

    def add(self, anchor: str, heading: str, body: str) -> None:
        self.sections.append((anchor, heading, body))

    def filters(self) -> str:
        if not self.tasks and not self.metrics:
            return ""
        tasks = "".join(f'<option value="{esc(k)}">{esc(v)}</option>' for k, v in self.tasks.items())
        metrics = "".join(f'<option value="{esc(m)}">{esc(m)}</option>' for m in self.metrics)
        return (
            "<div class='filters'><label>Task <select id='filter-task' onchange='workbenchFilter()'>"
            f"<option value='*'>all tasks</option>{tasks}</select></label>"
            "<label>Metric <select id='filter-metric' onchange='workbenchFilter()'>"
            f"<option value='*'>all metrics</option>{metrics}</select></label></div>"
        )

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        nav = " ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{a}"><h2>{esc(h)}</h2>\n{b}</section>' for a, h, b in self.sections)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(self.title)}</title><style>{CSS}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script>'
            f'<script type="text/javascript">{FILTER_JS}</script></head>\n'
            f"<body><h1>{esc(self.title)}</h1><nav>{nav}{self.filters()}</nav>\n{body}\n</body></html>\n"
        )


def block(body: str, task: str | None = None, metric: str | None = None) -> str:
    """A part of a section the filters show or hide (by task key and metric)."""
    attrs = (f' data-task="{esc(task)}"' if task else "") + (f' data-metric="{esc(metric)}"' if metric else "")
    return f"<div class='block'{attrs}>{body}</div>"


def table(frame: pd.DataFrame, digits: int = 4, index: bool = False, scroll: bool = False) -> str:
    """An escaped HTML table (values from files are text, never markup) in a container that scrolls
    sideways on a narrow page (and down, with `scroll`, for long tables)."""
    if frame.empty:
        return "<p class='note'>(empty)</p>"
    text = frame.to_html(
        classes="data", index=index, border=0, escape=True, na_rep="", float_format=lambda v: f"{v:.{digits}g}"
    )
    return f"<div class='{'scroll' if scroll else 'wrap'}'>{text}</div>"


def prov(text: str) -> str:
    return f"<p class='prov'>Source: {esc(text)}</p>"


def badges(counts: dict[str, int]) -> str:
    """Status counts as coloured badges (`84 match`), in a fixed order, zero counts left out."""
    order = ["match", "mismatch", "known", "unavailable"]
    labels = {"known": "known discrepancy"}
    return "".join(
        f"<span class='badge {s}'>{int(counts[s])} {labels.get(s, s)}</span>" for s in order if counts.get(s)
    )
