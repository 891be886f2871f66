"""A notebook sweep file: the notebook, fixed parameters and a grid, validated before anything runs.

    notebook: ../benchmark.ipynb      # relative to this file
    output: results/sweeps/m4         # executed notebooks + completion records (default: results/sweeps/<file stem>)
    parameters:                       # the same for every cell
      models: [naive, seasonal_naive, theta]
    grid:                             # product of these lists
      subset: [Hourly, Weekly]
    cells:                            # explicit cells, crossed with the grid
      - {horizon: 12}
      - {horizon: 24}
    workers: 2                        # parallel notebooks
    executor: local                   # `local` (process pool) or `dask`
    scheduler: null                   # Dask scheduler address (executor dask; else a LocalCluster)
    timeout_s: null                   # per notebook cell, as papermill's execution_timeout

Parameter names are checked against the notebook's `parameters` cell and each value's type against
the type of the default there (an int default takes ints, a float default ints or floats, a list
default lists, a `None` default anything), so a typo or a quoted number fails up front with every
problem listed, instead of as one failed notebook per grid cell an hour later.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import WorkbenchError
from workbench.fingerprint import digest, package_fingerprint
from workbench.storage import sha256_file
from workbench.yaml_files import load_yaml_model

__all__ = [
    "NotebookSweep",
    "SweepCell",
    "SweepError",
    "SweepFile",
    "build_sweep",
    "cell_key",
    "cell_label",
    "expand",
    "load_notebook_sweep",
    "notebook_parameters",
    "type_problem",
]


class SweepError(WorkbenchError):
    """A sweep file, its notebook or one of its parameters is wrong; the message names the culprit."""


class SweepFile(BaseModel):
    """The raw YAML mapping, before the grid is expanded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notebook: str
    output: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    cells: list[dict[str, Any]] = Field(default_factory=list)
    workers: int = Field(1, ge=1)
    executor: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    timeout_s: float | None = Field(None, gt=0)


class SweepCell(BaseModel):
    """One grid cell: the full parameter set handed to the notebook, and the key that makes it resumable."""

    model_config = ConfigDict(frozen=True)

    index: int
    parameters: dict[str, Any]
    key: str
    label: str


class NotebookSweep(BaseModel):
    """A validated sweep: every cell's parameters are known names with values of the declared types."""

    model_config = ConfigDict(frozen=True)

    source: str  # the sweep file, or "<inline>"
    notebook: Path
    notebook_sha256: str
    output: Path
    cells: tuple[SweepCell, ...]
    workers: int = 1
    executor: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    timeout_s: float | None = None


# ---- the notebook's declared parameters --------------------------------------------------------------
_NO_DEFAULT = object()


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """Name -> default value of the notebook's `parameters` cell (papermill's own inspection).

    A default that is not a Python literal (an expression) maps to `_NO_DEFAULT`: its type is unknown
    and any value is accepted."""
    import nbformat
    import papermill

    path = Path(notebook)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: cannot read the notebook ({exc})") from exc
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise SweepError(f"{path}: no cell tagged `parameters`; a sweep needs one to know the notebook's parameters")
    declared = {}
    for name, p in papermill.inspect_notebook(str(path)).items():
        try:
            declared[name] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError, TypeError):
            declared[name] = _NO_DEFAULT
    return declared


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def type_problem(name: str, default: Any, value: Any) -> str | None:
    """Why `value` cannot stand for a parameter whose default is `default`, or None if it can."""
    if default is _NO_DEFAULT or default is None:
        return None
    expected: tuple[type, ...]
    if isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, int):
        expected = (int,)
    elif isinstance(default, float):
        expected = (int, float)
    elif isinstance(default, list | tuple):
        expected = (list, tuple)
    else:
        expected = (type(default),)
    ok = isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected)
    if ok:
        return None
    want = _type_name(default)
    if isinstance(default, float | list | tuple):
        want = "float" if isinstance(default, float) else "list"
    return f"parameter {name!r} expects {want} (its default is {default!r}), got {_type_name(value)} {value!r}"


def _json_problem(name: str, value: Any) -> str | None:
    """Values travel as JSON: YAML dates, sets or NaN would not arrive as written."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return f"parameter {name!r}: {value!r} is not a plain JSON value (strings, numbers, booleans, lists, maps)"
    return None


# ---- keys and labels ------------------------------------------------------------------------------------
def cell_key(notebook_sha256: str, parameters: dict[str, Any]) -> str:
    """Hash of notebook content, parameters and the whole workbench package's code fingerprint (a
    notebook may call anything in it): a change to any reruns the cell."""
    return digest({"notebook": notebook_sha256, "parameters": parameters, "code": package_fingerprint()}, 16)


def cell_label(varying: dict[str, Any]) -> str:
    """A file-name-safe label of the parameters that vary across the sweep (`subset=Hourly`)."""
    parts = [f"{k}={json.dumps(v, sort_keys=True) if isinstance(v, list | dict) else v}" for k, v in varying.items()]
    text = re.sub(r"[^A-Za-z0-9=._-]+", "_", "_".join(parts)).strip("_")
    return text[:80] or "cell"


# ---- loading ---------------------------------------------------------------------------------------------
def expand(spec: SweepFile) -> list[dict[str, Any]]:
    """Fixed parameters ∪ (product of the grid) ∪ (each explicit cell); later entries win."""
    names = list(spec.grid)
    product = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*spec.grid.values())]
    return [{**spec.parameters, **g, **c} for g in product for c in (spec.cells or [{}])]


def build_sweep(spec: SweepFile, notebook: Path, output: Path, source: str = "<inline>") -> NotebookSweep:
    """Validate every cell against the notebook's parameters and key the cells; all problems at once."""
    if not notebook.is_file():
        raise SweepError(f"{source}: notebook {notebook} does not exist")
    declared = notebook_parameters(notebook)
    grids = expand(spec)
    problems: list[str] = []
    unknown = sorted({name for cell in grids for name in cell if name not in declared})
    if unknown:
        problems.append(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for {notebook.name}; "
            f"it declares: {', '.join(sorted(declared))}"
        )
    empty = [name for name, values in spec.grid.items() if not values]
    if empty:
        problems.append(f"grid entries with no values: {', '.join(empty)}")
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(grids):
        for name, value in cell.items():
            if name not in declared:
                continue
            problem = type_problem(name, declared[name], value) or _json_problem(name, value)
            if problem:
                seen.setdefault(problem, []).append(i)
    for problem, cells in seen.items():
        where = f"cell {cells[0]}" if len(cells) == 1 else f"cells {', '.join(map(str, cells[:5]))}"
        problems.append(f"{problem} ({where}{', ...' if len(cells) > 5 else ''})")
    if problems:
        raise SweepError(f"{source}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    digest = sha256_file(notebook)
    varying = [n for n in dict.fromkeys(k for c in grids for k in c) if len({json.dumps(c.get(n)) for c in grids}) > 1]
    cells, keys = [], set()
    for i, params in enumerate(grids):
        key = cell_key(digest, params)
        if key in keys:
            raise SweepError(f"{source}: cell {i} repeats the parameters of an earlier cell: {params}")
        keys.add(key)
        label = cell_label({n: params[n] for n in varying if n in params})
        cells.append(SweepCell(index=i, parameters=params, key=key, label=label))
    return NotebookSweep(
        source=source,
        notebook=notebook.resolve(),
        notebook_sha256=digest,
        output=output.resolve(),
        cells=tuple(cells),
        workers=spec.workers,
        executor=spec.executor,
        scheduler=spec.scheduler,
        timeout_s=spec.timeout_s,
    )


def load_notebook_sweep(
    path: str | Path, output: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> NotebookSweep:
    """Read and validate a sweep file. `overrides` (e.g. `store` from the command line) join the fixed
    parameters; `output` replaces the file's output folder."""
    path = Path(path)
    expected = "a sweep file is a mapping with `notebook` and `grid` or `cells`"
    spec = load_yaml_model(path, SweepFile, SweepError, expected)
    if overrides:
        spec = spec.model_copy(update={"parameters": {**spec.parameters, **overrides}})
    notebook = (path.parent / spec.notebook).resolve()
    out = Path(output or spec.output or Path("results") / "sweeps" / path.stem)
    return build_sweep(spec, notebook, out, source=str(path))
