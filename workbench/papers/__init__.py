"""Paper reproductions: claims typed from the papers, notebooks that recompute them, one report format."""

from workbench.papers.contract import Claim, Paper, compare, known_papers, load_paper
from workbench.papers.runner import Reproduction, reproduce

__all__ = ["Claim", "Paper", "Reproduction", "compare", "known_papers", "load_paper", "reproduce"]
