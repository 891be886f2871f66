"""Comparing models and presenting results: statistics, figures, the self-contained HTML report.

Names are re-exported lazily (PEP 562), so importing one submodule does not import the others.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

__all__ = ["build_report", "friedman", "mean_ranks", "nemenyi_cd", "skill_scores", "win_rates"]

_WHERE = {
    "friedman": "workbench.report.compare",
    "mean_ranks": "workbench.report.compare",
    "nemenyi_cd": "workbench.report.compare",
    "skill_scores": "workbench.report.compare",
    "win_rates": "workbench.report.compare",
    "build_report": "workbench.report.html",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
