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
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.config import catalog_dir
from workbench.errors import DataFormatError, UnknownNameError

_RAW_PREFIX = "https://raw.githubusercontent.com/"
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
    splits: dict[str, SplitSpec]
    options: dict[str, Any] = Field(default_factory=dict)


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


def load_card(path: Path) -> DatasetCard:
    """Parse and validate one card file; errors name the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
        return DatasetCard(**raw, path=Path(path))
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise DataFormatError(f"dataset card {path}: {exc}") from exc


@cache
def _cards_in(folder: Path) -> dict[str, DatasetCard]:
    cards = {}
    for path in sorted(folder.glob("*.yaml")):
        card = load_card(path)
        if card.name in cards:
            raise DataFormatError(f"dataset card {path}: name {card.name!r} already used by another card")
        cards[card.name] = card
    return cards


def all_cards() -> dict[str, DatasetCard]:
    """Every card of the catalog folder, by name."""
    return _cards_in(catalog_dir().resolve())


def get_card(name: str) -> DatasetCard:
    cards = all_cards()
    if name not in cards:
        raise UnknownNameError("dataset", name, list(cards))
    return cards[name]
