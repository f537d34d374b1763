"""Settings models, their one error formatter and one error type, for the library and trainer.

Every configuration section is a :class:`FrozenModel`: immutable, and an unknown or misspelt
field is refused with its name. :func:`validation_problems` turns pydantic's errors into one
line per problem, ``section.field: what was expected (got value)``, and :class:`ConfigError`
carries those lines with the document they came from.

Paths in a configuration file mean what they say from the file's folder, so a config works from
any working directory: fields declared :data:`ConfigPath` are resolved against the
``base_dir`` given in the validation context (``Model.model_validate(data,
context={"base_dir": folder})``), and left as written without one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

# Validators name the field they refuse at the start of their message ("path: required ...");
# the formatter moves that name into the location, so every line reads "section.field: ...".
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): ")
_NO_INPUT_ECHO = ("missing", "extra_forbidden")

Model = TypeVar("Model", bound=BaseModel)


class FrozenModel(BaseModel):
    """Base of every settings model: immutable, unknown fields refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigError(ValueError):
    """A configuration that does not validate; one line per problem, naming document and field.

    Parameters
    ----------
    origin
        The document: a file path, or e.g. ``"command line"``.
    problems
        One line each, ``field: what was expected`` (see :func:`validation_problems`).
    """

    def __init__(self, origin: str, problems: Sequence[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        super().__init__("\n".join(f"{origin}: {problem}" for problem in self.problems))


def _resolve_against_base(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is None:
        return value
    # normpath, not resolve: ".." is folded without following symbolic links.
    return Path(os.path.normpath((Path(base) / value.expanduser()).absolute()))


ConfigPath = Annotated[Path, AfterValidator(_resolve_against_base)]
"""A path field; relative values resolve against the validation context's ``base_dir``."""


def _shown(value: object) -> bool:
    """Whether an input is small enough to repeat in a message (a scalar, not a section)."""
    return not isinstance(value, dict | list | tuple | BaseModel)


def validation_problems(error: ValidationError, section: str = "") -> list[str]:
    """One line per problem of ``error``: ``section.field: what was expected (got value)``.

    Parameters
    ----------
    error
        From validating a settings model.
    section
        Prefixed to every field (e.g. ``"source"`` when a section is validated on its own).
    """
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        message = str(problem["msg"]).removeprefix("Value error, ")
        named = _FIELD_PREFIX.match(message)
        if named:
            location.append(named.group(1))
            message = message[named.end() :]
        given = problem.get("input")
        if problem["type"] not in _NO_INPUT_ECHO and not named and _shown(given):
            message = f"{message} (got {given!r})"
        field = ".".join(part for part in [section, *location] if part)
        lines.append(f"{field}: {message}" if field else message)
    return lines


def validate_settings(
    model: type[Model], data: object, *, origin: str, base_dir: Path | None = None
) -> Model:
    """Validate ``data`` as ``model``; raise :class:`ConfigError` naming ``origin`` and fields.

    Parameters
    ----------
    model
        A :class:`FrozenModel` subclass.
    data
        The document (parsed TOML, or built from command-line options).
    origin
        Names the document in errors.
    base_dir
        Folder that :data:`ConfigPath` fields are resolved against (none: left as written).
    """
    try:
        return model.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        raise ConfigError(origin, validation_problems(error)) from None
