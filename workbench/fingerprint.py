"""Fingerprints of what a result depends on: the workbench code that made it, and the data it read.

A unit key hashes these (with the resolved task, the model spec and the seed), so a rerun
recomputes a unit exactly when something that could change its numbers changed, and nothing else:

- **code**: the modules of the `workbench` package that a model's computation can reach, found by
  following `import workbench...` statements (anywhere in a module, so lazy imports count) from
  the model's own module and the forecasting core (not the scoring modules: a score unit's
  fingerprint covers those). Each module is hashed by its syntax tree, not its bytes, so
  reformatting or editing a comment leaves results valid while any change to code, a constant or a
  docstring invalidates them. Editing the Theta kernel invalidates Theta's units,
  not seasonal naive's. The git commit and a dirty flag are recorded beside it, never hashed:
  they say where the code came from, the fingerprint says what it was.
- **data**: file content hashes plus the reader, its options and the subset's declared metadata
  (frequency, season length, horizon, ...), so a reader option or a card's default horizon that
  changes counts as new data.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "FORECAST_CORE",
    "PACKAGE_ROOT",
    "SCORING_MODULES",
    "code_fingerprint",
    "digest",
    "forecaster_fingerprint",
    "git_state",
    "module_closure",
    "module_of",
    "package_fingerprint",
]

PACKAGE_ROOT = Path(__file__).resolve().parent
# what every forecasting unit runs besides its model: the task's windows and the worker that cuts them
FORECAST_CORE = ("workbench.tasks", "workbench.engine.worker")
# what only scoring runs: a forecast's numbers never depend on them (the task imports the metrics to
# check their names, the worker to score after forecasting), so a forecast unit's fingerprint leaves
# them out and editing or adding a metric rescores stored forecasts without refitting any model. An
# import-linter contract keeps the model implementations from importing them.
SCORING_MODULES = ("workbench.scoring", "workbench.metrics")


def digest(payload: Any, length: int = 64) -> str:
    """sha256 of a JSON-serialisable payload with sorted keys (the one hashing rule for keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:length]


def _module_path(module: str) -> Path | None:
    """The source file of a `workbench.*` module (package `__init__` included), without importing it."""
    parts = module.split(".")
    if parts[0] != "workbench":
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _parsed(path: Path, mtime_ns: int) -> tuple[str, tuple[str, ...]]:
    """(hash of the syntax tree, workbench modules it imports) of one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("workbench"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("workbench"):
            imported.add(str(node.module))
            # `from workbench.data import readers` names a submodule as much as an object
            imported.update(f"{node.module}.{a.name}" for a in node.names)
    tree_hash = hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()
    return tree_hash, tuple(sorted(imported))


def _module_info(module: str) -> tuple[str, tuple[str, ...]] | None:
    path = _module_path(module)
    if path is None:
        return None
    return _parsed(path, path.stat().st_mtime_ns)


def module_closure(roots: tuple[str, ...], skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every workbench module reachable from `roots` by imports (parents included), with its hash;
    modules in `skip` are neither hashed nor followed."""
    seen: dict[str, str] = {}
    stack = list(roots)
    while stack:
        module = stack.pop()
        if module in seen or module in skip:
            continue
        info = _module_info(module)
        if info is None:
            continue
        seen[module] = info[0]
        # a submodule runs its package's __init__; the root package's holds only the version and a
        # lazy accessor, and following it would tie every result to the whole engine
        parent = module.rpartition(".")[0]
        stack.extend([*info[1], *([parent] if parent and parent != "workbench" else [])])
    return seen


def code_fingerprint(*roots: str, skip: tuple[str, ...] = ()) -> str:
    """Hash of the workbench source reachable from `roots` (module names or `module:object` paths),
    leaving out the modules in `skip`."""
    modules = tuple(sorted({r.partition(":")[0] for r in roots}))
    return digest(module_closure(modules, skip), 24)


def package_fingerprint() -> str:
    """Hash of the whole workbench package: for results (a notebook cell) that may call anything."""
    modules = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        rel = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules.append(name)
    return digest(module_closure(tuple(modules)), 24)


def module_of(obj: Any) -> str:
    """The module that defines an object's class (a forecaster or detector instance)."""
    return type(obj).__module__ if not isinstance(obj, type) else obj.__module__


def forecaster_fingerprint(forecaster: Any) -> str:
    """Code fingerprint of a forecasting unit: its model's module and the forecasting core, without
    the scoring modules (a score unit's own fingerprint covers them)."""
    return code_fingerprint(module_of(forecaster), *FORECAST_CORE, skip=SCORING_MODULES)


@cache
def git_state() -> dict[str, Any]:
    """The checkout's commit and whether its workbench sources differ from it (recorded, not hashed)."""
    root = PACKAGE_ROOT.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "workbench"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit or None, "git_dirty": bool(status.strip())}
