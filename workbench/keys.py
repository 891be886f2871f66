"""One key scheme for every kind of result: forecasting units, LTSF runs, detection units, sweep cells.

A task (any of `Task`, `LTSFTask`, `DetectionTask`) is identified by its *resolved* fields: the
horizon, season length and windows as used, not `None` for "the card's default", so changing a
card's default horizon changes the key. A unit key hashes the resolved task, the model spec, the
data fingerprint, the code fingerprint and the seed (plus which part of the data: a chunk, a
window). The same payload without the code fingerprint is the unit's *identity*: what lets a run
that explicitly asks for it (`reuse_across_code=True`) reuse a result made by other code, and say so.

A task's *scoring fields* (`scoring_fields`: a forecasting task's metrics and quantile levels) only
choose what is computed from a stored result, not the result itself, so they are left out of the
task's key: asking for one more metric adds score units (kind `score`, keyed by the forecast unit,
the metric and its parameters) and refits nothing, and every row of one task keeps one `task_key`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from workbench.fingerprint import digest

__all__ = ["TaskIdentity", "identity_key", "unit_key", "unit_payload"]


class TaskIdentity:
    """The one vocabulary of the frozen task models (`Task`, `LTSFTask`, `DetectionTask`).

    Every task says `kind` (forecast, ltsf, detection), `dataset` (its source: a catalog or user
    card), `subsets` (the parts of that source it evaluates), `protocol` (how it is cut: holdout,
    rolling, ltsf, detection), `resolved()`, `key()` and `describe()`. `subsets` and `protocol` are
    a property or a class variable where a task has no such field, never a new field, so no task's
    key changed for them."""

    kind: ClassVar[str] = ""
    # fields that choose what is scored from a stored result, not the result: not in the key
    scoring_fields: ClassVar[tuple[str, ...]] = ()

    def resolved(self) -> dict[str, Any]:
        """The task's fields with every default resolved to the value used."""
        return self.model_dump(mode="json")  # type: ignore[attr-defined]

    def key(self) -> str:
        """Stable content hash of the resolved task without its scoring fields: tasks that differ
        only in what is scored share results (and one `task_key` in every table)."""
        fields = {k: v for k, v in self.resolved().items() if k not in self.scoring_fields}
        return digest({"kind": self.kind, **fields}, 16)

    def describe(self) -> str:
        """A readable one-line description for leaderboards and reports."""
        raise NotImplementedError


def unit_payload(
    *, kind: str, task: TaskIdentity, model: Any, data: Any, seed: int, part: Any = None
) -> dict[str, Any]:
    """Everything but the code that determines a unit's numbers."""
    return {"kind": kind, "task": task.key(), "model": model, "data": data, "seed": seed, "part": part}


def unit_key(payload: dict[str, Any], code: str) -> str:
    """The unit's key: its payload and the code fingerprint."""
    return digest({**payload, "code": code}, 24)


def identity_key(payload: dict[str, Any]) -> str:
    """The unit's key without the code: equal for the same work done by different code."""
    return digest(payload, 24)
