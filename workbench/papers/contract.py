"""The reproduction contract shared by every paper.

`papers/<id>/paper.yaml` holds the citation and the claims, each typed from the paper with its source
and tolerance. A paper's notebook computes *reproduced* values; `compare` lines them up with the
claims into one row per (claim, route) with a status:

- `match`: |reproduced - claimed| <= tolerance;
- `mismatch`: a value was reproduced and it is further away than that (a claim may declare a known
  discrepancy, documented in its card: still a mismatch, its note starting with "known discrepancy:",
  but it does not fail the run);
- `unavailable`: nothing was reproduced (data not downloadable here, frequency not run, ...), with
  the reason in `note`. An unavailable claim is never counted as passed.

A route names how a value was obtained when a claim is checked more than one way (for M4: the
workbench's own benchmark forecasts, and the organisers' forecast files rescored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.config import papers_dir
from workbench.errors import DataFormatError, UnknownNameError
from workbench.storage import atomic_write

__all__ = [
    "COLUMNS",
    "KNOWN",
    "Claim",
    "Cost",
    "Fact",
    "Paper",
    "Status",
    "compare",
    "known_papers",
    "load_paper",
    "paper_path",
    "read_report",
    "write_csv_atomic",
]

COLUMNS = [
    "paper",
    "table",
    "dataset",
    "subset",
    "method",
    "metric",
    "claimed",
    "reproduced",
    "tolerance",
    "status",
    "note",
]
KNOWN = "known discrepancy:"
# float noise allowance when a value sits exactly on the tolerance edge
_EPS = 1e-9


class Claim(BaseModel):
    """One published number.

    Parameters
    ----------
    table
        The paper's table (or figure) the number is printed in.
    dataset, subset
        The catalog card and subset it is measured on.
    method
        The method's name as the paper writes it.
    metric
        The metric (a `workbench.metrics` name or the paper's own).
    value
        The published number.
    tolerance
        How far the reproduction may be from it and still match: absolute, or a fraction with `relative`.
    source
        Where in the paper (or its code) the number is found.
    relative
        `tolerance` is a fraction of `value` (0.01: within 1%) instead of absolute.
    known_discrepancy
        A documented reason the claim cannot be reproduced from public data: still compared and reported
        as a mismatch, but it does not fail the run; None: none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    dataset: str
    subset: str
    method: str
    metric: str
    value: float
    tolerance: float
    source: str
    # tolerance as a fraction of the claimed value (e.g. 0.01 = within 1%) instead of absolute
    relative: bool = False
    # a documented reason why this claim cannot be reproduced from public data; the claim is still
    # compared and reported as a mismatch, but does not fail the run
    known_discrepancy: str | None = None


class Fact(BaseModel):
    """A published figure shown beside the reproduction but never compared with it: a run time measured
    on other hardware, say. Typed like a claim, with its source and what it was measured on.

    Parameters
    ----------
    dataset, subset
        Where the figure was measured.
    method
        The method it is about.
    what
        What was measured (e.g. a run time).
    value
        The published figure.
    unit
        Its unit.
    context
        What it was measured on (hardware, settings).
    source
        Where in the paper the figure is found.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    subset: str
    method: str
    what: str
    value: float
    unit: str
    context: str
    source: str


class Cost(BaseModel):
    """What a reproduction costs before it starts: minutes on a 2-core machine for the default and the
    `--full` run, and how each figure was obtained (measured, or derived from timings in the notes).

    Parameters
    ----------
    default_minutes
        Minutes of the default run on a 2-core machine.
    full_minutes
        Minutes of the `--full` run; None: not known.
    how
        How the figures were obtained (measured, or derived from timings in the notes).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_minutes: float
    full_minutes: float | None = None
    how: str


class Paper(BaseModel):
    """A paper's card: who wrote it, where its numbers come from, and the numbers.

    Parameters
    ----------
    id
        The paper's id, its folder's name under the papers folder.
    title
        The paper's title.
    citation
        How to cite it.
    url
        Where to read it; None: not given.
    code
        Its authors' code; None: not given.
    notebook
        The reproduction notebook, relative to the paper's folder.
    parameters
        The notebook's parameters for the default run.
    full_parameters
        Those for the `--full` run.
    expected_cost
        What the reproduction costs (`Cost`); None: not stated.
    claims
        The published numbers compared with the reproduction.
    facts
        Published figures shown beside it, never compared.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    citation: str
    url: str | None = None
    code: str | None = None
    notebook: str = "reproduce.ipynb"
    parameters: dict = {}
    full_parameters: dict = {}
    expected_cost: Cost | None = None
    claims: tuple[Claim, ...]
    facts: tuple[Fact, ...] = ()


def known_papers() -> list[str]:
    root = papers_dir()
    return sorted(p.parent.name for p in root.glob("*/paper.yaml")) if root.exists() else []


def paper_path(paper_id: str) -> Path:
    """The card (`<id>/paper.yaml`) of a paper in the papers folder (`workbench.config.papers_dir`).

    Parameters
    ----------
    paper_id
        The paper's id (`known_papers`).

    Raises
    ------
    UnknownNameError
        No such card.
    """
    path = papers_dir() / paper_id / "paper.yaml"
    if not path.exists():
        raise UnknownNameError("paper", paper_id, known_papers())
    return path


def load_paper(paper_id: str) -> Paper:
    """The validated card of a paper.

    Parameters
    ----------
    paper_id
        The paper's id (`known_papers`).

    Raises
    ------
    UnknownNameError
        No such card.
    DataFormatError
        The card is not valid YAML or not a valid paper card.
    """
    path = paper_path(paper_id)
    try:
        return Paper.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DataFormatError(f"{path}: not a valid paper card ({exc})") from exc


Status = Literal["match", "mismatch", "unavailable"]


def compare(paper: Paper, reproduced: pd.DataFrame, not_run_note: str = "not run") -> pd.DataFrame:
    """Claimed-vs-reproduced rows.

    `reproduced` has columns dataset, subset, method, metric, route, value, note; `value` NaN means
    unavailable and `note` says why. The route is appended to the method name unless it is the
    primary one (empty string). Claims with no reproduced row get `not_run_note`.

    Parameters
    ----------
    paper
        The paper whose claims are compared.
    reproduced
        The reproduced values, one row per (dataset, subset, method, metric, route).
    not_run_note
        The note of a claim without a reproduced row.

    Raises
    ------
    DataFormatError
        `reproduced` lacks one of its columns.
    """
    need = {"dataset", "subset", "method", "metric", "route", "value", "note"}
    missing = need - set(reproduced.columns)
    if missing:
        raise DataFormatError(f"reproduced values lack column(s) {sorted(missing)}")
    keyed = reproduced.set_index(["dataset", "subset", "method", "metric"]).sort_index()
    rows = []
    for claim in paper.claims:
        key = (claim.dataset, claim.subset, claim.method, claim.metric)
        hits = keyed.loc[[key]] if key in keyed.index else None
        if hits is None or hits.empty:
            rows.append(_row(paper, claim, claim.method, float("nan"), not_run_note))
            continue
        for _, hit in hits.iterrows():
            method = claim.method if not hit["route"] else f"{claim.method} [{hit['route']}]"
            rows.append(_row(paper, claim, method, float(hit["value"]), str(hit["note"] or "")))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(paper: Paper, claim: Claim, method: str, value: float, note: str) -> dict:
    tolerance = claim.tolerance * abs(claim.value) if claim.relative else claim.tolerance
    if pd.isna(value):
        status: Status = "unavailable"
    elif abs(value - claim.value) <= tolerance + _EPS:
        status = "match"
    else:
        status = "mismatch"
        relative = f" ({100 * (value / claim.value - 1):+.2f}%)" if claim.value else ""
        note = note or f"off by {value - claim.value:+.4g}{relative}"
        if claim.known_discrepancy:
            note = f"{KNOWN} {claim.known_discrepancy} ({note})"
    return {
        "paper": paper.id,
        "table": claim.table,
        "dataset": claim.dataset,
        "subset": claim.subset,
        "method": method,
        "metric": claim.metric,
        "claimed": claim.value,
        "reproduced": value,
        "tolerance": tolerance,
        "status": status,
        "note": note,
    }


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """Write the report under a temporary name, then rename: a reader never sees half a file.

    Parameters
    ----------
    frame
        The report (`compare`'s columns).
    path
        Where to write it; returned.
    """
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def read_report(path: Path) -> pd.DataFrame:
    """Read a claimed-vs-reproduced CSV back, checking it has the contract's columns.

    Parameters
    ----------
    path
        A CSV written by `write_csv_atomic`.

    Raises
    ------
    DataFormatError
        A contract column is missing.
    """
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: not a reproduction report, missing column(s) {missing}")
    frame["note"] = frame["note"].fillna("")
    return frame
