"""Errors the workbench raises on bad input.

Every error names its culprit (file, dataset, column, series, parameter) so that a user reading a
traceback at the end of a long sweep knows what to fix without opening the code.
"""

from __future__ import annotations

__all__ = [
    "DataFormatError",
    "DataIntegrityError",
    "ParameterError",
    "SourceUnavailableError",
    "UnknownNameError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises deliberately."""


class DataIntegrityError(WorkbenchError):
    """A file's bytes differ from the hash its dataset card pins."""

    def __init__(self, file: str, algorithm: str, expected: str, actual: str, source: str = "") -> None:
        self.file, self.algorithm, self.expected, self.actual = file, algorithm, expected, actual
        where = f" (read from {source})" if source else ""
        super().__init__(
            f"{file}{where}: {algorithm} mismatch, expected {expected}, got {actual}. "
            "The file was refused and nothing was written to the cache."
        )


class UnknownNameError(WorkbenchError, KeyError):
    """A name (dataset, subset, reader, split) that the catalog does not know."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        close += [k for k in known if k.lower() == name.lower() and k not in close]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known))}.")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class SourceUnavailableError(WorkbenchError):
    """A file could be read neither from the mirror, nor the cache, nor its URL."""


class DataFormatError(WorkbenchError):
    """A file parsed, but its content does not have the shape its reader expects."""


class ParameterError(WorkbenchError, TypeError, ValueError):
    """A model's parameters are wrong: an unknown name, a missing one, or a value of the wrong type.

    Raised when the model is built (the engine builds every model of a grid before any unit runs).
    It is also a TypeError (what Python raises for an unknown keyword) and a ValueError (what a bad
    value raises), so code that caught either keeps catching it."""

    def __init__(self, owner: str, problems: list[str], valid: list[str]) -> None:
        self.owner, self.problems, self.valid = owner, problems, valid
        listed = ", ".join(valid) if valid else "none"
        super().__init__(f"{owner}: {'; '.join(problems)}. Valid parameters: {listed}.")
