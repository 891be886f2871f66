"""Helpers for notebook and sweep tests: tiny notebooks written on the fly, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A notebook with a `parameters` cell and plain code cells."""
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def write_sweep(path: Path, **fields) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def run_cli(args: list[str], timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COLUMNS": "250",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run([*WORKBENCH, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def unclean_outputs(nb) -> list[str]:
    """Every stderr stream and error output of an executed notebook, named by cell: a clean run has none
    (no warnings such as tqdm's `IProgress not found`, no tracebacks)."""
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index} error: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {index} stderr: {out.get('text', '').strip()[:500]}")
    return found


def assert_clean(nb, name: str) -> None:
    problems = unclean_outputs(nb)
    source = {int(p.split()[1]): nb.cells[int(p.split()[1])].source.splitlines()[:1] for p in problems}
    assert not problems, f"{name}: " + "; ".join(f"{p} (cell starts {source[int(p.split()[1])]})" for p in problems)
