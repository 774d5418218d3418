"""What every params section shares: strict validation and one-line errors that name the key.

A section rejects unknown keys (a typo in ``dvc exp run -S``), out-of-range values, non-finite
floats (``.inf``, ``.nan``) and booleans where numbers are expected.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


class ParamsError(ValueError):
    """``params.yaml`` is missing, unreadable or invalid; the message names the key."""


def _admits_bool(annotation: Any) -> bool:
    """Whether a value of type ``annotation`` may be a boolean (bool, Any, or a union with one)."""
    if annotation is bool or annotation is Any or annotation is True or annotation is False:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _admits_bool(get_args(annotation)[0])
    if origin in (Union, UnionType, Literal):
        return any(_admits_bool(arg) for arg in get_args(annotation))
    return False


def _misplaced_bool(value: Any, annotation: Any) -> bool:
    """Whether ``value`` holds a boolean (itself, or in a list or mapping) where none belongs."""
    if isinstance(value, bool):
        return not _admits_bool(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _misplaced_bool(value, args[0])
    if origin in (Union, UnionType):
        return all(_misplaced_bool(value, arg) for arg in args)
    if origin is list and isinstance(value, list) and args:
        return any(_misplaced_bool(item, args[0]) for item in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_misplaced_bool(item, args[1]) for item in value.values())
    return False


class Strict(BaseModel):
    """Base for every section: unknown keys are errors and values are immutable; a float must
    be finite and a number is never a boolean (pydantic would read ``true`` as 1), so every
    section, present and future, rejects ``.inf``, ``.nan`` and ``true`` by key."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_misplaced_bool(cls, value: Any, info: ValidationInfo) -> Any:
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else Any
        if _misplaced_bool(value, annotation):
            expected = (annotation.__name__ if isinstance(annotation, type)
                        else str(annotation).replace("typing.", ""))
            raise ValueError(f"expected {expected}, not a boolean (true/false)")
        return value


class Finite(Strict):
    """A section whose numbers must be finite: ``.inf`` or ``.nan`` is an error naming the key."""

    model_config = ConfigDict(allow_inf_nan=False)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check its spelling)")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"  {key}: {message} (got {item.get('input')!r})")
    return "\n".join(lines)


Model = TypeVar("Model", bound=BaseModel)


def validate(model: type[Model], raw: object, source: str = "params.yaml") -> Model:
    """Validate a parsed params mapping; raise ParamsError naming each bad key."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ParamsError(f"{source} is invalid:\n{_describe(error)}") from None


def read_yaml(path: str | Path = "params.yaml") -> object:
    """The parsed content of ``params.yaml``."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found (run from the repository root)") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from None


def read_params(model: type[Model], path: str | Path = "params.yaml") -> Model:
    """Read ``params.yaml`` and validate it with ``model`` (the whole schema or a stage's)."""
    return validate(model, read_yaml(path), str(path))
