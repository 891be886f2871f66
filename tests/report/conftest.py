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


@pytest.fixture(scope="session")
def m4_run(tmp_path_factory, mirror):
    """The M4 reproduction of Hourly (and Monthly, unavailable here) through the engine into a fresh
    store (zero-shot TTM beside the benchmarks where its weights and granite-tsfm are here), its
    claims committed as `workbench reproduce` commits them."""
    from workbench.config import papers_dir
    from workbench.papers import compare, load_paper, m4
    from workbench.papers.runner import commit_claims

    root = tmp_path_factory.mktemp("m4-store")
    extras = {m4.TTM_SUBSET: [m4.ttm_spec()]} if ttm_here() else {}
    # Monthly's files are not in the mirror: its cells show how an unavailable frequency is reported
    run = m4.run(["Hourly", "Monthly"], rescore_official=False, store=root, extras=extras, n_workers=2, progress=False)
    report = compare(load_paper("m4"), run.values, not_run_note="frequency not run (parameter `frequencies`)")
    notebook = papers_dir() / "m4" / "reproduce.ipynb"
    commit_claims(run.engine.store, "m4", notebook, {"frequencies": ["Hourly"]}, report, 1.0)
    return run, report


def ttm_here() -> bool:
    """TTM's offline weights and granite-tsfm are both installed (never fetched by the tests)."""
    import importlib.util
    from pathlib import Path as _Path

    from workbench.papers.ttm import default_model

    return _Path(default_model()).is_dir() and importlib.util.find_spec("tsfm_public") is not None


@pytest.fixture(scope="session")
def m4_report(m4_run, tmp_path_factory) -> Path:
    from workbench.report import build_report

    run, _ = m4_run
    return build_report(run.engine.store.root, tmp_path_factory.mktemp("m4-report") / "report.html", n_boot=200)
