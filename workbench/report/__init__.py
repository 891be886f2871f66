"""Comparing models and presenting results: statistics, figures, the self-contained HTML report."""

from workbench.report.compare import friedman, mean_ranks, nemenyi_cd, skill_scores, win_rates
from workbench.report.html import build_report

__all__ = ["build_report", "friedman", "mean_ranks", "nemenyi_cd", "skill_scores", "win_rates"]
