"""Name resolution shared by the model registries (forecasters, detectors).

A registered name (`theta`, `windowedGaussian`) builds its class; `<family>.<Class>` builds the
family's adapter around the library class (`statsforecast.AutoETS`, `pyod.IForest`); anything else
is an error listing what is known."""

from __future__ import annotations

from typing import Any, TypeVar

from workbench.errors import UnknownNameError

T = TypeVar("T")


def resolve(kind: str, name: str, registry: dict[str, type[T]], families: dict[str, type[T]], **params: Any) -> T:
    """An instance of the class `name` denotes in `registry` or `families`, built with `params`."""
    if name in registry:
        return registry[name](**params)
    family, dot, cls = name.partition(".")
    if dot and family in families:
        return families[family](model_class=cls, **params)
    raise UnknownNameError(kind, name, list(registry) + [f"{f}.<Class>" for f in families])
