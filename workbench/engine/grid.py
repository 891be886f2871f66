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
    timeout_s: null        # per forecast unit
    store: results         # or WORKBENCH_RESULTS
    reuse_across_code: false  # reuse units made by other workbench code (recorded in the run)

A grid may also list detection tasks and detectors, beside the forecast part or instead of it (at
least one of `tasks` and `detection_tasks`; each with its models or detectors):

    detection_tasks:
      - {dataset: fleet, subsets: [all], labels: points}   # `workbench.anomaly.task.DetectionTask`
    detectors:
      - {name: forecast_band, params: {forecaster: theta}}
      - {name: forecast_band, params: {forecaster: seasonal_naive}}
    detection_chunk_size: 8   # items per detection unit

`workbench run` runs each detection task with every detector (`workbench.anomaly.engine.detect_on_engine`)
into the same store; each detector configuration is its own row of the detection leaderboard.

The whole file is validated (fields, dataset and subset names, metric names, model names and their
parameters; detectors and their parameters; detection tasks' datasets, subsets and labels) before
any unit runs, and errors name the entry at fault. What needs the data and the
models themselves (columns, series lengths, quantiles, checkpoints) is checked next, all at once,
by `workbench.engine.preflight`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.anomaly.task import DetectionTask
from workbench.data.catalog import unknown_dataset_message
from workbench.engine.runner import as_model_specs
from workbench.errors import DataFormatError, UnknownNameError, WorkbenchError
from workbench.models.spec import ModelSpec
from workbench.tasks import Task
from workbench.yaml_files import load_yaml_model

__all__ = ["Grid", "load_grid"]


class Grid(BaseModel):
    """A validated grid file.

    Parameters
    ----------
    tasks
        Forecast tasks, run with every model of `models`.
    models
        Model names or `{name, params}` entries.
    detection_tasks
        Detection tasks, run with every detector of `detectors`.
    detectors
        Detector names or `{name, params}` entries.
    chunk_size
        Series per forecast chunk (at least 1).
    detection_chunk_size
        Items per detection unit (at least 1).
    seed
        The run's seed.
    save_forecasts
        Accepted for older grid files; forecasts are always stored.
    timeout_s
        Seconds a forecast unit may run; None: no limit (detection units run to the end).
    store
        The results store's root; None: the default (`WORKBENCH_RESULTS`, else `./results`).
    reuse_across_code
        Reuse units computed by other workbench code (`workbench.evaluate`'s `reuse_across_code`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tasks: tuple[Task, ...] = ()
    models: tuple[ModelSpec, ...] = ()
    detection_tasks: tuple[DetectionTask, ...] = ()
    detectors: tuple[ModelSpec, ...] = ()
    chunk_size: int = Field(500, ge=1)
    detection_chunk_size: int = Field(8, ge=1)  # items per detection unit (a detector is costlier per series)
    seed: int = 0
    save_forecasts: bool = True  # accepted for older grid files; forecasts are always stored
    timeout_s: float | None = Field(None, gt=0)  # per forecast unit (detection units run to the end)
    store: str | None = None
    reuse_across_code: bool = False

    @field_validator("models", "detectors", mode="before")
    @classmethod
    def _names_to_specs(cls, value, info):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{info.field_name} must be a list of names or {{name, params}} entries")
        return [{"name": v} if isinstance(v, str) else v for v in value]

    @model_validator(mode="after")
    def _parts(self) -> Grid:
        """Each part whole (tasks with models, detection tasks with detectors), and at least one part."""
        if not self.tasks and not self.detection_tasks:
            raise ValueError("a grid lists `tasks` (with `models`), `detection_tasks` (with `detectors`), or both")
        for runs, on in (("tasks", "models"), ("detection_tasks", "detectors")):
            if bool(getattr(self, runs)) != bool(getattr(self, on)):
                given, lacking = (runs, on) if getattr(self, runs) else (on, runs)
                raise ValueError(f"`{given}` is given without `{lacking}`: list the {on} and the tasks they run on")
        return self


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
    for i, spec in enumerate(grid.detectors):
        _check_detector(path, i, spec, grid.detectors[:i], grid.seed)
    for i, task in enumerate(grid.detection_tasks):
        _check_detection_task(path, i, task)
    return grid


def _check_detector(path: Path, i: int, spec: ModelSpec, before: tuple[ModelSpec, ...], seed: int) -> None:
    """The detector builds (a known name, known and well-typed parameters; a forecast band's forecaster
    known), and is not the same configuration as an earlier entry (whose units it would share)."""
    from workbench.anomaly.detectors import make_detector

    where = f"{path}: detectors[{i}] ({spec.label})"
    try:
        make_detector(spec.name, seed=seed, **spec.params)
    except (WorkbenchError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{where}: {exc}") from exc
    same = [j for j, other in enumerate(before) if other.key() == spec.key()]
    if same:
        raise DataFormatError(f"{where}: the same detector configuration as detectors[{same[0]}]; list it once")


def _check_detection_task(path: Path, i: int, task: DetectionTask) -> None:
    """The task's dataset, subsets and labels exist: a catalog card's label table, a user card's `labels:`
    section of the kind the task asks for (its file is read and checked when the task runs)."""
    from workbench.data.cards import UserCard, get_card

    where = f"{path}: detection_tasks[{i}] ({task.name})"
    try:
        card: Any = get_card(task.dataset)
    except UnknownNameError as exc:
        raise DataFormatError(f"{where}: {unknown_dataset_message(exc, [path.resolve().parent, Path.cwd()])}") from exc
    try:
        for subset in task.subsets:
            card.subset(subset)
        if not isinstance(card, UserCard):
            card.table(task.labels_table)
    except UnknownNameError as exc:
        raise DataFormatError(f"{where}: {exc}") from exc
    if isinstance(card, UserCard):
        if card.labels is None:
            raise DataFormatError(
                f"{where}: dataset card {card.path or card.name} declares no labels; add a `labels:` section "
                "(`labels: {path: labels.csv, kind: points}`, or `workbench datasets add ... --labels FILE`)"
            )
        if card.labels.kind != task.labels:
            raise DataFormatError(
                f"{where}: the task asks for labels: {task.labels} but the card {card.path or card.name} declares "
                f"labels of kind {card.labels.kind!r}; write `labels: {card.labels.kind}` in the task"
            )
