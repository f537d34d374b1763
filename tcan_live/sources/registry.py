"""Every kind of source by name, and the ``[source]`` section validated through it.

Built-in kinds are the entries of :data:`BUILTIN_KINDS`; :func:`register_source_kind` adds
another (e.g. from a plug-in or a test). The ``[source]`` section is validated against the kind
its ``kind`` names, so each kind refuses its own unknown fields by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import SerializeAsAny, TypeAdapter, ValidationError, ValidationInfo, WrapValidator
from pydantic_core import PydanticCustomError

from tcan_live.core.registry import Registry
from tcan_live.core.settings import ConfigError, validation_problems
from tcan_live.sources import mmcore, pycromanager_hook, replay, watch
from tcan_live.sources.kind import SourceContext, SourceKind, SourceSettings
from tcan_live.sources.protocol import FrameSource

BUILTIN_KINDS: tuple[SourceKind[Any], ...] = (
    mmcore.KIND,
    pycromanager_hook.KIND,
    watch.KIND,
    replay.KIND,
)
SOURCES: Registry[SourceKind[Any]] = Registry("source kind", BUILTIN_KINDS)


def register_source_kind(kind: SourceKind[Any]) -> None:
    """Make ``kind`` available to configs and the daemon; a name can be registered once."""
    SOURCES.register(kind)


def source_kinds() -> tuple[str, ...]:
    """Return the names of every registered kind, built-in first."""
    return SOURCES.names()


def source_kind(settings: SourceSettings | str) -> SourceKind[Any]:
    """Return the kind that ``settings`` (or a ``kind`` name) belongs to."""
    try:
        return SOURCES.get(settings if isinstance(settings, str) else settings.kind)
    except KeyError as error:
        raise ValueError(error.args[0]) from None


def _kind_error(kind: object) -> ValidationError:
    kinds = ", ".join(SOURCES.names())
    if kind is None:
        error = PydanticCustomError(
            "source_kind", "missing kind: expected one of {k}", {"k": kinds}
        )
    else:
        error = PydanticCustomError("source_kind", "expected kind to be one of {k}", {"k": kinds})
    return ValidationError.from_exception_data(
        "source", [{"type": error, "loc": ("kind",), "input": kind}]
    )


def _by_kind(value: Any, handler: Any, info: ValidationInfo) -> SourceSettings:
    if isinstance(value, SourceSettings):
        return value
    if not isinstance(value, Mapping):
        return handler(value)  # pydantic's own type error
    name = value.get("kind")
    if not isinstance(name, str) or name not in SOURCES:
        raise _kind_error(name)
    return SOURCES.get(name).settings.model_validate(dict(value), context=info.context)


SourceConfig = Annotated[SerializeAsAny[SourceSettings], WrapValidator(_by_kind)]
"""A ``[source]`` section: validated as the settings model of the kind it names."""


_ADAPTER: TypeAdapter[SourceSettings] = TypeAdapter(SourceConfig)


def parse_source_config(
    data: Mapping[str, Any], *, origin: str = "config", section: str = "source"
) -> SourceSettings:
    """Validate a source section on its own (e.g. parsed from TOML).

    Raises
    ------
    ConfigError
        Naming ``origin`` and each bad field (``source.root: Field required``).
    """
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as error:
        raise ConfigError(origin, validation_problems(error, section)) from None


def make_source(config: SourceSettings, context: SourceContext | None = None) -> FrameSource:
    """Build the (unstarted) source a validated section describes."""
    return source_kind(config).make(config, context or SourceContext())
