"""Leakage as computation: did the evaluation data reach the model before it was evaluated?

Two questions, two answers a unit records.

1. **Pretraining corpus** (`leakage(task, model)`): a pretrained model declares what it was trained on
   (`TrainingCorpus`, beside its adapter, typed from the model card with its source); a catalog
   dataset declares where its series come from (`provenance:` identifiers on its card or subset).
   Identifiers are namespaced paths (`ett:etth1`, `m4:hourly`, `monash:tourism:monthly`); two match
   when one is the other or a part of it (`m4` covers `m4:hourly`). `ALIASES` rewrites identifiers
   that name the same data under another name (the Monash archive's copy of the tourism competition
   is the competition's data), or relates ones that share a source without being the same series
   (then the answer is `unknown`, with the entry named). The answer is `true` (an entry matches),
   `false` (the corpus is declared complete and nothing matches) or `unknown` (no declared corpus,
   no provenance, data handed over in memory, or only a related source).

2. **Training the workbench does itself** (`check_windows`): a model the workbench trains on a
   window's past (the neural trainer, few-shot TTM tuning) can only have seen what it was handed.
   Every length-`L` subsequence of that training data is hashed; a test window whose hash is in the
   set is then compared value by value, so a reported overlap is a real one (no hash collision
   counts). A deliberate leak (test values copied into the training split) is flagged; a clean
   split passes. Constant windows (a run of zeros in an intermittent series) match by coincidence,
   so they are counted apart and never flag. Values are compared exactly: a copy rescaled or
   rounded is not found (say so when quoting a pass). An exactly periodic series (a noiseless
   sine) repeats its test window in its own past and is flagged: the check says those values were
   seen in training, which is true, not how they got there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

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
    from workbench.data.cards import get_card

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


def leakage(task: Any, model: Any) -> Leakage:
    """Does `task`'s data appear in the pretraining corpus of `model` (a forecaster, or a name or
    `{name, params}` the registry builds)? See the module docstring for the three answers."""
    if isinstance(model, str | dict) or (hasattr(model, "params") and hasattr(model, "labelled")):
        from workbench.forecasters import make_forecaster
        from workbench.models.spec import ModelSpec

        spec = ModelSpec.of(model)
        model = make_forecaster(spec.name, **spec.params)
    name = getattr(model, "name", type(model).__name__)
    if not is_pretrained(model):
        raise LeakageError(f"{name} is not a pretrained model: it has no pretraining corpus to compare with")
    return judge(task, corpus_of(model), name)


def record_facts(kind: str, model_name: str, params: Mapping[str, Any], task: Any) -> dict[str, Any]:
    """The leakage fields of a unit record (any writer: the engine, an LTSF run) when `model_name`
    is a registered pretrained forecaster; {} otherwise. Never raises: a question that cannot be
    answered (a card that is gone) is recorded as `unknown` with the reason."""
    if kind not in ("forecast", "ltsf") or isinstance(task, dict):
        return {}
    from workbench.forecasters import FORECASTERS

    try:
        cls, _ = FORECASTERS.resolve(model_name)
    except Exception:
        return {}
    if not is_pretrained(cls):
        return {}
    try:
        return judge(task, corpus_of(cls, params), model_name).record()
    except WorkbenchError as exc:
        return Leakage("unknown", basis=f"{type(exc).__name__}: {exc}").record()


def leakage_column(store: Any = None) -> pd.DataFrame:
    """One row per (task_key, model) of the store's current units of pretrained models:
    `leakage` (true / false / unknown) and `corpus_entry` (the matched or related entry), for the
    report. Units that disagree (recorded under different card provenance) keep every answer."""
    from workbench.store.results_store import ResultsStore

    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    rows = [
        {
            "task_key": r["task_key"],
            "model": r["model"],
            "leakage": r["leakage"],
            "corpus_entry": r.get("leakage_entry", ""),
        }
        for r in store.current()
        if r.get("leakage") and r.get("status") == "ok"
    ]
    frame = pd.DataFrame(rows, columns=["task_key", "model", "leakage", "corpus_entry"])
    return frame.drop_duplicates(ignore_index=True).sort_values(["task_key", "model"], ignore_index=True)


# ---- hashed subsequences ------------------------------------------------------------------------
_P = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


@dataclass(frozen=True)
class WindowCheck:
    """Result of hashing every length-`length` window of the training data and looking up every
    test window: `n_seen` test windows occur verbatim in training (constant ones apart, in
    `n_constant_seen`); `example` names the first seen one (test series, offset; training series,
    offset)."""

    length: int
    n_train_windows: int
    n_test_windows: int
    n_seen: int
    n_constant_seen: int
    example: str = ""
    method: str = "hashed subsequences (exact after hash match)"

    @property
    def passed(self) -> bool:
        return self.n_seen == 0

    def record(self) -> dict[str, Any]:
        return {"leakage_check": "passed" if self.passed else "flagged", "leakage_check_detail": asdict(self)}

    def __add__(self, other: WindowCheck) -> WindowCheck:
        return WindowCheck(
            self.length,
            self.n_train_windows + other.n_train_windows,
            self.n_test_windows + other.n_test_windows,
            self.n_seen + other.n_seen,
            self.n_constant_seen + other.n_constant_seen,
            self.example or other.example,
        )


def _mix(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads a float's bits (whose low bits are often zero) over the word."""
    x = bits.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def window_hashes(values: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every complete length-`length` window of `values` without a NaN, its start).

    A polynomial hash over the mixed float bits, computed for all windows at once from prefix sums
    modulo 2**64 (numpy's unsigned arithmetic wraps): O(n), not O(n * length)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v) - length + 1
    if n <= 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    v = np.where(v == 0, 0.0, v)  # -0.0 and 0.0 are one value
    x = _mix(np.ascontiguousarray(v).view(np.uint64))
    powers = np.cumprod(np.concatenate([[np.uint64(1)], np.full(len(v) - 1, _P, np.uint64)]), dtype=np.uint64)
    inverse = np.cumprod(np.concatenate([[np.uint64(1)], np.full(n - 1, _P_INV, np.uint64)]), dtype=np.uint64)
    prefix = np.concatenate([[np.uint64(0)], np.cumsum(x * powers, dtype=np.uint64)])
    hashes = (prefix[length:] - prefix[:n]) * inverse
    nan = np.concatenate([[0], np.cumsum(np.isnan(v))])
    ok = (nan[length:] - nan[:n]) == 0
    starts = np.arange(n, dtype=np.int64)
    return hashes[ok], starts[ok]


def check_windows(
    train: Sequence[np.ndarray], test: Sequence[np.ndarray], length: int, test_ids: Sequence[Any] | None = None
) -> WindowCheck:
    """Is any length-`length` window of the `test` series a window of the `train` series (pooled
    across series: a global model sees them all)?"""
    if length < 1:
        raise LeakageError(f"window length {length} must be at least 1")
    table, owner, start = _hashed(train, length)
    order = np.argsort(table, kind="stable")
    table, owner, start = table[order], owner[order], start[order]
    probe, probe_owner, probe_start = _hashed(test, length)
    lo = np.searchsorted(table, probe, "left")  # one sorted look-up for every test window
    found = np.flatnonzero((lo < len(table)) & (table[np.minimum(lo, len(table) - 1)] == probe)) if len(table) else []
    seen = constant = 0
    example = ""
    for k in found:
        j, at = int(probe_owner[k]), int(probe_start[k])
        window = np.asarray(test[j][at : at + length], dtype=np.float64)
        hit = None
        c = int(lo[k])
        while c < len(table) and table[c] == probe[k]:
            if np.array_equal(np.asarray(train[owner[c]][start[c] : start[c] + length], dtype=np.float64), window):
                hit = c
                break
            c += 1
        if hit is None:
            continue  # a hash collision, not a copy
        if np.all(window == window[0]):
            constant += 1
            continue
        seen += 1
        if not example:
            name = test_ids[j] if test_ids is not None else j
            example = f"test series {name!r} at {at} = training series {int(owner[hit])} at {int(start[hit])}"
    return WindowCheck(length, len(table), len(probe), seen, constant, example)


def _hashed(series: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hash, series index, start) of every window of every series, concatenated."""
    parts = [(*window_hashes(values, length), i) for i, values in enumerate(series)]
    if not parts:
        return np.empty(0, np.uint64), np.empty(0, np.int64), np.empty(0, np.int64)
    hashes = np.concatenate([h for h, _, _ in parts])
    owners = np.concatenate([np.full(len(h), i, np.int64) for h, _, i in parts])
    starts = np.concatenate([s for _, s, _ in parts])
    return hashes, owners, starts


def panel_series(panel: Any) -> tuple[list[np.ndarray], list[Any]]:
    """Each series' values of a Panel (in the panel's order) and their ids."""
    ids, lengths, starts, order = panel.layout()
    y = panel.df["y"].to_numpy(dtype=np.float64)
    if order is not None:
        y = y[order]
    return [y[a : a + n] for a, n in zip(starts, lengths, strict=True)], list(ids)


def check_panels(past: Any, truth: Any, length: int | None = None) -> WindowCheck:
    """`check_windows` over a window's past (everything a model trained here is handed) and its
    truth; `length` defaults to the horizon (each series' whole test window)."""
    train, _ = panel_series(past)
    test, ids = panel_series(truth)
    if length is None:
        length = max((len(t) for t in test), default=1)
    return check_windows(train, test, length, ids)


def trains_here(model: Any) -> bool:
    """Does the workbench fit this model's weights on the window (so `check_panels` applies)? A
    model says so with `trains_weights`; else a global model (one learnt across series) does."""
    own = getattr(model, "trains_weights", None)
    return bool(own if own is not None else getattr(model, "is_global", False))
