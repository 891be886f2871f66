"""Dataset catalog, fetching, readers and the canonical Panel.

Names are re-exported lazily (PEP 562): `import workbench.data.panel` loads the Panel alone, not the
catalog, its readers and fetching. The catalog's readers take catalog cards; a user card's files are
read by its source (`workbench.sources.load_panel`).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

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

_WHERE = {
    "DatasetCard": "workbench.data.cards",
    "all_cards": "workbench.data.cards",
    "get_card": "workbench.data.cards",
    "Panel": "workbench.data.panel",
    "read_user_file": "workbench.data.user_files",
    **{
        name: "workbench.data.catalog"
        for name in ("fetch_dataset", "list_datasets", "load_holdout", "load_panel", "load_table", "verify_dataset")
    },
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
