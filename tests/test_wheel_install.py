"""A wheel built from the repository works outside the checkout: it carries the dataset cards and the
papers, and the installed copy (not the checkout) is what runs.

The wheel is built from a copy of the working tree (the checkout's own build folders stay untouched) and
installed with `--no-deps` into a fresh virtual environment that sees the running environment's
packages through a plain `.pth` path entry: that entry puts the folder on `sys.path` without running the
`.pth` files inside it, so the editable install's finder for `workbench` never loads there.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MAIN_SITE = Path(sysconfig.get_paths()["purelib"])
BUNDLED = "workbench/_bundled/"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _env() -> dict[str, str]:
    """The caller's environment minus anything that would point the installed copy back at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env.pop("WORKBENCH_CATALOG", None)
    env.pop("WORKBENCH_PAPERS", None)
    env["COLUMNS"] = "250"  # rich wraps long paths otherwise
    # nbconvert's templates are data files of the shared environment, not of the fresh one
    jupyter = str(Path(sys.prefix) / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (jupyter, os.environ.get("JUPYTER_PATH")) if p)
    return env


def _copy_working_tree(target: Path) -> Path:
    """The files git would see (tracked and untracked, not ignored), copied to `target`."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the working tree to build from")
    listed = _ok(_run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO))
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _fresh_venv(path: Path) -> Path:
    """A virtual environment whose own site-packages comes first and sees the running one's after it."""
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent))
    site = path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "zz_shared_environment.pth").write_text(f"{MAIN_SITE}\n")
    return path


def _pip(*args: str | Path, cwd: Path) -> str:
    return _ok(_run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd, env=_env()))


def _where_from(venv: Path, cwd: Path) -> list[str]:
    """`workbench.__file__`, the catalog folder and the papers folder, as the environment's Python sees them."""
    probe = (
        "import json, workbench, workbench.config as c; "
        "print(json.dumps([workbench.__file__, str(c.catalog_dir()), str(c.papers_dir())]))"
    )
    return json.loads(_ok(_run([venv / "bin" / "python", "-c", probe], cwd=cwd, env=_env())))


def _expected_bundle() -> set[str]:
    files = {f"{BUNDLED}datasets/{card.name}" for card in (REPO / "datasets").glob("*.yaml")}
    for card in (REPO / "papers").glob("*/paper.yaml"):
        folder = f"{BUNDLED}papers/{card.parent.name}/"
        notebook = yaml.safe_load(card.read_text()).get("notebook", "reproduce.ipynb")
        files |= {folder + "paper.yaml", folder + notebook} | {folder + md.name for md in card.parent.glob("*.md")}
    return files


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_working_tree(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def wheel(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _run([sys.executable, "-m", "pip", "--version"], cwd=tree).returncode != 0:
        pytest.skip("pip is not available in the running environment")
    dist = tmp_path_factory.mktemp("dist")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ".", cwd=tree)
    (built,) = dist.glob("workbench-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _fresh_venv(tmp_path_factory.mktemp("wheel-env") / "venv")
    _pip("--python", path / "bin" / "python", "install", "--no-deps", "-q", wheel, cwd=path.parent)
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the checkout."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    return tmp_path


def test_when_the_wheel_is_built_then_it_carries_the_cards_and_papers_and_no_outputs(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    bundle = {n for n in names if n.startswith(BUNDLED)}
    assert bundle == _expected_bundle()
    assert {"workbench/_bundled/datasets/m4.yaml", "workbench/_bundled/papers/m4/reproduce.ipynb"} <= bundle
    others = [n for n in names if n not in bundle and not n.startswith("workbench-0")]
    assert all(n.startswith("workbench/") and (n.endswith(".py") or n == "workbench/py.typed") for n in others), [
        n for n in others if not n.endswith(".py")
    ]
    with zipfile.ZipFile(wheel) as archive:
        for name in bundle:
            if name.endswith(".ipynb"):
                cells = json.loads(archive.read(name))["cells"]
                assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells), name


def test_when_the_wheel_is_installed_then_its_own_copy_and_bundled_folders_are_used(venv: Path, outside: Path):
    paths = _where_from(venv, outside)
    site = venv.resolve()
    for path in paths:
        assert Path(path).resolve().is_relative_to(site), f"{path} is not inside the fresh environment {site}"
    assert paths[1].endswith("workbench/_bundled/datasets") and paths[2].endswith("workbench/_bundled/papers")


def test_when_installed_from_the_wheel_then_datasets_list_shows_the_catalog(venv: Path, outside: Path):
    out = _ok(_run([venv / "bin" / "workbench", "datasets", "list"], cwd=outside, env=_env()))
    names = [yaml.safe_load(card.read_text())["name"] for card in sorted((REPO / "datasets").glob("*.yaml"))]
    assert {"m4", "m3", "nab", "ett"} <= set(names)
    missing = [name for name in names if name not in out]
    assert not missing, f"catalog lacks {missing}:\n{out}"

    info = _ok(_run([venv / "bin" / "workbench", "datasets", "info", "m4"], cwd=outside, env=_env()))
    assert "M4 forecasting competition" in info
    assert "Hourly" in info and "_bundled/datasets/m4.yaml" in info


def test_when_installed_from_the_wheel_then_an_unknown_paper_lists_the_bundled_ones(venv: Path, outside: Path):
    result = _run([venv / "bin" / "workbench", "reproduce", "no-such-paper"], cwd=outside, env=_env())
    assert result.returncode != 0
    said = result.stdout + result.stderr
    for paper in ("m4", "m3", "nab", "monash", "ltsf_linear"):
        assert paper in said, said


def test_when_installed_from_the_wheel_then_the_m4_hourly_reproduction_runs(venv: Path, outside: Path, mirror: Path):
    output = outside / "out"
    cmd = [venv / "bin" / "workbench", "reproduce", "m4", "-p", "frequencies=[Hourly]", "--output", output]
    _ok(_run(cmd, cwd=outside, env={**_env(), "WORKBENCH_DATA_MIRROR": str(mirror)}, timeout=300))
    with open(output / "m4.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    hourly = [r for r in rows if r["subset"] == "Hourly"]
    assert hourly and all(r["status"] == "match" for r in hourly), [r for r in hourly if r["status"] != "match"]
    assert (output / "m4.ipynb").is_file() and (output / "m4.html").is_file()
    installed = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert sorted(p.name for p in (installed / "workbench/_bundled/papers/m4").iterdir()) == sorted(
        Path(n).name for n in _expected_bundle() if n.startswith(f"{BUNDLED}papers/m4/")
    ), "the run wrote into the installed package"


def test_when_built_through_an_sdist_then_the_wheel_carries_the_same_bundle(tree: Path, wheel: Path, tmp_path: Path):
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = tmp_path / _ok(_run([sys.executable, "-c", build, tmp_path], cwd=tree)).strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", ".", cwd=unpacked)
    (again,) = (tmp_path / "dist").glob("workbench-*.whl")
    bundle = {n for n in zipfile.ZipFile(again).namelist() if n.startswith(BUNDLED)}
    assert bundle == {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(BUNDLED)}


def test_when_installed_editable_then_the_live_top_level_folders_are_read(tmp_path: Path):
    tree = _copy_working_tree(tmp_path / "source")
    venv = _fresh_venv(tmp_path / "venv")
    _pip(
        "--python",
        venv / "bin" / "python",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-e",
        tree,
        cwd=tmp_path,
    )
    assert not (tree / "workbench" / "_bundled").exists()
    package, catalog, papers = _where_from(venv, tmp_path)
    assert Path(package) == tree.resolve() / "workbench" / "__init__.py"
    assert (Path(catalog), Path(papers)) == (tree.resolve() / "datasets", tree.resolve() / "papers")
    # a card added to the live folder is seen without reinstalling
    card = yaml.safe_load((tree / "datasets" / "ett.yaml").read_text())
    (tree / "datasets" / "ett_copy.yaml").write_text(yaml.safe_dump({**card, "name": "ett_copy"}))
    out = _ok(_run([venv / "bin" / "workbench", "datasets", "list"], cwd=tmp_path, env=_env()))
    assert "ett_copy" in out
