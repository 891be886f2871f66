"""Slide decks read from the results store: a paper's reproduction (`workbench present <paper>`) and a
store's own results (`workbench present --store DIR`, `present_store`).

The deck says, in order: what the paper claims (its card), how the reproduction ran (the notebook's own
protocol note and the stored run's parameters), claimed against reproduced (the counts, the cells, the
scatter of `workbench.papers.plots`) and where the two disagree and why (the claims' statuses and notes).
It is built as a notebook whose cells carry reveal.js slide metadata (kept beside the deck, so it can be
edited and re-exported) and exported by nbconvert's `SlidesExporter`.

Offline and self-contained: nbconvert's reveal template loads reveal.js, require.js, jQuery, MathJax and
mermaid from CDNs (`reveal_url_prefix` only moves reveal.js, and must still be served). This module's
template inlines reveal.js's script and styles, plotly.js (with the figure) and JupyterLab's styles, and
loads nothing else. The reveal.js copy is the npm package's tarball, pinned by version and sha256,
fetched once into the workbench cache (or named by `WORKBENCH_REVEAL_JS`, a local copy of that tarball).
The theme's `@import` of its web fonts is dropped: the slides use the system's sans-serif. plotly.js is
inlined once in the page's head, whatever the number of figures.

A store's deck answers the question a fleet's owner asks (which model to use for which kind of series):
the question, the data (series per kind), the summary sentences and breakdown table of the report
(`workbench.report.breakdown`), the critical-difference diagram, a few forecasts with their prediction
intervals, and the provenance (runs, code, data hashes). Its numbers are the report's, computed by the
same functions.
"""

from __future__ import annotations

import html
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.report.assets import AssetUnavailableError, pinned_tarball, plotly_js

__all__ = [
    "DEFAULT_OUTPUT",
    "MAX_ROWS",
    "REVEAL_ENV",
    "REVEAL_SHA256",
    "REVEAL_URL",
    "REVEAL_VERSION",
    "TEMPLATE",
    "Deck",
    "NoClaimsError",
    "RevealUnavailableError",
    "build_notebook",
    "export",
    "present",
    "present_store",
    "reveal_assets",
    "stored_claims",
]

REVEAL_VERSION = "5.2.1"
REVEAL_URL = f"https://registry.npmjs.org/reveal.js/-/reveal.js-{REVEAL_VERSION}.tgz"
REVEAL_SHA256 = "359b575dd51bbda32f89b2fd4c7dc46ad7389a805572158916c29252f7a27333"
REVEAL_ENV = "WORKBENCH_REVEAL_JS"
DEFAULT_OUTPUT = Path("results") / "papers"
MAX_ROWS = 14  # cells shown on the table slide; the CSV and the stored claims have them all

TEMPLATE = """{%- extends 'base.html.j2' -%}
{%- block header -%}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>{{ resources.deck.title | e }}</title>
<style type="text/css">{{ resources.deck.reveal_css }}</style>
<style type="text/css">{{ resources.deck.theme_css }}</style>
<script type="text/javascript">{{ resources.deck.plotly_js }}</script>
{% for css in resources.inlining.css -%}<style type="text/css">{{ css }}</style>{% endfor %}
{{ resources.include_css("static/index.css") }}
{{ resources.include_css("static/theme-light.css") }}
{{ resources.include_css("static/custom_reveal.css") }}
<style type="text/css">
.reveal { font-family: sans-serif; font-size: 30px; }
a.anchor-link { display: none; }
.reveal table.deck { margin: 0 auto; border-collapse: collapse; }
.reveal table.deck th, .reveal table.deck td {
  font-size: 19px !important; padding: 0.15em 0.5em; border-bottom: 1px solid #ccc;
}
.reveal p, .reveal li { font-size: 24px !important; }
.reveal .small, .reveal .small p, .reveal .small li { font-size: 20px !important; }
.reveal .match { color: #2ca02c; } .reveal .mismatch { color: #d62728; } .reveal .unavailable { color: #7f7f7f; }
</style>
</head>
{%- endblock header -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<main><div class="reveal"><div class="slides">
{%- endblock body_header -%}
{%- block body_footer -%}
</div></div></main>
{%- endblock body_footer -%}
{%- block footer -%}
<script>{{ resources.deck.reveal_js }}</script>
<script>Reveal.initialize({hash: true, controls: true, progress: true, slideNumber: "c/t",
  width: 1280, height: 800, transition: "none"});</script>
</body>
</html>
{%- endblock footer -%}
"""


class NoClaimsError(WorkbenchError):
    """The results store holds no claimed-vs-reproduced rows for this paper."""


class RevealUnavailableError(WorkbenchError):
    """No copy of reveal.js: not in the cache, not at WORKBENCH_REVEAL_JS, and not downloadable."""


@dataclass(frozen=True)
class Deck:
    """A deck written: of a paper (`paper` its id, `unit` the claims' unit) or of a store's task
    (`paper` the task's title, `unit` its task key)."""

    paper: str
    html: Path
    notebook: Path
    slides: int
    unit: str


def stored_claims(paper_id: str, store: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """The claims rows of the paper's latest committed reproduction, and that unit's record."""
    from workbench.store.results_store import ResultsStore, results_root
    from workbench.store.sql import sql

    root = results_root(store)
    hint = f"run `workbench reproduce {paper_id}` first"
    try:
        units = sql(
            "select distinct c.unit, u.committed_at from claims c join units u on c.unit = u.key "
            "where c.paper = ? order by u.committed_at desc",
            root,
            [paper_id],
        )
    except WorkbenchError as exc:
        raise NoClaimsError(f"{paper_id}: no stored reproduction in the results store {root} ({exc}); {hint}") from exc
    if units.empty:
        raise NoClaimsError(f"{paper_id}: the results store {root} holds no claims of this paper; {hint}")
    unit = str(units["unit"].iloc[0])
    claims = sql("select * from claims where unit = ?", root, [unit])
    records = ResultsStore(root).records()
    record = records[records["key"] == unit].iloc[0].to_dict()
    return claims, record


def present(paper_id: str, output: str | Path | None = None, store: str | Path | None = None) -> Deck:
    """Write `<output>` (default `results/papers/<id>.slides.html`) and its source notebook beside it."""
    import nbformat

    from workbench.papers.contract import load_paper
    from workbench.storage import atomic_write

    paper = load_paper(paper_id)
    claims, record = stored_claims(paper_id, store)
    out = Path(output) if output else DEFAULT_OUTPUT / f"{paper_id}.slides.html"
    nb = build_notebook(paper, claims, record)
    body = export(nb, title=f"{paper.id}: {paper.title}")
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_name(out.name.removesuffix(".html").removesuffix(".slides") + ".slides.ipynb")
    atomic_write(source, lambda tmp: nbformat.write(nb, tmp))
    atomic_write(out, lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))
    n = sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
    return Deck(paper_id, out, source, n, str(record["key"]))


def build_notebook(paper, claims: pd.DataFrame, record: dict):
    """The deck as a notebook: one cell per slide, each tagged `slide_type: slide`."""
    import nbformat

    from workbench.papers.plots import claimed_vs_reproduced

    cells = [
        _md(_title(paper, record)),
        _md(_claim(paper)),
        _md(_protocol(paper, record)),
        _md(_comparison(claims)),
    ]
    if (claims["status"] != "unavailable").any():
        fig = claimed_vs_reproduced(claims, title=paper.id)
        fig.update_layout(width=1150, height=620, margin={"t": 60, "b": 40, "l": 40, "r": 20})
        cells.append(_figure(fig, "claimed_vs_reproduced(claims, title=paper.id)"))
    cells.append(_md(_disagreements(claims)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = f"{paper.id}: {paper.title}"
    nb.metadata["workbench"] = {"paper": paper.id, "unit": str(record["key"])}
    return nb


def export(nb, title: str) -> str:
    """The notebook as one HTML page that needs nothing but itself."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        extra_loaders=[DictLoader({"workbench_deck.html.j2": TEMPLATE})],
        template_file="workbench_deck.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    assets = {"title": title, "plotly_js": plotly_js(), **reveal_assets()}
    body, _ = exporter.from_notebook_node(nb, resources={"deck": assets})
    return body


def reveal_assets() -> dict[str, str]:
    """reveal.js's script, its base styles and the `white` theme, read from the pinned npm tarball."""
    tarball = _reveal_tarball()
    names = {
        "reveal_js": "package/dist/reveal.js",
        "reveal_css": "package/dist/reveal.css",
        "theme_css": "package/dist/theme/white.css",
    }
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            texts = {k: tar.extractfile(name).read().decode("utf-8") for k, name in names.items()}
    except (tarfile.TarError, KeyError, AttributeError) as exc:
        raise RevealUnavailableError(f"{tarball}: not the reveal.js {REVEAL_VERSION} npm tarball ({exc})") from exc
    texts["theme_css"] = "\n".join(ln for ln in texts["theme_css"].splitlines() if not ln.startswith("@import"))
    # an inline script ends at the first "</script", wherever it sits
    texts["reveal_js"] = texts["reveal_js"].replace("</script", "<\\/script")
    return texts


def _reveal_tarball() -> Path:
    try:
        return pinned_tarball(f"reveal.js {REVEAL_VERSION}", REVEAL_URL, REVEAL_SHA256, REVEAL_ENV, "reveal.js")
    except AssetUnavailableError as exc:
        raise RevealUnavailableError(str(exc)) from exc


# ---- slides ---------------------------------------------------------------------------------------


def _md(text: str):
    import nbformat

    return _slide(nbformat.v4.new_markdown_cell(text))


def _figure(fig, source: str):
    """A slide of one plotly figure (plotly.js itself is in the page's head, once)."""
    import nbformat

    figure = fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": figure})]
    return _slide(cell)


def _slide(cell):
    cell.metadata["slideshow"] = {"slide_type": "slide"}
    return cell


def _e(value: object) -> str:
    return html.escape(str(value))


def _title(paper, record: dict) -> str:
    when = str(record.get("committed_at", ""))[:16].replace("T", " ")
    link = f'<p class="small"><a href="{_e(paper.url)}">{_e(paper.url)}</a></p>' if paper.url else ""
    return (
        f"# {_e(paper.title)}\n\n<p class='small'>{_e(paper.citation)}</p>\n{link}\n\n"
        f"<p class='small'>Reproduction <code>{_e(paper.id)}</code>, stored {when} UTC "
        f"(unit <code>{_e(record['key'])}</code>)</p>"
    )


def _claim(paper) -> str:
    claims = pd.DataFrame([c.model_dump() for c in paper.claims])
    rows = [
        ("claims", f"{len(claims)} published numbers"),
        ("tables", ", ".join(sorted(claims["table"].unique()))),
        ("datasets", _few(claims["dataset"])),
        ("subsets", _few(claims["subset"])),
        ("methods", _few(claims["method"])),
        ("metrics", _few(claims["metric"])),
        ("tolerances", _tolerances(claims)),
        ("known discrepancies", str(int(claims["known_discrepancy"].notna().sum()))),
        ("sources", _few(claims["source"], 2)),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"## What the paper claims\n\n<table class='deck'>{table}</table>"


def _few(values: pd.Series, n: int = 8) -> str:
    unique = list(dict.fromkeys(values.astype(str)))
    return ", ".join(unique[:n]) + (f" and {len(unique) - n} more" if len(unique) > n else "")


def _tolerances(claims: pd.DataFrame) -> str:
    parts = []
    for relative, group in claims.groupby("relative"):
        values = sorted(group["tolerance"].unique())
        shown = ", ".join(f"{100 * v:g}%" if relative else f"{v:g}" for v in values)
        parts.append(f"{'relative' if relative else 'absolute'} {shown}")
    return "; ".join(parts)


def _protocol(paper, record: dict) -> str:
    import nbformat

    from workbench.papers.contract import paper_path

    notebook = nbformat.read(paper_path(paper.id).parent / paper.notebook, as_version=4)
    first = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
    text = "\n".join(ln for ln in first.splitlines() if not ln.startswith("#")).strip()
    params = record.get("params") or {}
    shown = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in params.items())
    seconds = record.get("duration_s")
    took = f" in {float(seconds):.0f} s" if seconds is not None and pd.notna(seconds) else ""
    code = f"<p class='small'>Reference code: {_e(paper.code)}</p>" if paper.code else ""
    return (
        f"## How it was reproduced\n\n<div class='small'>\n\n{text}\n\n</div>\n\n"
        f"<p class='small'>This run{took} (<code>workbench reproduce {_e(paper.id)}</code>):</p>\n"
        f"<table class='deck'>{shown}</table>\n{code}"
    )


def _comparison(claims: pd.DataFrame) -> str:
    counts = claims["status"].value_counts()
    summary = ", ".join(
        f"<span class='{s}'>{int(counts.get(s, 0))} {s}</span>" for s in ("match", "mismatch", "unavailable")
    )
    shown = claims[claims["status"] != "unavailable"].copy()
    shown["deviation %"] = 100 * (shown["reproduced"] / shown["claimed"] - 1)
    order = shown.assign(_bad=shown["status"] != "match", _dev=shown["deviation %"].abs())
    top = order.sort_values(["_bad", "_dev"], ascending=False).head(MAX_ROWS)
    cols = ["dataset", "subset", "method", "metric", "claimed", "reproduced", "deviation %", "status"]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(_cell(r, c) for c in cols) + "</tr>" for _, r in top.iterrows())
    more = f"<p class='small'>{len(shown) - len(top)} more reproduced cells in the stored claims.</p>"
    table = f"<table class='deck'><tr>{head}</tr>{body}</table>" if len(top) else "<p>No cell was reproduced.</p>"
    return (
        f"## Claimed vs reproduced\n\n<p>{summary} of {len(claims)} cells</p>\n\n"
        f"<p class='small'>largest deviations first</p>\n{table}\n{more if len(shown) > len(top) else ''}"
    )


def _cell(row: pd.Series, col: str) -> str:
    value = row[col]
    if col in ("claimed", "reproduced"):
        return f"<td>{value:.4g}</td>"
    if col == "deviation %":
        return f"<td>{value:+.2f}</td>"
    if col == "status":
        return f"<td class='{_e(value)}'>{_e(value)}</td>"
    return f"<td>{_e(value)}</td>"


def _disagreements(claims: pd.DataFrame) -> str:
    from workbench.papers.contract import KNOWN

    parts = ["## Where it disagrees, and what that means\n"]
    bad = claims[claims["status"] == "mismatch"]
    known = bad[bad["note"].astype(str).str.startswith(KNOWN)]
    unknown = bad.drop(known.index)
    if bad.empty:
        parts.append("<p>Every reproduced cell is within its claim's tolerance.</p>")
    if len(unknown):
        parts.append(f"<p class='mismatch'>{len(unknown)} mismatch(es) outside tolerance, unexplained:</p>")
        parts.append(_notes(unknown, with_method=True))
    if len(known):
        parts.append(
            f"<p>{len(known)} known discrepanc{'y' if len(known) == 1 else 'ies'} (documented on the card; "
            "reported, not failed):</p>"
        )
        parts.append(_notes(known, with_method=True))
    missing = claims[claims["status"] == "unavailable"]
    if len(missing):
        parts.append(f"<p>{len(missing)} cell(s) not reproduced here, by reason (never counted as passed):</p>")
        parts.append(_notes(missing, with_method=False))
    return "\n".join(parts)


def _notes(rows: pd.DataFrame, with_method: bool, n: int = 6) -> str:
    groups = rows.assign(reason=rows["note"].astype(str).str.split(" https://").str[0].str.slice(0, 220))
    items = []
    for reason, group in list(groups.groupby("reason", sort=False))[:n]:
        where = ", ".join(dict.fromkeys(group["subset"].astype(str) + (" " + group["method"] if with_method else "")))
        items.append(f"<li><b>{_e(_clip(where, 90))}</b> ({len(group)}): {_e(reason)}</li>")
    rest = groups["reason"].nunique() - n
    tail = f"<li>and {rest} more reasons in the stored claims</li>" if rest > 0 else ""
    return f"<ul class='small'>{''.join(items)}{tail}</ul>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- a store's own results ------------------------------------------------------------------------
MAX_FORECAST_SLIDES = 3


def present_store(
    store: str | Path | None = None,
    output: str | Path | None = None,
    *,
    task: str | None = None,
    labels: str | Path | pd.DataFrame | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Deck:
    """Write a deck of a store's own results for one task, and its source notebook beside it.

    Parameters
    ----------
    store:
        The results store (default `WORKBENCH_RESULTS`); a missing or empty store is an error.
    output:
        The deck file (default `results/decks/<dataset>.slides.html`).
    task:
        The task shown: its key or its title as the report prints it (default: the task with the most
        series); an unknown one is an error listing those there are.
    labels:
        Labelled anomalies (CSV or frame of unique_id, ds) to mark on the forecast plots.
    n_boot, seed:
        Bootstrap resamples and seed of the skill intervals (as the report's).
    """
    import nbformat

    from workbench.report.context import open_context, read_labels
    from workbench.report.page import Page
    from workbench.storage import atomic_write
    from workbench.store.results_store import ResultsStore, results_root

    results = ResultsStore(results_root(store))
    page = Page("deck")
    ctx = open_context(
        results,
        page,
        metric=None,
        baselines=["seasonal_naive"],
        n_boot=n_boot,
        seed=seed,
        anomaly_labels=read_labels(labels),
    )
    try:
        task_key = _pick_task(ctx, task)
        nb = build_store_notebook(ctx, task_key)
    finally:
        ctx.con.close()
    title = ctx.task_name(task_key)
    dataset = str(ctx.facts.set_index("task_key").loc[task_key, "dataset"])
    out = Path(output) if output else DEFAULT_OUTPUT.parent / "decks" / f"{_slug(dataset)}.slides.html"
    body = export(nb, title=f"Which model where: {title}")
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_name(out.name.removesuffix(".html").removesuffix(".slides") + ".slides.ipynb")
    atomic_write(source, lambda tmp: nbformat.write(nb, tmp))
    atomic_write(out, lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))
    n = sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
    return Deck(title, out, source, n, task_key)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "store"


def _pick_task(ctx, task: str | None) -> str:
    """The task key asked for (by key, title or description), else the task with the most series."""
    facts = ctx.facts
    if facts.empty:
        raise NoClaimsError(f"the results store {ctx.store.root} holds no forecast metric rows: nothing to present")
    if task is None:
        return str(facts.sort_values("n_series", ascending=False, kind="stable")["task_key"].iloc[0])
    for key, description in zip(facts["task_key"], facts["task"], strict=True):
        if task in (key, description, ctx.task_name(key)):
            return str(key)
    known = "; ".join(f"{k} ({ctx.task_name(k)})" for k in facts["task_key"])
    raise WorkbenchError(f"task {task!r} is not in the results store {ctx.store.root}; it holds {known}")


def build_store_notebook(ctx, task_key: str):
    """The deck of one task of a store as a notebook (one cell per slide), from a report context
    (`workbench.report.context.open_context`)."""
    import nbformat

    from workbench.report import figures
    from workbench.report.breakdown import breakdown_table, summary_sentences

    title = ctx.task_name(task_key)
    found = [(b, lines) for b, lines in summary_sentences(ctx) if b.task_key == task_key]
    cells = [_md(_store_title(ctx, task_key)), _md(_question(ctx, task_key)), _md(_data_slide(ctx, task_key))]
    if found:
        items = "".join(
            f"<p class='small'><b>{_e(b.metric)} by {_e(b.column)}</b></p><ul class='small'>"
            + "".join(f"<li>{_e(line)}</li>" for line in lines)
            + "</ul>"
            for b, lines in found[:2]
        )
        cells.append(_md(f"## Which model wins where\n\n{items}"))
        b = found[0][0]
        frame = breakdown_table(b, ctx.labels)
        cells.append(_md(f"## {_e(b.metric)} by {_e(b.column)}\n\n{_frame_html(frame)}"))
    else:
        cells.append(_md(f"## Which model wins where\n\n<p>{_e(ctx.breakdown_note or 'No breakdown.')}</p>"))
    cd = _cd_figure(ctx, task_key)
    if cd is not None:
        cells.append(_figure(cd, f"cd_diagram(wide_friedman(problems of {title}))"))
    for fig in _forecast_figures(ctx, task_key, figures):
        cells.append(_figure(fig, "forecast_drilldown(...)"))
    cells.append(_md(_provenance_slide(ctx, task_key)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = f"Which model where: {title}"
    nb.metadata["workbench"] = {"store": str(ctx.store.root), "task_key": task_key}
    return nb


def _store_title(ctx, task_key: str) -> str:
    runs = ctx.store.runs()
    when = str(runs["started_at"].max())[:16].replace("T", " ") if len(runs) and "started_at" in runs else ""
    return (
        f"# Which model where\n\n<p>{_e(ctx.task_name(task_key))}</p>\n\n"
        f"<p class='small'>Results store <code>{_e(ctx.store.root)}</code>: {len(runs)} run(s)"
        + (f", latest {when} UTC" if when else "")
        + "</p>"
    )


def _question(ctx, task_key: str) -> str:
    facts = ctx.facts.set_index("task_key").loc[task_key]
    models = sorted(set(ctx.board.loc[ctx.board["task_key"] == task_key, "model"].astype(str)))
    rows = [
        ("question", "Which model should forecast which kind of series, and how sure is that?"),
        ("task", str(facts["task"])),
        ("models", ", ".join(ctx.names(models))),
        ("metrics", ", ".join(map(str, facts["metrics"]))),
        ("compared against", "seasonal naive (skill = 1 - geometric mean of the per-problem error ratio)"),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"## The question\n\n<table class='deck'>{table}</table>"


def _data_slide(ctx, task_key: str) -> str:
    """Series per kind (the breakdown columns' values), from the store's per-series metadata."""
    from workbench.store.sql import series_columns, series_metrics

    facts = ctx.facts.set_index("task_key").loc[task_key]
    text = f"## The data\n\n<p>{int(facts['n_series']):,} series, {int(facts['n_models'])} models.</p>"
    columns = series_columns(ctx.store)
    if not columns:
        return text + "<p class='small'>The series carry no metadata columns (kinds of series).</p>"
    rows = series_metrics(ctx.store, metrics=[ctx.primary] if ctx.primary else None)
    rows = rows[rows["task_key"] == task_key].drop_duplicates("unique_id")
    from workbench.report.breakdown import split_columns

    parts = []
    for column in split_columns(rows, columns)[:2]:
        counts = rows.groupby(column, dropna=False).size().rename("series").reset_index()
        parts.append(f"<p class='small'>series per {_e(column)}</p>" + _frame_html(counts))
    return text + "".join(parts)


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_short(v))}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False)
    )
    return f"<table class='deck'><tr>{head}</tr>{body}</table>"


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _cd_figure(ctx, task_key: str):
    from workbench.report import compare, figures

    metric = ctx.primary
    wide = ctx.wide(task_key, metric) if metric else pd.DataFrame()
    if wide.empty or wide.shape[1] < 3:
        return None
    named = wide.rename(columns=lambda m: ctx.names([m])[0])
    try:
        result = compare.wide_friedman(named, metric, higher_is_better=ctx.hib(metric))
    except ValueError:
        return None
    fig = figures.cd_diagram(result, title=f"Critical difference on {metric}")
    fig.update_layout(width=1150)
    return fig


def _forecast_figures(ctx, task_key: str, figures) -> list:
    """Up to MAX_FORECAST_SLIDES forecast plots: one series of each kind (the first breakdown column's
    groups), else the first series; each with every model's forecast and its interval."""
    from workbench.report import queries

    ids_all = queries.sample_series(ctx.con, task_key, 10_000, ctx.seed)[0]
    if not ids_all:
        return []
    chosen = []
    found = [b for b in ctx.breakdowns() if b.task_key == task_key]
    if found:
        from workbench.store.sql import series_metrics

        column = found[0].column
        rows = series_metrics(ctx.store, metrics=[found[0].metric])
        rows = rows[(rows["task_key"] == task_key) & rows["unique_id"].isin(ids_all)].drop_duplicates("unique_id")
        for _, group in rows.groupby(column, sort=True):
            chosen.append(str(group["unique_id"].sort_values().iloc[0]))
    chosen = (chosen or ids_all)[:MAX_FORECAST_SLIDES]
    stored = queries.forecasts_of(ctx.con, task_key, chosen)
    resolved = queries.resolved_tasks(ctx.records).get(task_key)
    window = int(stored["window"].min())
    past, truth, _ = queries.past_and_truth(resolved, chosen, window)
    out = []
    for uid in chosen:
        one = stored[stored["unique_id"] == uid].copy()
        one["model"] = ctx.names(one["model"])
        n_past = max(3 * int(one.groupby("model").size().max()), 24)
        fig = figures.forecast_drilldown(
            past, truth, one, title=f"{uid}, window {window}", n_past=n_past, anomalies=ctx.anomaly_labels
        )
        fig.update_layout(width=1150, height=600, updatemenus=[])
        out.append(fig)
    return out


def _provenance_slide(ctx, task_key: str) -> str:
    from workbench.report.data import runs_table

    runs = runs_table(ctx.store)
    keep = [c for c in ("run_id", "started_at", "workbench_version", "git_commit", "data_hashes") if c in runs]
    shown = runs[keep].tail(6).copy()
    if "git_commit" in shown:
        shown["git_commit"] = shown["git_commit"].map(lambda c: str(c)[:12] if isinstance(c, str) else "")
    units = ctx.records
    units = units[units["task_key"] == task_key] if "task_key" in units else units
    return (
        f"## Provenance\n\n<p class='small'>{len(units):,} committed units of this task in "
        f"<code>{_e(ctx.store.root)}</code>; every number here is recomputed from them "
        "(<code>workbench report</code> shows the same ones, with every unit listed).</p>\n" + _frame_html(shown)
    )
