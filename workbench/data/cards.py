"""Dataset cards: one YAML file per dataset under `datasets/`, validated into frozen models.

A card pins every file to a canonical URL at a fixed commit and a content hash, names the reader
that turns those files into a Panel, and declares per subset the defaults a benchmark needs
(frequency, season length, horizon) and the facts a load must confirm (number of series).
"""

from __future__ import annotations

import fnmatch
import re
import urllib.parse
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.config import catalog_path
from workbench.errors import DataFormatError, UnknownNameError

__all__ = [
    "METRIC_TYPES",
    "USER_SUBSET",
    "Card",
    "DatasetCard",
    "FileSpec",
    "SourceSpec",
    "SplitSpec",
    "SubsetSpec",
    "TableSpec",
    "UserCard",
    "UserLabelsSpec",
    "all_cards",
    "get_card",
    "load_card",
]

_RAW_PREFIX = "https://raw.githubusercontent.com/"
# what a series measures (`workbench.semantics`): a level, a number of events, events per unit of time
METRIC_TYPES: tuple[str, ...] = ("gauge", "count", "rate")
# what a missing timestamp means (`workbench.semantics`, which fills by it; declared here, below it, for cards)
GapPolicy = Literal["none", "nan", "ffill", "zero", "by_metric_type"]
_PINNED = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileSpec(_Frozen):
    """One source file: where it lives canonically and how to check its bytes."""

    key: str = ""
    url: str
    sha256: str | None = None
    git_blob_sha1: str | None = None
    bytes: int | None = None

    @model_validator(mode="after")
    def _check(self) -> FileSpec:
        if (self.sha256 is None) == (self.git_blob_sha1 is None):
            raise ValueError(f"{self.url}: give exactly one of sha256 or git_blob_sha1")
        if self.url.startswith(_RAW_PREFIX) and not _PINNED.match(self.url):
            raise ValueError(f"{self.url}: raw GitHub URLs must be pinned to a 40-hex commit")
        if not self.key:
            object.__setattr__(self, "key", self.default_key())
        return self

    def default_key(self) -> str:
        """The path inside the pinned commit (or the URL's last part for other hosts)."""
        if _PINNED.match(self.url):
            return urllib.parse.unquote(self.url[len(_RAW_PREFIX) :].split("/", 3)[3])
        return urllib.parse.unquote(self.url.rsplit("/", 1)[-1])

    @property
    def hash_algorithm(self) -> str:
        return "sha256" if self.sha256 else "git-blob-sha1"

    @property
    def expected_hash(self) -> str:
        return self.sha256 or self.git_blob_sha1 or ""

    @property
    def in_mirror_manifest(self) -> bool:
        """Files pinned by sha256 are the ones the offline mirror carries."""
        return self.sha256 is not None


class SplitSpec(_Frozen):
    """Which files make one split; `files` entries are file keys or glob patterns over keys."""

    files: list[str]
    options: dict[str, Any] = Field(default_factory=dict)


class SubsetSpec(_Frozen):
    name: str = ""
    freq: str | None = None
    season_length: int = 1
    horizon: int | None = None
    n_series: int | None = None
    n_rows: int | None = None
    allow_missing: bool = False
    keep_row_order: bool = False
    description: str = ""
    data_version: str | None = None  # which copy of the data this subset reads (overrides the card's)
    provenance: list[str] = Field(default_factory=list)  # where its series come from (overrides the card's)
    # what its series measure (`workbench.semantics`): one type for all, or by series-id prefix
    metric_type: str | dict[str, str] | None = None
    splits: dict[str, SplitSpec]
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metric_type")
    @classmethod
    def _known_types(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        for kind in [value] if isinstance(value, str) else (value or {}).values():
            if kind not in METRIC_TYPES:
                raise ValueError(f"metric_type {kind!r} is not one of {', '.join(METRIC_TYPES)}")
        return value


class TableSpec(_Frozen):
    """An auxiliary table of a dataset (labels, submitted forecasts, published results)."""

    reader: str
    files: list[str]
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)


class DatasetCard(_Frozen):
    name: str
    title: str
    description: str = ""
    data_version: str | None = None  # which copy of the data the card reads, e.g. an R package's version
    reader: str = ""  # the panel reader of the subsets; a card of published results only has none
    # where the series come from, as identifiers (`ett:etth1`, `m4:hourly`, `monash:...`) that
    # workbench.leakage matches against pretrained models' corpora; a subset's own list wins
    provenance: list[str] = Field(default_factory=list)
    homepage: str = ""
    licence: str
    citation: str
    files: list[FileSpec]
    subsets: dict[str, SubsetSpec] = Field(default_factory=dict)
    tables: dict[str, TableSpec] = Field(default_factory=dict)
    path: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> DatasetCard:
        keys = [f.key for f in self.files]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"duplicate file keys {dupes}")
        if not self.subsets and not self.tables:
            raise ValueError("a card declares at least one subset or table")
        if self.subsets and not self.reader:
            raise ValueError("a card with subsets names the reader of its series (`reader:`)")
        for sname, sub in self.subsets.items():
            if not sub.name:
                object.__setattr__(sub, "name", sname)
            for split, spec in sub.splits.items():
                for pattern in spec.files:
                    if not fnmatch.filter(keys, pattern):
                        raise ValueError(f"subset {sname!r} split {split!r}: no file matches {pattern!r}")
        for tname, table in self.tables.items():
            for pattern in table.files:
                if not fnmatch.filter(keys, pattern):
                    raise ValueError(f"table {tname!r}: no file matches {pattern!r}")
        return self

    def subset(self, name: str) -> SubsetSpec:
        if name not in self.subsets:
            raise UnknownNameError(f"subset of dataset {self.name!r}", name, list(self.subsets))
        return self.subsets[name]

    def table(self, name: str) -> TableSpec:
        if name not in self.tables:
            raise UnknownNameError(f"table of dataset {self.name!r}", name, list(self.tables))
        return self.tables[name]

    def select_files(self, patterns: list[str]) -> list[FileSpec]:
        """Files whose keys match the patterns, in the order of the patterns then of the card."""
        chosen: list[FileSpec] = []
        for pattern in patterns:
            chosen += [f for f in self.files if fnmatch.fnmatch(f.key, pattern) and f not in chosen]
        return chosen

    def split_files(self, subset: str, split: str) -> list[FileSpec]:
        sub = self.subset(subset)
        if split not in sub.splits:
            raise UnknownNameError(f"split of {self.name}/{subset}", split, list(sub.splits))
        return self.select_files(sub.splits[split].files)


# ---- user cards -------------------------------------------------------------------------------
USER_SUBSET = "all"


class SourceSpec(_Frozen):
    """Where a user card's series live and how to read them (no hashes needed: see `sha256`)."""

    path: str | list[str]  # a file, a folder (every data file below it), a glob; local or an fsspec URL
    format: Literal["parquet", "csv"] | None = None  # default: from each file's suffix
    layout: Literal["long", "wide"] = "long"
    id_col: str = "unique_id"
    time_col: str | None = "ds"  # wide files may have none: integer positions
    target_col: str = "y"
    time_format: str | None = None
    value_cols: list[str] = Field(default_factory=list)  # wide: the series' columns (default: all others)
    metadata_cols: list[str] = Field(default_factory=list)  # per-series columns kept beside y (or hive keys)
    csv_options: dict[str, Any] = Field(default_factory=dict)  # sep, compression, ... (pandas.read_csv)
    storage_options: dict[str, Any] = Field(default_factory=dict)  # fsspec options; never part of a fingerprint
    sha256: dict[str, str] = Field(default_factory=dict)  # pinned content hashes by file key (relative path)

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if not self.paths:
            raise ValueError("source.path names at least one file, folder, glob or URL")
        if self.layout == "long" and not self.time_col:
            raise ValueError("a long source needs its time column (source.time_col)")
        clash = {self.id_col, self.time_col, self.target_col} & set(self.metadata_cols)
        if self.layout == "long" and clash:
            raise ValueError(f"metadata_cols {sorted(clash)} are the id, time or target column")
        return self

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


class UserLabelsSpec(_Frozen):
    """Where a user card's anomaly labels live: a CSV or parquet file (local, relative to the card, or an
    fsspec URL) of `points` (id, stamp: one labelled row each) or `windows` (id, start, end). Read and
    checked against the card's series by `workbench.anomaly.user_labels`."""

    path: str
    kind: Literal["points", "windows"] = "points"
    id_col: str = "unique_id"
    time_col: str = "ds"  # the point's stamp, or the window's start
    end_col: str | None = None  # windows: the window's last stamp (inclusive)
    format: Literal["parquet", "csv"] | None = None  # default: from the file's suffix

    @model_validator(mode="after")
    def _check(self) -> UserLabelsSpec:
        if self.kind == "windows" and not self.end_col:
            raise ValueError("labels of kind 'windows' name the column of each window's end (labels.end_col)")
        if self.kind == "points" and self.end_col:
            raise ValueError("labels of kind 'points' have no end column: drop labels.end_col or use kind: windows")
        return self


class UserCard(_Frozen):
    """A card over a user's own files: one subset (`all`), one split (`train`), read in place.

    A separate type rather than a `source:` section of `DatasetCard`: the catalog card's invariants
    (every file pinned to a canonical URL and a hash, a licence and a citation, subsets of splits of
    file keys, a named reader) would each need an exception for user data, while the few places that
    treat both alike (a task's defaults, `datasets list/info`, `workbench.sources.load_panel`) use the
    subset interface both provide (`subsets`, `subset()`)."""

    name: str
    title: str = ""
    description: str = ""
    licence: str = ""
    citation: str = ""
    source: SourceSpec
    freq: str | None = None
    season_length: int = Field(1, ge=1)
    horizon: int | None = Field(None, ge=1)
    n_series: int | None = None
    allow_missing: bool = False
    # the default gap policy of tasks over the card (`workbench.semantics`): its series miss stamps on the grid
    gap_policy: GapPolicy | None = None
    provenance: list[str] = Field(default_factory=list)  # where the user's series come from (workbench.leakage)
    labels: UserLabelsSpec | None = None  # anomaly labels of the series (the `labels` table)
    path: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> UserCard:
        if self.freq is not None:
            import pandas as pd

            try:
                pd.tseries.frequencies.to_offset(self.freq)
            except ValueError as exc:
                raise ValueError(f"freq {self.freq!r} is not a pandas frequency ({exc})") from None
        return self

    @property
    def reader(self) -> str:
        return f"user_{self.source.layout}"

    @property
    def data_version(self) -> str | None:
        return None

    @property
    def tables(self) -> dict[str, TableSpec]:
        """`labels` where the card declares them (read by `workbench.anomaly.user_labels`, not a catalog reader)."""
        if self.labels is None:
            return {}
        description = f"anomaly {self.labels.kind} of the series ({self.labels.path})"
        return {"labels": TableSpec(reader="user_labels", files=[self.labels.path], description=description)}

    @property
    def files(self) -> list[FileSpec]:
        return []  # nothing to fetch: the files are read where they are

    @property
    def subsets(self) -> dict[str, SubsetSpec]:
        spec = SubsetSpec(
            name=USER_SUBSET,
            freq=self.freq,
            season_length=self.season_length,
            horizon=self.horizon,
            n_series=self.n_series,
            allow_missing=self.allow_missing,
            description=self.description,
            provenance=self.provenance,
            splits={"train": SplitSpec(files=["*"])},
        )
        return {USER_SUBSET: spec}

    def subset(self, name: str) -> SubsetSpec:
        if name != USER_SUBSET:
            raise UnknownNameError(f"subset of dataset {self.name!r} (a user card has one)", name, [USER_SUBSET])
        return self.subsets[USER_SUBSET]

    def table(self, name: str) -> TableSpec:
        if name not in self.tables:
            hint = "" if self.tables else " (a user card has one, `labels`, where it declares `labels:`)"
            raise UnknownNameError(f"table of dataset {self.name!r}{hint}", name, list(self.tables))
        return self.tables[name]

    @property
    def folder(self) -> Path:
        """Relative local paths of the source are relative to the card's folder."""
        return self.path.parent if self.path else Path.cwd()


Card = DatasetCard | UserCard


def load_card(path: Path) -> Card:
    """Parse and validate one card file; errors name the file. A card with a `source:` section is a
    user card (`UserCard`), any other a catalog card (`DatasetCard`)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
        if not isinstance(raw, dict):
            raise ValueError("a card is a YAML mapping")
        kind = UserCard if "source" in raw else DatasetCard
        return kind(**raw, path=Path(path))
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise DataFormatError(f"dataset card {path}: {exc}") from exc


@cache
def _cards_in(folder: Path, listing: tuple[tuple[str, int, int], ...]) -> dict[str, Card]:
    """The cards of one folder (`listing`, names with mtimes and sizes, keys the cache: a card written
    or edited since is read again)."""
    cards: dict[str, Card] = {}
    for name, _, _ in listing:
        path = folder / name
        card = load_card(path)
        if card.name in cards:
            raise DataFormatError(f"dataset card {path}: name {card.name!r} already used by {cards[card.name].path}")
        cards[card.name] = card
    return cards


def _listing(folder: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in sorted(folder.glob("*.yaml")):
        st = path.stat()
        out.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def all_cards() -> dict[str, Card]:
    """Every card on the catalog path (shipped cards, then `WORKBENCH_CATALOG` / `--catalog`), by name;
    a name used by two cards is an error naming both files."""
    cards: dict[str, Card] = {}
    for folder in catalog_path():
        folder = folder.resolve()
        if not folder.is_dir():
            continue
        for name, card in _cards_in(folder, _listing(folder)).items():
            if name in cards:
                raise DataFormatError(
                    f"dataset card {card.path}: name {name!r} is already the card {cards[name].path}; "
                    "rename one of them (a user card cannot replace a shipped one)"
                )
            cards[name] = card
    return cards


def get_card(name: str) -> Card:
    cards = all_cards()
    if name not in cards:
        raise UnknownNameError("dataset", name, list(cards))
    return cards[name]
