"""Reading a YAML file into a validated pydantic model, with errors that name the file.

Sweep files of both kinds (`workbench run`, `workbench sweep`) are read this way, so a missing file,
bad YAML, a non-mapping and every field problem read alike and are all listed at once."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from workbench.errors import WorkbenchError

__all__ = ["load_yaml_model"]

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], error: type[WorkbenchError], expected: str) -> M:
    """`model` validated from the mapping in `path`; any problem raises `error` naming the file
    (`expected` says what the mapping must hold). A `WorkbenchError` raised by a validator (an
    unknown dataset, say) is re-raised as `error` with the file's name in front."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise error(f"{path}: {expected}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise error(f"{path}: {problems}") from exc
    except WorkbenchError as exc:
        raise error(f"{path}: {exc}") from exc
