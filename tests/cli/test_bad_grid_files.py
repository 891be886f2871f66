"""Bad grid files for `workbench run`: exit 2 naming the culprit, and nothing written to the store."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from workbench.cli import app

runner = CliRunner()
TASK = {"dataset": "m4", "subset": "Weekly"}


@pytest.mark.parametrize(
    ("models", "tasks", "named"),
    [
        ([{"name": "seasonal_naive", "params": {"season_lenght": 7}}], [TASK], "season_lenght"),
        ([{"name": "statsforecast.AutoETS", "params": {"seasn_length": 52}}], [TASK], "seasn_length"),
        ([{"name": "mlp", "params": {"seed": 3}}], [TASK], "random_state"),
        (["thetta"], [TASK], "thetta"),
        (["theta"], [{**TASK, "metrics": ["mase", "crsp"]}], "crsp"),
        (["theta"], [{**TASK, "horizon": 0}], "horizon"),
    ],
)
def test_when_a_grid_file_is_wrong_then_exit_2_names_the_culprit_and_nothing_is_written(
    tmp_path, mirror, models, tasks, named
):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"tasks": tasks, "models": models}))
    store = tmp_path / "store"
    result = runner.invoke(app, ["run", str(grid), "--store", str(store), "--workers", "1"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert named in text and str(grid.name) in text
    assert not store.exists()
