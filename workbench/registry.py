"""The model registries: a table of `name -> "module:object"` entries, loaded on demand, and the
typed parameters every model declares.

One table for forecasters (`FORECASTERS`), one for detectors (`DETECTORS`), and for each the library
families that take any class of a library by name (`statsforecast.AutoETS`, `darts.NLinearModel`,
`pyod.IForest`). A name's module is imported the first time the name is asked for, so no module has
to import its implementations, and every module can be imported first in a fresh process. A class
defined elsewhere (a notebook, a test) that subclasses `Forecaster` or `Detector` with a `name`
joins its registry when it is defined; the built-in ones are listed here.

Parameters: a model declares them as a frozen pydantic model with `extra="forbid"` (a subclass of
`ModelParams`), so an unknown, missing or mistyped parameter is a `ParameterError` when the model
is built, naming the culprit, close matches and the valid names. Library families derive theirs
from the library class's signature (`workbench.models.params`).

Seeds: `make_forecaster(name, seed=...)` / `make_detector(name, seed=...)` hand the run's seed to
the model; a model that draws random numbers uses, in this order, its own explicit parameter
(`random_state`), the run's seed, its documented default (`resolve_seed`).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import ParameterError, UnknownNameError

__all__ = [
    "DETECTORS",
    "DETECTOR_FAMILIES",
    "FORECASTERS",
    "FORECASTER_FAMILIES",
    "ModelParams",
    "Quantile",
    "Registry",
    "detectors",
    "forecasters",
    "load_object",
    "object_path",
    "parameter_error",
    "resolve_seed",
]

FORECASTERS: dict[str, str] = {
    "naive": "workbench.forecasters:Naive",
    "seasonal_naive": "workbench.forecasters:SeasonalNaive",
    "naive2": "workbench.classic.forecasters:Naive2",
    "ses": "workbench.classic.forecasters:SES",
    "holt": "workbench.classic.forecasters:Holt",
    "damped": "workbench.classic.forecasters:Damped",
    "theta": "workbench.classic.forecasters:Theta",
    "comb": "workbench.classic.forecasters:Comb",
    "monash_ses": "workbench.classic.forecasters:MonashSES",
    "monash_theta": "workbench.classic.forecasters:MonashTheta",
    "monash_dhr_arima": "workbench.models.monash_dhr:MonashDHRArima",
    "mlp": "workbench.neural.mlp:MLP",
    "linear": "workbench.ltsf.forecaster:LinearForecaster",
    "nlinear": "workbench.ltsf.forecaster:NLinearForecaster",
    "dlinear": "workbench.ltsf.forecaster:DLinearForecaster",
    "chronos": "workbench.foundation.chronos:Chronos",
    "timesfm": "workbench.foundation.timesfm:TimesFM",
    "toto": "workbench.foundation.toto:TotoModel",
    "ttm": "workbench.foundation.ttm:TTM",
}
FORECASTER_FAMILIES: dict[str, str] = {
    "statsforecast": "workbench.models.statsforecast_models:StatsForecastModel",
    "darts": "workbench.models.darts_models:DartsModel",
}
DETECTORS: dict[str, str] = {
    "null": "workbench.anomaly.detectors.nab_baselines:NullDetector",
    "random": "workbench.anomaly.detectors.nab_baselines:RandomDetector",
    "windowedGaussian": "workbench.anomaly.detectors.nab_baselines:WindowedGaussianDetector",
    "relativeEntropy": "workbench.anomaly.detectors.nab_baselines:RelativeEntropyDetector",
    "rolling_robust_z": "workbench.anomaly.detectors.extra:RollingRobustZ",
    "forecast_residual": "workbench.anomaly.detectors.residual:ForecastResidual",
    "shesd": "workbench.anomaly.detectors.shesd:SHESD",
    "forecast_band": "workbench.anomaly.detectors.residual:ResidualBand",
}
DETECTOR_FAMILIES: dict[str, str] = {"pyod": "workbench.anomaly.detectors.extra:PyodDetector"}


# a quantile level, as models' `quantiles` parameters take them
Quantile = Annotated[float, Field(gt=0, lt=1)]


class ModelParams(BaseModel):
    """A model's parameters: frozen, typed, no unknown names. Subclass it and declare fields with
    defaults and `Field(description=...)`; `workbench models info NAME` prints them."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    @classmethod
    def parse(cls, owner: str, params: Mapping[str, Any]) -> ModelParams:
        """The validated parameters, or a `ParameterError` naming every problem.

        Parameters
        ----------
        owner
            The model's name, for the error message.
        params
            The parameters as given.
        """
        try:
            return cls.model_validate(dict(params))
        except ValidationError as exc:
            raise parameter_error(owner, cls, exc) from None

    @classmethod
    def names(cls) -> list[str]:
        """The parameter names a caller writes (a field's alias where the library name needs one)."""
        return [f.alias or n for n, f in cls.model_fields.items()]

    def given(self) -> dict[str, Any]:
        """The parameters the caller set (by their written names), values as validated."""
        fields = type(self).model_fields
        out = {fields[n].alias or n: getattr(self, n) for n in fields if n in self.model_fields_set}
        return out | dict(self.model_extra or {})


def parameter_error(owner: str, model: type[ModelParams], exc: ValidationError) -> ParameterError:
    """A `ParameterError` naming every problem of a pydantic `ValidationError`: unknown names (with close
    matches), missing ones, and values of the wrong type.

    Parameters
    ----------
    owner
        The model's name.
    model
        The parameters' class (its names are listed as the valid ones).
    exc
        The validation error.
    """
    valid = sorted(model.names())
    problems = []
    for err in exc.errors(include_url=False):
        top = str(err["loc"][0]) if err["loc"] else ""
        where = top + "".join(f"[{p!r}]" for p in err["loc"][1:])  # quantiles[1], model_params['x']
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(top, valid, n=3, cutoff=0.6)
            close += [v for v in valid if v.lower() == top.lower() and v not in close]
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            problems.append(f"unknown parameter {top!r}{hint}")
        elif err["type"] == "missing":
            problems.append(f"missing parameter {where!r}")
        else:
            problems.append(f"parameter {where!r}: {err['msg']} (got {_short(err.get('input'))})")
    return ParameterError(owner, problems, valid)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_seed(explicit: int | None, run_seed: int | None, default: int | None) -> int | None:
    """The seed a model uses: its explicit parameter, else the run's seed, else its default.

    Parameters
    ----------
    explicit
        The model's own seed parameter (`random_state`, ...); None: not given.
    run_seed
        The run's seed; None: none.
    default
        The model's default seed.
    """
    if explicit is not None:
        return explicit
    return run_seed if run_seed is not None else default


def load_object(path: str) -> Any:
    """The object a `"module:object"` entry names, importing its module.

    Parameters
    ----------
    path
        `"package.module:name"`.
    """
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def object_path(obj: Any) -> str:
    """The `"module:qualname"` entry that names `obj` (the inverse of `load_object`).

    Parameters
    ----------
    obj
        A class or function.
    """
    return f"{obj.__module__}:{obj.__qualname__}"


class Registry(Mapping[str, type]):
    """Names -> classes, from the table (imported on first use) and from classes registered at run time.

    As a mapping it gives the class of a name; `build` makes an instance with parameters and a seed;
    `known()` lists the names and the `<family>.<Class>` forms for error messages.

    Parameters
    ----------
    kind
        What is named (`model`, `detector`), for error messages.
    table
        Name -> `"module:object"` of the built-in classes.
    families
        Family -> `"module:object"` of the adapter that resolves `<family>.<Class>`.
    """

    def __init__(self, kind: str, table: dict[str, str], families: dict[str, str]) -> None:
        self.kind, self.table, self.family_table = kind, table, families
        self.added: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        if name in self.added:
            return self.added[name]
        return load_object(self.table[name])

    def __iter__(self) -> Iterator[str]:
        yield from self.table
        yield from (n for n in self.added if n not in self.table)

    def __len__(self) -> int:
        return len(set(self.table) | set(self.added))

    def __contains__(self, name: object) -> bool:
        return name in self.table or name in self.added

    def add(self, name: str, cls: type) -> None:
        """Register a class defined outside the table (a notebook's or a test's model).

        Parameters
        ----------
        name
            The name to register.
        cls
            The class; its own table entry is accepted again, another class under a table name is a `ValueError`.
        """
        if name in self.table:
            if self.table[name] == object_path(cls):
                return  # the table's own class, being imported
            raise ValueError(f"{self.kind} name {name!r} is already taken by {self.table[name]}")
        self.added[name] = cls

    def family(self, family: str) -> type:
        """The adapter class of a library family.

        Parameters
        ----------
        family
            A key of the family table (`statsforecast`, `darts`, `pyod`).
        """
        return load_object(self.family_table[family])

    @property
    def families(self) -> list[str]:
        return list(self.family_table)

    def known(self) -> list[str]:
        return list(self) + [f"{f}.<Class>" for f in self.family_table]

    def resolve(self, name: str) -> tuple[type, str | None]:
        """(class, library class name or None) for a registered name or `<family>.<Class>`.

        Parameters
        ----------
        name
            A registered name or `<family>.<Class>`.

        Raises
        ------
        UnknownNameError
            Neither; the message lists the known names.
        """
        if name in self:
            return self[name], None
        family, dot, cls = name.partition(".")
        if dot and family in self.family_table:
            return self.family(family), cls
        raise UnknownNameError(self.kind, name, self.known())

    def build(self, name: str, seed: int | None = None, **params: Any) -> Any:
        """An instance of what `name` denotes, built with `params` and the run's `seed`.

        Parameters
        ----------
        name
            A registered name or `<family>.<Class>`.
        seed
            The run's seed, handed to the class.
        **params
            The model's parameters.
        """
        cls, model_class = self.resolve(name)
        if model_class is None:
            return cls(seed=seed, **params)
        return cls(model_class, seed=seed, **params)


forecasters = Registry("model", FORECASTERS, FORECASTER_FAMILIES)
detectors = Registry("detector", DETECTORS, DETECTOR_FAMILIES)
