"""Summaries of the catalog: what each dataset holds, as a table people can scan."""

from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from workbench.data.cards import all_cards
from workbench.data.catalog import load_panel
from workbench.errors import SourceUnavailableError

__all__ = ["summarize_catalog"]


def summarize_catalog(names: list[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """Load every split of every subset; unavailable files are reported, never skipped silently."""
    cards = all_cards()
    jobs = [
        (name, subset, split)
        for name in (names or sorted(cards))
        for subset, sub in cards[name].subsets.items()
        for split in sub.splits
    ]
    rows = []
    for name, subset, split in tqdm(jobs, desc="datasets", unit="split", disable=not progress):
        row = {"dataset": name, "subset": subset, "split": split}
        try:
            panel = load_panel(name, subset, split)
            rows.append({**row, "status": "ok", **panel.summary(), "note": ""})
        except SourceUnavailableError as exc:
            rows.append({**row, "status": "unavailable", "note": str(exc).split(";")[0]})
    frame = pd.DataFrame(rows)
    return frame.drop(columns=["name"], errors="ignore")
