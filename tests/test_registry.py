"""The registry table (names -> module:object, loaded on demand) and typed model parameters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.anomaly.detectors import known_detectors, make_detector
from workbench.engine.runner import as_model_specs
from workbench.errors import ParameterError, UnknownNameError
from workbench.forecasters import Forecaster, make_forecaster
from workbench.registry import (
    DETECTOR_FAMILIES,
    DETECTORS,
    FORECASTER_FAMILIES,
    FORECASTERS,
    ModelParams,
    detectors,
    forecasters,
)

ENTRIES = {**FORECASTERS, **FORECASTER_FAMILIES, **DETECTORS, **DETECTOR_FAMILIES}
MODULES = sorted(
    {path.partition(":")[0] for path in ENTRIES.values()}
    | {"workbench.forecasters", "workbench.registry", "workbench.anomaly.detectors", "workbench.cli_models"}
)


@pytest.mark.parametrize("module", MODULES)
def test_when_a_registered_module_is_imported_first_in_a_fresh_process_then_it_imports(module):
    objects = sorted({p.partition(":")[2] for p in ENTRIES.values() if p.startswith(module + ":")})
    code = f"import importlib; m = importlib.import_module({module!r}); [getattr(m, a) for a in {objects!r}]"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_when_the_table_is_loaded_then_every_name_is_its_class_name_and_families_resolve():
    for name in FORECASTERS:
        assert forecasters[name].name == name and issubclass(forecasters[name], Forecaster)
    for name in DETECTORS:
        assert detectors[name].name == name
    assert forecasters.family("statsforecast").family == "statsforecast"
    assert detectors.family("pyod").family == "pyod"
    assert set(DETECTORS) <= set(known_detectors()) and "pyod.<Class>" in known_detectors()


def test_when_a_class_with_a_name_is_defined_elsewhere_then_it_joins_the_registry_but_cannot_take_a_table_name():
    class Constant(Forecaster):
        name = "test_registry_constant"

        class Params(ModelParams):
            value: float = 1.0

        def predict(self, h):
            raise NotImplementedError

    assert make_forecaster("test_registry_constant", value=2).params.value == 2.0
    with pytest.raises(ValueError, match="already taken"):

        class Theta(Forecaster):
            name = "theta"

            def predict(self, h):
                raise NotImplementedError


@pytest.mark.parametrize(
    ("name", "params", "culprit", "suggestion", "valid"),
    [
        ("seasonal_naive", {"season_lenght": 7}, "season_lenght", "season_length", ["season_length"]),
        ("mlp", {"epoch": 3}, "epoch", "epochs", ["epochs", "hidden", "lags", "random_state"]),
        ("statsforecast.AutoETS", {"seasonlength": 12}, "seasonlength", "season_length", ["model", "fallback"]),
        ("darts.NLinearModel", {"input_chunk_length": 24, "output_chunk_length": 12, "n_epoch": 1}, "n_epoch",
         "n_epochs", ["n_epochs", "random_state", "num_samples"]),
    ],
)  # fmt: skip
def test_when_a_forecaster_parameter_is_mistyped_then_the_error_names_it_a_close_match_and_the_valid_ones(
    name, params, culprit, suggestion, valid
):
    with pytest.raises(ParameterError) as err:
        make_forecaster(name, **params)
    message = str(err.value)
    assert f"unknown parameter {culprit!r}" in message and f"did you mean {suggestion!r}" in message
    assert message.startswith(name) and all(v in err.value.valid for v in valid)
    assert isinstance(err.value, TypeError)  # what Python raises for an unknown keyword


def test_when_a_detector_parameter_is_mistyped_then_the_error_names_it():
    with pytest.raises(ParameterError, match=r"windowedGaussian: unknown parameter 'window_sise' \(did you mean "
                                             r"'window_size'\?\).*step_size, window_size"):  # fmt: skip
        make_detector("windowedGaussian", window_sise=100)
    with pytest.raises(ParameterError, match=r"pyod\.IForest: unknown parameter 'n_estimator'.*n_estimators"):
        make_detector("pyod.IForest", n_estimator=10)


@pytest.mark.parametrize(
    ("name", "params", "culprit"),
    [
        ("seasonal_naive", {"season_length": "weekly"}, "season_length"),
        ("mlp", {"epochs": 2.5}, "epochs"),
        ("statsforecast.AutoETS", {"season_length": [12]}, "season_length"),
        ("statsforecast.AutoARIMA", {"quantiles": [0.1, 1.5]}, "quantiles"),
        ("darts.NLinearModel", {"input_chunk_length": "long", "output_chunk_length": 12}, "input_chunk_length"),
    ],
)
def test_when_a_parameter_has_the_wrong_type_then_the_error_names_it(name, params, culprit):
    with pytest.raises(ParameterError, match=f"parameter '{culprit}"):
        make_forecaster(name, **params)


def test_when_a_required_library_parameter_is_missing_then_it_is_named_and_a_panel_default_is_not_required():
    with pytest.raises(ParameterError, match="missing parameter 'input_chunk_length'"):
        make_forecaster("darts.NLinearModel", output_chunk_length=12)
    assert "season_length" not in make_forecaster("statsforecast.SeasonalNaive").kwargs  # the panel's, at fit


def test_when_the_engine_is_given_a_mistyped_parameter_then_it_fails_before_any_unit(tmp_path):
    with pytest.raises(ParameterError, match="season_lenght"):
        as_model_specs(["theta", {"name": "seasonal_naive", "params": {"season_lenght": 7}}])
    from workbench.anomaly.engine import detect_on_engine
    from workbench.anomaly.task import DetectionTask

    task = DetectionTask(dataset="nab", subsets=("all",), items=("realTraffic/speed_7578.csv",))
    with pytest.raises(ParameterError, match="window_sise"):
        detect_on_engine(task, [{"name": "windowedGaussian", "params": {"window_sise": 5}}], store=tmp_path)
    assert not any(tmp_path.iterdir())


def test_when_a_name_is_unknown_then_the_error_lists_names_and_families():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'seasonal_naive'.*statsforecast\.<Class>"):
        make_forecaster("seasonal_naiv")
    with pytest.raises(UnknownNameError, match="Did you mean 'NLinearModel'"):
        make_forecaster("darts.NLinearModle")
