"""Run a paper's notebook with papermill and collect its claimed-vs-reproduced report.

The notebook is the reproduction: the CLI only executes it with parameters, keeps the executed copy
and an HTML rendering beside the CSV, and reads the CSV back to print it and set the exit status.
Parameters are checked against the notebook's `parameters` cell before anything runs (a misspelt
name or a value of the wrong type is an error, never a silent default). Notebooks that write to a
results store get the configured one (`--store`, `WORKBENCH_RESULTS`, else `./results` of the
directory the command runs in), never a folder inside the source tree, and the claimed-vs-reproduced
rows are committed to that store as a unit of kind `paper`, so the report reads them from one place.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.engine.records import unit_record
from workbench.engine.store import ResultsStore, results_root
from workbench.engine.units import new_run_id
from workbench.errors import WorkbenchError
from workbench.fingerprint import digest, package_fingerprint
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
    store: ResultsStore | None = None
    unit: str | None = None

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


class ParameterError(WorkbenchError):
    """A `-p name=value` the notebook does not declare, or a value of the wrong type."""


def check_parameters(paper_id: str, notebook: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The notebook's declared parameters; raises naming every unknown or mistyped one given."""
    from workbench.sweeps.spec import notebook_parameters, type_problem

    declared = notebook_parameters(notebook)
    problems = []
    for name, value in parameters.items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {name!r}{hint}")
        elif problem := type_problem(name, declared[name], value):
            problems.append(problem)
    if problems:
        raise ParameterError(
            f"{paper_id}: " + "; ".join(problems) + f". The notebook {notebook.name} declares: {', '.join(declared)}"
        )
    return declared


def reproduce(
    paper_id: str,
    output_dir: Path = DEFAULT_OUTPUT,
    parameters: dict[str, Any] | None = None,
    full: bool = False,
    html: bool = True,
    progress: bool = True,
    store: str | Path | None = None,
) -> Reproduction:
    """Execute `papers/<id>/<notebook>` and return its report (written to `output_dir/<id>.csv` and
    committed to the results store)."""
    import papermill

    paper = load_paper(paper_id)
    source = paper_path(paper_id).parent / paper.notebook
    declared = check_parameters(paper_id, source, parameters or {})
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    csv = output_dir / f"{paper_id}.csv"
    executed = output_dir / f"{paper_id}.ipynb"
    params = {**paper.parameters, **(paper.full_parameters if full else {}), **(parameters or {})}
    results = ResultsStore(results_root(store))
    if "store" in declared and params.get("store") is None:
        params["store"] = str(results.root)  # absolute: the notebook runs with its own folder as cwd
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
    report = read_report(csv)
    unit = commit_claims(results, paper_id, source, params, report, seconds)
    return Reproduction(paper_id, csv, executed, page, report, seconds, results, unit)


def commit_claims(
    store: ResultsStore, paper_id: str, notebook: Path, params: dict[str, Any], report: pd.DataFrame, seconds: float
) -> str:
    """The claimed-vs-reproduced rows as one unit of kind `paper`: keyed by the paper, the notebook's
    content, the parameters and the code, so a rerun of the same reproduction replaces its rows and
    another parameter set sits beside them."""
    import hashlib

    shown = {k: v for k, v in params.items() if k not in ("output_csv", "store")}
    notebook_sha = hashlib.sha256(notebook.read_bytes()).hexdigest()
    payload = {"kind": "paper", "paper": paper_id, "notebook": notebook_sha, "parameters": shown}
    code = package_fingerprint()
    key = digest({**payload, "code": code}, 24)
    claims = report.assign(kind="paper", unit=key, task_key=f"paper:{paper_id}", task=f"paper {paper_id}")
    task = {
        "key": f"paper:{paper_id}",
        "description": f"paper {paper_id}",
        "fields": {"paper": paper_id, "parameters": shown},
        "dataset": ",".join(sorted(report["dataset"].astype(str).unique())),
        "subset": ",".join(sorted(report["subset"].astype(str).unique())),
    }
    record = unit_record(
        key=key,
        kind="paper",
        identity=digest(payload, 24),
        code=code,
        run_id=new_run_id(),
        task=task,
        model=paper_id,
        model_name=paper_id,
        params=shown,
        seed=0,
        status="ok",
        duration_s=round(seconds, 3),
        counts={s: int((report["status"] == s).sum()) for s in ("match", "mismatch", "unavailable")},
    )
    store.write_unit(key, {"claims": claims}, record)
    return key


def _render_html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    page = notebook.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page
