"""Clear refusals at the command line: a `--store` that is a file, in every command that takes one,
and a TTM checkpoint folder that does not exist; each exits 2 naming the culprit and the fix, with no
traceback, and writes nothing. In process (typer's runner); no cluster starts: every refusal comes
before one would."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import app
from workbench.config import CATALOG_ENV
from workbench.data.synthetic import write_fleet
from workbench.store.results_store import RESULTS_ENV

runner = CliRunner()
ENV = {"COLUMNS": "300"}


def flat(output: str) -> str:
    return " ".join(output.split())


def snapshot(root) -> dict[str, bytes]:
    """Every file under `root` with its bytes: what a refused command must leave as it was."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A small fleet (2 services x 1 host, 10 days) with its user card."""
    return write_fleet(tmp_path_factory.mktemp("fleet"), seed=0, hosts_per_service=1, n_hours=24 * 10)


def grid_file(folder, models, **extra) -> str:
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump({"tasks": [{"dataset": "fleet", "protocol": "rolling"}], "models": models, **extra}))
    return str(path)


# the --store option of every command that takes one, put first so that it is read first
COMMANDS = {
    "run": ["run", "--store", "{store}", "{grid}"],
    "report --store": ["report", "--store", "{store}"],
    "report --results": ["report", "--results", "{store}"],
    "results sql": ["results", "sql", "--store", "{store}", "select 1"],
    "results leaderboard": ["results", "leaderboard", "--store", "{store}"],
    "results breakdown": ["results", "breakdown", "--store", "{store}", "--by", "metric_type"],
    "results import": ["results", "import", "--store", "{store}", "gift-eval", "{folder}"],
    "results verify": ["results", "verify", "--store", "{store}"],
    "results gc": ["results", "gc", "--store", "{store}"],
    "present": ["present", "--store", "{store}"],
    "reproduce": ["reproduce", "--store", "{store}", "m4"],
    "sweep": ["sweep", "--store", "{store}", "{folder}/sweep.yaml"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_when_a_command_gets_a_file_as_store_then_it_exits_2_naming_it_and_writes_nothing(
    command, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where a command would write its default outputs (report.html, results/)
    store = tmp_path / "store.txt"
    store.write_text("a file, not a store\n")
    grid = grid_file(tmp_path, ["naive"])
    before = snapshot(tmp_path)
    args = [a.format(store=store, grid=grid, folder=tmp_path) for a in COMMANDS[command]]
    result = runner.invoke(app, args, env=ENV)
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert isinstance(result.exception, SystemExit)  # a message, no traceback
    assert f"error: results store {store} is a file, not a folder" in text
    assert f"Fix: name a folder, new or existing, as the store (--store, store=, or {RESULTS_ENV})" in text
    assert snapshot(tmp_path) == before


def test_when_the_store_lies_below_a_file_then_run_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "runs.csv"
    blocker.write_text("x\n")
    result = runner.invoke(app, ["run", "--store", str(blocker / "store"), grid_file(tmp_path, ["naive"])], env=ENV)
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert f"results store {blocker / 'store'} lies below {blocker}, which is a file" in text
    assert blocker.read_text() == "x\n"


@pytest.mark.parametrize("command", [["results", "verify"], ["results", "gc"], ["results", "leaderboard"], ["report"]])
def test_when_workbench_results_names_a_file_then_commands_without_store_refuse_it(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "results"
    store.write_text("")
    result = runner.invoke(app, command, env={**ENV, RESULTS_ENV: str(store)})
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert isinstance(result.exception, SystemExit)
    assert f"results store {store} (from {RESULTS_ENV}) is a file" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_when_the_grid_file_names_a_file_as_store_then_run_refuses_it_before_any_unit(fleet, tmp_path, monkeypatch):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    store = tmp_path / "store"
    store.write_text("")
    grid = grid_file(tmp_path, ["naive"], store=str(store))
    result = runner.invoke(app, ["run", grid, "--catalog", str(fleet.catalog)], env=ENV)
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert f"results store {store} is a file" in text
    assert store.read_text() == ""


@pytest.mark.parametrize("model", ["/no/such/dir", "./no/such/dir", "~/no-such-ttm-checkpoint"])
def test_when_a_ttm_folder_does_not_exist_then_run_refuses_the_grid_naming_it_as_a_folder(
    model, fleet, tmp_path, monkeypatch
):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    grid = grid_file(tmp_path, ["naive", {"name": "ttm", "params": {"model": model}}])
    store = tmp_path / "store"
    args = ["run", grid, "--store", str(store), "--workers", "1", "--catalog", str(fleet.catalog)]
    result = runner.invoke(app, args, env={**ENV, "HOME": str(home)})
    text = flat(result.output)
    assert result.exit_code == 2, text
    assert isinstance(result.exception, SystemExit)
    assert f"{grid}: 1 problem(s) in the grid; nothing was run, nothing was written" in text
    assert "[model path]" in text and f"the checkpoint folder {model}" in text and "does not exist" in text
    assert "never as a hub id" in text and "Fix: download the model folder there" in text
    where = {"./no/such/dir": tmp_path / "no/such/dir", "~/no-such-ttm-checkpoint": home / "no-such-ttm-checkpoint"}
    if model in where:
        assert f"({where[model]})" in text  # a relative or ~ path is named as it was resolved
    assert "hub:" not in text and "Without internet" not in text  # the path is never read as a hub id
    assert not store.exists()  # no unit record, no run record: not even the folder
