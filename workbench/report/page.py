"""The page the report is written on: sections, figures sharing one embedded plotly.js, tables that
fit the width, status badges and the task / metric filters.

Self-contained: plotly.js is inlined once (`workbench.report.assets.plotly_js`: its cartesian bundle,
1.5 MB, where it can be had; else the full 4.8 MB bundle), the filters are a few lines of plain
JavaScript, nothing is fetched from elsewhere. It travels deflated and Ascii85 encoded (0.6 MB; the full
bundle 1.8 MB) and is unpacked by the browser's own `DecompressionStream` (Chromium 80, Firefox 113,
Safari 16.4); each figure's script is held back (`type="text/x-deferred"`) until plotly.js has run. A block of the page
that belongs to one task or metric is a `<div class="block" data-task=... data-metric=...>`; the two
`<select>`s at the top show the blocks that match and hide the others (blocks without the attribute
always show), and figures that come back into view are resized by plotly.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.report.assets import plotly_js

__all__ = [
    "CSS",
    "DEFERRED",
    "FILTER_JS",
    "LOADER_JS",
    "Page",
    "badges",
    "block",
    "esc",
    "packed_plotlyjs",
    "prov",
    "table",
]

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


DEFERRED = "text/x-deferred"  # the type of a figure's script until plotly.js has been unpacked and run

# Ascii85 (b85 alphabet, "." for "<") -> bytes -> inflate -> run plotly.js -> run the figures in order
LOADER_JS = """
(function(){
  var A='0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;.=>?@^_`{|}~';
  function b85(s){
    var map=new Int16Array(128).fill(84), n=s.length, full=Math.floor(n/5), rem=n%5;
    for(var i=0;i<85;i++){map[A.charCodeAt(i)]=i;}
    var out=new Uint8Array(full*4+(rem?rem-1:0)), o=0;
    for(var i=0;i<n;i+=5){
      var acc=0; for(var j=0;j<5;j++){acc=acc*85+(i+j<n?map[s.charCodeAt(i+j)]:84);}
      var b=[Math.floor(acc/16777216)&255,Math.floor(acc/65536)&255,Math.floor(acc/256)&255,acc&255];
      for(var j=0;j<Math.min(4,n-i-1);j++){out[o++]=b[j];}
    }
    return out;
  }
  function figures(){
    document.querySelectorAll('script[type="DEFERRED"]').forEach(function(el){
      var sc=document.createElement('script'); sc.text=el.textContent; el.replaceWith(sc);
    });
  }
  var packed=document.getElementById('plotly-js-packed').textContent;
  var stream=new Blob([b85(packed)]).stream().pipeThrough(new DecompressionStream('deflate'));
  new Response(stream).text().then(function(code){
    var sc=document.createElement('script'); sc.text=code; document.head.appendChild(sc); figures();
  }).catch(function(e){console.error('plotly.js could not be unpacked: '+e);});
})();
""".replace("DEFERRED", DEFERRED)


@functools.lru_cache(maxsize=1)
def packed_plotlyjs() -> str:
    """plotly.js deflated and Ascii85 encoded, with `.` for `<`: a script element's text without `<`
    can neither close it (`</script`) nor open a comment (`<!--`) that changes how its end is found."""
    return base64.b85encode(zlib.compress(plotly_js().encode("utf-8"), 9)).decode("ascii").replace("<", ".")


def _json(value: Any) -> str:
    """JSON for inside a script element: every `<` (only ever inside a string) written as `\\u003c`, so
    no text can end the element (`</script`) or open a comment (`<!--`)."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def _defer(body: str) -> str:
    """Figures' scripts held back until plotly.js runs (`LOADER_JS` starts them in document order)."""
    return re.sub(r'<script(?: type="text/javascript")?>', f'<script type="{DEFERRED}">', body)


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
    template: dict | None = None  # the plotly template shared by the page's figures (written once)

    def figure(self, fig: Any, name: str) -> str:
        """A div and the script that draws `fig` in it. The figure's template (6.5 kB of styling that
        every plotly figure carries) is written once for the page (`workbenchTemplate`) and merged
        back here; arrays travel as plotly's typed arrays (`pio.to_json`)."""
        import plotly.io as pio

        self.n_figures += 1
        div_id = f"fig-{self.n_figures:02d}-{name}"
        config = {"displaylogo": False, "responsive": True}
        spec = json.loads(pio.to_json(fig, validate=False))
        layout = spec.get("layout", {})
        template = layout.pop("template", None)
        if template is not None and self.template is None:
            self.template = template
        shared = template is not None and template == self.template
        if template is not None and not shared:
            layout["template"] = template  # a figure styled otherwise keeps its own
        data, layout_text = _json(spec.get("data", [])), _json(layout)
        layout_js = f"Object.assign({{template: window.workbenchTemplate}}, {layout_text})" if shared else layout_text
        return (
            f'<div id="{div_id}" class="plotly-graph-div" style="height:100%; width:100%;"></div>'
            f'<script type="text/javascript">Plotly.newPlot("{div_id}", {data}, {layout_js}, {_json(config)});'
            "</script>"
        )

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
        nav = " ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{a}"><h2>{esc(h)}</h2>\n{b}</section>' for a, h, b in self.sections)
        return (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(self.title)}</title><style>{CSS}</style>"
            f'<script type="text/javascript">{FILTER_JS}</script>'
            f'<script type="text/javascript">window.workbenchTemplate = {_json(self.template or {})};</script></head>\n'
            f"<body><h1>{esc(self.title)}</h1><nav>{nav}{self.filters()}</nav>\n{_defer(body)}\n"
            f'<script type="text/x-ascii85" id="plotly-js-packed">{packed_plotlyjs()}</script>'
            f'<script type="text/javascript">{LOADER_JS}</script>\n</body></html>\n'
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
