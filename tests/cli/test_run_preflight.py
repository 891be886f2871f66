"""`workbench run` on a grid with many problems: one error listing them all, exit 2, nothing written.

The preflight runs before a cluster starts, so these tests start none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from workbench.cli import app
from workbench.config import CATALOG_ENV

runner = CliRunner()


def write_user_data(root) -> None:
    """Two parquet files (the second names its target `val`, not `value`) and a card over them."""
    rng = np.random.default_rng(7)
    (root / "data").mkdir()
    for i, (lengths, target) in enumerate([({"a": 100, "b": 30}, "value"), ({"c": 20, "d": 100}, "val")]):
        frame = pd.concat(
            [
                pd.DataFrame(
                    {"series": uid, "ts": pd.date_range("2024-01-01", periods=n, freq="h"), target: rng.normal(size=n)}
                )
                for uid, n in lengths.items()
            ],
            ignore_index=True,
        )
        frame.to_parquet(root / "data" / f"part-{i}.parquet", index=False)
    (root / "cards").mkdir()
    source = {"path": str(root / "data"), "id_col": "series", "time_col": "ts", "target_col": "value"}
    card = {"name": "mine", "source": source, "freq": "h", "season_length": 24, "horizon": 12}
    (root / "cards" / "mine.yaml").write_text(yaml.safe_dump(card))


def test_when_workbench_run_gets_a_grid_with_four_problems_then_it_lists_all_exits_2_and_writes_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    write_user_data(tmp_path)
    grid = tmp_path / "grid.yaml"
    task = {"dataset": "mine", "protocol": "rolling", "n_windows": 3, "metrics": ["mase", "coverage@80"]}
    models = [
        "naive",
        {"name": "statsforecast.AutoETS", "params": {"quantiles": [0.025, 0.5, 0.975]}},
        {"name": "ttm", "params": {"model": str(tmp_path / "checkpoints" / "ttm")}},
    ]
    grid.write_text(yaml.safe_dump({"tasks": [task], "models": models}))
    store = tmp_path / "store"
    args = ["run", str(grid), "--store", str(store), "--workers", "1", "--catalog", str(tmp_path / "cards")]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert f"{grid}: 4 problem(s) in the grid" in text
    assert "[column]" in text and "part-1.parquet lacks column(s) 'value' (target_col)" in text
    assert "[series length]" in text and "2 of 4 series: 'b' (30 points), 'c' (20 points)" in text
    assert "[model path]" in text and f"{tmp_path / 'checkpoints' / 'ttm'} does not exist" in text
    assert "[metric]" in text and "'coverage@80'" in text and "needs quantiles 0.1,0.9" in text
    assert not (store / "units").exists() and not (store / "runs").exists()


def test_when_workbench_run_names_a_card_whose_folder_was_not_given_then_it_names_catalog_first(tmp_path, monkeypatch):
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    write_user_data(tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"tasks": [{"dataset": "mine", "protocol": "rolling"}], "models": ["naive"]}))
    result = runner.invoke(app, ["run", str(grid), "--store", str(tmp_path / "store")], env={"COLUMNS": "300"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert f"give it with --catalog {tmp_path / 'cards'} (or set WORKBENCH_CATALOG={tmp_path / 'cards'})" in text
    assert text.index("--catalog") < text.index("unknown dataset 'mine'")
    assert not (tmp_path / "store").exists()
