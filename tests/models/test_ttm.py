"""The TTM adapter: on the real Granite TTM-R2 weights of ../shared/models and on a toy model of the same
architecture with random weights."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data import Panel
from workbench.errors import DataFormatError, SourceUnavailableError, WorkbenchError
from workbench.forecasters import make_forecaster

WEIGHTS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "granite-ttm-r2-512-96"
needs_tsfm = pytest.mark.skipif(
    importlib.util.find_spec("tsfm_public") is None,
    reason="granite-tsfm is not installed (pip install --no-deps granite-tsfm==0.3.11 and its import-time needs)",
)
needs_weights = pytest.mark.skipif(not WEIGHTS.is_dir(), reason=f"the TTM-R2 weights are not at {WEIGHTS}")


def panel(lengths: list[int], seed: int = 0, level: float = 10.0) -> Panel:
    """Daily-seasonal series with noise, one per length, ids s0, s1, ..."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(lengths):
        t = np.arange(n)
        y = level + 3 * np.sin(2 * np.pi * t / 24 + i) + 0.01 * t + rng.normal(0, 0.3, n)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": t, "y": y}))
    return Panel.from_long(pd.concat(frames, ignore_index=True), name="toy")


def tiny_ttm(seed: int = 0):
    """The real TinyTimeMixer architecture at toy size (context 64, horizon 16), random weights."""
    import torch
    from tsfm_public import TinyTimeMixerConfig, TinyTimeMixerForPrediction

    torch.manual_seed(seed)
    config = TinyTimeMixerConfig(
        context_length=64, prediction_length=16, patch_length=8, patch_stride=8, num_input_channels=1, d_model=16,
        num_layers=1, decoder_d_model=8, decoder_num_layers=1, adaptive_patching_levels=1, use_decoder=True,
        scaling="std", dropout=0.1, head_dropout=0.1, mode="common_channel", decoder_mode="common_channel",
    )  # fmt: skip
    return TinyTimeMixerForPrediction(config).eval()


def test_when_granite_tsfm_is_absent_then_the_error_says_how_to_install_it(monkeypatch):
    from workbench.foundation import ttm

    monkeypatch.setitem(sys.modules, "tsfm_public", None)  # an import of it now fails
    with pytest.raises(
        WorkbenchError, match=r"--no-deps granite-tsfm.*torch<2\.12|torch<2\.12.*--no-deps granite-tsfm"
    ):
        ttm.import_ttm()


@needs_tsfm
def test_when_the_toy_model_forecasts_then_shape_ids_and_determinism_hold():
    past = panel([100, 80, 64])
    model = tiny_ttm()
    first = make_forecaster("ttm", model_object=model).fit(past).predict(16)
    again = make_forecaster("ttm", model_object=model, batch_size=1).fit(past).predict(16)
    assert len(first) == 3 * 16 and list(first.columns) == ["unique_id", "ds", "y_hat"]
    assert list(first.groupby("unique_id")["ds"].min()) == [100, 80, 64]
    assert np.isfinite(first["y_hat"]).all()
    np.testing.assert_allclose(first["y_hat"], again["y_hat"], rtol=1e-6)  # batching does not change forecasts


@needs_tsfm
def test_when_the_toy_model_forecasts_then_it_follows_level_and_scale_of_each_series():
    model = tiny_ttm()
    base = panel([90, 90], seed=1)
    moved = Panel.from_long(base.df.assign(y=1000 + 50 * base.df["y"]), name="moved")
    y = make_forecaster("ttm", model_object=model).fit(base).predict(8)["y_hat"].to_numpy()
    y_moved = make_forecaster("ttm", model_object=model).fit(moved).predict(8)["y_hat"].to_numpy()
    np.testing.assert_allclose(y_moved, 1000 + 50 * y, rtol=1e-6)


@needs_tsfm
def test_when_the_toy_model_is_tuned_then_it_is_global_seeded_and_changes_the_forecast():
    past = panel([200, 180, 160], seed=2)
    model = tiny_ttm()
    zero = make_forecaster("ttm", model_object=model)
    assert zero.is_global is False
    before = zero.fit(past).predict(16)["y_hat"].to_numpy()
    tuned = [make_forecaster("ttm", model_object=model, finetune_epochs=3, random_state=7).fit(past) for _ in range(2)]
    assert tuned[0].is_global is True
    a, b = (t.predict(16)["y_hat"].to_numpy() for t in tuned)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - before).max() > 1e-4
    assert len(tuned[0].finetune_result_.history) >= 1
    again = make_forecaster("ttm", model_object=model).fit(past).predict(16)["y_hat"].to_numpy()
    np.testing.assert_array_equal(again, before)  # the loaded model itself is never tuned in place


@needs_tsfm
def test_when_the_horizon_or_the_history_does_not_fit_the_toy_checkpoint_then_the_error_names_them():
    from workbench.foundation.ttm import HorizonError

    model = tiny_ttm()
    with pytest.raises(HorizonError, match="horizon 17 is beyond the checkpoint's prediction length 16"):
        make_forecaster("ttm", model_object=model).fit(panel([100])).predict(17)
    with pytest.raises(
        DataFormatError, match=r"series 's1' has 50 points, fewer than the checkpoint's context length 64"
    ):
        make_forecaster("ttm", model_object=model, short_series="refuse").fit(panel([100, 50])).predict(8)
    gappy = panel([100])
    gappy = Panel.from_long(
        gappy.df.assign(y=gappy.df["y"].where(gappy.df["ds"] != 90)), name="gap", allow_missing=True
    )
    with pytest.raises(DataFormatError, match="'s0' has missing values in its last 64 points"):
        make_forecaster("ttm", model_object=model).fit(gappy).predict(8)


@needs_tsfm
def test_when_weights_cannot_be_had_then_the_error_says_to_pass_a_local_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceUnavailableError, match="local path"):
        make_forecaster("ttm", model=str(tmp_path / "no-such-model")).fit(panel([600])).predict(4)


@needs_tsfm
def test_when_parameters_are_misspelt_then_the_error_names_them():
    from workbench.errors import ParameterError

    with pytest.raises(ParameterError, match="batchsize"):
        make_forecaster("ttm", batchsize=8)


@needs_tsfm
@needs_weights
def test_when_the_real_checkpoint_forecasts_then_shape_determinism_and_accuracy_hold():
    whole = panel([796, 696, 608], seed=3)
    past = Panel.from_long(whole.df.groupby("unique_id").head(-96), name="past")
    truth = whole.df.groupby("unique_id").tail(96)["y"].to_numpy()
    first = make_forecaster("ttm", model=str(WEIGHTS)).fit(past).predict(96)
    again = make_forecaster("ttm", model=str(WEIGHTS)).fit(past).predict(96)
    assert len(first) == 3 * 96 and np.isfinite(first["y_hat"]).all()
    np.testing.assert_array_equal(first["y_hat"].to_numpy(), again["y_hat"].to_numpy())
    # a daily cycle of amplitude 3 under noise of 0.3: the checkpoint beats the last value repeated (MAE 1.5 vs 2.2)
    naive = make_forecaster("naive").fit(past).predict(96)["y_hat"].to_numpy()
    assert np.abs(first["y_hat"].to_numpy() - truth).mean() < 0.8 * np.abs(naive - truth).mean()


@needs_tsfm
@needs_weights
def test_when_the_horizon_is_shorter_than_the_checkpoints_then_it_is_the_prediction_filter_length_forecast():
    from tsfm_public import TinyTimeMixerForPrediction

    past = panel([640, 560], seed=4)
    short = make_forecaster("ttm", model=str(WEIGHTS)).fit(past).predict(24)
    full = make_forecaster("ttm", model=str(WEIGHTS)).fit(past).predict(96)
    filtered = TinyTimeMixerForPrediction.from_pretrained(str(WEIGHTS), prediction_filter_length=24).eval()
    by_filter = make_forecaster("ttm", model_object=filtered).fit(past).predict(24)
    first_24 = full.groupby("unique_id").head(24)["y_hat"].to_numpy()
    np.testing.assert_allclose(short["y_hat"].to_numpy(), first_24, rtol=1e-6)
    np.testing.assert_allclose(by_filter["y_hat"].to_numpy(), short["y_hat"].to_numpy(), rtol=1e-6)


@needs_tsfm
@needs_weights
def test_when_the_real_checkpoint_is_asked_too_much_then_it_refuses_naming_series_and_lengths():
    from workbench.foundation.ttm import HorizonError

    with pytest.raises(HorizonError, match="horizon 192 is beyond the checkpoint's prediction length 96"):
        make_forecaster("ttm", model=str(WEIGHTS)).fit(panel([600])).predict(192)
    with pytest.raises(DataFormatError, match=r"'s1' has 300 points, fewer than the checkpoint's context length 512"):
        make_forecaster("ttm", model=str(WEIGHTS), short_series="refuse").fit(panel([600, 300])).predict(96)


@needs_tsfm
@needs_weights
def test_when_contexts_are_scaled_first_or_left_to_the_model_then_forecasts_agree():
    past = panel([600, 600], seed=5, level=200.0)
    ours = make_forecaster("ttm", model=str(WEIGHTS), scaling="context").fit(past).predict(96)["y_hat"].to_numpy()
    raw = make_forecaster("ttm", model=str(WEIGHTS), scaling="model").fit(past).predict(96)["y_hat"].to_numpy()
    np.testing.assert_allclose(ours, raw, rtol=1e-4)
    f64 = make_forecaster("ttm", model=str(WEIGHTS), dtype="float64").fit(past).predict(96)["y_hat"].to_numpy()
    np.testing.assert_allclose(f64, ours, rtol=1e-4)


@needs_tsfm
@needs_weights
def test_when_series_are_shorter_than_the_context_then_they_are_padded_masked_and_counted_as_fev_runs_ttm():
    """Left-padded to 512 and masked (past_observed_mask), gaps filled by gluonts' LastValueImputation, the raw
    values given to the model: the forecast of fev's TinyTimeMixerPipeline (examples/ttm-r2), rebuilt here."""
    import torch
    from gluonts.transform import LastValueImputation
    from tsfm_public import TinyTimeMixerForPrediction

    past = panel([600, 300, 40])
    df = past.df.copy()
    df.loc[(df["unique_id"] == "s1") & (df["ds"].isin([0, 5, 6, 299])), "y"] = np.nan  # a leading gap, two inside
    gappy = Panel.from_long(df, name="gappy", allow_missing=True)
    model = make_forecaster("ttm", model=str(WEIGHTS), missing="last_value", scaling="model")
    got = model.fit(gappy).predict(24)
    assert model.runtime_info()["n_padded"] == 2

    ttm = TinyTimeMixerForPrediction.from_pretrained(str(WEIGHTS)).eval()
    rows = []
    for _, g in gappy.df.groupby("unique_id", sort=True):
        y = LastValueImputation()(g["y"].to_numpy(np.float32).copy())[-512:]
        rows.append(np.concatenate([np.full(512 - len(y), np.nan, np.float32), y]))
    context = torch.tensor(np.stack(rows)).unsqueeze(-1)
    observed = ~torch.isnan(context)
    with torch.no_grad():
        out = ttm(past_values=torch.where(observed, context, 0.0), past_observed_mask=observed).prediction_outputs
    expected = out[:, :24, 0].numpy().ravel()
    np.testing.assert_allclose(got["y_hat"].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataFormatError, match=r"'s1' has missing values in its last 512 points.*missing=last_value"):
        make_forecaster("ttm", model=str(WEIGHTS)).fit(gappy).predict(24)


@needs_tsfm
def test_when_a_short_series_is_padded_then_the_padding_does_not_reach_the_forecast():
    """The padding is masked: a series forecast alone (padded) and beside a long one give the same values,
    and padding with other values under the mask changes nothing."""
    model = tiny_ttm()
    both = make_forecaster("ttm", model_object=model).fit(panel([100, 30])).predict(16)
    alone = make_forecaster("ttm", model_object=model).fit(panel([100, 30]).select(["s1"])).predict(16)
    np.testing.assert_allclose(both[both["unique_id"] == "s1"]["y_hat"], alone["y_hat"], rtol=1e-5)
    with pytest.raises(DataFormatError, match=r"'s1' has 30 points.*short_series=pad"):
        make_forecaster("ttm", model_object=model, short_series="refuse").fit(panel([100, 30])).predict(16)
