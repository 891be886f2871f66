"""The protocol check, the paper-compatibility switch, and the trainer's reference-loop options."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from workbench.ltsf import LTSFConfigError, LTSFTask, ProtocolWarning, Table, TrainConfig, check_protocol, prepare, run
from workbench.neural.trainer import Pairs, Trainer, batch_order


def _table(n: int = 500) -> Table:
    t = np.arange(n)
    rng = np.random.default_rng(3)
    values = np.stack([np.sin(2 * np.pi * t / 24), np.cos(2 * np.pi * t / 12) + 0.01 * t], axis=1)
    return Table("synthetic", values + 0.05 * rng.normal(size=values.shape), ("a", "b"))


def test_when_the_clean_protocol_runs_then_no_protocol_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProtocolWarning)
        assert check_protocol(prepare(LTSFTask(dataset="x", subset="y", input_len=48, horizon=12), _table())) == []


def test_when_the_scaler_sees_beyond_the_training_split_then_the_check_warns():
    task = LTSFTask(dataset="x", subset="y", input_len=48, horizon=12, scaler_rows="all")
    with pytest.warns(ProtocolWarning, match="beyond the training split"):
        check_protocol(prepare(task, _table()))


def test_when_test_windows_are_dropped_then_the_check_warns_and_says_how_many():
    task = LTSFTask(dataset="x", subset="y", input_len=48, horizon=12, test_batch_size=32, drop_last_test=True)
    prepared = prepare(task, _table())
    n = len(prepared.test)
    with pytest.warns(ProtocolWarning, match=f"{n % 32} of {n} test windows dropped"):
        check_protocol(prepared)
    assert prepared.n_test_scored == n - n % 32


def test_when_drop_last_has_no_batch_size_then_the_task_is_refused():
    with pytest.raises(LTSFConfigError, match="test_batch_size"):
        LTSFTask(dataset="x", subset="y", drop_last_test=True)


@pytest.mark.parametrize("global_rng", [True, False])
def test_when_batches_are_ordered_then_they_equal_a_dataloaders_and_leave_the_same_random_state(global_rng):
    def loader_batches() -> tuple[list, torch.Tensor]:
        torch.manual_seed(5)
        generator = None if global_rng else torch.Generator().manual_seed(9)
        loader = DataLoader(range(103), batch_size=10, shuffle=True, drop_last=True, generator=generator)
        batches = [b.tolist() for _ in range(2) for b in loader]
        return batches, torch.rand(3)

    def our_batches() -> tuple[list, torch.Tensor]:
        torch.manual_seed(5)
        generator = None if global_rng else torch.Generator().manual_seed(9)
        batches = [b.tolist() for _ in range(2) for b in batch_order(103, 10, True, True, generator)]
        return batches, torch.rand(3)

    (theirs, state_a), (ours, state_b) = loader_batches(), our_batches()
    assert ours == theirs and len(ours) == 20
    assert torch.equal(state_a, state_b)


def test_when_the_type1_schedule_is_used_then_lr_halves_after_the_second_epoch():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    trainer = Trainer(max_epochs=4, patience=10, lr=0.01, progress=False, lr_schedule=TrainConfig().schedule())
    seen = []
    trainer.after_epoch = seen.append
    result = trainer.fit(torch.nn.Linear(4, 1), x, y)
    assert [r["lr"] for r in result.history] == [0.01, 0.01, 0.005, 0.0025]
    assert seen == [0, 1, 2, 3]


def test_when_reference_validation_is_batched_then_the_loss_is_the_mean_of_full_batch_losses():
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(70, 4)).astype(np.float32), rng.normal(size=(70, 1)).astype(np.float32)
    model = torch.nn.Linear(4, 1)
    trainer = Trainer(val_batch_size=32, shuffle_rng="global", progress=False)
    torch.manual_seed(0)
    loss = trainer._validate(model, Pairs.of(xv, yv), None)
    torch.manual_seed(0)
    order = batch_order(70, 32, True, True, None)
    with torch.no_grad():
        expected = np.mean(
            [float(torch.nn.functional.mse_loss(model(torch.as_tensor(xv[i])), torch.as_tensor(yv[i]))) for i in order]
        )
    assert len(order) == 2 and loss == pytest.approx(expected)


def test_when_trained_twice_with_one_seed_then_results_are_identical_and_another_seed_differs():
    task = LTSFTask(dataset="x", subset="y", input_len=48, horizon=12)
    table = _table()
    results = [
        run(task, "DLinear", TrainConfig(batch_size=16, lr=0.01, epochs=2, seed=s), prepare(task, table))
        for s in (1, 1, 2)
    ]
    assert results[0]["mse"] == results[1]["mse"] and results[0]["mse"] != results[2]["mse"]
    assert results[0]["device"] == ("cuda" if torch.cuda.is_available() else "cpu") or "cuda" in results[0]["device"]
    repeat = run(task, "Repeat", TrainConfig(), prepare(task, table))
    assert results[0]["mse"] < repeat["mse"]  # learns the seasonality the last value misses


def test_when_scored_on_all_windows_then_compat_and_all_differ_only_by_the_dropped_tail():
    table = _table()
    clean = LTSFTask(dataset="x", subset="y", input_len=48, horizon=12)
    compat = clean.model_copy(update={"test_batch_size": 32, "drop_last_test": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtocolWarning)
        a = run(clean, "Repeat", TrainConfig(), prepare(clean, table))
        b = run(compat, "Repeat", TrainConfig(), prepare(compat, table))
    assert a["mse"] == a["mse_all"] == pytest.approx(b["mse_all"])
    assert b["scored_windows"] < b["test_windows"] and b["mse"] != b["mse_all"]
    assert "dropped" in b["protocol_findings"] and a["protocol_findings"] == ""
    assert a["test_rule"] == "all test windows" and "paper-compatible" in b["test_rule"]


def test_when_original_scale_is_asked_then_errors_are_rescaled_per_channel():
    task = LTSFTask(dataset="x", subset="y", input_len=48, horizon=12)
    table = Table("scaled", _table().values * np.array([1.0, 100.0]), ("a", "b"))
    r = run(task, "Repeat", TrainConfig(), prepare(task, table))
    assert r["mse_original_all"] > 100 * r["mse_all"]


def test_when_a_task_field_is_bad_then_a_workbench_error_names_it():
    with pytest.raises(LTSFConfigError, match="horizon"):
        LTSFTask(dataset="x", subset="y", horizon=0)
    with pytest.raises(LTSFConfigError, match="split_rule"):
        LTSFTask(dataset="x", subset="y", split_rule="monthly")
