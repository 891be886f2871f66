"""Shared fixtures and the test tiers.

- The real offline mirror and a throwaway cache and results store per test session.
- Real Dask clusters: `shared_cluster` (one `dask scheduler` and two `dask worker` processes for the
  whole session, for tests that only run work on it) and `fresh_cluster` (the same, per test, for
  tests that kill a worker or a client).
- Kind markers (`cluster`, `notebook`, `browser`, `package`, `foundation`, and `slow` for any of
  them), put on each test from the fixtures it uses, its file or its name (`pytest_collection_modifyitems`),
  so that `pytest -m "not slow"` is a fast tier in which every component is still real.
- Hypothesis profiles: `ci` (derandomised) where the environment sets CI, else `dev`.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# a real S3 endpoint for the store's object-storage tests: moto's server on 127.0.0.1 (tests/s3_server.py)
from s3_server import s3_server, s3_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
_DEFAULT_MIRROR = REPO.parent / "shared" / "datasets"

# Tests read the real mirror; point at the checkout's sibling when the caller did not.
if not os.environ.get("WORKBENCH_DATA_MIRROR") and _DEFAULT_MIRROR.is_dir():
    os.environ["WORKBENCH_DATA_MIRROR"] = str(_DEFAULT_MIRROR)

# ---- Dask on a busy machine ------------------------------------------------------------------------
# "RuntimeError: Nanny failed to start" (seen while another Dask grid loaded the same 2 cores) is
# distributed wrapping whatever stopped a worker's start. A worker process spawns, imports distributed,
# connects to the scheduler and registers; that connection (and, in a LocalCluster, the nanny's own)
# gives up after distributed.comm.timeouts.connect, 30 s by default, and no other limit applies to a
# start. On a loaded machine the spawn, the imports and a scheduler whose event loop shares the test
# process's GIL with the test itself can together take longer than that. So every Dask process the
# tests start gets longer connect and tcp timeouts: through the environment for `dask scheduler`,
# `dask worker` and CLI subprocesses, and through dask's config in this process, which LocalCluster
# hands on to its nannies' worker processes. They bound how long a start may take; a test that goes
# well waits no longer for them.
DASK_TIMEOUTS = {"distributed.comm.timeouts.connect": "180s", "distributed.comm.timeouts.tcp": "180s"}
DASK_TIMEOUTS_ENV = {"DASK_" + key.upper().replace(".", "__"): value for key, value in DASK_TIMEOUTS.items()}
for _name, _value in DASK_TIMEOUTS_ENV.items():
    os.environ.setdefault(_name, _value)  # read by dask when it is first imported, here or in a subprocess
if "dask" in sys.modules:  # imported before this file: its config was read without them
    import dask

    dask.config.set(DASK_TIMEOUTS)

# ---- Hypothesis ------------------------------------------------------------------------------------
# Under CI every run draws the same examples (a failure is the code's, never the draw's) and prints
# the blob that replays it; on a developer's machine draws stay random, so new corners keep being
# tried. No deadline in either: timing on a shared machine says nothing about the property.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, database=None)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# ---- Kind markers ----------------------------------------------------------------------------------
# The kinds (declared in pyproject.toml's markers) of real component a test starts; each kind is also
# `slow`, and `pytest -m "not slow"` is the fast tier.

# fixture -> kinds; `item.fixturenames` is transitive, so a test that uses a fixture built on one of
# these gets its kinds too.
FIXTURE_KINDS: dict[str, tuple[str, ...]] = {
    "shared_cluster": ("cluster",),
    "fresh_cluster": ("cluster",),
    "dask_client": ("cluster",),  # module fixtures of a LocalCluster, one per file that needs one
    "threads_client": ("cluster",),
    "process_client": ("cluster",),
    "s3_server": ("cluster",),  # moto's S3 server in a process of its own
    "report_store": ("cluster",),  # runs the engine on an embedded LocalCluster
    "m4_run": ("cluster",),
    "two_workers": ("cluster", "foundation"),
    "joint_run": ("foundation",),  # TTM beside the classics (its dask_client gives `cluster`)
    "ett_ttm_board": ("cluster", "foundation"),
    "fleet_run": ("cluster", "foundation"),  # the fleet grid on an embedded LocalCluster, TTM among its models
    "m4_quick": ("notebook",),  # `workbench reproduce m4` in a subprocess
    "swept_store": ("notebook",),
    "boom_run": ("notebook",),
    "repeat_runs": ("notebook",),
    "m4_reproduction": ("notebook",),
    "monash_report": ("notebook",),
    "slice_run": ("cluster", "foundation"),  # Chronos Benchmark II's slice, TTM-R2 among its models
    "jupyterlab": ("browser",),
    "code_sandbox": ("package",),  # a copy of workbench/ and the cards, run by `workbench run`
}

# files in which every test starts one of the kinds
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "tests/test_wheel_install.py": ("package",),
    "tests/models/test_toto.py": ("package", "foundation"),
    "tests/models/test_chronos.py": ("foundation",),
    "tests/models/test_timesfm.py": ("foundation",),
    "tests/models/test_ttm.py": ("foundation",),
    "tests/models/test_foundation_runtime.py": ("foundation",),
    "tests/report/test_report_browser.py": ("browser",),
    "tests/papers/test_present.py": ("browser",),
    "tests/test_present_store.py": ("browser", "cluster", "notebook"),
    "tests/notebooks/test_jupyterlab.py": ("browser",),
    "tests/classic/test_m4_benchmarks.py": ("notebook",),
    "tests/papers/test_boom.py": ("notebook",),
    "tests/papers/test_monash.py": ("notebook",),
    "tests/papers/test_reproduce_cli.py": ("notebook",),
    "tests/notebooks/test_sweep_run.py": ("notebook",),
    "tests/engine/test_engine_faults.py": ("cluster",),
    "tests/engine/test_partitioned.py": ("cluster",),
    "tests/test_ett_ttm_grid.py": ("cluster", "foundation"),
}

# file -> kind -> tests (by function: every parametrization) that start a kind in their own body, in
# files that mix them with fast tests: an embedded LocalCluster (`evaluate`, `detect_on_engine` or
# `workbench run` without a client), papermill, the CLI in a subprocess, fresh interpreters
TEST_KINDS: dict[str, dict[str, list[str]]] = {
    "tests/report/test_deploy.py": {
        "browser": [
            "test_when_the_report_is_opened_in_chromium_then_its_deploy_section_draws_the_frontier",
            "test_when_the_deploy_notebook_runs_then_it_shows_the_frontier_in_chromium",
        ],
        "notebook": ["test_when_the_deploy_notebook_runs_then_it_shows_the_frontier_in_chromium"],
    },
    "tests/engine/test_cost.py": {
        "cluster": [
            "test_when_a_worker_computes_units_in_several_threads_then_their_cpu_is_read_from_each_thread",
        ],
    },
    "tests/papers/test_chronos_bench_ii.py": {
        "cluster": [
            "test_when_a_plain_workbench_run_grid_runs_the_same_tasks_then_its_leaderboard_gives_the_same_numbers",
        ],
        "notebook": [
            "test_when_the_paper_is_reproduced_from_the_cli_then_its_claims_the_deck_and_the_report_show_it",
        ],
    },
    "tests/cli/test_detection_grid.py": {
        "cluster": [
            "test_when_a_grid_runs_two_forecasters_and_two_band_detectors_then_each_is_a_row_and_a_rerun_computes_nothing",
            "test_when_a_detector_fails_on_the_data_then_run_exits_1_naming_it_and_keeps_the_others",
        ],
    },
    "tests/data/test_user_sources.py": {
        "cluster": [
            "test_when_workbench_run_meets_an_unsorted_file_then_it_exits_2_naming_the_file_and_row",
        ],
    },
    "tests/engine/test_catalog_stream.py": {
        "cluster": [
            "test_when_the_engine_runs_on_streamed_chunks_then_scores_equal_the_sequential_harness",
        ],
    },
    "tests/engine/test_store_concurrency.py": {
        "cluster": [
            "test_when_two_runs_of_one_grid_share_a_store_at_once_then_each_unit_is_committed_whole_once",
        ],
        "notebook": [
            "test_when_two_runs_of_one_grid_share_a_store_at_once_then_each_unit_is_committed_whole_once",
        ],
    },
    "tests/engine/test_store_s3.py": {
        "cluster": [
            "test_when_the_engine_runs_into_s3_on_worker_processes_then_a_rerun_computes_nothing",
        ],
    },
    "tests/test_probabilistic.py": {
        "cluster": [
            "test_when_the_engine_scores_quantile_forecasts_then_the_store_holds_them_with_their_levels",
        ],
    },
    "tests/test_semantics.py": {
        "cluster": [
            "test_when_a_user_card_has_gaps_then_a_task_with_a_gap_policy_evaluates_it_on_the_engine",
        ],
    },
    "tests/test_leakage.py": {
        "foundation": [
            "test_when_ttm_is_tuned_few_shot_then_its_training_data_is_checked_against_the_test_windows",
        ],
    },
    "tests/test_registry.py": {
        "package": [
            "test_when_a_registered_module_is_imported_first_in_a_fresh_process_then_it_imports",
        ],
    },
    "tests/notebooks/test_notebooks.py": {
        "notebook": [
            "test_when_explore_runs_then_it_summarises_and_plots_the_dataset",
            "test_when_anomaly_runs_then_it_scores_the_detectors_and_plots_their_scores",
            "test_when_own_data_runs_on_a_parquet_folder_then_it_evaluates_plots_and_reuses_on_a_rerun",
            "test_when_a_tqdm_cell_runs_in_the_reproduction_kernel_then_it_is_a_widget_and_nothing_warns",
        ],
    },
    "tests/notebooks/test_share.py": {
        "notebook": [
            "test_when_own_data_meets_a_gap_without_a_gap_policy_then_it_stops_with_the_users_file_and_row",
            "test_when_an_executed_notebook_becomes_html_then_its_figures_draw_offline_in_chromium",
            "test_when_a_sweep_kernel_is_shut_down_then_it_is_not_interrupted",
            "test_when_a_sweep_runs_ok_then_its_output_has_no_error_line",
        ],
        "browser": [
            "test_when_an_executed_notebook_becomes_html_then_its_figures_draw_offline_in_chromium",
        ],
        "cluster": [
            "test_when_own_data_meets_a_gap_without_a_gap_policy_then_it_stops_with_the_users_file_and_row",
            "test_when_a_sweep_runs_ok_then_its_output_has_no_error_line",
        ],
    },
    "tests/notebooks/test_observability_notebook.py": {
        "notebook": [
            "test_when_observability_runs_on_a_slice_then_it_tells_the_story_without_stderr",
        ],
    },
    "tests/notebooks/test_fleet_notebooks.py": {  # papermill; the notebooks start Dask in their kernels
        "notebook": [
            "test_when_a_labelled_gappy_fleet_is_added_then_own_data_and_observability_run_it_clean",
            "test_when_explore_opens_the_fleet_then_it_reports_the_missing_stamps_before_filling_them",
            "test_when_anomaly_runs_on_the_fleets_own_labels_then_it_scores_and_plots_them",
        ],
        "cluster": [
            "test_when_a_labelled_gappy_fleet_is_added_then_own_data_and_observability_run_it_clean",
            "test_when_anomaly_runs_on_the_fleets_own_labels_then_it_scores_and_plots_them",
        ],
    },
    "tests/notebooks/test_sweep_spec.py": {
        "notebook": [
            "test_when_the_cli_gets_a_bad_sweep_then_it_exits_2_and_writes_nothing",
        ],
    },
    "tests/papers/test_ltsf_linear.py": {
        "notebook": [
            "test_when_one_cell_is_reproduced_through_the_cli_then_it_matches_and_records_both_scores",
        ],
    },
    "tests/papers/test_nab.py": {
        "notebook": [
            "test_when_nab_is_reproduced_through_the_cli_then_the_report_and_scoreboard_are_written",
        ],
    },
    "tests/papers/test_ttm_paper.py": {
        "notebook": [
            "test_when_etth1_zero_shot_is_reproduced_through_the_cli_then_it_matches_the_claim",
        ],
        "foundation": [
            "test_when_etth1_zero_shot_is_reproduced_through_the_cli_then_it_matches_the_claim",
        ],
    },
    "tests/report/test_fleet_report.py": {
        "cluster": [
            "test_when_the_fleet_report_opens_in_chromium_then_it_says_which_model_wins_where_and_draws_cleanly",
        ],
        "browser": [
            "test_when_the_fleet_report_opens_in_chromium_then_it_says_which_model_wins_where_and_draws_cleanly",
        ],
    },
    "tests/report/test_report_html.py": {
        "notebook": [
            "test_when_the_store_is_missing_or_empty_then_the_cli_says_so_exits_2_and_writes_no_report",
        ],
    },
}


def kinds_of(nodeid: str, fixturenames: list[str]) -> set[str]:
    """The kinds of one collected test (node id relative to the repository root): from its fixtures,
    its file and its function."""
    kinds = {kind for name in fixturenames for kind in FIXTURE_KINDS.get(name, ())}
    path, _, name = nodeid.partition("::")
    kinds.update(FILE_KINDS.get(path, ()))
    function = name.split("[")[0]
    kinds.update(kind for kind, names in TEST_KINDS.get(path, {}).items() if function in names)
    return kinds


def stale_entries(root: Path = REPO) -> list[str]:
    """Names in the tables above that no longer exist: a renamed file, test or fixture would
    otherwise move a slow test into the fast tier without a word."""
    sources = {p.relative_to(root).as_posix(): p.read_text() for p in (root / "tests").rglob("*.py")}
    defined = "\n".join(sources.values())
    stale = [f"fixture {name}" for name in FIXTURE_KINDS if f"def {name}(" not in defined]
    stale += [f"file {path}" for path in [*FILE_KINDS, *TEST_KINDS] if path not in sources]
    stale += [
        f"test {path}::{name}"
        for path, kinds in TEST_KINDS.items()
        for names in kinds.values()
        for name in names
        if path in sources and f"def {name}(" not in sources[path]
    ]
    return stale


def pytest_configure(config: pytest.Config) -> None:
    if stale := stale_entries():
        raise pytest.UsageError(f"tests/conftest.py names what is gone (update its kind tables): {stale}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every test with its kinds, and `slow` where it has any (node ids are relative to the
    rootdir, the repository root, where pyproject.toml is)."""
    for item in items:
        kinds = kinds_of(item.nodeid, list(getattr(item, "fixturenames", ())))
        for kind in sorted(kinds) + (["slow"] if kinds else []):
            item.add_marker(kind)


# ---- Data -----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _catalog_path_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets back the WORKBENCH_CATALOG it started with: the CLI run in this process
    (typer's CliRunner) puts a `--catalog` folder on it for the workers it starts, which would let
    one test's cards be found by the tests after it (two fleets are both named `fleet`)."""
    name = "WORKBENCH_CATALOG"
    monkeypatch.setenv(name, os.environ.get(name, ""))  # recorded, so undone after the test
    if not os.environ[name]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def mirror() -> Path:
    root = os.environ.get("WORKBENCH_DATA_MIRROR")
    if not root or not Path(root, "MANIFEST.csv").is_file():
        pytest.skip("WORKBENCH_DATA_MIRROR does not point at the offline dataset mirror")
    return Path(root)


@pytest.fixture(scope="session")
def manifest(mirror: Path) -> dict[str, dict[str, str]]:
    with open(mirror / "MANIFEST.csv", newline="") as fh:
        return {row["canonical_url"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def upstream_blobs(mirror: Path) -> dict[str, str]:
    with open(mirror / "UPSTREAM_BLOBS.csv", newline="") as fh:
        return {row["canonical_url"]: row["git_blob_sha1"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session: loads share parsed panels, the user's cache is never touched."""
    path = tmp_path_factory.mktemp("workbench-cache")
    os.environ["WORKBENCH_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def session_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results store for whatever a test runs without naming one: never ./results of the checkout."""
    path = tmp_path_factory.mktemp("workbench-results")
    os.environ["WORKBENCH_RESULTS"] = str(path)
    return path


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache for tests that look at what a fetch leaves behind."""
    path = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE", str(path))
    return path


# ---- A real Dask cluster ---------------------------------------------------------------------------
DASK = str(Path(sys.executable).parent / "dask")
N_WORKERS = 2
# generous and bounded: a start on a quiet machine takes seconds; on a loaded 2-core one, a minute
START_TIMEOUT_S = 300.0
HOST = ["--host", "127.0.0.1", "--no-dashboard"]
WORKER = ["--nthreads", "1", "--no-nanny", "--death-timeout", str(int(START_TIMEOUT_S))]


@dataclass
class Cluster:
    """A scheduler and its single-threaded workers, each a process of its own on 127.0.0.1."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    log: Path


def _wait_for(predicate: Callable[[], object], what: str, procs: list[subprocess.Popen], log: Path) -> object:
    """Polls `predicate` until it holds, failing at once (with the log) when a process has exited and
    after START_TIMEOUT_S at the latest."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        value = predicate()
        if value:
            return value
        dead = [p.args[1] for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"dask {', '.join(dead)} exited before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _running_workers(client) -> int:
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return sum(w.get("status", "running") == "running" for w in workers)


def _cluster_env() -> dict[str, str]:
    """The environment a cluster's processes start with: the session's (its cache, store and mirror)
    with the timeouts above."""
    return {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False", **DASK_TIMEOUTS_ENV}


def _start_cluster(folder: Path, env: dict[str, str]) -> Iterator[Cluster]:
    """`dask scheduler` and N_WORKERS `dask worker` processes; yields once the scheduler reports every
    worker running, and kills them all afterwards.

    Workers run without a nanny: a nanny is one more process whose start-up handshake can time out on
    a loaded machine ("Nanny failed to start"), and the fault tests kill the worker process itself,
    which a nanny would restart. `--death-timeout` bounds how long a worker waits for a scheduler that
    is gone, so none outlives a failed test for long.
    """
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    log = folder / "cluster.log"
    procs: list[subprocess.Popen] = []
    with open(log, "w") as out:
        try:
            procs.append(
                subprocess.Popen(
                    [DASK, "scheduler", *HOST, "--port", "0", "--scheduler-file", str(scheduler_file)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
            _wait_for(scheduler_file.exists, "the scheduler file", procs, log)
            procs += [
                subprocess.Popen(
                    [DASK, "worker", "--scheduler-file", str(scheduler_file), *HOST, "--name", f"w{i}", *WORKER],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
                for i in range(N_WORKERS)
            ]
            with Client(scheduler_file=str(scheduler_file), timeout=f"{int(START_TIMEOUT_S)}s") as client:
                _wait_for(lambda: _running_workers(client) == N_WORKERS, f"{N_WORKERS} running workers", procs, log)
                address = client.scheduler.address
            yield Cluster(address, procs[0], procs[1:], log)
        finally:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=60)


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Iterator[Cluster]:
    """One cluster for the session, for tests that only run work on it (never kill a process of it).
    Its processes see the environment as it was when the first such test started."""
    yield from _start_cluster(tmp_path_factory.mktemp("shared-cluster"), _cluster_env())


@pytest.fixture
def fresh_cluster(tmp_path: Path, mirror: Path) -> Iterator[Cluster]:
    """A cluster of the test's own, torn down after it: for tests that kill a worker or a client, and
    for tests that set the environment its processes must inherit (ask for those fixtures first)."""
    yield from _start_cluster(tmp_path / "cluster", _cluster_env())
