"""The package's public surface: every name in `workbench.__all__` resolves, and importing the
package stays cheap (its names are imported on first use, PEP 562)."""

from __future__ import annotations

import json
import subprocess
import sys

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
