"""The catalog: load a dataset's subset as a Panel, or one of its tables, through the cache.

`load_panel("m4", "Hourly")` fetches and verifies the card's files, runs the card's reader and
caches the parsed panel as parquet keyed by the files' hashes, the reader and its options, so a
warm load is a single parquet read and a changed card never serves a stale panel.

Catalog cards only: a user card's files are read where they are, by its source
(`workbench.sources.load_panel` / `verify_dataset` take either kind of card).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from workbench.config import CATALOG_ENV, cache_dir, catalog_path, user_catalog_dirs
from workbench.data.cards import DatasetCard, FileSpec, UserCard, all_cards, get_card, load_card
from workbench.data.fetch import fetch_file, verify_file
from workbench.data.panel import Panel
from workbench.data.readers import get_reader
from workbench.errors import DataFormatError, SourceUnavailableError, UnknownNameError, WorkbenchError

__all__ = [
    "READER_VERSION",
    "check_counts",
    "check_test_lengths",
    "continue_steps",
    "data_fingerprint",
    "data_hash",
    "fetch_dataset",
    "fetch_files",
    "find_card_file",
    "list_datasets",
    "load_holdout",
    "load_panel",
    "load_table",
    "split_options",
    "split_panel",
    "unknown_dataset_message",
    "verify_dataset",
]

# bump when a reader's output changes for the same bytes, so cached panels are rebuilt
READER_VERSION = 1


def list_datasets() -> list[str]:
    return sorted(all_cards())


def fetch_files(specs: list[FileSpec], progress: bool = False, desc: str = "") -> dict[str, Path]:
    """Fetch and verify files; a progress bar over files when there are many.

    Parameters
    ----------
    specs
        The files to fetch (from the offline mirror or their source), each checked against its hash.
    progress
        Show progress bars (over files where there are two or more, and per download).
    desc
        The progress bar's label; empty: "fetch".
    """
    it = tqdm(specs, desc=desc or "fetch", unit="file", disable=not progress or len(specs) < 2, leave=False)
    return {spec.key: fetch_file(spec, progressbar=progress) for spec in it}


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def data_hash(specs: list[FileSpec]) -> str:
    """One content hash for a set of files (their bytes only).

    Parameters
    ----------
    specs
        The files; their declared content hashes are hashed.
    """
    return _digest({s.key: s.expected_hash for s in specs})


def data_fingerprint(card: DatasetCard, subset: str, split: str) -> str:
    """What a split's values depend on: the files' content hashes, the reader (and its version), its
    options and the subset's declared metadata (frequency, season length, horizon, ...). Experiment
    keys record this, so a changed reader option or default horizon never reuses old results; the
    free-text description is left out, as it cannot change a number.

    Parameters
    ----------
    card
        The catalog card.
    subset
        The subset's name.
    split
        `train` or `test`.
    """
    sub = card.subset(subset)
    return _digest(
        {
            "files": data_hash(card.split_files(subset, split)),
            "reader": card.reader,
            "reader_version": READER_VERSION,
            "options": {**sub.options, **sub.splits[split].options},
            "subset": sub.model_dump(mode="json", exclude={"description"}),
        }
    )


def _catalog_card(name: str, what: str) -> DatasetCard:
    """The catalog card of `name`; a user card is refused with where its reader lives."""
    card = get_card(name)
    if isinstance(card, UserCard):
        raise WorkbenchError(
            f"{name} is a user card (its files are read where they are, by its source): "
            f"use workbench.sources.{what}({name!r}), which takes either kind of card"
        )
    return card


def load_panel(name: str, subset: str | None = None, split: str = "train", *, progress: bool = False) -> Panel:
    """Load one split of one subset of a catalog card as a validated Panel (parsed once, then read from
    cache). A user card is refused: `workbench.sources.load_panel` reads either kind.

    Parameters
    ----------
    name:
        The catalog card's name.
    subset:
        The subset (default: the card's first).
    split:
        `train` or `test`.
    progress:
        Show a progress bar while the files are fetched.
    """
    card = _catalog_card(name, "load_panel")
    if subset is None:
        if not card.subsets:
            raise WorkbenchError(f"{name} holds tables only ({', '.join(card.tables)}): read them with load_table")
        subset = next(iter(card.subsets))
    sub = card.subset(subset)
    specs = card.split_files(subset, split)
    options = {**sub.options, **sub.splits[split].options}
    digest = _digest(
        {
            "reader": card.reader,
            "version": READER_VERSION,
            "options": options,
            "files": [(s.key, s.expected_hash) for s in specs],
        }
    )[:16]
    cached = cache_dir() / "panels" / card.name / subset / f"{split}-{digest}.parquet"
    if cached.exists():
        try:
            return Panel.read_parquet(cached)
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    files = fetch_files(specs, progress=progress, desc=f"{name}/{subset}/{split}")
    panel = split_panel(card, subset, split, get_reader(card.reader)(files, options), list(files))
    _check_declared(card, subset, split, panel)
    panel.to_parquet(cached)
    return panel


def split_options(card: DatasetCard, subset: str, split: str) -> dict[str, Any]:
    """The reader options of one split: the subset's, overridden by the split's own.

    Parameters
    ----------
    card
        The catalog card.
    subset
        The subset's name.
    split
        `train` or `test`.
    """
    sub = card.subset(subset)
    return {**sub.options, **sub.splits[split].options}


def split_panel(card: DatasetCard, subset: str, split: str, frame: pd.DataFrame, keys: list[str]) -> Panel:
    """A reader's long frame (a whole split, or a batch of its series) as a validated Panel with the
    subset's metadata: the one place a catalog frame becomes a Panel, whole or streamed.

    Parameters
    ----------
    card
        The catalog card.
    subset
        The subset's name.
    split
        `train` or `test`.
    frame
        The reader's long frame.
    keys
        The keys of the files it was read from (named in error messages).
    """
    name, sub = card.name, card.subset(subset)
    return Panel.from_long(
        frame,
        source=f"{name}/{subset}/{split} ({', '.join(keys)})" if len(keys) <= 3 else f"{name}/{subset}/{split}",
        allow_missing=sub.allow_missing,
        keep_row_order=sub.keep_row_order,
        name=f"{name}/{subset}",
        freq=sub.freq,
        season_length=sub.season_length,
        horizon=sub.horizon,
        attrs={
            "dataset": name,
            "subset": subset,
            "split": split,
            "data_hash": data_fingerprint(card, subset, split),
            "ds_kind": split_options(card, subset, split).get("ds_kind", "time"),
        },
    )


def check_counts(card: DatasetCard, subset: str, split: str, n_series: int, n_rows: int) -> None:
    """The series and row counts a card declares must hold, or the reader (or the card) is wrong.

    Parameters
    ----------
    card
        The catalog card.
    subset
        The subset's name.
    split
        `train` or `test` (the row count is checked on `train` only).
    n_series, n_rows
        What was read.

    Raises
    ------
    DataFormatError
        A count differs from the card's.
    """
    sub = card.subsets[subset]
    if sub.n_series is not None and n_series != sub.n_series:
        raise DataFormatError(f"{card.name}/{subset}/{split}: read {n_series} series, the card declares {sub.n_series}")
    if split == "train" and sub.n_rows is not None and n_rows != sub.n_rows:
        raise DataFormatError(f"{card.name}/{subset}/{split}: read {n_rows} rows, the card declares {sub.n_rows}")


def check_test_lengths(card: DatasetCard, subset: str, panel: Panel) -> None:
    """A test split counted in forecast steps holds exactly the horizon of every series.

    Parameters
    ----------
    card
        The catalog card.
    subset
        The subset's name; checked only where it declares a horizon.
    panel
        The test split as read (its `ds_kind` attribute says whether it counts steps).

    Raises
    ------
    DataFormatError
        A series holds another number of test values.
    """
    sub = card.subsets[subset]
    if sub.horizon is not None and panel.attrs.get("ds_kind") == "step":
        lengths = panel.lengths()
        if (lengths != sub.horizon).any():
            uid = lengths.index[(lengths != sub.horizon).argmax()]
            raise DataFormatError(
                f"{card.name}/{subset}/test: series {uid!r} has {lengths[uid]} test values, horizon is {sub.horizon}"
            )


def _check_declared(card: DatasetCard, subset: str, split: str, panel: Panel) -> None:
    check_counts(card, subset, split, panel.n_series, len(panel))
    if split == "test":
        check_test_lengths(card, subset, panel)


def continue_steps(train: Panel, test: Panel) -> Panel:
    """A test split counted in forecast steps (`ds_kind: step`), its `ds` continuing each train series.

    Parameters
    ----------
    train
        The train split.
    test
        The test split; returned as it is unless its `ds_kind` is `step`.
    """
    if test.attrs.get("ds_kind") != "step":
        return test
    last = train.df.groupby("unique_id")["ds"].max()
    df = test.df.copy()
    df["ds"] = df["ds"] + df["unique_id"].map(last).to_numpy()
    return replace(test, df=df, attrs={**test.attrs, "ds_kind": "time"})


def load_holdout(name: str, subset: str, *, progress: bool = False) -> tuple[Panel, Panel]:
    """(train, test) of a competition subset, the test's `ds` continuing each train series.

    Parameters
    ----------
    name
        The catalog card's name.
    subset
        The subset, which must have a test split.
    progress
        Show a progress bar while the files are fetched.
    """
    train = load_panel(name, subset, "train", progress=progress)
    return train, continue_steps(train, load_panel(name, subset, "test", progress=progress))


def load_table(name: str, table: str, *, progress: bool = False) -> pd.DataFrame:
    """An auxiliary table of a dataset (labels, submitted forecasts, published results).

    Parameters
    ----------
    name
        The card's name.
    table
        The table's name, as the card declares it.
    progress
        Show a progress bar while the files are fetched.
    """
    card = get_card(name)
    spec = card.table(table)
    files = fetch_files(card.select_files(spec.files), progress=progress, desc=f"{name}/{table}")
    return get_reader(spec.reader, table=True)(files, spec.options)


def fetch_dataset(name: str, *, progress: bool = True, mirrored_only: bool = False) -> dict[str, Path]:
    """Fetch every file of a card (or only those the offline mirror carries).

    Parameters
    ----------
    name
        The card's name.
    progress
        Show progress bars.
    mirrored_only
        Fetch only the files the offline mirror's manifest lists.
    """
    card = get_card(name)
    specs = [f for f in card.files if f.in_mirror_manifest or not mirrored_only]
    return fetch_files(specs, progress=progress, desc=name)


def verify_dataset(name: str, *, progress: bool = True) -> list[dict[str, str]]:
    """Re-hash every cached file of a catalog card: one row (dataset, file, status, detail) per file. A
    user card is refused: `workbench.sources.verify_dataset` checks either kind.

    Parameters
    ----------
    name:
        The catalog card's name.
    progress:
        Show a progress bar over the files.
    """
    card = _catalog_card(name, "verify_dataset")
    rows = []
    for spec in tqdm(card.files, desc=f"verify {name}", unit="file", disable=not progress, leave=False):
        try:
            status, detail = verify_file(spec)
        except SourceUnavailableError as exc:
            status, detail = "unavailable", str(exc)
        except Exception as exc:
            status, detail = "error", f"{type(exc).__name__}: {exc}"
        rows.append({"dataset": name, "file": spec.key, "status": status, "detail": detail})
    return rows


def find_card_file(name: str, near: list[Path]) -> Path | None:
    """A card file declaring dataset `name` in one of the folders `near` or a folder just below one
    (`<folder>/<name>.yaml`, `<folder>/cards/<name>.yaml`, ...) that is not on the catalog path: a
    user catalog that exists but was not given.

    Parameters
    ----------
    name:
        The dataset name no card on the catalog path declares.
    near:
        Folders to look in (a grid file's folder, the working directory).
    """
    on_path = {p.resolve() for p in catalog_path()}
    folders: list[Path] = []
    for base in near:
        if not base.is_dir():
            continue
        below = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        folders += [base, *below[:100]]
    for folder in dict.fromkeys(f.resolve() for f in folders):
        candidate = folder / f"{name}.yaml"
        if folder in on_path or not candidate.is_file():
            continue
        try:
            if load_card(candidate).name == name:
                return candidate
        except DataFormatError:
            continue
    return None


def unknown_dataset_message(exc: UnknownNameError, near: list[Path]) -> str:
    """The message for a dataset no card on the catalog path declares, saying first where a user
    catalog must be given (`--catalog` / `WORKBENCH_CATALOG`) when one would declare it.

    A card folder beside a grid file, or in the working directory, is not looked up unless given:
    the catalog path is what every worker reads, so a card found by chance here would be missing
    there. The message names the folder to give instead.

    Parameters
    ----------
    exc:
        The catalog's error (its name and the known names).
    near:
        Folders to look in for the card (a grid file's folder, the working directory).
    """
    found = find_card_file(exc.name, near)
    if found is not None:
        folder = found.parent
        return (
            f"dataset {exc.name!r} is declared by {found}, but that card folder is not on the catalog: give it with "
            f"--catalog {folder} (or set {CATALOG_ENV}={folder}). {exc}"
        )
    if not user_catalog_dirs():
        return (
            f"{exc} No user catalog was given: if {exc.name!r} is your own card, give its folder with --catalog DIR "
            f"(or set {CATALOG_ENV})."
        )
    return str(exc)
