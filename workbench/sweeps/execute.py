"""Execute one sweep cell: inject its parameters as data, run the notebook with papermill, commit a record.

Parameters are never pasted into the notebook as code. The injected cell holds one base64 string of
their JSON and decodes it, so no value (a string with quotes, newlines or `__import__`) can become
a statement; the values are also written, as JSON, to the output notebook's metadata
(`metadata.workbench.parameters`) where tools read them.

A cell is complete when its executed notebook exists, hashes to what its completion record says, and
that record (written last, atomically) says `ok`. A killed run leaves at most a notebook without a
record, and the cell runs again; a failed cell keeps its executed notebook, error included, and its
record says `error` (it runs again on the next invocation).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from workbench import __version__
from workbench.storage import atomic_write

__all__ = [
    "INJECTED_TAG",
    "CellResult",
    "cell_complete",
    "injected_source",
    "output_notebook",
    "parameterize",
    "read_record",
    "record_path",
    "run_cell",
]

INJECTED_TAG = "injected-parameters"


class CellResult(TypedDict, total=False):
    key: str
    index: int
    label: str
    status: str  # ok | error | skipped
    parameters: dict[str, Any]
    notebook: str
    notebook_sha256: str
    source_notebook: str
    source_sha256: str
    error: str
    failed_cell: int | None
    duration_s: float
    started_at: str
    finished_at: str
    worker: str
    workbench_version: str


def output_notebook(output: Path, key: str, label: str) -> Path:
    return output / f"{label}-{key}.ipynb"


def record_path(output: Path, key: str) -> Path:
    return output / "records" / f"{key}.json"


def read_record(output: Path, key: str) -> CellResult | None:
    try:
        return json.loads(record_path(output, key).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def cell_complete(output: str | Path, key: str) -> bool:
    """True when the cell's record says ok and its executed notebook is there, unchanged."""
    from workbench.storage import sha256_file

    record = read_record(Path(output), key)
    if not record or record.get("status") != "ok":
        return False
    try:
        return sha256_file(Path(record["notebook"])) == record.get("notebook_sha256")
    except (OSError, KeyError):
        return False


def injected_source(parameters: dict[str, Any]) -> str:
    """The injected cell: parameters as one base64 JSON literal, decoded in the kernel."""
    blob = base64.b64encode(json.dumps(parameters, sort_keys=True).encode()).decode("ascii")
    shown = json.dumps(parameters, sort_keys=True)  # one line: JSON escapes newlines, so this stays a comment
    return (
        "# Parameters injected by `workbench sweep` as data (base64 JSON), never as code:\n"
        f"# {shown}\n"
        "import base64 as _wb_b64, json as _wb_json\n"
        f'globals().update(_wb_json.loads(_wb_b64.b64decode("{blob}").decode("utf-8")))\n'
        "del _wb_b64, _wb_json"
    )


def parameterize(source: Path, parameters: dict[str, Any], meta: dict[str, Any]):
    """The source notebook with an injected-parameters cell after its `parameters` cell."""
    import nbformat
    from papermill.iorw import load_notebook_node

    nb = load_notebook_node(str(source))  # papermill's loader: every cell gets a `tags` list
    cell = nbformat.v4.new_code_cell(source=injected_source(parameters))
    cell.metadata["tags"] = [INJECTED_TAG]
    cells = [c for c in nb.cells if INJECTED_TAG not in c.metadata.get("tags", [])]
    at = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells = [*cells[: at + 1], cell, *cells[at + 1 :]]
    nb.metadata["workbench"] = {**meta, "parameters": parameters}
    return nb


def run_cell(
    notebook: str,
    output: str,
    cell: dict[str, Any],
    notebook_sha256: str = "",
    timeout_s: float | None = None,
    kernel_name: str = "python3",
) -> CellResult:
    """Execute one cell (`{index, key, label, parameters}`) and commit its record; never raises for the
    notebook's own failure, which is recorded with the failing cell and error."""
    from papermill.exceptions import PapermillExecutionError

    from workbench.notebook_kernels import execute_notebook
    from workbench.storage import sha256_file

    out_dir, source = Path(output), Path(notebook)
    target = output_notebook(out_dir, cell["key"], cell["label"])
    target.parent.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    meta = {"sweep_key": cell["key"], "sweep_index": cell["index"], "source": str(source), "version": __version__}
    record: CellResult = {
        "key": cell["key"],
        "index": cell["index"],
        "label": cell["label"],
        "parameters": cell["parameters"],
        "notebook": str(target),
        "source_notebook": str(source),
        "source_sha256": notebook_sha256,
        "started_at": started_at,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "workbench_version": __version__,
        "error": "",
        "failed_cell": None,
    }
    try:
        nb = parameterize(source, cell["parameters"], meta)
        execute_notebook(nb, target, cwd=source.parent, kernel_name=kernel_name, execution_timeout=timeout_s)
        record["status"] = "ok"
    except PapermillExecutionError as exc:
        record["status"] = "error"
        record["error"] = f"{exc.ename}: {exc.evalue}"
        record["failed_cell"] = exc.exec_count
    except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook: recorded, not raised
        record["status"] = "error"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["trace"] = traceback.format_exc(limit=4)  # type: ignore[typeddict-unknown-key]
    record["duration_s"] = round(time.perf_counter() - start, 3)
    record["finished_at"] = datetime.now(UTC).isoformat()
    if target.exists():
        record["notebook_sha256"] = sha256_file(target)
    text = json.dumps(record, sort_keys=True, default=str, indent=1)
    atomic_write(record_path(out_dir, cell["key"]), lambda tmp: Path(tmp).write_text(text))
    return record
