"""The package's public surface: every name in `workbench.__all__` resolves, and importing the
package stays cheap (its names are imported on first use, PEP 562)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench


@pytest.mark.parametrize("name", workbench.__all__)
def test_when_a_public_name_is_asked_for_then_it_resolves(name):
    assert getattr(workbench, name) is not None
    assert name in dir(workbench)


def test_when_an_unknown_name_is_asked_for_then_it_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'evaluat'"):
        workbench.evaluat  # noqa: B018


def test_when_workbench_is_imported_then_neither_pandas_nor_dask_is():
    code = "import json, sys, workbench; print(json.dumps(sorted(sys.modules)))"
    loaded = set(
        json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    )
    heavy = {m for m in loaded if m.split(".")[0] in {"pandas", "dask", "distributed", "numpy", "torch", "duckdb"}}
    assert not heavy, f"import workbench loaded {sorted(heavy)[:5]}"
    subpackages = {m for m in loaded if m.startswith("workbench.")} - {"workbench._lazy"}
    assert not subpackages, f"import workbench loaded {sorted(subpackages)}"


def _public_modules() -> list[str]:
    """Every public module of workbench by name: its files, less those named (or in a package named) with `_`."""
    root = Path(workbench.__file__).parent
    modules = []
    for path in sorted(root.rglob("*.py")):
        parts = ("workbench", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            modules.append(".".join(parts))
    return modules


def test_when_the_package_is_walked_then_its_public_modules_are_found():
    modules = _public_modules()
    assert {"workbench", "workbench.engine", "workbench.engine.runner", "workbench.store.sql"} <= set(modules)
    assert "workbench._lazy" not in modules


@pytest.mark.parametrize("module_name", _public_modules())
def test_when_a_public_module_is_imported_then_its_all_names_resolve_once_each(module_name):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} defines no __all__"
    names = list(module.__all__)
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"{module_name}.__all__ lists {repeated} more than once"
    missing = []
    for name in names:
        try:
            getattr(module, name)
        except AttributeError:
            missing.append(name)
    assert not missing, f"{module_name}.__all__ lists {missing}, which do not resolve"
