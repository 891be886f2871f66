"""The Toto adapter on a small randomly initialised Toto of the real architecture (no download).

`toto-ts` lives in its own environment (`make toto-env` builds `.venv-toto`): the checks that need
it run there, in a subprocess, from the main test run; in the main environment the adapter must say
how to get that environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.data.synthetic import synthetic_panel
from workbench.errors import SourceUnavailableError, WorkbenchError
from workbench.forecasters import make_forecaster

REPO = Path(__file__).resolve().parents[2]
TOTO_PYTHON = REPO / ".venv-toto" / "bin" / "python"

try:
    import toto  # noqa: F401

    HAS_TOTO = True
except ImportError:
    HAS_TOTO = False

needs_toto = pytest.mark.skipif(not HAS_TOTO, reason="runs inside .venv-toto (make toto-env)")

TINY_CONFIG = {
    "patch_size": 8, "stride": 8, "embed_dim": 32, "num_layers": 2, "num_heads": 2, "mlp_hidden_dim": 64,
    "dropout": 0.0, "spacewise_every_n_layers": 2, "scaler_cls": "<class 'model.scaler.CausalPatchStdMeanScaler'>",
    "output_distribution_classes": ["<class 'model.distribution.MixtureOfStudentTsOutput'>"],
    "output_distribution_kwargs": {"k_components": 3}, "use_memory_efficient_attention": False,
}  # fmt: skip


def tiny_toto(seed: int = 0):
    """Toto Open Base's architecture at toy size (2 layers, 32 wide), random weights."""
    import torch
    from toto.model.toto import Toto

    torch.manual_seed(seed)
    return Toto(**TINY_CONFIG).eval()


@pytest.fixture(scope="module")
def panel():
    train, _ = synthetic_panel(4, seed=3, min_length=60, max_length=90)
    return train


@pytest.mark.skipif(HAS_TOTO, reason="checks the main environment, where toto-ts is absent")
def test_when_toto_ts_is_absent_then_the_error_says_how_to_get_its_environment():
    with pytest.raises(WorkbenchError, match="make toto-env"):
        make_forecaster("toto")


@pytest.mark.skipif(HAS_TOTO, reason="this is the main environment's bridge to .venv-toto")
def test_when_the_toto_environment_exists_then_its_checks_pass_there():
    if not TOTO_PYTHON.exists():
        pytest.skip("no .venv-toto here: `make toto-env` builds it (`make test` does)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(TOTO_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "inside_toto_env"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout, done.stdout[-2000:]


@needs_toto
def test_inside_toto_env_forecasts_have_shapes_sorted_quantiles_and_repeat(panel):
    module = tiny_toto()
    params = {"module": module, "quantiles": [0.1, 0.9], "num_samples": 16, "seed": 7}
    first = make_forecaster("toto", **params).fit(panel).predict(10)
    again = make_forecaster("toto", **params).fit(panel).predict(10)
    other_seed = make_forecaster("toto", **(params | {"seed": 8})).fit(panel).predict(10)
    assert len(first) == 4 * 10 and {"q0.1", "q0.5", "q0.9", "y_hat"} <= set(first.columns)
    assert (first["q0.1"] <= first["q0.5"]).all() and (first["q0.5"] <= first["q0.9"]).all()
    assert np.isfinite(first[["q0.1", "q0.5", "q0.9"]].to_numpy()).all()
    np.testing.assert_array_equal(first["y_hat"].to_numpy(), again["y_hat"].to_numpy())
    assert not np.array_equal(first["q0.9"].to_numpy(), other_seed["q0.9"].to_numpy())


@needs_toto
def test_inside_toto_env_a_series_forecast_does_not_see_the_other_series_of_its_batch(panel):
    """Scaling one series by 100 leaves the other series' mean paths (same batch) unchanged.

    The mean path is used because Student-t sampling draws a data-dependent number of random
    numbers, so sampled paths shift with any change in the batch even without cross-talk."""
    from workbench.data.panel import Panel

    frame = panel.df.copy()
    victim = frame["unique_id"].unique()[2]
    frame.loc[frame["unique_id"] == victim, "y"] *= 100.0
    changed = Panel.from_long(frame, freq=panel.freq, season_length=panel.season_length)
    params = {"module": tiny_toto(), "num_samples": 0, "batch_size": 4}
    base = make_forecaster("toto", **params).fit(panel).predict(6)
    other = make_forecaster("toto", **params).fit(changed).predict(6)
    keep = base["unique_id"] != victim
    assert "q0.5" not in base.columns and np.isfinite(base["y_hat"]).all()
    np.testing.assert_allclose(other.loc[keep, "y_hat"].to_numpy(), base.loc[keep, "y_hat"].to_numpy(), rtol=1e-5)
    assert not np.allclose(other.loc[~keep, "y_hat"].to_numpy(), base.loc[~keep, "y_hat"].to_numpy())


@needs_toto
def test_inside_toto_env_local_weights_load_and_a_missing_folder_says_to_pass_a_path(tmp_path, panel):
    import safetensors.torch

    module = tiny_toto(seed=2)
    safetensors.torch.save_file(module.state_dict(), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    loaded = make_forecaster("toto", model=str(tmp_path), num_samples=8).fit(panel).predict(4)
    direct = make_forecaster("toto", module=module, num_samples=8).fit(panel).predict(4)
    np.testing.assert_allclose(loaded["y_hat"].to_numpy(), direct["y_hat"].to_numpy(), rtol=1e-5)
    os.environ["HF_HUB_OFFLINE"] = "1"
    with pytest.raises(SourceUnavailableError, match="local path"):
        make_forecaster("toto", model=str(tmp_path / "missing")).fit(panel).predict(4)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
