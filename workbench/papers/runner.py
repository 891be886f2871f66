"""Run a paper's notebook with papermill and collect its claimed-vs-reproduced report.

The notebook is the reproduction: the CLI only executes it with parameters, keeps the executed copy
and an HTML rendering beside the CSV, and reads the CSV back to print it and set the exit status.
Parameters are checked against the notebook's `parameters` cell before anything runs (a misspelt
name or a value of the wrong type is an error, never a silent default). Notebooks that write to a
results store get the configured one (`--store`, `WORKBENCH_RESULTS`, else `./results` of the
directory the command runs in), never a folder inside the source tree, and the claimed-vs-reproduced
rows are committed to that store as a unit of kind `paper`, so the report reads them from one place.

Before it starts, a reproduction says what it is about to run (the parameters that choose its cells) and
roughly how long that takes (the card's `expected_cost`). While it runs it says where it is: one line as
each code cell starts and ends, the notebook's own stdout and stderr, and the state of the notebook's
progress bars. Those bars are tqdm's widgets inside the kernel (what JupyterLab draws); the runner reads
their state from the widget messages the kernel sends anyway, so nothing in the notebook or the library
has to print for a terminal. The kernel is started with CurveZMQ keys provisioned by the kernel manager
(jupyter_client's `transport_encryption`, when pyzmq has Curve and the kernelspec declares it), so its
sockets are not plain TCP and it does not warn that they are.
"""

from __future__ import annotations

import difflib
import functools
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import ParameterError, WorkbenchError
from workbench.fingerprint import digest, package_fingerprint
from workbench.notebook_kernels import execute_notebook
from workbench.papers.contract import KNOWN, Paper, load_paper, paper_path, read_report
from workbench.store.records import commit_unit, new_run_id
from workbench.store.results_store import ResultsStore, results_root

__all__ = [
    "DEFAULT_OUTPUT",
    "Echo",
    "Reproduction",
    "check_parameters",
    "commit_claims",
    "describe_run",
    "progress_engine",
    "reproduce",
]

DEFAULT_OUTPUT = Path("results") / "papers"
# parameters the runner sets itself: not part of what a reader chooses
_PLUMBING = ("output_csv", "store")
Echo = Callable[[str], None]


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
        """True when every available claim matches or is a declared known discrepancy (unavailable
        claims are reported, not failed)."""
        return not ((self.report["status"] == "mismatch") & ~self._known()).any()


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
    if problems:  # a `-p name=value` the notebook does not declare, or a value of the wrong type
        raise ParameterError(f"{paper_id} ({notebook.name})", problems, list(declared))
    return declared


def reproduce(
    paper_id: str,
    output_dir: Path = DEFAULT_OUTPUT,
    parameters: dict[str, Any] | None = None,
    full: bool = False,
    html: bool = True,
    progress: bool = True,
    store: str | Path | None = None,
    echo: Echo | None = None,
) -> Reproduction:
    """Execute `papers/<id>/<notebook>` and return its report (written to `output_dir/<id>.csv` and
    committed to the results store). With `progress`, what is about to run and how long it should
    take, then the cells as they run, go to `echo` (default: stdout, flushed line by line)."""
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
    say = echo or _print
    if progress:
        say(describe_run(paper, params, full))
    start = time.perf_counter()
    try:
        execute_notebook(
            str(source),
            executed,
            cwd=source.parent,
            parameters=params,
            engine_name=progress_engine(),
            **(_progress_kwargs(say) if progress else {}),
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

    shown = {k: v for k, v in params.items() if k not in _PLUMBING}
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
    commit_unit(
        store,
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
        tables={"claims": claims},
        status="ok",
        duration_s=round(seconds, 3),
        counts={s: int((report["status"] == s).sum()) for s in ("match", "mismatch", "unavailable")},
    )
    return key


def _render_html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    page = notebook.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page


def describe_run(paper: Paper, params: dict[str, Any], full: bool) -> str:
    """What a run is about to do, before it does it: the parameters that pick its cells (the
    default ones, or `--full`'s, and any given with -p) and the card's expected cost."""
    chosen = {k: v for k, v in params.items() if k not in _PLUMBING}
    scope = (
        "the full table (--full)"
        if full
        else "the default cells" + (" (--full runs all)" if paper.full_parameters else "")
    )
    lines = [f"{paper.id}: running {scope} of {len(paper.claims)} claims"]
    lines += [f"  {name} = {_short(value)}" for name, value in chosen.items()] or ["  (the notebook's own defaults)"]
    cost = paper.expected_cost
    if cost is None:
        lines.append("  expected time: not declared in paper.yaml")
    else:
        minutes = cost.full_minutes if full and cost.full_minutes is not None else cost.default_minutes
        rest = "" if full or cost.full_minutes is None else f"; --full about {_minutes(cost.full_minutes)}"
        lines.append(f"  expected time: about {_minutes(minutes)} on a 2-core machine{rest} ({cost.how})")
    return "\n".join(lines)


def _short(value: Any, limit: int = 110) -> str:
    return _clip(repr(value), limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value >= 1.5 else f"{60 * value:.0f} s"


def _print(line: str) -> None:
    print(line, flush=True)


def _progress_kwargs(say: Echo) -> dict[str, Any]:
    return {"stdout_file": _Indented(say), "stderr_file": _Indented(say), "progress_echo": say}


class _Indented:
    """A file-like sink for the notebook's stdout/stderr: complete lines, indented under their cell."""

    def __init__(self, say: Echo):
        self.say, self.pending = say, ""

    def write(self, text: str) -> int:
        self.pending += text.replace("\r", "\n")
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.say(f"    {line}")
        return len(text)

    def flush(self) -> None:
        if self.pending.strip():
            self.say(f"    {self.pending}")
        self.pending = ""


@functools.cache
def progress_engine() -> str:
    """A papermill engine whose client reports progress (see the module docstring)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from traitlets import Any as AnyTrait
    from traitlets import Float

    class ProgressClient(PapermillNotebookClient):
        progress_echo = AnyTrait(None, allow_none=True)
        bar_every_s = Float(5.0)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.progress_echo is not None:
                self.on_cell_start, self.on_cell_executed = self._cell_started, self._cell_executed
            self._code = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code" and c.source.strip()]
            self._started: dict[int, float] = {}
            self._shown: dict[str, tuple[float, str]] = {}

        def _where(self, index: int) -> str:
            return f"[cell {self._code.index(index) + 1}/{len(self._code)}]" if index in self._code else ""

        def _cell_started(self, cell, cell_index, **_):
            if cell_index in self._code:
                self._started[cell_index] = time.perf_counter()
                first = next((ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
                self.progress_echo(f"{self._where(cell_index)} {_clip(first.strip(), 100)}")

        def _cell_executed(self, cell, cell_index, **_):
            for stream in (self.stdout_file, self.stderr_file):
                if stream is not None:
                    stream.flush()
            seconds = time.perf_counter() - self._started.pop(cell_index, time.perf_counter())
            self.progress_echo(f"{self._where(cell_index)} done in {seconds:.1f} s")

        def handle_comm_msg(self, outs, msg, cell_index):
            super().handle_comm_msg(outs, msg, cell_index)
            if self.progress_echo is not None and "state" in msg["content"].get("data", {}):
                self._show_bar(msg["content"]["comm_id"])

        def _show_bar(self, comm_id: str) -> None:
            """Print a tqdm widget's text (description, count, rate) when one of its parts changed:
            at most every `bar_every_s` seconds per bar, and always when it reaches its total."""
            ref = f"IPY_MODEL_{comm_id}"
            state = self.widget_state
            box = next((k for k, v in state.items() if ref in v.get("children", ())), None)
            parts = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in state.get(box, {}).get("children", ())]
            bars = [p for p in parts if p.get("_model_name") == "FloatProgressModel"]
            texts = [p for p in parts if p.get("_model_name") == "HTMLModel"]
            if box is None or not bars or len(texts) != 2:
                return
            bar = bars[0]
            text = " ".join(_plain(t.get("value", "")) for t in texts).strip()
            done = bar.get("max") is not None and bar.get("value", 0) >= bar["max"]
            last_time, last_text = self._shown.get(box, (0.0, ""))
            now = time.perf_counter()
            if text and text != last_text and (done or now - last_time >= self.bar_every_s):
                self._shown[box] = (now, text)
                self.progress_echo(f"    {text}")

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
            start_timeout=60, execution_timeout=None, **kwargs,
        ):  # fmt: skip
            from papermill.log import logger

            kwargs.pop("input_path", None)
            client = ProgressClient(
                nb_man, kernel_name=kernel_name, log=logger, startup_timeout=start_timeout, timeout=execution_timeout,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file, **kwargs,
            )  # fmt: skip
            return client.execute()

    papermill_engines.register("workbench", ProgressEngine)
    return "workbench"


def _plain(fragment: str) -> str:
    # tqdm's widget text pads with figure and thin spaces, which a terminal (or a grep) wants as spaces
    return re.sub(r"[\u2007\u2009\u00a0]", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()
