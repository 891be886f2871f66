"""The driver of long-horizon (LTSF) paper reproductions: one loop for every paper of pooled LTSF scores.

A long-horizon paper (`workbench.papers.ltsf_linear`, `workbench.papers.ttm`) reports one number per
cell (a dataset of the paper, a horizon, a method, a seed), each computed on an `LTSFTask`. The
papers differ in their cells, how a cell is computed and what its unit says of the model; the rest
is the same for all, and lives here once:

- a cell is a unit of kind `ltsf`, keyed by its task, the model as the paper describes it, the
  table's data hash, the seed and the paper's code fingerprint (`workbench.keys`); a complete unit
  is read back from the store (its row of the paper's runs table) instead of being computed again;
- a cell that cannot run here (its data or its model is unavailable) is reported with the reason,
  never silently dropped; a time budget stops starting new cells, and a rerun resumes from the store;
- a computed cell is committed as one unit (`workbench.ltsf.units.commit_ltsf_run`): its record in
  the paper's runs table, its pooled scores as `metrics` rows;
- the reproduced rows for `compare` share one shape, and the report notes each cell's deviation
  from its claim the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from workbench.errors import SourceUnavailableError, UnknownNameError, WorkbenchError
from workbench.keys import identity_key, unit_key, unit_payload
from workbench.ltsf import LTSFTask, Prepared, Table, load_ltsf_table, prepare
from workbench.ltsf.data import SplitRule
from workbench.ltsf.units import commit_ltsf_run
from workbench.store.results_store import ResultsStore

__all__ = [
    "REPRODUCED_COLUMNS",
    "Cell",
    "CellOutcome",
    "CellUnavailable",
    "LongHorizonPaper",
    "PaperDataset",
    "reproduced_frame",
    "with_deviation",
]

# the columns `workbench.papers.compare` reads reproduced values from
REPRODUCED_COLUMNS = ["dataset", "subset", "method", "metric", "route", "value", "note"]


@dataclass(frozen=True)
class PaperDataset:
    """A dataset as a paper names it: the catalog card and subset holding it, the paper's split rule
    and, where the paper fixes one, its input length."""

    card: str
    subset: str
    split_rule: SplitRule
    input_len: int | None = None


@dataclass(frozen=True)
class Cell:
    """One run of a paper: its dataset (the paper's name), method and seed, its task, the model as
    the unit's key sees it (everything about the model that determines the numbers) and, for the
    paper's own use, how to run it (a training configuration; outside the key: what of it changes
    the numbers is in `model`, what does not, such as the device, stays out)."""

    dataset: str
    method: str
    seed: int
    task: LTSFTask
    model: dict[str, Any]
    config: Any = None

    def payload(self, data_hash: str) -> dict[str, Any]:
        """The unit payload of this cell on a table (`workbench.keys.unit_payload`, kind `ltsf`)."""
        return unit_payload(kind="ltsf", task=self.task, model=self.model, data=data_hash, seed=self.seed)


@dataclass(frozen=True)
class CellOutcome:
    """What a cell's unit says of its model beside the run's record: its leaderboard label, the
    model's name and parameters, the seed, the channel count and the pooled scores as
    `{metric: (value, how it was pooled)}`."""

    model: str
    model_name: str
    params: dict[str, Any]
    seed: int
    n_series: int | None
    scores: dict[str, tuple[float, str]]


class CellUnavailable(WorkbenchError):
    """A cell (or a whole dataset's cells) that cannot run here; the message is the reason reported
    in its place (the model's weights are missing, the table cannot be made identical to the paper's)."""


@dataclass(frozen=True)
class LongHorizonPaper:
    """What a long-horizon paper fixes for all its cells: its datasets by the paper's names, what
    such a name is called in errors, and the store table of its run records.

    Parameters
    ----------
    datasets
        The paper's datasets by the paper's names.
    dataset_kind
        What a dataset name is, for the error on an unknown one (`"TTM benchmark dataset"`).
    runs_table
        The store table holding one record row per run.
    """

    datasets: Mapping[str, PaperDataset]
    dataset_kind: str
    runs_table: str

    def source(self, dataset: str) -> PaperDataset:
        """The paper's dataset by its name; an unknown name is an error listing the known ones."""
        if dataset not in self.datasets:
            raise UnknownNameError(self.dataset_kind, dataset, list(self.datasets))
        return self.datasets[dataset]

    def name_of(self, task: LTSFTask) -> str:
        """The paper's name of the dataset a task evaluates."""
        return next(d for d, v in self.datasets.items() if (v.card, v.subset) == (task.dataset, task.subset))

    def task(self, dataset: str, horizon: int, **fields: Any) -> LTSFTask:
        """The `LTSFTask` of a dataset at a horizon; `fields` are the paper's other task fields (the
        input length where the dataset does not fix it, test batching, a row range)."""
        source = self.source(dataset)
        if source.input_len is not None:
            fields = {"input_len": source.input_len, **fields}
        return LTSFTask(
            dataset=source.card, subset=source.subset, split_rule=source.split_rule, horizon=horizon, **fields
        )

    def run_cells(
        self,
        datasets: Iterable[str],
        methods: Sequence[str],
        *,
        cells: Callable[[str, Table], Iterable[Cell]],
        compute: Callable[[Cell, Prepared, str], dict[str, Any]],
        describe: Callable[[Cell, dict[str, Any]], CellOutcome],
        code: str,
        store: str | Path | ResultsStore | None = None,
        threads: int | None = None,
        time_budget_s: float | None = None,
        progress: bool = False,
    ) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
        """Every cell of the paper's datasets, read from the store or computed and committed.

        Returns the runs (one record per cell, in cell order) and, per (dataset, method) not run, why:
        `data unavailable: ...` when the table cannot be loaded, else the `CellUnavailable` message.
        Cells skipped by the time budget are neither run nor reported: a rerun computes them.

        Parameters
        ----------
        datasets
            The paper's names of the datasets to run, in order.
        methods
            The methods asked for; a dataset that cannot run is reported once per method.
        cells
            The paper's cells of one dataset on its loaded table; raising `CellUnavailable` reports the
            whole dataset as not run.
        compute
            The run's record of one cell, given its prepared task and its unit key (which the record
            may carry); raising `CellUnavailable` reports that cell as not run.
        describe
            What the cell's unit says of its model (`CellOutcome`), from the cell and its record.
        code
            The code fingerprint of the paper's runs (part of every key).
        store
            The results store (a folder, an fsspec URL, a `ResultsStore`; None: WORKBENCH_RESULTS).
        threads
            Torch's intra-op threads for the runs (None: leave as is).
        time_budget_s
            Seconds after which no further cell is started.
        progress
            Show a progress bar per dataset.
        """
        if threads:
            torch.set_num_threads(threads)  # small models: more threads than cores only add contention
        runs_store = store if isinstance(store, ResultsStore) else ResultsStore(store)
        start = time.perf_counter()
        rows: list[dict[str, Any]] = []
        skipped: dict[tuple[str, str], str] = {}
        for dataset in datasets:
            source = self.source(dataset)
            try:
                table = load_ltsf_table(source.card, source.subset)
            except SourceUnavailableError as exc:
                skipped |= {(dataset, m): f"data unavailable: {exc}" for m in methods}
                continue
            try:
                planned = list(cells(dataset, table))
            except CellUnavailable as exc:
                skipped |= {(dataset, m): str(exc) for m in methods}
                continue
            prepared: Prepared | None = None
            for cell in tqdm(planned, desc=dataset, disable=not progress, leave=False):
                payload = cell.payload(table.data_hash)
                key = unit_key(payload, code)
                if runs_store.complete([key]):
                    rows.append(runs_store.read_table(self.runs_table, [key]).iloc[0].to_dict())
                    continue
                if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                    continue
                if prepared is None or prepared.task != cell.task:  # cells of one task share its windows
                    prepared = prepare(cell.task, table)
                try:
                    record = compute(cell, prepared, key)
                except CellUnavailable as exc:
                    skipped[(dataset, cell.method)] = str(exc)
                    continue
                unit = describe(cell, record)
                commit_ltsf_run(
                    runs_store,
                    key=key,
                    identity=identity_key(payload),
                    code=code,
                    task=cell.task,
                    model=unit.model,
                    model_name=unit.model_name,
                    params=unit.params,
                    seed=unit.seed,
                    n_series=unit.n_series,
                    record=record,
                    runs_table=self.runs_table,
                    scores=unit.scores,
                )
                rows.append(record)
        return pd.DataFrame(rows), skipped


def reproduced_frame(rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    """Reproduced values as `compare` reads them, from (dataset, subset, method, metric, route,
    value, note) tuples; a NaN value is a cell not reproduced, its note says why."""
    return pd.DataFrame(list(rows), columns=REPRODUCED_COLUMNS)


def with_deviation(report: pd.DataFrame) -> pd.DataFrame:
    """The report with the relative deviation written into the note of every reproduced cell."""
    out = report.copy()
    ok = out["reproduced"].notna()
    dev = 100 * (out.loc[ok, "reproduced"] / out.loc[ok, "claimed"] - 1)
    out.loc[ok, "note"] = [f"{d:+.2f}% vs claim; {n}" for d, n in zip(dev, out.loc[ok, "note"], strict=True)]
    return out
