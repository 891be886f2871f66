"""A library class's constructor as a typed parameter model, so a wrong argument is named up front.

`library_params(cls, base, ...)` reads the signature of `cls.__init__` (and of further constructors
its `**kwargs` go to, where the adapter knows them: darts' torch models pass theirs on to
`TorchForecastingModel` and the Lightning module), turns every parameter into a pydantic field (its
annotation where pydantic can check it, else any value; its default; its description from the
class's docstring) and adds them to the adapter's own fields (`base`: quantiles, fallback, ...). A
constructor that still takes `**kwargs` nobody lists accepts further names unchecked, and says so.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from workbench.registry import ModelParams

__all__ = ["LibraryParams", "first_sentence", "library_params", "param_docs"]


class LibraryParams(ModelParams):
    """Parameters of an adapter plus those of the library class it wraps."""

    wrapped: ClassVar[str] = ""  # the library class, e.g. "statsforecast.models.AutoETS"
    library_fields: ClassVar[frozenset[str]] = frozenset()  # written names that go to the library class
    open_kwargs: ClassVar[bool] = False  # the class takes further **kwargs that nobody lists

    def library_kwargs(self) -> dict[str, Any]:
        """The arguments the caller gave the library class (its own defaults apply to the rest)."""
        return {k: v for k, v in self.given().items() if k in self.library_fields or k in (self.model_extra or {})}


def library_params(
    cls: type,
    base: type[LibraryParams],
    *,
    label: str,
    exclude: Iterable[str] = (),
    optional: Iterable[str] = (),
    also: Iterable[Callable] = (),
) -> type[LibraryParams]:
    """The parameter model of `label` (`statsforecast.AutoETS`): `base`'s fields plus `cls`'s.

    `exclude` names parameters the adapter sets itself; `optional` those it fills in when the caller
    does not (a season length from the panel); `also` lists further constructors whose parameters
    the class accepts through its `**kwargs`."""
    optional = set(optional)
    skip = set(exclude) | set(base.model_fields) | {"self"}
    docs = param_docs(cls.__doc__, getattr(cls.__init__, "__doc__", None), *(getattr(f, "__doc__", None) for f in also))
    fields: dict[str, Any] = {}
    names: set[str] = set()
    open_kwargs = False
    for i, init in enumerate([cls.__init__, *also]):
        try:
            signature = _signature(init)
        except (TypeError, ValueError):  # a builtin without a signature: accept anything
            open_kwargs = True
            continue
        for p in signature.parameters.values():
            if p.kind is p.VAR_KEYWORD:
                open_kwargs = open_kwargs or (i == 0 and not also)
                continue
            if p.kind is p.VAR_POSITIONAL or p.name in skip or p.name in names:
                continue
            names.add(p.name)
            default = p.default
            if default is p.empty:
                default = None if p.name in optional else ...
            annotation = _checkable(p.annotation, default)
            info = Field(default, description=docs.get(p.name, ""))
            if p.name.startswith("_") or hasattr(BaseModel, p.name):  # a name pydantic keeps for itself
                info = Field(default, alias=p.name, description=docs.get(p.name, ""))
                fields[f"arg_{p.name.lstrip('_')}"] = (annotation, info)
            else:
                fields[p.name] = (annotation, info)
    config_base: type[LibraryParams] = base
    if open_kwargs:
        config_base = type(base.__name__, (base,), {"model_config": ConfigDict(extra="allow")})  # type: ignore[assignment]
    model = create_model(  # type: ignore[call-overload]
        f"{label} parameters", __base__=config_base, __doc__=f"Parameters of {label}.", **fields
    )
    model.wrapped = f"{cls.__module__}.{cls.__qualname__}"
    model.library_fields = frozenset(names)
    model.open_kwargs = open_kwargs
    return model


def _signature(fn: Callable) -> inspect.Signature:
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:  # an annotation that does not evaluate here: read it unevaluated
        return inspect.signature(fn)


def _checkable(annotation: Any, default: Any) -> Any:
    """The annotation when pydantic can validate against it, else Any; `None` allowed when it is the default."""
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return Any
    try:
        TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:
        return Any
    if default is None:
        return annotation | None if _can_union(annotation) else Any
    return annotation


def _can_union(annotation: Any) -> bool:
    try:
        annotation | None
    except TypeError:
        return False
    return True


def param_docs(*docs: str | None) -> dict[str, str]:
    """{parameter: first sentence of its description} from numpydoc `Parameters` and Google `Args:` sections."""
    out: dict[str, str] = {}
    for doc in docs:
        if doc:
            for name, text in _sections(inspect.cleandoc(doc).splitlines()):
                out.setdefault(name, first_sentence(text))
    return out


def _is_rule(line: str) -> bool:
    s = line.strip()
    return len(s) >= 3 and set(s) == {"-"}


def _sections(lines: list[str]) -> Iterable[tuple[str, str]]:
    i = 0
    while i < len(lines):
        head = lines[i].strip()
        head_indent = len(lines[i]) - len(lines[i].lstrip())
        numpy = head in ("Parameters", "Other Parameters") and i + 1 < len(lines) and _is_rule(lines[i + 1])
        google = head in ("Args:", "Arguments:", "Parameters:", "Keyword Args:")
        if not (numpy or google):
            i += 1
            continue
        i += 2 if numpy else 1
        name, text, base = "", [], None
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            indent = len(line) - len(line.lstrip())
            if (i + 1 < len(lines) and _is_rule(lines[i + 1])) or (google and indent <= head_indent):
                break
            if base is None:
                base = indent
            if indent < base:
                break
            if indent == base:
                if name:
                    yield name, " ".join(text)
                name, text = _param_line(line.strip(), google)
            else:
                text.append(line.strip())
            i += 1
        if name:
            yield name, " ".join(text)


def _param_line(line: str, google: bool) -> tuple[str, list[str]]:
    if google:
        m = re.match(r"\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", line)
        return (m.group(1), [m.group(2)]) if m else ("", [])
    m = re.match(r"\**(\w+)\s*(?::.*)?$", line)
    return (m.group(1), []) if m else ("", [])


def first_sentence(text: str, limit: int = 160) -> str:
    """Up to the first full stop that ends a sentence (followed by a capital or the end), shortened to `limit`."""
    text = re.sub(r"\s+", " ", text).strip()
    m = re.match(r"(.+?\.)(?:\s+(?=[A-Z])|$)", text)
    sentence = m.group(1) if m else text
    return sentence if len(sentence) <= limit else sentence[: limit - 3] + "..."
