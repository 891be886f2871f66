"""Dataset catalog, fetching, readers and the canonical Panel."""

from workbench.data.cards import DatasetCard, all_cards, get_card
from workbench.data.catalog import (
    fetch_dataset,
    list_datasets,
    load_holdout,
    load_panel,
    load_table,
    verify_dataset,
)
from workbench.data.panel import Panel
from workbench.data.user_files import read_user_file

__all__ = [
    "DatasetCard",
    "Panel",
    "all_cards",
    "fetch_dataset",
    "get_card",
    "list_datasets",
    "load_holdout",
    "load_panel",
    "load_table",
    "read_user_file",
    "verify_dataset",
]
