"""Grid files: a YAML grid of tasks × models that `workbench run` evaluates (a notebook sweep,
`workbench sweep`, is the other kind of file: `workbench.sweeps`).

    tasks:
      - {dataset: m4, subset: Hourly}
      - {dataset: m4, subset: Weekly, protocol: rolling, n_windows: 3}
    models:
      - theta
      - {name: seasonal_naive, params: {season_length: 168}}
    chunk_size: 200        # series per unit for local models
    seed: 0
    save_forecasts: true   # forecasts are always stored (scores are computed from them)
    timeout_s: null        # per unit
    store: results         # or WORKBENCH_RESULTS
    reuse_across_code: false  # reuse units made by other workbench code (recorded in the run)

The whole file is validated (fields, dataset and subset names, metric names, model names and their
parameters) before any unit runs, and errors name the entry at fault. What needs the data and the
models themselves (columns, series lengths, quantiles, checkpoints) is checked next, all at once,
by `workbench.engine.preflight`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.data.catalog import unknown_dataset_message
from workbench.engine.runner import as_model_specs
from workbench.errors import DataFormatError, UnknownNameError, WorkbenchError
from workbench.models.spec import ModelSpec
from workbench.tasks import Task
from workbench.yaml_files import load_yaml_model

__all__ = ["Grid", "load_grid"]


class Grid(BaseModel):
    """A validated grid file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tasks: tuple[Task, ...] = Field(min_length=1)
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    chunk_size: int = Field(500, ge=1)
    seed: int = 0
    save_forecasts: bool = True  # accepted for older grid files; forecasts are always stored
    timeout_s: float | None = Field(None, gt=0)
    store: str | None = None
    reuse_across_code: bool = False

    @field_validator("models", mode="before")
    @classmethod
    def _names_to_specs(cls, value):
        if not isinstance(value, list | tuple):
            raise ValueError("models must be a list of names or {name, params} entries")
        return [{"name": v} if isinstance(v, str) else v for v in value]


def load_grid(path: str | Path) -> Grid:
    """The grid file at `path`, validated whole; errors name the file and the entry at fault.

    A dataset no card on the catalog path declares, while a card folder beside the grid file or in
    the working directory would, is an error that names that folder and `--catalog` first.

    Parameters
    ----------
    path:
        The grid file (YAML).
    """
    path = Path(path)
    try:
        grid = load_yaml_model(path, Grid, DataFormatError, "a grid file is a mapping with `tasks` and `models`")
    except DataFormatError as exc:
        cause = exc.__cause__
        if isinstance(cause, UnknownNameError) and cause.kind == "dataset":
            message = unknown_dataset_message(cause, [path.resolve().parent, Path.cwd()])
            raise DataFormatError(f"{path}: {message}") from cause
        raise
    try:
        as_model_specs(grid.models)
    except WorkbenchError as exc:
        raise DataFormatError(f"{path}: {exc}") from exc
    except TypeError as exc:
        raise DataFormatError(f"{path}: bad model parameters ({exc})") from exc
    return grid
