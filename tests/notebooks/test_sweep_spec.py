"""Sweep files are validated against the notebook's `parameters` cell before anything runs."""

from __future__ import annotations

import pytest
from nb_helpers import NOTEBOOKS, run_cli, write_notebook, write_sweep

from workbench.errors import WorkbenchError
from workbench.sweeps import SweepError, load_notebook_sweep, notebook_parameters


def test_when_a_grid_and_explicit_cells_are_given_then_cells_are_their_product(tmp_path, tiny_notebook):
    path = write_sweep(
        tmp_path / "s.yaml",
        notebook="tiny.ipynb",
        parameters={"scale": 2},
        grid={"x": [1, 2, 3], "name": ["a", "b"]},
        cells=[{"fail": False}, {"fail": True, "sleep": 0.5}],
    )
    sweep = load_notebook_sweep(path)
    assert len(sweep.cells) == 3 * 2 * 2
    assert all(c.parameters["scale"] == 2 for c in sweep.cells)
    assert {(c.parameters["x"], c.parameters["name"], c.parameters["fail"]) for c in sweep.cells} == {
        (x, n, f) for x in (1, 2, 3) for n in ("a", "b") for f in (False, True)
    }
    assert len({c.key for c in sweep.cells}) == 12
    assert sweep.output == (tmp_path.cwd() / "results" / "sweeps" / "s").resolve()


def test_when_parameters_are_unknown_or_mistyped_then_every_problem_is_listed(tmp_path, tiny_notebook):
    path = write_sweep(
        tmp_path / "bad.yaml",
        notebook="tiny.ipynb",
        grid={"x": [1, "2"], "nme": ["a"], "fail": [0], "items": [5], "scale": [1, 2.5]},
    )
    with pytest.raises(SweepError) as info:
        load_notebook_sweep(path)
    message = str(info.value)
    assert str(path) in message
    assert "'nme'" in message and "declares: echo, fail, items, log, name, scale, sleep, x" in message
    assert "parameter 'x' expects int" in message and "got str '2'" in message
    assert "parameter 'fail' expects bool" in message and "got int 0" in message
    assert "parameter 'items' expects list" in message
    assert "'scale'" not in message.split("declares")[0]  # ints are fine where the default is a float
    assert isinstance(info.value, WorkbenchError)


def test_when_a_default_is_none_or_an_expression_then_any_value_is_accepted(tmp_path):
    write_notebook(tmp_path / "n.ipynb", "a = None\nb = list(range(3))")
    assert notebook_parameters(tmp_path / "n.ipynb")["a"] is None
    path = write_sweep(tmp_path / "s.yaml", notebook="n.ipynb", grid={"a": [1, "x", [2]], "b": [[1], "y"]})
    assert len(load_notebook_sweep(path).cells) == 6


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("notebook: tiny.ipynb\ngrid: {x: [1]\n", "not valid YAML"),
        ("- just a list\n", "a sweep file is a mapping"),
        ("notebook: tiny.ipynb\nworkers: 0\n", "workers"),
        ("notebook: tiny.ipynb\nexecutor: slurm\n", "executor"),
        ("notebook: tiny.ipynb\ngird: {x: [1]}\n", "gird"),
        ("notebook: missing.ipynb\n", "does not exist"),
        ("notebook: tiny.ipynb\ngrid: {x: []}\n", "grid entries with no values: x"),
        ("notebook: tiny.ipynb\ncells: [{x: 1}, {x: 1}]\n", "repeats the parameters"),
        ("notebook: tiny.ipynb\ngrid: {when: [2024-01-01]}\n", "unknown parameter"),
    ],
)
def test_when_the_sweep_file_is_bad_then_the_error_names_it(tmp_path, tiny_notebook, content, expected):
    path = tmp_path / "s.yaml"
    path.write_text(content)
    with pytest.raises(SweepError, match=expected) as info:
        load_notebook_sweep(path)
    assert str(path) in str(info.value)


def test_when_a_value_is_not_plain_json_then_it_is_refused(tmp_path):
    write_notebook(tmp_path / "d.ipynb", "when = None")
    path = tmp_path / "s.yaml"
    path.write_text("notebook: d.ipynb\ngrid: {when: [2024-01-01]}\n")
    with pytest.raises(SweepError, match="not a plain JSON value"):
        load_notebook_sweep(path)


def test_when_the_notebook_has_no_parameters_cell_then_the_sweep_is_refused(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "plain.ipynb")
    path = write_sweep(tmp_path / "s.yaml", notebook="plain.ipynb", grid={"x": [1]})
    with pytest.raises(SweepError, match="no cell tagged `parameters`"):
        load_notebook_sweep(path)


def test_when_the_cli_gets_a_bad_sweep_then_it_exits_2_and_writes_nothing(tmp_path, tiny_notebook):
    path = write_sweep(tmp_path / "s.yaml", notebook="tiny.ipynb", output=str(tmp_path / "out"), grid={"x": ["1"]})
    result = run_cli(["sweep", str(path)])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "parameter 'x' expects int" in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["m4_classic", "m3_model_zoo"])
def test_when_an_example_sweep_is_loaded_then_it_validates_and_names_real_models(name):
    from workbench.engine.runner import as_model_specs
    from workbench.tasks import Task

    sweep = load_notebook_sweep(NOTEBOOKS / "sweeps" / f"{name}.yaml")
    assert sweep.notebook == (NOTEBOOKS / "benchmark.ipynb").resolve()
    assert len(sweep.cells) >= 4
    for cell in sweep.cells:
        p = cell.parameters
        as_model_specs(p["models"])
        Task(dataset=p["dataset"], subset=p["subset"], metrics=tuple(p["metrics"]))


def test_when_the_detector_sweep_is_loaded_then_it_names_real_detectors_and_nab_categories():
    from workbench.anomaly.detectors import make_detector

    sweep = load_notebook_sweep(NOTEBOOKS / "sweeps" / "nab_detectors.yaml")
    assert sweep.notebook == (NOTEBOOKS / "anomaly.ipynb").resolve()
    categories = {c for cell in sweep.cells for c in cell.parameters["categories"]}
    assert len(sweep.cells) == 6 and "realKnownCause" in categories
    for spec in sweep.cells[0].parameters["detectors"]:
        make_detector(spec) if isinstance(spec, str) else make_detector(spec["name"], **spec.get("params", {}))
