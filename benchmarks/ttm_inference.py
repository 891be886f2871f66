"""Granite TTM-R2 zero-shot inference: the workbench's `ttm` adapter vs granite-tsfm's own pipeline.

The same ETTh1 test windows (context 512, horizon 96, the LTSF split of the TTM benchmark, data z-scored with
the training split's statistics), the same checkpoint, the same batch (64 windows = 448 channel series per
forward pass), one torch thread:

1. `adapter (windows)`: `workbench.foundation.ttm.forecast_windows` on the windows' contexts (the path of
   `workbench reproduce ttm`);
2. `adapter (panel)`: `make_forecaster("ttm").fit(panel).predict(96)` on a panel with one series per
   (window, channel) context (building the panel is not timed; the forecast frame is);
3. `granite-tsfm pipeline`: `TimeSeriesForecastingPipeline(model, batch_size=64)` on the frame of the same
   rows (its windowing, forward passes and output frame are timed).

Ratio = pipeline seconds / adapter seconds (target >= 1.0: the adapter is no slower). The forecasts of the
routes are compared too. Usage: python benchmarks/ttm_inference.py [--windows 2785] [--reps 3] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import torch

from workbench.data import Panel
from workbench.forecasters import make_forecaster
from workbench.foundation import ttm as adapter
from workbench.ltsf import prepare
from workbench.papers import ttm as paper


def timed(routes: dict, reps: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per route, the routes interleaved rep by rep (a shared machine's load hits all alike)."""
    outs = {name: fn() for name, fn in routes.items()}  # warm-up: first-call allocations, lazy imports
    times: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(reps):
        for name, fn in routes.items():
            start = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=None, help="first N test windows (default: all 2785)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=paper.BENCHMARK_BATCH, help="windows per forward pass")
    parser.add_argument("--model", default=None, help="checkpoint folder or hub id (default: ../shared/models/...)")
    parser.add_argument("--no-panel", action="store_true", help="skip the panel route")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    from tsfm_public import TimeSeriesForecastingPipeline

    model_path = args.model or paper.default_model()
    model = adapter.load_model(model_path, None, "cpu", "float32")
    context, h = adapter.checkpoint_lengths(model)
    prepared = prepare(paper.task_for("ETTh1", h, context))
    n = min(args.windows or len(prepared.test), len(prepared.test))
    channels = list(prepared.channels)
    c = len(channels)
    series_per_pass = args.batch * c

    # 1. the adapter on the windows
    def windows_route() -> np.ndarray:
        x, _ = prepared.test.take(torch.arange(n))
        return adapter.forecast_windows(model, x, h, batch_size=series_per_pass, scaling="model").numpy()

    # 3. granite-tsfm's pipeline on the frame of the same rows: n windows need n + context - 1 rows
    test_rows = prepared.test.values[: n + context - 1].numpy().astype(np.float64)
    frame = pd.DataFrame(test_rows, columns=channels)
    frame.insert(0, "date", pd.date_range("2017-10-20", periods=len(frame), freq="h"))
    pipeline = TimeSeriesForecastingPipeline(
        model,
        timestamp_column="date",
        id_columns=[],
        target_columns=channels,
        freq="1h",
        batch_size=args.batch,
        device="cpu",
        add_known_ground_truth=False,
    )
    routes = {"windows": windows_route, "pipeline": lambda: pipeline(frame)}

    # 2. the adapter through the Forecaster interface: one series per (window, channel) context
    if not args.no_panel:
        x, _ = prepared.test.take(torch.arange(n))
        contexts = x.transpose(1, 2).reshape(n * c, context).numpy().astype(np.float64)
        ids = np.repeat([f"w{i:05d}c{j}" for i in range(n) for j in range(c)], context)
        long = pd.DataFrame({"unique_id": ids, "ds": np.tile(np.arange(context), n * c), "y": contexts.ravel()})
        panel = Panel.from_long(long, name="ETTh1 test contexts")
        forecaster = make_forecaster("ttm", model_object=model, batch_size=series_per_pass, scaling="model")
        routes["panel"] = lambda: forecaster.fit(panel).predict(h)

    seconds, outs = timed(routes, args.reps)
    out = outs["pipeline"]
    y_pipeline = np.stack([np.stack(out[ch].to_numpy()) for ch in channels], axis=-1)  # [n, h, c]
    y_windows = outs["windows"]
    assert y_pipeline.shape == y_windows.shape, (y_pipeline.shape, y_windows.shape)
    t_windows, t_pipeline = seconds["windows"], seconds["pipeline"]
    result = {
        "windows": n,
        "channels": c,
        "series": n * c,
        "batch_windows": args.batch,
        "threads": torch.get_num_threads(),
        "reps": args.reps,
        "adapter_windows_s": round(t_windows, 3),
        "pipeline_s": round(t_pipeline, 3),
        "ratio_windows": round(t_pipeline / t_windows, 3),
        "adapter_windows_per_s": round(n / t_windows, 1),
        "pipeline_windows_per_s": round(n / t_pipeline, 1),
        "adapter_series_per_s": round(n * c / t_windows, 1),
        "pipeline_series_per_s": round(n * c / t_pipeline, 1),
        "max_abs_diff_windows_vs_pipeline": float(np.abs(y_windows - y_pipeline).max()),
    }
    if "panel" in seconds:
        t_panel = seconds["panel"]
        y_panel = outs["panel"]["y_hat"].to_numpy().reshape(n, c, h).transpose(0, 2, 1)
        result |= {
            "adapter_panel_s": round(t_panel, 3),
            "ratio_panel": round(t_pipeline / t_panel, 3),
            "adapter_panel_series_per_s": round(n * c / t_panel, 1),
            "max_abs_diff_panel_vs_pipeline": float(np.abs(y_panel - y_pipeline).max()),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
