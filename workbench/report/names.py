"""Model and method names as people read them in papers: `Naive1` for the registry's `naive`.

The registry names models for code (`seasonal_naive`, `ttm(model=/path/to/granite-ttm-r2-512-96)`);
tables and figures show the names the papers print, so a reader can hold the report beside the paper.
Add a line to `MODEL_NAMES` for a new model with a printed name; a label with parameters keeps them
(`sNaive (season_length=168)`), except a local weights folder, shortened to its last part.

Figures need labels that fit beside a marker: `short_labels` gives each model of a report a short
name (the printed name, plus only the parameters that tell models of one family apart) and
`model_legend` the full parameters behind each short name. Neither ever shows a local path: a
checkpoint folder shows as its name and the start of its content hash
(`workbench.foundation.loading.fingerprint`: sha256 over its weight and config files, cached), so
two checkpoints of one name stay apart and nothing of the machine's layout leaks into a shared page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

__all__ = [
    "CLAIM_NAMES",
    "MAX_SHORT",
    "MODEL_NAMES",
    "checkpoint_name",
    "claim_method",
    "display_name",
    "model_legend",
    "short_labels",
    "split_label",
]

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
MAX_SHORT = 28  # characters of a short label (figures' axes and legends)
_PATHLIKE = re.compile(r"^(~|\.{0,2}/|[A-Za-z]:\\)")


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


def split_label(label: str) -> tuple[str, list[tuple[str, str]]]:
    """`theta(season_length=24, model=x)` -> ('theta', [('season_length', '24'), ('model', 'x')]).

    Commas inside brackets (`quantiles=[0.1, 0.9]`) stay in their value."""
    base, sep, rest = str(label).partition("(")
    if not sep:
        return base.strip(), []
    rest = rest[:-1] if rest.endswith(")") else rest
    parts, depth, current = [], 0, ""
    for ch in rest:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    pairs = []
    for part in filter(None, (p.strip() for p in parts)):
        key, eq, value = part.partition("=")
        pairs.append((key.strip(), value.strip()) if eq else ("", key.strip()))
    return base.strip(), pairs


def checkpoint_name(value: str, with_hash: bool = True) -> str:
    """A parameter value that is a local path, as its last part and (where it exists here) the first 8
    hex digits of its content hash: `granite-ttm-r2 (sha256 1a2b3c4d)`; any other value as it is."""
    text = str(value).strip("'\"")
    if not _PATHLIKE.match(text):
        return str(value)
    name = PurePath(text.rstrip("/\\")).name or text
    if not with_hash:
        return name
    digest = _content_hash(text)
    return f"{name} (sha256 {digest})" if digest else name


def _content_hash(path: str) -> str:
    """The start of a local checkpoint's content hash, "" where the path is not here."""
    from pathlib import Path

    if not Path(path).exists():
        return ""
    from workbench.foundation.loading import fingerprint

    return fingerprint(path).removeprefix("sha256:")[:8]


def _readable(label: str) -> tuple[str, list[tuple[str, str]]]:
    """The printed name (`Theta`; `AutoETS` for `statsforecast.AutoETS`) and the parameters."""
    base, pairs = split_label(label)
    return MODEL_NAMES.get(base, base.rsplit(".", 1)[-1]), pairs


def short_labels(models: Iterable[str]) -> dict[str, str]:
    """model label -> a short, unique label for figures and tables.

    The printed name of the model (`Theta`, `sNaive`, `statsforecast.AutoETS`), followed only by the
    parameter values that tell apart models sharing it (`TTM (r2-512-96)`, `TTM (r2-1024-96)`); a path
    shows as its folder name (`checkpoint_name`), a long label is cut to `MAX_SHORT` characters, and
    labels that still collide are numbered. `model_legend` lists what each one stands for."""
    models = list(dict.fromkeys(str(m) for m in models))
    parsed = {m: _readable(m) for m in models}
    families: dict[str, list[str]] = {}
    for m in models:
        families.setdefault(parsed[m][0], []).append(m)
    out: dict[str, str] = {}
    for name, members in families.items():
        for m in members:
            pairs = dict(parsed[m][1])
            if len(members) == 1:
                differing: list[str] = []
            else:
                keys = dict.fromkeys(k for other in members for k, _ in parsed[other][1])
                differing = [k for k in keys if len({dict(parsed[o][1]).get(k) for o in members}) > 1]
            values = [_short_value(k, pairs[k]) for k in differing if k in pairs]
            label = f"{name} ({', '.join(values)})" if values else name
            out[m] = _clip(label)
    seen: dict[str, int] = {}
    for m in models:  # still the same (cut, or parameters absent): number them in order
        label = out[m]
        if sum(v == label for v in out.values()) > 1:
            seen[label] = seen.get(label, 0) + 1
            out[m] = f"{label} #{seen[label]}"
    return out


def _short_value(key: str, value: str) -> str:
    """`season_length=24`; a path as its folder name alone."""
    shown = checkpoint_name(value, with_hash=False)
    return shown if shown != value or not key else f"{key}={value}"


def _clip(label: str) -> str:
    return label if len(label) <= MAX_SHORT else label[: MAX_SHORT - 1].rstrip() + "…"


def model_legend(models: Iterable[str]) -> list[tuple[str, str, str]]:
    """(short label, model, full parameters) per model, in the order of `short_labels`; paths in the
    parameters show as `checkpoint_name` (folder and content hash), never as the path."""
    labels = short_labels(models)
    rows = []
    for model, short in labels.items():
        base, pairs = split_label(model)
        params = ", ".join(f"{k}={checkpoint_name(v)}" if k else checkpoint_name(v) for k, v in pairs)
        rows.append((short, base, params))
    return rows


def claim_method(paper: str, method: str) -> str:
    """A claim's method as the paper's text prints it: `Naive1 [official file]` for M4's `Naive [official file]`."""
    names = CLAIM_NAMES.get(paper, {})
    base, sep, route = method.partition(" [")
    return names.get(base, base) + (sep + route if sep else "")
