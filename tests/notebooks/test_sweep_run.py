"""`workbench sweep`: real papermill executions of a tiny notebook, in parallel, resumable, isolated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
from nb_helpers import REPO, WORKBENCH, run_cli, write_sweep

from workbench.sweeps import load_notebook_sweep, run_notebook_sweep


def _records(out: Path) -> dict[int, dict]:
    records = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    return {r["index"]: r for r in records}


def test_when_one_cell_fails_then_the_others_finish_and_the_exit_status_names_it(tmp_path, tiny_notebook):
    log = tmp_path / "runs.log"
    out = tmp_path / "out"
    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        output=str(out),
        parameters={"log": str(log)},
        grid={"x": [1, 2, 3, 4]},
        cells=[{"fail": False}],
        workers=2,
    )
    first = run_cli(["sweep", str(path)])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 ran ok, 0 failed" in first.stdout
    assert sorted(log.read_text().split()) == ["1", "2", "3", "4"]

    # the same four cells (listed explicitly this time) plus a fifth that fails: only the fifth runs
    path2 = write_sweep(
        tmp_path / "s2.yaml",
        notebook="tiny.ipynb",
        output=str(out),
        parameters={"log": str(log)},
        cells=[*({"x": x, "fail": False} for x in (1, 2, 3, 4)), {"x": 5, "fail": True}],
        workers=2,
    )
    second = run_cli(["sweep", str(path2)])
    assert second.returncode == 1, second.stdout + second.stderr
    assert "4 already complete, 0 ran ok, 1 failed" in second.stdout
    assert "FAILED cell 4 (x=5_fail=True)" in second.stdout and "AssertionError: asked to fail at x=5" in second.stdout
    assert sorted(log.read_text().split()) == ["1", "2", "3", "4", "5"]  # only the new cells ran
    failed = _records(out)[4]
    assert failed["status"] == "error" and failed["failed_cell"] is not None
    executed = nbformat.read(failed["notebook"], as_version=4)
    assert any(o.get("ename") == "AssertionError" for c in executed.cells for o in c.get("outputs", []))
    summary = json.loads((out / "sweep.json").read_text())
    assert [r["status"] for r in summary["ran"]] == ["error"]


def test_when_parameters_are_injected_then_they_arrive_as_values_never_as_code(tmp_path, tiny_notebook):
    pwned = tmp_path / "PWNED"
    payload = f"a\"\"\"'''\n__import__('pathlib').Path({str(pwned)!r}).touch() #\\\n\u2028x"
    echo = tmp_path / "echo.txt"
    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        output=str(tmp_path / "out"),
        cells=[{"name": payload, "echo": str(echo)}],
    )
    sweep = load_notebook_sweep(path)
    summary = run_notebook_sweep(sweep, progress=False)
    assert summary.ok, summary.lines()
    assert not pwned.exists()
    assert echo.read_text() == repr(payload)
    executed = nbformat.read(summary.results[0]["notebook"], as_version=4)
    assert executed.metadata["workbench"]["parameters"]["name"] == payload
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "import('pathlib')" not in injected[0].source.replace("\\u", "")


def test_when_a_sweep_is_killed_then_a_rerun_finishes_only_the_rest(tmp_path, tiny_notebook):
    log = tmp_path / "runs.log"
    out = tmp_path / "out"
    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        output=str(out),
        parameters={"log": str(log), "sleep": 1.5},
        grid={"x": [1, 2, 3, 4]},
        workers=1,
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [*WORKBENCH, "sweep", str(path)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "records").glob("*.json"))) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list((out / "records").glob("*.json")), "no cell completed in time"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the kernel it started
        proc.wait(timeout=30)
    done_before = {r["key"] for r in _records(out).values() if r["status"] == "ok"}
    assert 1 <= len(done_before) < 4
    n_logged = len(log.read_text().split())
    result = run_cli(["sweep", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(done_before)} already complete, {4 - len(done_before)} ran ok" in result.stdout
    assert len(log.read_text().split()) == n_logged + 4 - len(done_before)
    assert len([r for r in _records(out).values() if r["status"] == "ok"]) == 4


def test_when_a_completed_notebook_is_tampered_with_then_the_cell_reruns(tmp_path, tiny_notebook):
    path = write_sweep(tmp_path / "s.yaml", notebook="tiny.ipynb", output=str(tmp_path / "out"), grid={"x": [1, 2]})
    sweep = load_notebook_sweep(path)
    assert run_notebook_sweep(sweep, progress=False).ok
    victim = _records(tmp_path / "out")[0]["notebook"]
    Path(victim).write_text("{}")
    again = run_notebook_sweep(sweep, progress=False)
    assert len(again.skipped) == 1 and [r["index"] for r in again.results] == [0]


def test_when_the_notebook_changes_then_its_cells_get_new_keys(tmp_path, tiny_notebook):
    path = write_sweep(tmp_path / "s.yaml", notebook="tiny.ipynb", grid={"x": [1]})
    before = load_notebook_sweep(path).cells[0].key
    nb = nbformat.read(tiny_notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("y = 2"))
    nbformat.write(nb, tiny_notebook)
    assert load_notebook_sweep(path).cells[0].key != before


def test_when_run_on_a_dask_cluster_then_cells_run_on_worker_processes(tmp_path, tiny_notebook):
    from distributed import Client, LocalCluster

    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        output=str(tmp_path / "out"),
        grid={"x": [1, 2, 3]},
        cells=[{"fail": False}, {"fail": True}],
    )
    sweep = load_notebook_sweep(path)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        summary = run_notebook_sweep(sweep, executor="dask", scheduler=cluster.scheduler_address, progress=False)
        worker_pids = set(client.run(os.getpid).values())
    assert [r["index"] for r in summary.failed] == [1, 3, 5]
    assert {r["status"] for r in summary.results if r["index"] % 2 == 0} == {"ok"}
    ran_on = {int(r["worker"].rsplit(":", 1)[1]) for r in summary.results}
    assert ran_on <= worker_pids and os.getpid() not in ran_on


def test_when_a_cell_exceeds_the_timeout_then_it_is_recorded_as_failed_and_the_rest_go_on(tmp_path, tiny_notebook):
    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        output=str(tmp_path / "out"),
        cells=[{"x": 1, "sleep": 30.0}, {"x": 2}],
        timeout_s=3,
    )
    start = time.monotonic()
    summary = run_notebook_sweep(load_notebook_sweep(path), progress=False)
    assert time.monotonic() - start < 25
    assert [r["index"] for r in summary.failed] == [0]
    assert "Timeout" in summary.failed[0]["error"] or "timed out" in summary.failed[0]["error"]
    assert summary.results[1]["status"] == "ok"
