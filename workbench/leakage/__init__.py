"""Leakage as computation: did the evaluation data reach the model before it was evaluated?

Two questions, two answers a unit records, each in a pure module:

1. `workbench.leakage.corpus`: is a task's data in a pretrained model's declared corpus (`judge`,
   `match`: true / false / unknown, with the entry and the reason)?
2. `workbench.leakage.windows`: did a model the workbench trains itself see the test windows
   (`check_windows`, `check_panels`: hashed subsequences, confirmed value by value)?

Asking the first question of a registered model (`leakage(task, model)`, a unit record's
`record_facts`) lives beside the registry in `workbench.models.leakage`; the report's column of
stored verdicts (`leakage_column(store)`) in `workbench.report.leakage`. Names are re-exported
lazily (PEP 562).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_CORPUS = (
    "ALIASES",
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
)
_WINDOWS = ("WindowCheck", "check_panels", "check_windows", "panel_series", "trains_here", "window_hashes")

__all__ = sorted([*_CORPUS, *_WINDOWS])

_WHERE = {
    **{name: "workbench.leakage.corpus" for name in _CORPUS},
    **{name: "workbench.leakage.windows" for name in _WINDOWS},
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
