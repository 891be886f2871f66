"""The Chronos adapter on a small randomly initialised Chronos-Bolt model (no download)."""

from __future__ import annotations

import numpy as np
import pytest

chronos = pytest.importorskip("chronos", reason="the foundation extra is not installed")

from transformers import T5Config  # noqa: E402

from workbench.data.synthetic import synthetic_panel  # noqa: E402
from workbench.errors import SourceUnavailableError  # noqa: E402
from workbench.forecasters import make_forecaster  # noqa: E402

QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def tiny_bolt(seed: int = 0):
    """The real Chronos-Bolt architecture at toy size, random weights."""
    import torch
    from chronos.chronos_bolt import ChronosBoltModelForForecasting, ChronosBoltPipeline

    torch.manual_seed(seed)
    config = T5Config(
        d_model=32, d_ff=64, d_kv=16, num_heads=2, num_layers=1, num_decoder_layers=1, vocab_size=2,
        dropout_rate=0.0, feed_forward_proj="relu", dense_act_fn="relu", is_encoder_decoder=True,
    )  # fmt: skip
    config.chronos_config = {
        "context_length": 64, "prediction_length": 16, "input_patch_size": 8, "input_patch_stride": 8,
        "quantiles": QUANTILES, "use_reg_token": True,
    }  # fmt: skip
    config.chronos_pipeline_class = "ChronosBoltPipeline"
    config.decoder_start_token_id = 0
    config.pad_token_id = 0
    return ChronosBoltPipeline(ChronosBoltModelForForecasting(config).eval())


@pytest.fixture(scope="module")
def panel():
    train, _ = synthetic_panel(5, seed=6, min_length=100, max_length=150)
    return train


def test_when_chronos_forecasts_then_shapes_quantile_order_and_determinism_hold(panel):
    pipeline = tiny_bolt()
    first = make_forecaster("chronos", pipeline=pipeline, quantiles=[0.1, 0.9]).fit(panel).predict(12)
    again = make_forecaster("chronos", pipeline=pipeline, quantiles=[0.1, 0.9]).fit(panel).predict(12)
    assert len(first) == 5 * 12 and {"q0.1", "q0.5", "q0.9", "y_hat"} <= set(first.columns)
    assert (first["q0.1"] <= first["q0.5"]).all() and (first["q0.5"] <= first["q0.9"]).all()
    np.testing.assert_array_equal(first["y_hat"].to_numpy(), again["y_hat"].to_numpy())
    assert np.isfinite(first["y_hat"]).all()


def test_when_weights_cannot_be_had_then_the_error_says_to_pass_a_local_path(tmp_path, panel, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailableError, match="local path"):
        make_forecaster("chronos", model=str(tmp_path / "no-such-model")).fit(panel).predict(4)
