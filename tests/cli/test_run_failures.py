"""`workbench run` and `workbench results leaderboard` keep failed units in sight.

A rerun of a grid whose units failed before computes nothing, yet must not say "nothing to
compute" and exit 0: it names the failures per model and the command that retries them, and exits 1.
The leaderboard prints the failed units below the board and exits 0.

The failure is a real one (see tests/engine/test_failures_visible.py): statsforecast's
`AutoETS(model="AAA", season_length=24)` cannot fit the file of short series and fits the file of
long ones. The CLI runs in-process (typer's runner) on an in-process Dask cluster (`--scheduler`).
"""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from workbench.cli import app
from workbench.config import CATALOG_ENV

runner = CliRunner()
ETS = {"name": "statsforecast.AutoETS", "params": {"model": "AAA", "season_length": 24}}
ETS_LABEL = "statsforecast.AutoETS(model=AAA, season_length=24)"
ERROR = "Exception: no model able to be fitted"
ENV = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def threads_client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as c, Client(c) as cl:
        yield cl


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A user card over two files: short series (a past of 26 and 28 hours) and long ones."""
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(5)
    for name, lengths in {"short": {"a0": 38, "a1": 40}, "long": {"b0": 110, "b1": 120}}.items():
        frames = []
        for uid, n in lengths.items():
            t = np.arange(n)
            y = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, n)
            ds = pd.date_range("2024-01-01", periods=n, freq="h")
            frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
        pd.concat(frames, ignore_index=True).to_parquet(data / f"{name}.parquet", index=False)
    cards = tmp_path / "cards"
    cards.mkdir()
    card = {"name": "fleet", "source": {"path": str(data)}, "freq": "h", "season_length": 24, "horizon": 12}
    (cards / "fleet.yaml").write_text(yaml.safe_dump(card))
    return {"cards": cards, "store": tmp_path / "store", "folder": tmp_path}


def _grid(folder: Path, name: str, models: list) -> Path:
    grid = folder / f"{name}.yaml"
    grid.write_text(yaml.safe_dump({"tasks": [{"dataset": "fleet", "protocol": "rolling"}], "models": models}))
    return grid


def _run(grid: Path, fleet: dict[str, Path], client, *more: str):
    args = ["run", str(grid), "--store", str(fleet["store"]), "--catalog", str(fleet["cards"])]
    return runner.invoke(app, [*args, "--scheduler", client.scheduler.address, *more], env=ENV)


def _retry(grid: Path, fleet: dict[str, Path], client) -> str:
    where = ["--store", str(fleet["store"]), "--catalog", str(fleet["cards"]), "--scheduler", client.scheduler.address]
    return shlex.join(["workbench", "run", str(grid), "--retry-failed", *where])


def test_when_a_grid_with_failed_units_is_rerun_then_it_names_them_and_the_retry_command_and_exits_1(
    fleet, threads_client
):
    grid = _grid(fleet["folder"], "grid", ["naive", ETS])
    first = _run(grid, fleet, threads_client)
    assert first.exit_code == 1, first.output
    assert "4 units, 0 already complete, 4 computed (3 ok, 1 error)" in first.output
    assert f"error all {ETS_LABEL} chunks" in first.output and ERROR in first.output
    assert f"to recompute the failed units: {_retry(grid, fleet, threads_client)}" in first.output

    again = _run(grid, fleet, threads_client)
    assert again.exit_code == 1, again.output
    assert "nothing to compute" not in again.output
    assert "4 units, 4 already complete, 0 computed (1 unit(s) failed before, not retried)" in again.output
    assert "1 unit(s) of this grid failed in an earlier run" in again.output
    assert f"· {ETS_LABEL} (forecast units): 1 error; first error: {ERROR}" in again.output
    assert "· naive" not in again.output
    assert f"to recompute the failed units: {_retry(grid, fleet, threads_client)}" in again.output

    retried = _run(grid, fleet, threads_client, "--retry-failed")
    assert retried.exit_code == 1, retried.output  # the model still cannot fit those series
    assert "4 units, 3 already complete, 1 computed (1 error)" in retried.output

    # a grid of the model that never failed: a rerun has nothing to compute and exits 0
    naive = _grid(fleet["folder"], "naive", ["naive"])
    fine = _run(naive, fleet, threads_client)
    assert fine.exit_code == 0, fine.output
    assert "2 units, 2 already complete, 0 computed (nothing to compute)" in fine.output
    assert "failed in an earlier run" not in fine.output and "to recompute" not in fine.output


def test_when_the_leaderboard_is_shown_then_failed_units_are_listed_below_it_and_it_exits_0(fleet, threads_client):
    grid = _grid(fleet["folder"], "grid", ["naive", ETS])
    assert _run(grid, fleet, threads_client).exit_code == 1
    store = ["--store", str(fleet["store"])]
    shown = runner.invoke(app, ["results", "leaderboard", *store], env=ENV)
    assert shown.exit_code == 0, shown.output
    assert "leaderboard (mean of per-series values)" in shown.output
    below = shown.output.split("leaderboard (mean of per-series values)", 1)[1]
    assert "1 failed unit(s), whose results are missing from the board" in below
    assert f"fleet/all rolling 1x12 step 12 expanding h=12 m=24 · {ETS_LABEL} (forecast units): 1 error" in below
    assert f"first error: {ERROR}" in below and "workbench run GRID --retry-failed" in below

    csv = runner.invoke(app, ["results", "leaderboard", *store, "--csv"], env=ENV)
    assert csv.exit_code == 0, csv.output
    board = pd.read_csv(io.StringIO(csv.stdout))  # the failures go to stderr: the CSV stays whole
    assert board.groupby("model")["n_series"].max().to_dict() == {"naive": 4, ETS_LABEL: 2}
    assert f"{ETS_LABEL} (forecast units): 1 error; first error: {ERROR}" in csv.stderr
