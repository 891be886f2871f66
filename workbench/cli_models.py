"""`workbench models list` and `workbench models info NAME`: the registries and each model's typed parameters.

`list` shows every registered forecaster and detector (and the library families) with its kind, a
one-line description and whether it is global (trained across series) or local. `info` shows a
model's parameters: type, default and description, from its parameter model; for a library class
(`statsforecast.AutoETS`, `darts.NLinearModel`, `pyod.IForest`) the adapter's parameters and the
wrapped class's, read from its signature and docstring.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workbench.errors import UnknownNameError, WorkbenchError

__all__ = ["models_app", "models_info", "models_list", "scope", "summary", "type_name"]

models_app = typer.Typer(help="The model registries: list the models, show a model's parameters.", no_args_is_help=True)
# piped output (CI logs, `| less`) gets a wide table rather than 80 folded columns
console = Console(width=None if sys.stdout.isatty() else 140)


def _registries() -> list[tuple[str, Any]]:
    from workbench.registry import detectors, forecasters

    return [("forecaster", forecasters), ("detector", detectors)]


def summary(obj: Any) -> str:
    """The first sentence of a class's own docstring (or of its constructor's, where a library keeps it there)."""
    from workbench.models.params import first_sentence

    doc = vars(obj).get("__doc__") if isinstance(obj, type) else obj.__doc__
    if not doc and isinstance(obj, type) and "__init__" in vars(obj):
        doc = obj.__init__.__doc__
    doc = inspect.cleandoc(doc or inspect.getdoc(obj) or "")
    return first_sentence(doc.split("\n\n")[0], limit=200)


def scope(kind: str, cls: type, library_class: type | None = None) -> str:
    """`global` (trained across the series of a window), `local` (per series or chunk), or per class."""
    if kind == "detector":
        return "local"
    if library_class is not None:
        return "global" if cls.global_class(library_class) else "local"
    attr = inspect.getattr_static(cls, "is_global", False)
    if isinstance(attr, bool):
        return "global" if attr else "local"
    return "per class" if hasattr(cls, "global_class") else "global or local"


@models_app.command("list")
def models_list() -> None:
    """One line per model: name, kind, global or local, description."""
    table = Table("name", "kind", "scope", "description")
    for kind, registry in _registries():
        for name in registry:
            cls = registry[name]
            table.add_row(escape(name), kind, scope(kind, cls), escape(summary(cls)))
        for family in registry.families:
            cls = registry.family(family)
            table.add_row(f"{family}.<Class>", kind, scope(kind, cls), escape(summary(cls)))
    console.print(table)
    console.print("Parameters of one model: workbench models info NAME (e.g. statsforecast.AutoETS)")


@models_app.command("info")
def models_info(name: Annotated[str, typer.Argument(help="a registered name or <family>.<Class>")]) -> None:
    """A model's parameters: type, default and description (for library classes the wrapped class's too)."""
    try:
        kind, registry, cls, library_name = _find(name)
        if library_name is None and name in registry.families:
            _family_info(kind, name, cls)
        elif library_name is None:
            _model_info(kind, name, cls)
        else:
            _library_info(kind, name, cls, library_name)
    except WorkbenchError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None


def _find(name: str) -> tuple[str, Any, type, str | None]:
    known: list[str] = []
    for kind, registry in _registries():
        if name in registry.families:
            return kind, registry, registry.family(name), None
        try:
            cls, library_name = registry.resolve(name)
        except UnknownNameError as exc:
            known += exc.known
            continue
        return kind, registry, cls, library_name
    raise UnknownNameError("model", name, known)


def _model_info(kind: str, name: str, cls: type) -> None:
    console.print(f"[bold]{escape(name)}[/]  {kind}, {scope(kind, cls)}  ({cls.__module__}:{cls.__qualname__})")
    console.print(escape(summary(cls)))
    console.print(_params_table("parameters", cls.Params, cls.Params.model_fields))
    _seed_note(cls.Params.model_fields)


def _family_info(kind: str, family: str, cls: type) -> None:
    console.print(f"[bold]{family}.<Class>[/]  {kind}  ({cls.__module__}:{cls.__qualname__})")
    console.print(escape(summary(cls)))
    console.print(_params_table("adapter parameters", cls.Params, cls.Params.model_fields))
    console.print(f"The wrapped class's parameters: workbench models info {family}.<Class>")


def _library_info(kind: str, name: str, cls: type, library_name: str) -> None:
    library_class = cls.resolve(library_name)
    model = cls.params_model(library_name)
    own = {n: f for n, f in model.model_fields.items() if n in cls.Params.model_fields}
    wrapped = {n: f for n, f in model.model_fields.items() if n not in cls.Params.model_fields}
    console.print(f"[bold]{escape(name)}[/]  {kind}, {scope(kind, cls, library_class)}  (wraps {model.wrapped})")
    console.print(escape(summary(library_class)))
    console.print(_params_table("adapter parameters", model, own))
    console.print(_params_table(f"{library_name} parameters", model, wrapped, filled=getattr(cls, "optional", ())))
    if model.open_kwargs:
        console.print(f"{library_name} takes further keyword arguments; they are passed on unchecked.")
    _seed_note(model.model_fields)


def _seed_note(fields: dict) -> None:
    if "random_state" in fields:
        console.print("random_state, unless null, wins over the run's seed; when null the run's seed is used.")


# what the adapter fills in for a library parameter the caller leaves out (`LibraryAdapter.optional`)
FILLED = {"season_length": "the task's season length"}


def _params_table(title: str, model: Any, fields: dict, filled: tuple[str, ...] = ()) -> Table:
    """`filled`: library parameters the adapter sets from the task when not given, whose library
    default (e.g. statsforecast's season_length=1) would mislead."""
    table = Table("parameter", "type", "default", "description", title=title, title_justify="left")
    for field_name, field in fields.items():
        default = FILLED.get(field_name, "set by the adapter") if field_name in filled else _default(field)
        cells = (field.alias or field_name, type_name(field.annotation) + _bounds(field), default)
        table.add_row(*(escape(c) for c in cells), escape(field.description or ""))
    if not fields:
        table.add_row("(none)", "", "", "")
    return table


def type_name(annotation: Any) -> str:
    """A short readable form of a type annotation: `int | None`, `list[float]`, `any`."""
    origin = get_origin(annotation)
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "None"
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if origin is not None:
        args = get_args(annotation)
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join(type_name(a) for a in args)}]" if args else base
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", str(annotation))


def _bounds(field: Any) -> str:
    marks = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "min length"}
    parts = [f"{marks[k]} {getattr(m, k)}" for m in field.metadata for k in marks if hasattr(m, k)]
    return f" ({', '.join(parts)})" if parts else ""


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__name__
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
