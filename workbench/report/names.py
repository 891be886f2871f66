"""Model and method names as people read them in papers: `Naive1` for the registry's `naive`.

The registry names models for code (`seasonal_naive`, `ttm(model=/path/to/granite-ttm-r2-512-96)`);
tables and figures show the names the papers print, so a reader can hold the report beside the paper.
Add a line to `MODEL_NAMES` for a new model with a printed name; a label with parameters keeps them
(`sNaive (season_length=168)`), except a local weights folder, shortened to its last part.
"""

from __future__ import annotations

__all__ = ["CLAIM_NAMES", "MODEL_NAMES", "claim_method", "display_name"]

# registered model name -> the name the M4 paper (Makridakis et al. 2020) prints for it
MODEL_NAMES = {
    "naive": "Naive1",
    "seasonal_naive": "sNaive",
    "naive2": "Naive2",
    "ses": "SES",
    "holt": "Holt",
    "damped": "Damped",
    "theta": "Theta",
    "comb": "Comb",
    "ttm": "TTM",
}
# per paper: the method names of its claims (as typed from its source) -> the name its text prints
CLAIM_NAMES = {"m4": {"Naive": "Naive1", "Com": "Comb"}}


def display_name(label: str) -> str:
    """`Naive1` for `naive`, `TTM (granite-ttm-r2-512-96)` for `ttm(model=/path/granite-ttm-r2-512-96)`,
    any other label as it is."""
    base, _, params = label.partition("(")
    if base not in MODEL_NAMES:
        return label
    name = MODEL_NAMES[base]
    if not params:
        return name
    params = params.rstrip(")")
    if params.startswith("model=") and "," not in params:
        return f"{name} ({params.removeprefix('model=').rstrip('/').rsplit('/', 1)[-1]})"
    return f"{name} ({params})"


def claim_method(paper: str, method: str) -> str:
    """A claim's method as the paper's text prints it: `Naive1 [official file]` for M4's `Naive [official file]`."""
    names = CLAIM_NAMES.get(paper, {})
    base, sep, route = method.partition(" [")
    return names.get(base, base) + (sep + route if sep else "")
