"""The report's leakage column: the verdicts the store's units recorded for pretrained models.

The verdicts themselves are computed when a unit is recorded (`workbench.models.leakage.record_facts`,
judged by `workbench.leakage.corpus`); this module only reads them back from a store.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.store.results_store import ResultsStore

__all__ = ["leakage_column"]


def leakage_column(store: ResultsStore | str | Path | None = None) -> pd.DataFrame:
    """One row per (task_key, model) of the store's current units of pretrained models:
    `leakage` (true / false / unknown) and `corpus_entry` (the matched or related entry), for the
    report. Units that disagree (recorded under different card provenance) keep every answer.

    Parameters
    ----------
    store:
        A ResultsStore, or the root it opens (None: the default store).
    """
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
