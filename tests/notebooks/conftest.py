"""Fixtures for notebook and sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from nb_helpers import write_notebook


@pytest.fixture
def tiny_notebook(tmp_path: Path) -> Path:
    """Appends one line per execution to `log` (so a test can count executions), writes the `name`
    parameter's repr to `echo`, sleeps `sleep` seconds, and fails when `fail` is true."""
    return write_notebook(
        tmp_path / "tiny.ipynb",
        'x = 1\nscale = 1.0\nname = "a"\nfail = False\nsleep = 0.0\nitems = [1]\nlog = ""\necho = ""',
        "import time\ntime.sleep(sleep)\n"
        "if log:\n    with open(log, 'a') as fh:\n        fh.write(f'{x}\\n')\n"
        "if echo:\n    with open(echo, 'w') as fh:\n        fh.write(repr(name))",
        "assert not fail, f'asked to fail at x={x}'",
    )
