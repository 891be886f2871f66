"""A small real results store (engine run on a real dataset) and a papers folder, for report tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from report_helpers import MODELS


@pytest.fixture(scope="session")
def report_store(tmp_path_factory, mirror) -> Path:
    """Four models on Australian tourism (96 quarterly series), two rolling windows, forecasts kept."""
    import workbench
    from workbench.tasks import Task

    root = tmp_path_factory.mktemp("report-store")
    task = Task(dataset="classics", subset="australian_tourism", protocol="rolling", n_windows=2)
    summary = workbench.evaluate(task, MODELS, store=root, n_workers=1, save_forecasts=True, progress=False)
    assert summary.counts() == {"ok": len(summary.records)}
    return root


@pytest.fixture(scope="session")
def papers_folder(tmp_path_factory) -> Path:
    """A claimed-vs-reproduced CSV in the papers' contract format, with a mismatch and an unavailable cell."""
    from workbench.papers.contract import COLUMNS

    folder = tmp_path_factory.mktemp("papers")
    rows = [
        ["toy", "Table 1", "m4", "Hourly", "Naive", "sMAPE", 43.0, 43.003, 0.01, "match", ""],
        ["toy", "Table 1", "m4", "Hourly", "Theta", "sMAPE", 18.1, 19.0, 0.01, "mismatch", "<script>alert(1)</script>"],
        ["toy", "Table 1", "m4", "Yearly", "Theta", "sMAPE", 14.6, float("nan"), 0.01, "unavailable", "not run"],
    ]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "toy.csv", index=False)
    return folder
