"""The documentation's text, without building it: the README stays short and points into the docs, no
page repeats another's text, the tutorials are stored without outputs, and the generated reference
covers what the code registers."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs (code blocks and tables left out), whitespace normalised."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    blocks = (" ".join(b.split()) for b in text.split("\n\n"))
    return [b for b in blocks if len(b) >= 80 and not b.startswith(("|", "#", "<!--"))]


def test_when_the_readme_is_read_then_it_is_short_and_links_into_the_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for needed in ("make run", "make test", "WORKBENCH_DATA_MIRROR", "make docs"):
        assert needed in readme, needed
    for target in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / target).is_file(), target


def test_when_docs_pages_are_compared_then_no_paragraph_appears_twice():
    pages = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
    for notebook in sorted(DOCS.rglob("*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        cells = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        pages.append((notebook, cells))
    seen: dict[str, str] = {}
    repeated = []
    for page in pages:
        path, text = page if isinstance(page, tuple) else (page, page.read_text())
        for paragraph in _paragraphs(text):
            where = str(Path(path).relative_to(REPO))
            if paragraph in seen and seen[paragraph] != where:
                repeated.append((seen[paragraph], where, paragraph[:80]))
            seen.setdefault(paragraph, where)
    assert repeated == []


def test_when_tutorials_are_stored_then_they_have_no_outputs():
    notebooks = sorted((DOCS / "tutorials").glob("*.ipynb"))
    assert len(notebooks) >= 5
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_when_metrics_are_registered_then_the_metrics_page_names_the_peer_of_each():
    from workbench.metrics import METRICS

    hooks = _hooks()
    assert set(hooks.METRIC_PEERS) == set(METRICS)
    table = hooks.metrics_table()
    assert all(f"`{name}`" in table for name in METRICS)


def test_when_the_cli_page_is_generated_then_it_has_every_command_and_option():
    import typer

    from workbench.cli import app

    text = _hooks().cli_markdown()
    root = typer.main.get_command(app)

    def walk(command, path):
        assert f"`{' '.join(path)}`" in text, path
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert f"`{opt}`" in text, (path, opt)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, ["workbench"])


def test_when_a_paper_was_never_reproduced_then_its_page_says_so(tmp_path, monkeypatch):
    hooks = _hooks()
    monkeypatch.setattr(hooks, "ROOT", tmp_path)  # no results/papers/ there
    monkeypatch.setenv("WORKBENCH_RESULTS", str(tmp_path / "results"))
    text = hooks.paper_markdown("m3")
    assert "Not reproduced in this build" in text and "## Claims (" in text
