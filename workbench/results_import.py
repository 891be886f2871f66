"""Published per-task results (GIFT-Eval / BOOM `all_results.csv`) into the results store, beside the team's.

The layout GIFT-Eval and BOOM publish, one file per model (`results/<model>/all_results.csv`): a row
per task with `dataset` (`<dataset>/<frequency>/<term>`), `model`, the metrics as
`eval_metrics/<NAME>` columns (`MASE[0.5]`, `mean_weighted_sum_quantile_loss` = CRPS, ...), then
`domain`, `num_variates` and, in BOOM's, the run's settings. Both projects' leaderboards name a model
by its folder, not by the `model` column (BOOM's `seasonalnaive` folder holds `model` = `naive`),
so the folder name is the model unless `names` says otherwise.

Importing parses and checks every file before anything is written: a missing column, a metric value
that is not a number, or a dataset given twice in one file is an error naming the file and its line,
and nothing reaches the store. Each file then becomes one unit of kind `published` (table
`published_metrics`: the long rows `task, model, metric, value` plus the task's properties), keyed
by the file's sha256 and the model name, its record carrying the source path and sha256, so a
re-import of the same file replaces its unit. `combined_frame` stacks the published rows and the
store's own leaderboard rows into the long frame `workbench.ranking` ranks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import DataFormatError
from workbench.fingerprint import digest, package_fingerprint
from workbench.store.records import commit_unit, new_run_id
from workbench.store.results_store import ResultsStore, results_root

KIND = "published"
TABLE = "published_metrics"
FILE_NAME = "all_results.csv"
# GIFT-Eval / BOOM column -> the workbench's metric name (workbench/metrics.py)
METRICS = {
    "eval_metrics/MASE[0.5]": "mase",
    "eval_metrics/mean_weighted_sum_quantile_loss": "crps",
    "eval_metrics/MAE[0.5]": "mae",
    "eval_metrics/MSE[mean]": "mse",
    "eval_metrics/RMSE[mean]": "rmse",
    "eval_metrics/MAPE[0.5]": "mape",
    "eval_metrics/sMAPE[0.5]": "smape",
    "eval_metrics/MSIS": "msis",
}
REQUIRED = ("dataset", "eval_metrics/MASE[0.5]", "eval_metrics/mean_weighted_sum_quantile_loss")
PROPERTY_COLUMNS = ("domain", "num_variates")
COLUMNS = ["task", "model", "metric", "value", "dataset_id", "frequency", "term", *PROPERTY_COLUMNS, "source_metric"]


class PublishedResultsError(DataFormatError):
    """A published results file that cannot be imported as it is."""


@dataclass(frozen=True)
class PublishedFile:
    """One parsed file: its long rows and where they came from."""

    path: Path
    sha256: str
    model: str
    rows: pd.DataFrame


def find_files(target: str | Path) -> list[Path]:
    """`target` itself when it is a file, else every `all_results.csv` below it, sorted."""
    target = Path(target)
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise PublishedResultsError(f"{target}: no such file or folder")
    files = sorted(target.rglob(FILE_NAME))
    if not files:
        raise PublishedResultsError(f"{target}: no {FILE_NAME} file below it")
    return files


def _line(index: int) -> int:
    """The file line of a frame row (line 1 is the header)."""
    return int(index) + 2


def long_rows(
    raw: pd.DataFrame, model: str | pd.Series, where: str, metrics: Iterable[str] | None = None
) -> pd.DataFrame:
    """A GIFT-Eval-layout frame as long rows (task, model, metric, value, dataset_id, frequency, term,
    domain, num_variates, source_metric). Empty cells and `nan`/`inf` stay as undefined values (the
    ranking counts them); text that is not a number is refused, naming `where` and its line. `metrics`
    keeps only those workbench metric names (default: every column of METRICS present)."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise PublishedResultsError(f"{where}: missing column(s) {missing}; found {list(raw.columns)}")
    task = raw["dataset"].astype(str)
    parts = task.str.split("/", expand=True)  # one split, three columns (more or fewer: malformed)
    if parts.shape[1] < 3:
        parts = parts.reindex(columns=range(3))
    bad = parts[2].isna() | (parts[parts.columns[3:]].notna().any(axis=1) if parts.shape[1] > 3 else False)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise PublishedResultsError(
            f"{where}, line {_line(raw.index[i])}: dataset {task.iloc[i]!r} is not <dataset>/<frequency>/<term>"
        )
    models = model if isinstance(model, pd.Series) else pd.Series(model, index=raw.index)
    pairs = pd.DataFrame({"task": task.to_numpy(), "model": models.astype(str).to_numpy()})
    dup = pairs.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        same = (pairs["task"] == pairs["task"].iloc[i]) & (pairs["model"] == pairs["model"].iloc[i])
        first = int(np.flatnonzero(same.to_numpy())[0])
        raise PublishedResultsError(
            f"{where}, line {_line(raw.index[i])}: dataset {task.iloc[i]!r} of model {pairs['model'].iloc[i]!r} "
            f"again (first at line {_line(raw.index[first])}): one row per (dataset, model)"
        )
    base = pd.DataFrame(
        {
            "task": task.to_numpy(),
            "model": models.to_numpy(),
            "dataset_id": parts[0].to_numpy(),
            "frequency": parts[1].to_numpy(),
            "term": parts[2].to_numpy(),
        }
    )
    for col in PROPERTY_COLUMNS:
        base[col] = raw[col].to_numpy() if col in raw.columns else None
    frames = []
    for column, metric in METRICS.items():
        if column not in raw.columns or (metrics is not None and metric not in metrics):
            continue
        values = _numbers(raw[column], where, column)
        frames.append(base.assign(metric=metric, value=values, source_metric=column))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _numbers(column: pd.Series, where: str, name: str) -> np.ndarray:
    numeric = pd.to_numeric(column, errors="coerce")
    unparsed = numeric.isna() & column.notna()
    if unparsed.any():  # only the cells that did not parse are looked at as text
        text = column[unparsed].astype(str).str.strip().str.lower()
        bad = ~text.isin(["", "nan", "inf", "-inf", "infinity", "-infinity"])
        if bad.any():
            i = int(np.flatnonzero(column.index == bad.index[bad.to_numpy()][0])[0])
            raise PublishedResultsError(
                f"{where}, line {_line(column.index[i])}: {name} is {column.iloc[i]!r}, not a number "
                f"({int(bad.sum())} such row(s))"
            )
    return numeric.astype(float).to_numpy()


def read_file(path: Path, name: str | None = None) -> PublishedFile:
    """Parse and check one file; the model is `name`, else the file's folder name."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        raw = pd.read_csv(path, dtype={"dataset": str}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise PublishedResultsError(f"{path}: not a readable CSV ({exc})") from exc
    model = name or path.parent.name
    return PublishedFile(path, sha, model, long_rows(raw, model, str(path)))


def read_published(target: str | Path, names: Sequence[str] | None = None) -> list[PublishedFile]:
    """Every file under `target`, parsed and checked (nothing is written); `names`, when given,
    names the models in file order (as many as files)."""
    files = find_files(target)
    if names and len(names) != len(files):
        raise PublishedResultsError(
            f"{target}: {len(names)} name(s) given for {len(files)} file(s) ({', '.join(map(str, files))})"
        )
    parsed = [read_file(p, names[i] if names else None) for i, p in enumerate(files)]
    seen: dict[str, Path] = {}
    for item in parsed:
        if item.model in seen:
            raise PublishedResultsError(
                f"{item.path}: model {item.model!r} is also {seen[item.model]}; name the models with --name"
            )
        seen[item.model] = item.path
    return parsed


def commit_published(store: ResultsStore, item: PublishedFile, label: str = "") -> str:
    """One file's rows as a unit of kind `published`, keyed by its bytes and model name."""
    payload = {"kind": KIND, "sha256": item.sha256, "model": item.model, "label": label}
    code = package_fingerprint()
    key = digest({**payload, "code": code}, 24)
    rows = item.rows.assign(kind=KIND, source=label or "published", task_key="published:" + item.rows["task"])
    task = {
        "key": f"published:{label or item.model}",
        "description": f"published results of {item.model}" + (f" ({label})" if label else ""),
        "fields": {"source_path": str(item.path), "sha256": item.sha256},
        "dataset": label or "published",
        "subset": "",
    }
    commit_unit(
        store,
        key=key,
        kind=KIND,
        identity=digest(payload, 24),
        code=code,
        run_id=new_run_id(),
        task=task,
        model=item.model,
        model_name=item.model,
        params={},
        seed=0,
        tables={TABLE: rows},
        status="ok",
        source_path=str(item.path.resolve()),
        source_sha256=item.sha256,
        n_tasks=int(item.rows["task"].nunique()),
    )
    return key


def import_gift_eval(
    target: str | Path, store: str | Path | None = None, names: Sequence[str] | None = None, label: str = ""
) -> list[str]:
    """Import every `all_results.csv` under `target` into the store; returns the unit keys. All
    files are checked before the first is written."""
    parsed = read_published(target, names)
    results = ResultsStore(results_root(store))
    return [commit_published(results, item, label) for item in parsed]


def published_rows(store: str | Path | ResultsStore | None = None) -> pd.DataFrame:
    """The store's published rows (current units only)."""
    results = store if isinstance(store, ResultsStore) else ResultsStore(results_root(store))
    return results.read_table(TABLE)


def combined_frame(
    store: str | Path | ResultsStore | None = None, metrics: Iterable[str] | None = ("mase", "crps", "mae")
) -> pd.DataFrame:
    """Published rows and the store's own leaderboard rows (one value per task, model and metric) as
    one long frame for `workbench.ranking`: task, model, metric, value, source (`store` or the
    import's label) and the task properties the published rows carry. The workbench's own rows use
    the leaderboard's `task` description as the task."""
    from workbench.store.sql import leaderboard

    results = store if isinstance(store, ResultsStore) else ResultsStore(results_root(store))
    wanted = list(metrics) if metrics else None
    frames = []
    published = published_rows(results)
    if len(published):
        if wanted:
            published = published[published["metric"].isin(wanted)]
        frames.append(published.drop(columns=["unit", "kind", "task_key"], errors="ignore"))
    if results.files("metrics"):
        own = leaderboard(results, wanted)
        frames.append(own[["task", "model", "metric", "value"]].assign(source="store"))
    if not frames:
        return pd.DataFrame(columns=["task", "model", "metric", "value", "source"])
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "KIND",
    "METRICS",
    "TABLE",
    "PublishedResultsError",
    "combined_frame",
    "import_gift_eval",
    "long_rows",
    "published_rows",
    "read_published",
]
