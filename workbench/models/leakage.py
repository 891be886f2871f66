"""Leakage questions asked of registered models: the registry builds the model, `workbench.leakage.corpus` judges.

`leakage(task, model)` answers for a forecaster or a model the registry can build; `record_facts`
gives a unit record's leakage fields (any writer: the engine, an LTSF run). Both sit beside the
registry, above the pure corpus logic, so the store that records them imports downward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.errors import WorkbenchError
from workbench.forecasters import FORECASTERS, make_forecaster
from workbench.leakage.corpus import Leakage, LeakageError, corpus_of, is_pretrained, judge
from workbench.models.spec import ModelSpec

__all__ = ["leakage", "record_facts"]


def leakage(task: Any, model: Any) -> Leakage:
    """Does `task`'s data appear in the pretraining corpus of `model` (a forecaster, or a name or
    `{name, params}` the registry builds)? See `workbench.leakage.corpus` for the three answers."""
    if isinstance(model, str | dict) or (hasattr(model, "params") and hasattr(model, "labelled")):
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
