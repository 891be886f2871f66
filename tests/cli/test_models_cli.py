"""`workbench models list` / `workbench models info NAME`, run in-process through typer's runner."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench.cli import app
from workbench.registry import DETECTORS, FORECASTERS

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def test_when_models_are_listed_then_every_name_kind_and_scope_is_shown():
    result = runner.invoke(app, ["models", "list"], env=WIDE)
    assert result.exit_code == 0, result.output
    for name in [*FORECASTERS, *DETECTORS, "statsforecast.<Class>", "darts.<Class>", "pyod.<Class>"]:
        assert name in result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "global" in lines["mlp"] and "forecaster" in lines["mlp"]
    assert "local" in lines["theta"] and "detector" in lines["windowedGaussian"]


def test_when_info_is_asked_of_a_native_model_then_its_parameters_types_and_defaults_are_printed():
    result = runner.invoke(app, ["models", "info", "mlp"], env=WIDE)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "│ epochs" in line)
    assert "int" in row and "30" in row and "training epochs" in row
    assert "random_state" in result.output and "run's seed" in result.output


def test_when_info_is_asked_of_a_library_class_then_the_wrapped_class_parameters_are_printed():
    result = runner.invoke(app, ["models", "info", "statsforecast.AutoETS"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "statsforecast.models.AutoETS" in result.output and "AutoETS parameters" in result.output
    row = next(line for line in result.output.splitlines() if "│ season_length" in line)
    assert "int" in row and "Number of observations per unit of time" in row
    assert "'ZZZ'" in result.output and "fallback" in result.output and "list[float] | None" in result.output
    darts = runner.invoke(app, ["models", "info", "darts.NLinearModel"], env=WIDE)
    assert darts.exit_code == 0 and "global" in darts.output and "n_epochs" in darts.output
    assert "required" in next(line for line in darts.output.splitlines() if "│ input_chunk_length" in line)
    pyod = runner.invoke(app, ["models", "info", "pyod.IForest"], env=WIDE)
    assert pyod.exit_code == 0 and "detector" in pyod.output and "n_estimators" in pyod.output


def test_when_info_is_asked_of_an_unknown_name_then_exit_2_with_the_known_names_and_no_traceback():
    result = runner.invoke(app, ["models", "info", "thetaa"], env=WIDE)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Did you mean 'theta'" in result.output and "windowedGaussian" in result.output
    assert "Traceback" not in result.output
    library = runner.invoke(app, ["models", "info", "statsforecast.AutoET"], env=WIDE)
    assert library.exit_code == 2 and "Did you mean 'AutoETS'" in library.output
