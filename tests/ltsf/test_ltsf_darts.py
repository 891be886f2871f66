"""darts' DLinearModel / NLinearModel under the workbench's LTSF protocol (a short synthetic run)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from workbench.errors import UnknownNameError
from workbench.ltsf import LTSFTask, ProtocolWarning, Table, TrainConfig, prepare, run
from workbench.ltsf.darts_compare import run_darts

pytest.importorskip("darts")


@pytest.fixture(scope="module")
def prepared():
    t = np.arange(600)
    rng = np.random.default_rng(0)
    values = np.stack([np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 24)], axis=1) + 0.1 * rng.normal(
        size=(600, 2)
    )
    task = LTSFTask(dataset="synthetic", subset="x", input_len=48, horizon=12, test_batch_size=16, drop_last_test=True)
    return prepare(task, Table("synthetic", values, ("a", "b")))


@pytest.mark.parametrize("model", ["DLinearModel", "NLinearModel"])
def test_when_darts_runs_under_the_protocol_then_it_scores_the_same_windows_as_the_native_model(prepared, model):
    config = TrainConfig(batch_size=16, lr=0.01, epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = run_darts(prepared.task, model, config, prepared)
        repeat = run(prepared.task, "Repeat", config, prepared)
    assert (theirs["test_windows"], theirs["scored_windows"]) == (repeat["test_windows"], repeat["scored_windows"])
    assert theirs["scored_windows"] < theirs["test_windows"] and theirs["mse"] != theirs["mse_all"]
    assert theirs["mse"] < repeat["mse"]  # it learned the daily cycle the last value misses
    assert "dropped" in theirs["protocol_findings"]


def test_when_a_darts_model_name_is_unknown_then_the_error_lists_the_known_ones(prepared):
    with pytest.raises(UnknownNameError, match="NLinearModel"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtocolWarning)
        run_darts(prepared.task, "TiDEModel", TrainConfig(), prepared)
