"""The TimesFM adapter on a small randomly initialised TimesFM 2.5 (the real architecture, no download)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

timesfm = pytest.importorskip("timesfm", reason="the foundation extra is not installed")

from workbench.data.synthetic import synthetic_panel  # noqa: E402
from workbench.errors import SourceUnavailableError  # noqa: E402
from workbench.forecasters import make_forecaster  # noqa: E402
from workbench.foundation.timesfm import forecast_config  # noqa: E402


def tiny_timesfm(seed: int = 0):
    """TimesFM 2.5 with one 32-wide transformer layer; patch and output sizes as the real model."""
    import torch
    from timesfm.timesfm_2p5 import timesfm_2p5_base as base
    from timesfm.timesfm_2p5 import timesfm_2p5_torch as torch_impl

    d = base.TimesFM_2p5_200M_Definition()
    xf = d.stacked_transformers
    small = dataclasses.replace(
        d,
        tokenizer=dataclasses.replace(d.tokenizer, hidden_dims=32, output_dims=32),
        stacked_transformers=dataclasses.replace(
            xf,
            num_layers=1,
            transformer=dataclasses.replace(xf.transformer, model_dims=32, hidden_dims=32, num_heads=2),
        ),
        output_projection_point=dataclasses.replace(d.output_projection_point, input_dims=32, hidden_dims=32),
        output_projection_quantiles=dataclasses.replace(d.output_projection_quantiles, input_dims=32, hidden_dims=32),
    )

    class Small(torch_impl.TimesFM_2p5_200M_torch_module):
        config = small

    torch.manual_seed(seed)
    model = timesfm.TimesFM_2p5_200M_torch(torch_compile=False)
    model.model = Small().eval()
    model.compile(forecast_config(256, 24))
    return model


@pytest.fixture(scope="module")
def panel():
    train, _ = synthetic_panel(4, seed=7, min_length=100, max_length=140)
    return train


def test_when_timesfm_forecasts_then_shapes_quantile_order_and_determinism_hold(panel):
    model = tiny_timesfm()
    first = make_forecaster("timesfm", model_object=model, quantiles=[0.1, 0.5, 0.9]).fit(panel).predict(24)
    again = make_forecaster("timesfm", model_object=model, quantiles=[0.1, 0.5, 0.9]).fit(panel).predict(24)
    assert len(first) == 4 * 24 and np.isfinite(first["y_hat"]).all()
    assert (first["q0.1"] <= first["q0.5"]).all() and (first["q0.5"] <= first["q0.9"]).all()
    np.testing.assert_array_equal(first["y_hat"].to_numpy(), again["y_hat"].to_numpy())


def test_when_quantiles_are_not_deciles_or_weights_are_missing_then_errors_say_so(tmp_path, panel, monkeypatch):
    with pytest.raises(ValueError, match="deciles"):
        make_forecaster("timesfm", quantiles=[0.05])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailableError, match="local path"):
        make_forecaster("timesfm", model=str(tmp_path / "nothing")).fit(panel).predict(4)
