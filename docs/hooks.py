"""MkDocs hooks: the reference pages generated from the code and the cards at build time.

- `reference/cli.md`: the typer app, walked command by command (help, usage, every parameter).
- `reference/catalog/<card>.md`: one page per `datasets/*.yaml`.
- `reference/papers/<id>.md`: one page per `papers/<id>/paper.yaml`, its claims and the last reproduced
  status (`results/papers/<id>.csv` where a reproduction wrote one).
- `reference/api/<module>.md`: one mkdocstrings page per module of `API_MODULES`.
- Markers in hand-written pages, replaced by generated tables: `<!-- generated:metrics -->` (from
  `workbench.metrics.METRICS`), `<!-- generated:store-vocabulary -->` (from `workbench.store.kinds`) and
  `<!-- generated:public-surface -->` (from `workbench.__all__`).

Nothing here is copied by hand from the code: a renamed option, a new card or a new metric changes the
pages on the next build.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent

# the modules with an API page: (module, what it is for)
API_MODULES: dict[str, str] = {
    "workbench.tasks": "what is evaluated: Task, windows, protocols",
    "workbench.engine.runner": "the Dask engine: evaluate, RunSummary",
    "workbench.engine.grid": "grid files: tasks × models",
    "workbench.sequential": "the in-process reference path",
    "workbench.forecasters": "building a registered model by name",
    "workbench.registry": "the table of model names",
    "workbench.metrics": "metric functions, directions, aggregation",
    "workbench.store.results_store": "the results store",
    "workbench.store.sql": "SQL views and leaderboards over the store",
    "workbench.store.cost": "what a model costs: CPU per 1,000 forecasts, projections at scale",
    "workbench.data.catalog": "catalog panels and tables",
    "workbench.data.panel": "the Panel",
    "workbench.data.synthetic": "a seeded synthetic fleet",
    "workbench.sources.dispatch": "loading any source as a Panel",
    "workbench.anomaly.task": "detection tasks",
    "workbench.anomaly.engine": "detection on the engine",
    "workbench.anomaly.alerts": "alert quality: events detected, time to detect, false alarms",
    "workbench.anomaly.alert_board": "alert tables and operating curves from the stored scores",
    "workbench.anomaly.replay": "streaming replay of detectors, one stamp at a time",
    "workbench.report.compare": "comparisons: skill, ranks, which model where",
    "workbench.report.deploy": "what to deploy: accuracy, alerts and cost, the frontier",
    "workbench.papers.contract": "the paper contract: claims, compare, reports",
    "workbench.notebook_kernels": "notebook helpers (offline figures)",
}

# which peer implementation each metric is checked against in the tests (tests/test_metrics.py,
# tests/test_probabilistic.py); tests/docs checks that every registered metric has an entry
METRIC_PEERS: dict[str, str] = {
    "smape": "utilsforecast `smape` × 200 (tests/test_metrics.py)",
    "mase": "utilsforecast `mase` (tests/test_metrics.py)",
    "mase_monash": "the Monash archive's `error_calculator.R` (papers/monash)",
    "mase_fev": "fev 0.6.0 `MASE`, pooled (tests/test_metrics.py)",
    "mae": "utilsforecast `mae` (tests/test_metrics.py)",
    "mse": "utilsforecast `mse` (tests/test_metrics.py)",
    "rmse": "utilsforecast `rmse` (tests/test_metrics.py)",
    "mape": "utilsforecast `mape` × 100 (tests/test_metrics.py)",
    "rmsse": "utilsforecast `rmsse` (tests/test_metrics.py)",
    "wape": "none: sum |y − f| / sum |y| per series, checked by definition",
    "crps": "gluonts.ev `MeanWeightedSumQuantileLoss`, utilsforecast `scaled_crps` (tests/test_probabilistic.py)",
    "wql": "fev `WQL`; equals `crps` per series and pooled (tests/test_probabilistic.py)",
    "scaled_ql": "gluonts.ev / fev `SQL`, utilsforecast `scaled_mqloss` × 2 (tests/test_probabilistic.py)",
    "quantile_loss": "utilsforecast `mqloss` (tests/test_metrics.py, tests/test_probabilistic.py)",
    "msis": "gluonts.ev `MSIS`, utilsforecast `winkler_score` / scale (tests/test_probabilistic.py)",
    "coverage": "utilsforecast `coverage` (tests/test_probabilistic.py)",
}


# ---- helpers ----------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """A value as one Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _text(value: Any) -> str:
    """Free text from a card or a claim, with brackets escaped (never read as a Markdown link)."""
    return "" if value is None else str(value).replace("[", "\\[").replace("]", "\\]")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _first_paragraph(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


# ---- CLI --------------------------------------------------------------------------------------------
def cli_markdown() -> str:
    """The whole CLI, from the typer app: one section per command, recursively."""
    import typer

    from workbench.cli import app

    root = typer.main.get_command(app)
    out = [
        "# CLI reference",
        "",
        "Generated at build time from the typer app (`workbench.cli.app`); `workbench COMMAND --help`",
        "prints the same text in a terminal.",
        "",
    ]

    def walk(command: Any, path: list[str], parent: Any) -> None:
        ctx = command.context_class(command, info_name=path[-1], parent=parent)
        out.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`")
        out.append("")
        if command.help:
            out.append(inspect.cleandoc(command.help).replace("\b\n", ""))
            out.append("")
        pieces = " ".join(command.collect_usage_pieces(ctx))
        out.extend(["```text", f"Usage: {' '.join(path)} {pieces}".rstrip(), "```", ""])
        rows = []
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
            kind = "argument" if param.param_type_name == "argument" else "option"
            default = param.default if not callable(param.default) else "(computed)"
            if kind == "option" and getattr(param, "is_flag", False) and default is False:
                default = "off"
            rows.append(
                [
                    names,
                    kind + (", required" if param.required else ""),
                    _type_name(param),
                    "" if default in (None, ()) else f"`{default}`",
                    getattr(param, "help", "") or "",
                ]
            )
        if rows:
            out.append(_table(["name", "kind", "type", "default", "help"], rows))
            out.append("")
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name], ctx)

    walk(root, ["workbench"], None)
    return "\n".join(out) + "\n"


def _type_name(param: Any) -> str:
    """A parameter's Python type as written in the command's signature (typer keeps the annotation)."""
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation is None:
        return getattr(getattr(param, "type", None), "name", "")
    return f"`{getattr(annotation, '__name__', None) if isinstance(annotation, type) else annotation}`"


# ---- catalog ----------------------------------------------------------------------------------------
def _cards() -> list[Any]:
    from workbench.data.cards import load_card

    return [load_card(p) for p in sorted((ROOT / "datasets").glob("*.yaml"))]


def card_markdown(card: Any) -> str:
    out = [f"# `{card.name}`: {card.title}", ""]
    if card.description:
        out += [card.description.strip(), ""]
    facts = [
        ["reader", f"`{card.reader}`" if card.reader else "(published results only)"],
        ["licence", card.licence],
        ["citation", card.citation],
        ["homepage", card.homepage],
        ["data version", card.data_version],
        ["provenance", ", ".join(f"`{p}`" for p in card.provenance)],
        ["card file", f"`datasets/{card.name}.yaml`"],
    ]
    out += [_table(["", ""], [r for r in facts if r[1]]), ""]
    if card.subsets:
        out += ["## Subsets", ""]
        rows = []
        for name, sub in card.subsets.items():
            metric_type = sub.metric_type if isinstance(sub.metric_type, str) else None
            if isinstance(sub.metric_type, dict):
                metric_type = ", ".join(f"{k}: {v}" for k, v in sub.metric_type.items())
            rows.append(
                [
                    f"`{name}`",
                    sub.freq or "integer",
                    sub.season_length,
                    sub.horizon,
                    sub.n_series,
                    ", ".join(sub.splits),
                    metric_type,
                    sub.description,
                ]
            )
        header = ["subset", "freq", "season", "horizon", "series", "splits", "metric type", "description"]
        out += [_table(header, rows), ""]
    if card.tables:
        out += ["## Tables", ""]
        rows = [[f"`{n}`", f"`{t.reader}`", t.description] for n, t in card.tables.items()]
        out += [_table(["table", "reader", "description"], rows), ""]
    out += ["## Files", ""]
    rows = [[f"`{f.key}`", f.bytes, f"{f.hash_algorithm}", f"`{f.expected_hash[:16]}…`", f.url] for f in card.files]
    out += [_table(["key", "bytes", "hash", "value", "canonical URL"], rows), ""]
    return "\n".join(out)


def catalog_index(cards: list[Any]) -> str:
    rows = [
        [f"[`{c.name}`]({c.name}.md)", c.title, ", ".join(c.subsets) or "none", ", ".join(c.tables) or ""]
        for c in cards
    ]
    return (
        "# Catalog\n\nOne page per card of `datasets/*.yaml`, generated at build time. "
        "[The catalog guide](../../guide/catalog.md) says how files are fetched, verified and cached.\n\n"
        + _table(["card", "what", "subsets", "tables"], rows)
        + "\n"
    )


# ---- papers -----------------------------------------------------------------------------------------
def _reproduced_status(paper_id: str) -> tuple[str, Any]:
    """The last reproduced status: `results/papers/<id>.csv` (WORKBENCH_RESULTS' papers/ first)."""
    import pandas as pd

    candidates = []
    if os.environ.get("WORKBENCH_RESULTS") and "://" not in os.environ["WORKBENCH_RESULTS"]:
        candidates.append(Path(os.environ["WORKBENCH_RESULTS"]) / "papers" / f"{paper_id}.csv")
    candidates.append(ROOT / "results" / "papers" / f"{paper_id}.csv")
    for path in candidates:
        if path.is_file():
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
            return str(path), frame
    return "", None


def paper_markdown(paper_id: str) -> str:
    from workbench.papers.contract import load_paper

    paper = load_paper(paper_id)
    out = [f"# `{paper.id}`: {paper.title}", ""]
    facts = [
        ["citation", paper.citation],
        ["url", paper.url],
        ["code", paper.code],
        ["notebook", f"`papers/{paper.id}/{paper.notebook}`"],
        ["default parameters", f"`{paper.parameters}`" if paper.parameters else ""],
        ["`--full` parameters", f"`{paper.full_parameters}`" if paper.full_parameters else ""],
    ]
    if paper.expected_cost is not None:
        cost = paper.expected_cost
        full = f", `--full` {cost.full_minutes:g} min" if cost.full_minutes is not None else ""
        facts.append(["expected cost", f"default {cost.default_minutes:g} min{full} ({cost.how})"])
    out += [_table(["", ""], [r for r in facts if r[1]]), ""]
    out += ["Run it with", "", "```bash", f"workbench reproduce {paper.id}", "```", ""]
    out += ["## Last reproduced status", ""]
    where, report = _reproduced_status(paper_id)
    if report is None:
        out += [
            f"Not reproduced in this build: no `results/papers/{paper_id}.csv` was found. "
            f"`workbench reproduce {paper_id}` writes it.",
            "",
        ]
    else:
        counts = report["status"].value_counts().to_dict()
        out += [
            f"From `{Path(where).name}` ({len(report)} rows): "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            "",
        ]
    notes = ROOT / "papers" / paper.id / "NOTES.md"
    if notes.exists():
        out += [f"The protocol and every known difference: `papers/{paper.id}/NOTES.md`.", ""]
    out += [f"## Claims ({len(paper.claims)})", ""]
    rows = [
        [
            _text(c.table),
            _text(c.dataset),
            _text(c.subset),
            _text(c.method),
            _text(c.metric),
            f"{c.value:g}",
            f"{c.tolerance:g}{' (relative)' if c.relative else ''}",
            _text(c.source),
            _text(c.known_discrepancy),
        ]
        for c in paper.claims
    ]
    header = ["table", "dataset", "subset", "method", "metric", "claimed", "tolerance", "source", "known discrepancy"]
    out += [_table(header, rows), ""]
    if paper.facts:
        out += ["## Facts shown beside the reproduction (never compared)", ""]
        rows = [
            [_text(v) for v in (f.dataset, f.subset, f.method, f.what, f"{f.value:g} {f.unit}", f.context, f.source)]
            for f in paper.facts
        ]
        out += [_table(["dataset", "subset", "method", "what", "value", "context", "source"], rows), ""]
    return "\n".join(out)


def papers_index(ids: list[str]) -> str:
    from workbench.papers.contract import load_paper

    rows = []
    for paper_id in ids:
        paper = load_paper(paper_id)
        _, report = _reproduced_status(paper_id)
        status = "not reproduced in this build"
        if report is not None:
            status = ", ".join(f"{k} {v}" for k, v in sorted(report["status"].value_counts().to_dict().items()))
        rows.append([f"[`{paper_id}`]({paper_id}.md)", paper.title, len(paper.claims), status])
    return (
        "# Papers\n\nOne page per `papers/<id>/paper.yaml`, generated at build time. "
        "[The reproductions guide](../../guide/reproductions.md) describes the contract every paper follows.\n\n"
        + _table(["paper", "title", "claims", "last reproduced status"], rows)
        + "\n"
    )


# ---- API --------------------------------------------------------------------------------------------
def api_markdown(module: str, what: str) -> str:
    return (
        f"# `{module}`\n\n{what[0].upper() + what[1:]}.\n\n::: {module}\n    options:\n      show_root_heading: false\n"
    )


def api_index() -> str:
    rows = [[f"[`{m}`]({m}.md)", w] for m, w in API_MODULES.items()]
    return (
        "# API reference\n\nFrom the docstrings, by mkdocstrings, one page per module. "
        "`import workbench` gives the small public surface below; everything else is imported from its module.\n\n"
        "<!-- generated:public-surface -->\n\n" + _table(["module", "what"], rows) + "\n"
    )


def public_surface() -> str:
    import importlib

    import workbench

    rows = []
    for name in workbench.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(workbench, name)
        module = obj.__module__
        link = f"[`{module}`]({module}.md)" if module in API_MODULES else f"`{module}`"
        importlib.import_module(module)
        rows.append([f"`workbench.{name}`", link, _first_paragraph(obj)])
    return _table(["name", "defined in", "what"], rows)


# ---- metrics and store ------------------------------------------------------------------------------
def metrics_table() -> str:
    from workbench.metrics import METRICS

    rows = []
    for name, m in METRICS.items():
        direction = m.direction if m.target is None else f"target {m.target:g}"
        aggregation = "pooled (numerator / denominator stored)" if m.parts is not None else "mean of per-series values"
        rows.append(
            [
                f"`{name}`",
                _first_paragraph(m.fn) or f"`workbench.metrics.{m.fn.__name__}`",
                direction,
                "yes" if m.probabilistic else "no",
                "yes" if m.needs_past else "no",
                f"{m.level:g}" if m.level is not None else "",
                aggregation,
                METRIC_PEERS.get(name, "not recorded"),
            ]
        )
    header = ["metric", "definition", "direction", "probabilistic", "needs past", "level", "aggregation", "agrees with"]
    return _table(header, rows)


def store_vocabulary() -> str:
    from workbench.store import kinds

    out = ["Unit kinds (`workbench.store.kinds.KINDS`): " + ", ".join(f"`{k}`" for k in kinds.KINDS) + ".", ""]
    out.append("Statuses a committed unit ends in (`DONE`): " + ", ".join(f"`{k}`" for k in kinds.DONE) + ".")
    out += ["", "Folders that hold no table (`RESERVED`): " + ", ".join(f"`{k}/`" for k in kinds.RESERVED) + ".", ""]
    out.append(_table(["table (`TABLES`)", "content"], [[f"`{k}`", v] for k, v in kinds.TABLES.items()]))
    return "\n".join(out)


def layers_table() -> str:
    """The import-linter contracts of pyproject.toml: the main layer order, then the other contracts."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    main, *others = contracts
    rows = [
        [i + 1, " ".join(f"`{m.strip()}`" if m.strip() not in "|:" else m.strip() for m in _split(layer))]
        for i, layer in enumerate(main["layers"])
    ]
    out = [f"**{main['name']}**", "", _table(["", "layer (top first)"], rows), "", "The other contracts:", ""]
    for contract in others:
        if contract["type"] == "forbidden":
            what = "may not import " + ", ".join(f"`{m}`" for m in contract["forbidden_modules"])
            who = ", ".join(f"`{m}`" for m in contract["source_modules"])
            out.append(f"- {contract['name']}: {who} {what}.")
        else:
            inside = ", ".join(f"`{c}`" for c in contract.get("containers", []))
            order = " > ".join(contract["layers"])
            out.append(f"- {contract['name']}: inside {inside}, `{order}`.")
    return "\n".join(out)


def _split(layer: str) -> list[str]:
    """`a | b : c` into its modules and separators."""
    import re

    return [part for part in re.split(r"\s*([|:])\s*", layer) if part]


MARKERS = {
    "<!-- generated:layers -->": layers_table,
    "<!-- generated:metrics -->": metrics_table,
    "<!-- generated:store-vocabulary -->": store_vocabulary,
    "<!-- generated:public-surface -->": public_surface,
}


# ---- mkdocs events ----------------------------------------------------------------------------------
def _paper_ids() -> list[str]:
    from workbench.papers.contract import known_papers

    return known_papers()


def on_config(config: Any) -> Any:
    """Expand the Catalog, Papers and API entries of the navigation into their generated pages."""
    cards = [c.name for c in _cards()]
    expand = {
        "reference/catalog/index.md": [f"reference/catalog/{n}.md" for n in cards],
        "reference/papers/index.md": [f"reference/papers/{p}.md" for p in _paper_ids()],
        "reference/api/index.md": [{m: f"reference/api/{m}.md"} for m in API_MODULES],
    }

    def visit(items: list) -> list:
        result = []
        for item in items:
            if isinstance(item, dict):
                ((title, value),) = item.items()
                if isinstance(value, str) and value in expand:
                    result.append({title: [value, *expand[value]]})
                elif isinstance(value, list):
                    result.append({title: visit(value)})
                else:
                    result.append(item)
            else:
                result.append(item)
        return result

    config["nav"] = visit(config["nav"])
    return config


def on_files(files: Files, config: Any) -> Files:
    cards = _cards()
    generated = {
        "reference/cli.md": cli_markdown(),
        "reference/catalog/index.md": catalog_index(cards),
        "reference/api/index.md": api_index(),
        "reference/papers/index.md": papers_index(_paper_ids()),
    }
    generated.update({f"reference/catalog/{c.name}.md": card_markdown(c) for c in cards})
    generated.update({f"reference/papers/{p}.md": paper_markdown(p) for p in _paper_ids()})
    generated.update({f"reference/api/{m}.md": api_markdown(m, w) for m, w in API_MODULES.items()})
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files


# plotly's `notebook` renderer (the HTML half of `workbench.notebook_kernels.FIGURE_RENDERER`) puts a
# MathJax <script> from cdnjs before every figure, with no option to leave it out; the figures need it
# only for LaTeX labels, which no tutorial uses, and the site must open offline
_CDN_MATHJAX = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"></script>')


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Drop the CDN MathJax scripts plotly writes into executed notebooks (see `_CDN_MATHJAX`)."""
    if page.file.src_uri.endswith(".ipynb"):
        output = _CDN_MATHJAX.sub("", output)
    return output


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
