"""Run a paper's notebook with papermill and collect its claimed-vs-reproduced report.

The notebook is the reproduction: the CLI only executes it with parameters, keeps the executed copy
and an HTML rendering beside the CSV, and reads the CSV back to print it and set the exit status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.papers.contract import KNOWN, load_paper, paper_path, read_report

DEFAULT_OUTPUT = Path("results") / "papers"


@dataclass(frozen=True)
class Reproduction:
    paper: str
    csv: Path
    notebook: Path
    html: Path | None
    report: pd.DataFrame
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        counts = {s: int((self.report["status"] == s).sum()) for s in ("match", "mismatch", "unavailable")}
        counts["known"] = int(((self.report["status"] == "mismatch") & self._known()).sum())
        return counts

    def _known(self) -> pd.Series:
        return self.report["note"].astype(str).str.startswith(KNOWN)

    @property
    def ok(self) -> bool:
        """True when every available cell matches or is a declared known discrepancy (unavailable
        cells are reported, not failed)."""
        return not ((self.report["status"] == "mismatch") & ~self._known()).any()


def reproduce(
    paper_id: str,
    output_dir: Path = DEFAULT_OUTPUT,
    parameters: dict[str, Any] | None = None,
    full: bool = False,
    html: bool = True,
    progress: bool = True,
) -> Reproduction:
    """Execute `papers/<id>/<notebook>` and return its report (written to `output_dir/<id>.csv`)."""
    import papermill

    paper = load_paper(paper_id)
    source = paper_path(paper_id).parent / paper.notebook
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    csv = output_dir / f"{paper_id}.csv"
    executed = output_dir / f"{paper_id}.ipynb"
    params = {**paper.parameters, **(paper.full_parameters if full else {}), **(parameters or {})}
    params["output_csv"] = str(csv)
    csv.unlink(missing_ok=True)  # a stale report must never pass for this run's
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=params,
            progress_bar=progress,
            cwd=str(source.parent),
            kernel_name="python3",
        )
    except papermill.PapermillExecutionError as exc:
        raise WorkbenchError(
            f"{paper_id}: the notebook failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
            f"the executed notebook is {executed}"
        ) from exc
    seconds = time.perf_counter() - start
    if not csv.exists():
        raise WorkbenchError(f"{paper_id}: the notebook ran but wrote no report to {csv}")
    page = _render_html(executed) if html else None
    return Reproduction(paper_id, csv, executed, page, read_report(csv), seconds)


def _render_html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    page = notebook.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page
