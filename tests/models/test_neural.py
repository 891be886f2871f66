"""The native PyTorch trainer and the global MLP built on it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.data.synthetic import synthetic_panel
from workbench.forecasters import make_forecaster
from workbench.neural.trainer import Trainer, pick_device


def _panel():
    train, test = synthetic_panel(30, seed=4, min_length=120, max_length=200)
    return train, test


def test_when_trained_twice_with_one_seed_then_forecasts_are_identical_and_another_seed_differs():
    train, _ = _panel()
    runs = [make_forecaster("mlp", epochs=5, seed=s).fit(train).predict(12)["y_hat"].to_numpy() for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_when_validation_stops_improving_then_training_stops_early_and_keeps_the_best_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [2.0], [0.0], [-1.0]], dtype=np.float32)).astype(np.float32)
    noise_x, noise_y = rng.normal(size=(50, 4)), rng.normal(size=(50, 1)) * 10  # validation it cannot fit
    trainer = Trainer(max_epochs=200, patience=3, lr=1e-2, progress=False)
    result = trainer.fit(nn.Linear(4, 1), x, y, noise_x, noise_y)
    assert len(result.history) < 200
    best = min(r["val_loss"] for r in result.history)
    assert result.history[result.best_epoch]["val_loss"] == best
    assert trainer.evaluate(result.model, noise_x, noise_y) == best


def test_when_no_gpu_is_present_then_the_cpu_is_used():
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_when_the_mlp_forecasts_then_it_is_global_and_beats_a_flat_line_on_seasonal_series():
    train, test = _panel()
    model = make_forecaster("mlp", epochs=40, lags=48, seed=0)
    assert model.is_global
    out = model.fit(train).predict(48)
    y, _, _ = test.to_numpy(pad="right")
    f = out["y_hat"].to_numpy().reshape(y.shape)
    flat = np.repeat(train.to_numpy()[0][:, -1:], 48, axis=1)
    assert np.abs(y - f).mean() < np.abs(y - flat).mean()
    assert not model.history().empty
