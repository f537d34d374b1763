"""A registry of kinds by name: built-in entries first, more registered at run time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar


class Named(Protocol):
    """Anything with a ``name``: the key it is registered under."""

    @property
    def name(self) -> str:
        """The registered name."""
        ...


Entry = TypeVar("Entry", bound=Named)


class Registry(Generic[Entry]):
    """Entries by name; a name can be registered once.

    Parameters
    ----------
    what
        What an entry is, for messages (e.g. ``"source kind"``).
    builtin
        The entries present from the start, in the order they are listed.
    """

    def __init__(self, what: str, builtin: Iterable[Entry]) -> None:
        self.what = what
        self._entries: dict[str, Entry] = {}
        for entry in builtin:
            self.register(entry)

    def register(self, entry: Entry) -> None:
        """Add ``entry`` under its name (registering the same entry again is a no-op)."""
        existing = self._entries.get(entry.name)
        if existing is not None and existing is not entry:
            raise ValueError(f"{self.what} {entry.name!r} is already registered")
        self._entries[entry.name] = entry

    def names(self) -> tuple[str, ...]:
        """Return every registered name, built-in first."""
        return tuple(self._entries)

    def get(self, name: str) -> Entry:
        """Return the entry called ``name``; ``KeyError`` naming the choices otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.what} {name!r}; expected one of {', '.join(self._entries)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())
