"""Preflight: every problem of a task × model grid, found before any unit runs, reported at once.

Without it a grid's faults surface one unit at a time, minutes or hours into a run: a unit reads a
user file that lacks its target column, the next one meets a series too short for its windows, a
third asks a model for quantiles it cannot give. Each would be fixed and the grid rerun, only to
meet the next. `preflight` looks at everything that can be known from metadata and a little
reading, and `check_preflight` raises one `GridError` listing every problem, each naming its
culprit (task, model, series, column, file) and the fix:

- user-source columns: each file's parquet footer or CSV header against the card's columns;
- series lengths: each chunk's id column (per-series row counts; nothing else is read, except for
  a task with a gap policy, whose short candidates are counted again after filling) against the
  points the task's windows need, and against a TTM checkpoint's context;
- models: quantiles asked of a model that cannot give them (a statsforecast class without native
  intervals, a deterministic darts model, Toto without samples), a pretrained checkpoint's local
  folder that does not exist, a TTM checkpoint whose prediction length is shorter than the horizon
  (read from its `config.json`);
- metrics: an interval metric (`msis`, `coverage@80`) or the task's `quantile_levels` on a model
  whose quantiles lack the levels. A model without any quantiles is no problem: its point forecast
  scores the probabilistic metrics as every quantile.

`evaluate` calls `check_preflight` once its chunks are planned, before any unit is planned, so the
Python API refuses the same grids as `workbench run`; the CLI calls `check_grid` first, planning
the chunks in its own process, so a bad grid is refused before a cluster starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from workbench import storage
from workbench.data.cards import UserCard, get_card
from workbench.data.chunks import ChunkRef
from workbench.errors import DataFormatError, UnknownNameError, WorkbenchError
from workbench.forecasters import make_forecaster
from workbench.foundation.loading import missing_checkpoint
from workbench.metrics import get_metric, interval_levels
from workbench.models.spec import ModelSpec
from workbench.scoring import format_levels
from workbench.sources import plan_chunks
from workbench.sources.files import list_files
from workbench.sources.parquet import _columns_needed, _file_metadata, read_fragment
from workbench.sources.user import UserSource
from workbench.tasks import Task

__all__ = [
    "SHOWN",
    "GridError",
    "ModelFacts",
    "Problem",
    "check_grid",
    "check_preflight",
    "model_facts",
    "preflight",
    "series_summary",
]

SHOWN = 10  # culprits named per problem (series, files); the rest are counted
_SUMMARIES: dict[tuple, dict[str, Any]] = {}  # per chunk and thresholds: a rerun in this process reads nothing


@dataclass(frozen=True)
class Problem:
    """One problem of a grid: what kind (`column`, `series length`, `quantiles`, `checkpoint`,
    `model path`, `metric`, `data`), its culprit, and what is wrong with the fix."""

    kind: str
    culprit: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.culprit}: {self.detail}"


class GridError(WorkbenchError):
    """Every problem a grid has, found before any unit ran (`problems`: the `Problem`s)."""

    def __init__(self, problems: Sequence[Problem], where: str = "") -> None:
        self.problems = list(problems)
        head = f"{where}{len(self.problems)} problem(s) in the grid; nothing was run, nothing was written:"
        super().__init__("\n".join([head, *(f"  {i}. {p}" for i, p in enumerate(self.problems, 1))]))


@dataclass
class ModelFacts:
    """What a model will give, known before it runs: its quantile levels (None: a point forecast),
    the (context, prediction) lengths of its checkpoint where it has a fixed one, and its problems."""

    label: str
    levels: tuple[float, ...] | None = None
    context_length: int | None = None
    prediction_length: int | None = None
    needs_future: bool = False  # a tuned TTM trains on windows of context + horizon + 1 points
    pads_short: bool = False  # a zero-shot TTM that left-pads (and masks) series shorter than its context
    checkpoint: str = ""
    problems: list[Problem] = field(default_factory=list)


# ---- the checks ---------------------------------------------------------------------------------
def preflight(
    tasks: Sequence[tuple[Task, Sequence[ChunkRef] | None]],
    models: Sequence[str | dict | ModelSpec],
    *,
    client: Any = None,
) -> list[Problem]:
    """Every problem of tasks × models that metadata can tell, before any unit runs.

    Parameters
    ----------
    tasks:
        (task, its planned chunk refs) pairs, as the engine plans them; refs None: the task's
        chunks could not be planned, and its series lengths are not checked.
    models:
        Model names, `{name, params}` mappings or specs (already known to the registry).
    client:
        A Dask client: the chunks' id columns are read on its workers (the client reads no
        series); None: read here.
    """
    specs = [ModelSpec.of(m) for m in models]
    facts = [model_facts(spec) for spec in specs]
    problems: list[Problem] = []
    seen_cards: set[str] = set()
    for task, _ in tasks:
        if task.data_fingerprint or task.dataset in seen_cards:
            continue
        seen_cards.add(task.dataset)
        try:
            card = get_card(task.dataset)
        except UnknownNameError:  # chunks handed over ready-made (`evaluate(chunks=...)`): no card to read
            continue
        if isinstance(card, UserCard):
            problems += _column_problems(card)
    for task, refs in tasks:
        if refs is not None:
            problems += _length_problems(task, list(refs), facts, client)
    for fact in facts:
        problems += fact.problems
    for task, _ in tasks:
        for fact in facts:
            problems += _checkpoint_problems(task, fact)
            problems += _metric_problems(task, fact)
    return problems


def check_preflight(
    tasks: Sequence[tuple[Task, Sequence[ChunkRef] | None]],
    models: Sequence[str | dict | ModelSpec],
    *,
    client: Any = None,
    where: str = "",
) -> None:
    """Raise one `GridError` listing every problem `preflight` finds (nothing when there is none).

    Parameters
    ----------
    tasks, models, client:
        As `preflight` takes them.
    where:
        Put in front of the message (a grid file's name).
    """
    problems = preflight(tasks, models, client=client)
    if problems:
        raise GridError(problems, where)


def check_grid(
    tasks: Sequence[Task], models: Sequence[str | dict | ModelSpec], chunk_size: int, *, where: str = ""
) -> None:
    """Plan every task's chunks in this process and raise one `GridError` listing every problem.

    What `workbench run` does before it starts a cluster: a user card's files are described from
    their footers and id columns, a catalog subset is cut into the chunk cache (which the engine's
    own planning then finds); a task whose planning fails is one problem, and the others are
    still checked.

    Parameters
    ----------
    tasks, models:
        The grid's tasks and models.
    chunk_size:
        Series per chunk, as the run will plan them.
    where:
        Put in front of the message (a grid file's name).
    """
    planned: list[tuple[Task, Sequence[ChunkRef] | None]] = []
    failures: list[Problem] = []
    for task in tasks:
        try:
            planned.append((task, plan_chunks(task, chunk_size)))
        except WorkbenchError as exc:
            failures.append(Problem("data", f"task {task.describe()}", str(exc)))
            planned.append((task, None))
    problems = failures + preflight(planned, models)
    if problems:
        raise GridError(problems, where)


# ---- columns of a user card's files -------------------------------------------------------------
def _file_columns(url: str, fmt: str, spec: dict[str, Any]) -> list[str]:
    """A file's column names from its parquet footer or its CSV header line."""
    so = spec.get("storage_options", {})
    if fmt == "parquet":
        return list(_file_metadata(url, so).schema.to_arrow_schema().names)
    options = {k: v for k, v in spec.get("csv_options", {}).items() if k not in ("nrows", "usecols")}
    header = pd.read_csv(url, nrows=0, storage_options=so if storage.has_scheme(url) else None, **options)
    return [str(c) for c in header.columns]


def _roles(spec: dict[str, Any]) -> dict[str, str]:
    roles = {spec["id_col"]: "id_col", spec.get("time_col"): "time_col", spec["target_col"]: "target_col"}
    roles |= {c: "metadata_cols" for c in spec.get("metadata_cols", [])}
    roles |= {c: "value_cols" for c in spec.get("value_cols", [])}
    return {k: v for k, v in roles.items() if k}


def _column_problems(card: UserCard) -> list[Problem]:
    """Every file of a user card whose columns lack one the card names (footers and headers only)."""
    where = f"dataset {card.name} (card {card.path or card.name})"
    try:
        files = list_files(card)
    except WorkbenchError as exc:
        return [Problem("data", where, str(exc))]
    spec = UserSource(card).read_spec()
    roles = _roles(spec)
    bad: list[str] = []
    for f in files:
        try:
            names = _file_columns(f.url, f.format, spec)
        except (OSError, ValueError) as exc:
            bad.append(f"{f.url}: cannot read its columns ({type(exc).__name__}: {exc})")
            continue
        if spec["layout"] == "long":
            try:
                _columns_needed(spec, names, f.url, f.hive)
                continue
            except DataFormatError:
                needed = [spec["id_col"], spec["time_col"], spec["target_col"], *spec.get("metadata_cols", [])]
                missing = [c for c in needed if c not in names and c not in f.hive]
        else:
            missing = [c for c in [*spec.get("value_cols", []), spec.get("time_col")] if c and c not in names]
        if missing:
            named = ", ".join(f"{c!r} ({roles.get(c, 'column')})" for c in missing)
            bad.append(f"{f.url} lacks column(s) {named}; it has {names}")
    if not bad:
        return []
    more = f"; and {len(bad) - SHOWN} more file(s)" if len(bad) > SHOWN else ""
    fix = (
        "Fix: name the files' own columns in the card's source (id_col, time_col, target_col, metadata_cols), "
        "or rewrite the files with them"
    )
    return [Problem("column", where, "; ".join(bad[:SHOWN]) + more + f". {fix}")]


# ---- series lengths -----------------------------------------------------------------------------
def _chunk_counts(ref: ChunkRef, split: str) -> pd.Series:
    """Rows per series of one chunk's split, from its id column alone."""
    if ref.spec:  # row groups of a user's file, or of a converted copy in the chunk cache
        spec = json.loads(ref.spec)
        column = "unique_id" if spec.get("kind") == "canonical" else spec.get("id_col", "unique_id")
        rows, _ = read_fragment(ref.train, spec.get("storage_options", {}), list(ref.row_groups or []), [column])
    else:  # a chunk file the workbench wrote
        url = ref.train if split == "train" else ref.test
        fs, path = storage.url_fs(str(url))
        with fs.open(path, "rb") as fh:
            rows = pq.read_table(fh, columns=["unique_id"])
    ids = rows.column(0).to_pandas().astype(str)
    return ids.value_counts(sort=False)


def series_summary(ref: ChunkRef, train_needs: tuple[int, ...], test_need: int | None, gaps: Task | None) -> dict:
    """For each of `train_needs`: how many series of the chunk have fewer train points, and the first
    `SHOWN` of them with their lengths; the same for the test split against `test_need`. Runs on a
    worker. `gaps`: the task of a gap policy, whose short candidates are counted after filling."""
    key = (ref, train_needs, test_need, gaps.key() if gaps is not None else None)
    if key in _SUMMARIES:
        return _SUMMARIES[key]
    lengths = _chunk_counts(ref, "train")
    if gaps is not None and train_needs and (lengths < max(train_needs)).any():
        from workbench.sources.chunkfiles import read_refs

        filled = gaps.prepared(read_refs([ref], "train", allow_gaps=True))
        lengths = filled.lengths()
    out: dict[str, Any] = {"n_series": len(lengths), "train": [], "test": None}
    for need in train_needs:
        short = lengths[lengths < need]
        out["train"].append((len(short), [(str(k), int(v)) for k, v in short.head(SHOWN).items()]))
    if test_need is not None and ref.test is not None:
        test = _chunk_counts(ref, "test").reindex(lengths.index, fill_value=0)
        short = test[test < test_need]
        out["test"] = (len(short), [(str(k), int(v)) for k, v in short.head(SHOWN).items()])
    if len(_SUMMARIES) > 100_000:
        _SUMMARIES.clear()
    _SUMMARIES[key] = out
    return out


def _summaries(refs: list[ChunkRef], args: tuple, client: Any) -> list[dict]:
    """`series_summary` of every chunk: those seen already in this process from memory, the rest on
    the client's workers (or here without one)."""
    keys = [(r, *args[:2], args[2].key() if args[2] is not None else None) for r in refs]
    todo = [r for r, k in zip(refs, keys, strict=True) if k not in _SUMMARIES]
    if todo and client is not None:
        futures = client.map(series_summary, todo, *[[a] * len(todo) for a in args], pure=False)
        for ref, result in zip(todo, client.gather(futures), strict=True):
            _SUMMARIES[(ref, *args[:2], args[2].key() if args[2] is not None else None)] = result
    return [_SUMMARIES[k] if k in _SUMMARIES else series_summary(r, *args) for r, k in zip(refs, keys, strict=True)]


def _merge(parts: list[tuple[int, list[tuple[str, int]]]]) -> tuple[int, list[tuple[str, int]]]:
    count = sum(p[0] for p in parts)
    shown = [e for p in parts for e in p[1]][:SHOWN]
    return count, shown


def _listed(count: int, shown: list[tuple[str, int]], total: int, unit: str = "points") -> str:
    names = ", ".join(f"{uid!r} ({n} {unit})" for uid, n in shown)
    more = f" and {count - len(shown)} more" if count > len(shown) else ""
    return f"{count} of {total} series: {names}{more}"


def _past_before_first_window(task: Task) -> int:
    """Points after a series' first window's past: its horizon and the later windows' steps."""
    if task.protocol == "holdout":
        return 0
    return task.h + (task.n_windows - 1) * (task.step or task.h)


def _context_need(task: Task, fact: ModelFacts) -> int | None:
    """Points a series needs for a model with a fixed context (TTM), or None."""
    if fact.context_length is None or (fact.pads_short and not fact.needs_future):
        return None
    past = fact.context_length + (task.h + 1 if fact.needs_future else 0)
    return past + _past_before_first_window(task)


def _length_problems(task: Task, refs: list[ChunkRef], facts: list[ModelFacts], client: Any) -> list[Problem]:
    """Series too short for the task's windows, for its holdout horizon, or for a model's context."""
    if not refs:
        return []
    rolling = task.protocol == "rolling"
    step = task.step or task.h
    task_need = task.h + (task.n_windows - 1) * step + 1 if rolling else None
    context_needs: dict[str, int] = {}
    for fact in facts:
        need = _context_need(task, fact)
        sliding_short = task.window == "sliding" and rolling and task.train_length is not None
        if need is not None and not (sliding_short and task.train_length < need - _past_before_first_window(task)):
            context_needs[fact.label] = need
    train_needs = tuple(sorted({n for n in [task_need, *context_needs.values()] if n is not None}))
    test_need = task.h if task.protocol == "holdout" else None
    if not train_needs and test_need is None:
        return []
    gaps = task if task.gap_policy != "none" else None
    parts = _summaries(refs, (train_needs, test_need, gaps), client)
    total = sum(p["n_series"] for p in parts)
    problems = []
    culprit = f"task {task.describe()}"
    if task_need is not None:
        i = train_needs.index(task_need)
        count, shown = _merge([p["train"][i] for p in parts])
        if count:
            problems.append(
                Problem(
                    "series length",
                    culprit,
                    f"{_listed(count, shown, total)} have fewer than the {task_need} points that {task.n_windows} "
                    f"window(s) of horizon {task.h} and step {step} need (plus one point of past). Fix: lower "
                    "horizon, n_windows or step, or drop these series from the data",
                )
            )
    if test_need is not None:
        tests = [p["test"] for p in parts if p["test"] is not None]
        count, shown = _merge(tests)
        if count:
            problems.append(
                Problem(
                    "series length",
                    culprit,
                    f"{_listed(count, shown, total, 'test values')} have fewer test values than the horizon "
                    f"{task.h}. Fix: a horizon of at most the test split's (the card's horizon), or protocol: rolling",
                )
            )
    for label, need in context_needs.items():
        fact = next(f for f in facts if f.label == label)
        i = train_needs.index(need)
        count, shown = _merge([p["train"][i] for p in parts])
        if count:
            tune = f" + horizon {task.h} + 1 to tune" if fact.needs_future else ""
            after = _past_before_first_window(task)
            windows = f" and the {after} points from the first window's origin on" if rolling else ""
            problems.append(
                Problem(
                    "series length",
                    f"{culprit} × model {label}",
                    f"{_listed(count, shown, total)} have fewer than the {need} points that the checkpoint's context "
                    f"length {fact.context_length}{tune}{windows} need ({fact.checkpoint}). Fix: "
                    + ("" if fact.needs_future else "short_series=pad (the padding masked as unobserved), ")
                    + "a checkpoint with a shorter context, or drop these series",
                )
            )
    return problems


# ---- models -------------------------------------------------------------------------------------
def _statsforecast_intervals(forecaster: Any) -> str | None:
    """Why a statsforecast class gives no intervals as configured (None: it gives them, or it cannot
    be told here): its forecast is asked for one interval on a short seeded series."""
    kwargs = dict(forecaster.kwargs)
    if kwargs.get("prediction_intervals") is not None:
        return None
    if "season_length" in forecaster.params.library_fields and "season_length" not in kwargs:
        kwargs["season_length"] = 1
    try:
        model = forecaster.cls(**forecaster.seeded({**kwargs, "alias": "model"}))
        y = 10 + np.random.default_rng(0).normal(size=48)
        model.forecast(y=y, h=2, level=[80])
    except Exception as exc:
        return str(exc) if "prediction_intervals" in str(exc) else None
    return None


def _darts_probabilistic(forecaster: Any) -> bool | None:
    """Whether a darts model gives sampled paths as configured (None: it cannot be built here)."""
    try:
        return bool(forecaster.cls(**forecaster.seeded(forecaster.kwargs)).supports_probabilistic_prediction)
    except Exception:
        return None


def _ttm_config(forecaster: Any) -> tuple[dict[str, Any] | None, str]:
    """A TTM checkpoint's config (context and prediction length) and where it was read: the object
    given, a local folder's `config.json`, or the hub id's copy in the local hub cache."""
    p = forecaster.params
    if p.model_object is not None:
        config = getattr(p.model_object, "config", None)
        if config is None:
            return None, ""
        return {k: getattr(config, k, None) for k in ("context_length", "prediction_length")}, "model_object"
    folder = Path(p.model).expanduser()
    if folder.is_dir():
        path: Path | None = folder / "config.json"
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(p.model, "config.json", revision=p.revision)
        except Exception:
            found = None
        path = Path(found) if isinstance(found, str) else None
    if path is None or not path.is_file():
        return None, ""
    try:
        return json.loads(path.read_text()), str(path)
    except (OSError, ValueError):
        return None, ""


def model_facts(spec: ModelSpec) -> ModelFacts:
    """What `spec`'s model will give (quantile levels, a checkpoint's lengths) and the problems of
    its own parameters: quantiles it cannot give, a local checkpoint folder that does not exist.

    Parameters
    ----------
    spec:
        The model's name and parameters (already known to the registry).
    """
    forecaster = make_forecaster(spec.name, **spec.params)
    fact = ModelFacts(spec.label)
    culprit = f"model {spec.label}"
    asked = spec.params.get("quantiles")
    levels = tuple(float(q) for q in getattr(forecaster, "quantiles", None) or ()) or None
    family = getattr(forecaster, "family", "")
    if asked and family == "statsforecast" and any(q != 0.5 for q in asked):
        why = _statsforecast_intervals(forecaster)
        if why is not None:
            levels = None
            fact.problems.append(
                Problem(
                    "quantiles",
                    culprit,
                    f"asked for quantiles {format_levels(asked)}, but {forecaster.name} gives no prediction intervals "
                    f"as configured ({why.strip()}). Fix: drop `quantiles`, or use a class with its own intervals "
                    "(statsforecast.AutoETS, AutoARIMA, AutoTheta, Naive, SeasonalNaive, ...)",
                )
            )
    if asked and family == "darts" and _darts_probabilistic(forecaster) is False:
        levels = None
        fact.problems.append(
            Problem(
                "quantiles",
                culprit,
                f"asked for quantiles {format_levels(asked)}, but {forecaster.name} is deterministic as configured: "
                "its forecast has no sampled paths, so no quantile columns. Fix: give it a likelihood (e.g. "
                "likelihood: quantile for darts' regression models) or drop `quantiles`",
            )
        )
    if spec.name == "toto" and forecaster.params.num_samples == 0:
        levels = None
        if asked:
            fact.problems.append(
                Problem(
                    "quantiles",
                    culprit,
                    f"asked for quantiles {format_levels(asked)}, but num_samples: 0 gives Toto's mean path only. "
                    "Fix: num_samples of 100 or more, or drop `quantiles`",
                )
            )
    fact.levels = levels
    if getattr(forecaster, "pretrained", False):
        ready = getattr(forecaster, "ready", "") or "model_object"
        model = getattr(forecaster.params, "model", None)
        given = getattr(forecaster.params, ready, None) is not None
        missing = missing_checkpoint(model) if not given and isinstance(model, str) else None
        if missing is not None:  # the message a unit would meet (`loading.load`), before any unit
            fact.problems.append(Problem("model path", culprit, missing))
    if spec.name == "ttm":
        config, where = _ttm_config(forecaster)
        if config is not None:
            fact.context_length = _int(config.get("context_length"))
            fact.prediction_length = _int(config.get("prediction_length"))
            fact.needs_future = forecaster.params.finetune_epochs > 0
            fact.pads_short = forecaster.params.short_series == "pad"
            fact.checkpoint = where
    return fact


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value else None


def _checkpoint_problems(task: Task, fact: ModelFacts) -> list[Problem]:
    """A horizon beyond a checkpoint's prediction length; a sliding window shorter than its context."""
    problems = []
    culprit = f"task {task.describe()} × model {fact.label}"
    if fact.prediction_length is not None and task.h > fact.prediction_length:
        problems.append(
            Problem(
                "checkpoint",
                culprit,
                f"horizon {task.h} is beyond the checkpoint's prediction length {fact.prediction_length} "
                f"({fact.checkpoint}); TTM does not roll forecasts forward. Fix: a checkpoint with a longer one "
                "(TTM-R2 has revisions for 192, 336 and 720 steps), or a horizon of at most "
                f"{fact.prediction_length}",
            )
        )
    need = _context_need(task, fact)
    if need is not None and task.protocol == "rolling" and task.window == "sliding" and task.train_length:
        past = need - _past_before_first_window(task)
        if task.train_length < past:
            problems.append(
                Problem(
                    "checkpoint",
                    culprit,
                    f"sliding windows of train_length {task.train_length} are shorter than the {past} points the "
                    f"checkpoint's context needs ({fact.checkpoint}). Fix: train_length of at least {past}",
                )
            )
    return problems


def _metric_problems(task: Task, fact: ModelFacts) -> list[Problem]:
    """Interval metrics, and the task's quantile levels, that a model's quantiles do not cover.

    A model without quantiles is no problem (its point forecast is every quantile); a model with
    some lacks what it lacks."""
    if fact.levels is None:
        return []
    levels = np.asarray(fact.levels)
    problems = []
    culprit = f"task {task.describe()} × model {fact.label}"
    for name in task.metrics:
        metric = get_metric(name)
        if not metric.probabilistic:
            continue
        if metric.level is not None:
            needed = interval_levels(metric.level)
            absent = [q for q in needed if not np.isclose(levels, q).any()]
            if absent:
                base = name.split("@")[0]
                problems.append(
                    Problem(
                        "metric",
                        culprit,
                        f"metric {name!r} scores the central {metric.level:.0%} interval and needs quantiles "
                        f"{format_levels(needed)}; the model gives {format_levels(fact.levels)}. Fix: add "
                        f"{format_levels(absent)} to the model's quantiles, or name the metric at a level it gives "
                        f"(e.g. '{base}@80' uses 0.1 and 0.9)",
                    )
                )
        elif task.quantile_levels:
            absent = [q for q in task.quantile_levels if not np.isclose(levels, q).any()]
            if absent:
                problems.append(
                    Problem(
                        "metric",
                        culprit,
                        f"metric {name!r} scores the task's quantile_levels {format_levels(task.quantile_levels)}; the "
                        f"model gives {format_levels(fact.levels)}. Fix: add {format_levels(absent)} to the model's "
                        "quantiles, or drop them from the task's quantile_levels",
                    )
                )
    return problems
