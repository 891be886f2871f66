"""One-line reasons for cells that could not be reproduced, with the full error kept apart.

A reproduction's `note` may carry a whole exception text (a URL, the mirror path, what to set).
The report shows one line a person reads ("train file not in the mirror and no internet") and keeps
the full text for its provenance section. Writers may put the line first and the full error after
`DETAILS`; notes without it are shortened here.
"""

from __future__ import annotations

import re

__all__ = ["DETAILS", "MAX_CHARS", "category", "details", "one_line"]

DETAILS = " [details: "
MAX_CHARS = 140


def one_line(note: object) -> str:
    """The note as one short line."""
    if note is None or (isinstance(note, float) and note != note):
        return ""
    text = " ".join(str(note).split())
    head = text.split(DETAILS, 1)[0]
    if "cannot download" in head:  # a raw fetch error: name the file and say why in a few words
        name = re.search(r"([^\s/]+):\s*cannot download", head)
        head = f"{name.group(1) if name else 'a file'} not in the mirror and no internet"
    head = head.split("Traceback", 1)[0].strip()
    return head if len(head) <= MAX_CHARS else head[: MAX_CHARS - 1].rstrip() + "…"


def details(note: object) -> str:
    """The full text behind a note's line (the whole note where it has no `DETAILS` part)."""
    text = "" if note is None or (isinstance(note, float) and note != note) else str(note)
    if DETAILS in text:
        return text.split(DETAILS, 1)[1].removesuffix("]")
    return text


def category(line: str) -> str:
    """A few words for a reason, to count unavailable cells by ("files not in the mirror", "not run")."""
    if "not in the mirror" in line or "unavailable" in line:
        return "files not in the mirror"
    if "not run" in line:
        return "not run"
    return line
