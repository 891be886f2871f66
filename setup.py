"""Build hook: a wheel carries copies of the top-level `datasets/` cards and `papers/` reproductions.

The top-level folders stay the source of truth. `build_py` copies them into the built package as
`workbench/_bundled/{datasets,papers}`, which `workbench.config` reads when it exists; an editable
install builds nothing there and keeps reading the live folders of the checkout. All other metadata is
in pyproject.toml; MANIFEST.in puts the same folders into an sdist, so a wheel built from it gets them.

What is copied: every `datasets/*.yaml` card, and for every `papers/<id>/paper.yaml` the card, its
Markdown notes and the notebook it names (`notebook:`, default `reproduce.ipynb`) with outputs cleared.
Nothing else under `papers/<id>/` (executed copies, reports, checkpoints) goes into the wheel.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent
BUNDLED = Path("workbench", "_bundled")  # keep in step with workbench/config.py
_NOTEBOOK = re.compile(r"^notebook:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def bundled_files() -> dict[str, Path]:
    """`{path inside the package tree: source file}` for the copies a wheel carries."""
    cards = sorted((ROOT / "datasets").glob("*.yaml"))
    papers = sorted((ROOT / "papers").glob("*/paper.yaml"))
    if not cards or not papers:
        raise SetupError(f"no dataset cards (datasets/*.yaml) or paper cards (papers/*/paper.yaml) under {ROOT}")
    files = {str(BUNDLED / "datasets" / card.name): card for card in cards}
    for card in papers:
        folder = card.parent
        named = _NOTEBOOK.search(card.read_text(encoding="utf-8"))
        notebook = folder / (named.group(1) if named else "reproduce.ipynb")
        if not notebook.is_file():
            raise SetupError(f"{card}: its notebook {notebook.name} is missing")
        for source in [card, notebook, *sorted(folder.glob("*.md"))]:
            files[str(BUNDLED / "papers" / folder.name / source.name)] = source
    return files


def _write_clean_notebook(source: Path, target: Path) -> None:
    """Copy a notebook without outputs or execution counts (a notebook saved after a run has them)."""
    text = source.read_text(encoding="utf-8")
    notebook = json.loads(text)
    code = [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]
    if any(cell.get("outputs") or cell.get("execution_count") is not None for cell in code):
        for cell in code:
            cell["outputs"] = []
            cell["execution_count"] = None
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    target.write_text(text, encoding="utf-8")


class BuildPyWithBundledData(build_py):
    """`build_py` that also writes the bundled copies into the build tree (not in editable mode)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for target, source in self._bundled_mapping().items():
            self.mkpath(os.path.dirname(target))
            if source.endswith(".ipynb"):
                _write_clean_notebook(Path(source), Path(target))
            else:
                self.copy_file(source, target)

    def _bundled_mapping(self) -> dict[str, str]:
        return {os.path.join(self.build_lib, dest): str(source) for dest, source in bundled_files().items()}

    def get_output_mapping(self) -> dict[str, str]:
        return {**super().get_output_mapping(), **self._bundled_mapping()}

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        return outputs if self.editable_mode else [*outputs, *self._bundled_mapping()]


setup(cmdclass={"build_py": BuildPyWithBundledData})
