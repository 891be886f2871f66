"""Linear, NLinear, DLinear and Repeat: shapes, the properties that define them, bad names."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import UnknownNameError
from workbench.ltsf import MODELS, DLinear, build_model
from workbench.ltsf.models import moving_average


@pytest.mark.parametrize("name", MODELS)
def test_when_a_model_forecasts_then_it_maps_batch_input_channels_to_batch_horizon_channels(name):
    torch.manual_seed(0)
    out = build_model(name, 48, 12)(torch.randn(5, 48, 3))
    assert out.shape == (5, 12, 3)


def test_when_channels_are_swapped_then_forecasts_swap_too_one_map_is_shared():
    torch.manual_seed(0)
    model, x = build_model("Linear", 48, 12), torch.randn(4, 48, 3)
    torch.testing.assert_close(model(x.flip(-1)), model(x).flip(-1))


def test_when_the_input_level_shifts_then_nlinear_shifts_its_forecast_by_the_same_amount():
    torch.manual_seed(0)
    model, x = build_model("NLinear", 48, 12), torch.randn(4, 48, 2)
    torch.testing.assert_close(model(x + 7.5), model(x) + 7.5)
    linear = build_model("Linear", 48, 12)
    assert not torch.allclose(linear(x + 7.5), linear(x) + 7.5)


def test_when_the_input_is_constant_then_the_moving_average_is_that_constant_up_to_the_edges():
    x = torch.full((2, 30, 3), 4.0)
    torch.testing.assert_close(moving_average(x, 25), x)
    ramp = torch.arange(30.0).reshape(1, 30, 1)
    trend = moving_average(ramp, 5)
    assert trend.shape == ramp.shape
    torch.testing.assert_close(trend[0, 2:-2, 0], ramp[0, 2:-2, 0])  # centred: a line is its own average
    assert trend[0, 0, 0] == pytest.approx((0 + 0 + 0 + 1 + 2) / 5)  # edge padded with the first value


def test_when_dlinear_uses_the_v1_init_then_weights_are_one_over_l_and_three_layers_are_drawn():
    torch.manual_seed(1)
    model = DLinear(48, 12, init="v1")
    after_v1 = torch.rand(1)
    assert torch.all(model.seasonal.weight == 1 / 48) and torch.all(model.trend.weight == 1 / 48)
    torch.manual_seed(1)
    for _ in range(3):
        torch.nn.Linear(48, 12)
    assert torch.equal(torch.rand(1), after_v1)


def test_when_repeat_forecasts_then_every_step_is_the_last_input():
    x = torch.randn(3, 20, 2)
    out = build_model("Repeat", 20, 5)(x)
    torch.testing.assert_close(out, x[:, -1:, :].expand(-1, 5, -1))


def test_when_a_model_name_is_unknown_then_the_error_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"'DLinaer'.*Did you mean 'DLinear'"):
        build_model("DLinaer", 48, 12)


@pytest.mark.parametrize("name", ["linear", "nlinear", "dlinear"])
def test_when_a_registered_ltsf_forecaster_runs_on_a_panel_then_it_beats_the_last_value(name):
    import numpy as np

    from workbench.data.synthetic import synthetic_panel
    from workbench.forecasters import make_forecaster

    train, test = synthetic_panel(6, seed=4, min_length=200, max_length=260)
    model = make_forecaster(name, input_len=96, epochs=4, lr=0.01)
    assert model.is_global
    f = model.fit(train).predict(24)["y_hat"].to_numpy().reshape(6, 24)
    y, _, _ = test.to_numpy(pad="right")
    flat = np.repeat(train.to_numpy()[0][:, -1:], 24, axis=1)
    assert np.abs(y[:, :24] - f).mean() < np.abs(y[:, :24] - flat).mean()


def test_when_a_series_is_shorter_than_input_plus_horizon_then_the_forecaster_names_it():
    from workbench.data.synthetic import synthetic_panel
    from workbench.errors import DataFormatError
    from workbench.forecasters import make_forecaster

    train, _ = synthetic_panel(3, seed=1, min_length=50, max_length=60)
    with pytest.raises(DataFormatError, match=r"series .* fewer than input_len 96"):
        make_forecaster("dlinear", input_len=96).fit(train).predict(24)
