"""Leakage, first question: is a task's data in a pretrained model's declared corpus?

Pure: corpora, aliases and provenance identifiers in, a verdict out. Building the model from the
registry (`workbench.models.leakage.leakage`, `record_facts`) and reading verdicts back from a store
(`workbench.report.leakage.leakage_column`) live in the layers that own the registry and the store.

**Pretraining corpus** (`judge(task, corpus, name)`; `workbench.models.leakage.leakage(task, model)`):
a pretrained model declares what it was trained on (`TrainingCorpus`, beside its adapter, typed from
the model card with its source); a catalog dataset declares where its series come from
(`provenance:` identifiers on its card or subset).
Identifiers are namespaced paths (`ett:etth1`, `m4:hourly`, `monash:tourism:monthly`); two match
when one is the other or a part of it (`m4` covers `m4:hourly`). `ALIASES` rewrites identifiers
that name the same data under another name (the Monash archive's copy of the tourism competition
is the competition's data), or relates ones that share a source without being the same series
(then the answer is `unknown`, with the entry named). The answer is `true` (an entry matches),
`false` (the corpus is declared complete and nothing matches) or `unknown` (no declared corpus,
no provenance, data handed over in memory, or only a related source).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from workbench.data.cards import get_card
from workbench.errors import WorkbenchError

__all__ = [
    "ALIASES",
    "MONASH",
    "Alias",
    "CorpusEntry",
    "Leakage",
    "LeakageError",
    "Status",
    "TrainingCorpus",
    "corpus_of",
    "is_pretrained",
    "judge",
    "match",
    "provenance_of",
    "resolve",
]

Status = Literal["true", "false", "unknown"]


class LeakageError(WorkbenchError, ValueError):
    """A leakage question asked with input that cannot answer it (e.g. a window length below 1)."""


@dataclass(frozen=True)
class CorpusEntry:
    """One dataset of a pretraining corpus: its identifier and the name its source gives it."""

    identifier: str
    name: str


@dataclass(frozen=True)
class TrainingCorpus:
    """What a checkpoint was pretrained on, with where that list comes from. `complete`: the
    source lists the whole corpus (so a dataset not in it was not seen), else only part of it."""

    model: str
    entries: tuple[CorpusEntry, ...]
    source: str
    complete: bool = True


@dataclass(frozen=True)
class Alias:
    """`identifier` names the data `target` names (`same`), or data sharing a source with it
    (`related`: not the same series, so no verdict either way); `source` says who says so."""

    identifier: str
    target: str
    relation: Literal["same", "related"]
    source: str


MONASH = "Godahewa et al. (2021), Monash Time Series Forecasting Archive, NeurIPS Datasets and Benchmarks, Table 1"
ALIASES: tuple[Alias, ...] = (
    Alias(
        "monash:tourism", "tourism", "same", f"{MONASH}: Tourism monthly/quarterly/yearly are the 2011 competition's"
    ),
    Alias("monash:m1", "m1", "same", f"{MONASH}: M1 yearly/quarterly/monthly are the competition's series"),
    Alias("monash:m3", "m3", "same", f"{MONASH}: M3 yearly/quarterly/monthly/other are the competition's series"),
    Alias("monash:m4", "m4", "same", f"{MONASH}: M4 yearly ... hourly are the competition's series"),
    Alias("monash:electricity", "ltsf:electricity", "same", f"{MONASH}: Electricity is UCI's 321-client load set"),
    Alias("monash:traffic", "ltsf:traffic", "same", f"{MONASH}: Traffic is the 862 Caltrans PeMS occupancy series"),
    Alias(
        "monash:sunspot",
        "sunspot-number",
        "related",
        f"{MONASH}: Sunspot is SILSO's daily sunspot number 1818-2020; monthly means of the same quantity "
        "(e.g. darts' 1749-1983 series) overlap it in time under another calibration",
    ),
    Alias(
        "pems",
        "ltsf:traffic",
        "related",
        "LibCity's PEMSD3/4/7/8 and PEMS_BAY and the LTSF traffic set all come from Caltrans PeMS sensors, "
        "other districts, periods or measures",
    ),
)


@dataclass(frozen=True)
class Leakage:
    """The answer for one (task, model): `status`, the corpus entry that matched (or was related),
    the provenance identifier it matched, and the reason in words."""

    status: Status
    corpus_entry: str = ""
    provenance: str = ""
    basis: str = ""

    def record(self) -> dict[str, Any]:
        """The unit record's fields."""
        return {"leakage": self.status, "leakage_entry": self.corpus_entry, "leakage_detail": asdict(self)}


def _covers(a: str, b: str) -> bool:
    """`a` and `b` name overlapping data: equal, or one a part (`:`-path prefix) of the other."""
    return a == b or a.startswith(b + ":") or b.startswith(a + ":")


def resolve(identifier: str) -> list[tuple[str, Alias | None]]:
    """The identifier and what the alias table makes of it: (identifier, None), then (target with the
    rest of the path kept, alias) for each alias whose identifier covers it."""
    ident = identifier.strip().lower()
    out: list[tuple[str, Alias | None]] = [(ident, None)]
    for alias in ALIASES:
        if ident == alias.identifier or ident.startswith(alias.identifier + ":"):
            out.append((alias.target + ident[len(alias.identifier) :], alias))
        elif alias.relation == "related" and _covers(ident, alias.target):
            out.append((alias.identifier, alias))  # a related source is related both ways
    return out


def match(provenance: Iterable[str], corpus: TrainingCorpus) -> Leakage:
    """The verdict for data of these provenance identifiers against one corpus (no task needed)."""
    ids = [p for p in provenance if p]
    if not ids:
        return Leakage("unknown", basis="the dataset declares no provenance")
    related: Leakage | None = None
    for pid in ids:
        for entry in corpus.entries:
            for p_form, p_alias in resolve(pid):
                for e_form, e_alias in resolve(entry.identifier):
                    if not _covers(p_form, e_form):
                        continue
                    via = [a for a in (p_alias, e_alias) if a is not None]
                    if all(a.relation == "same" for a in via):
                        how = f" (alias: {'; '.join(a.source for a in via)})" if via else ""
                        basis = f"{pid} is in {corpus.model}'s corpus as {entry.name!r} ({corpus.source}){how}"
                        return Leakage("true", entry.identifier, pid, basis)
                    if related is None:
                        why = "; ".join(a.source for a in via if a.relation == "related")
                        basis = f"{pid} shares a source with {entry.name!r} of {corpus.model}'s corpus: {why}"
                        related = Leakage("unknown", entry.identifier, pid, basis)
    if related is not None:
        return related
    if not corpus.complete:
        return Leakage(
            "unknown", basis=f"{', '.join(ids)} not among the entries listed, but {corpus.source} is partial"
        )
    return Leakage(
        "false", provenance=",".join(ids), basis=f"{', '.join(ids)} not in {corpus.model}'s corpus ({corpus.source})"
    )


def provenance_of(task: Any) -> tuple[str, ...] | None:
    """The provenance identifiers of a task's data: the subset's, else the card's; None for data
    handed over in memory (no card to say where it came from)."""
    if getattr(task, "data_fingerprint", None):
        return None
    card = get_card(task.dataset)
    subsets = [task.subset] if getattr(task, "subset", None) else list(getattr(task, "subsets", ()))
    found: list[str] = []
    for name in subsets:
        sub = card.subsets.get(name)
        found += list(getattr(sub, "provenance", None) or getattr(card, "provenance", None) or ())
    return tuple(dict.fromkeys(found))


def is_pretrained(model: Any) -> bool:
    """A model that arrives with weights learnt elsewhere (its class says `pretrained = True`)."""
    return bool(getattr(model, "pretrained", False))


def corpus_of(model: Any, params: Mapping[str, Any] | None = None) -> TrainingCorpus | None:
    """The declared corpus of a pretrained model's weights (None: not declared, e.g. custom weights).

    `model` is a forecaster or its class; a class that tells corpora apart by its weights has a
    `corpus_for(params)` class method (given the forecaster's parameters, or a recorded unit's),
    else its `training_corpus` attribute stands for every instance."""
    cls = model if isinstance(model, type) else type(model)
    corpus_for = getattr(cls, "corpus_for", None)
    if callable(corpus_for):
        if params is None:
            params = {} if isinstance(model, type) else dict(model.params)
        return corpus_for(params)
    return getattr(cls, "training_corpus", None)


def judge(task: Any, corpus: TrainingCorpus | None, name: str) -> Leakage:
    """The verdict for a task's data against a declared corpus (None: undeclared)."""
    if corpus is None:
        return Leakage("unknown", basis=f"{name}: the training corpus of these weights is not declared")
    provenance = provenance_of(task)
    if provenance is None:
        return Leakage("unknown", basis="data handed over in memory carries no provenance")
    return match(provenance, corpus)
