"""Paper reproductions: claims typed from the papers, notebooks that recompute them, one report format.

Names are re-exported lazily (PEP 562), so importing one submodule does not import the others.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["Claim", "Paper", "Reproduction", "compare", "known_papers", "load_paper", "reproduce"]

_WHERE = {
    "Claim": "workbench.papers.contract",
    "Paper": "workbench.papers.contract",
    "compare": "workbench.papers.contract",
    "known_papers": "workbench.papers.contract",
    "load_paper": "workbench.papers.contract",
    "Reproduction": "workbench.papers.runner",
    "reproduce": "workbench.papers.runner",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
