"""Registries: a name -> entry mapping that refuses what it does not know, loudly and early.

A registry is built once, at import. Built against ``declared`` names (a tuple elsewhere, such as
the formats a configuration may name), it raises :class:`RegistryError` right there when the two
disagree: a declared name without an entry, or an entry nobody declared, never reaches a run.
Looking up a name that is not registered raises :class:`UnknownEntry`, which names the kind of
entry and the known names (a ``KeyError``, so existing ``except KeyError`` keeps working).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

T = TypeVar("T")


class RegistryError(TypeError):
    """A registry that does not match its declared names (raised at import)."""


class UnknownEntry(KeyError):
    """A name looked up in a registry that has no entry for it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Mapping[str, T]):
    """An immutable ``name -> entry`` mapping, in registration order."""

    def __init__(self, what: str, entries: Mapping[str, T],
                 declared: Iterable[str] | None = None) -> None:
        self.what = what
        self._entries = dict(entries)
        if declared is not None:
            names = list(declared)
            missing = [n for n in names if n not in self._entries]
            extra = [n for n in self._entries if n not in names]
            if missing or extra:
                raise RegistryError(
                    f"{what} registry does not match its declared names: "
                    + "; ".join(filter(None, [
                        f"declared without an entry: {', '.join(missing)}" if missing else "",
                        f"registered but not declared: {', '.join(extra)}" if extra else "",
                    ]))
                )

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise UnknownEntry(f"unknown {self.what} {name!r}; known: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self._entries)!r})"


def unknown_keys(given: Iterable[str], known: Iterable[str], *, what: str = "key(s)",
                 prefix: str = "") -> str | None:
    """``unknown <what> <prefix>a, <prefix>b; known: x, y`` for the names in ``given`` that
    ``known`` lacks, or None: the one wording of every configuration file's key check."""
    known = sorted(known)
    unknown = sorted(set(given) - set(known))
    if not unknown:
        return None
    return f"unknown {what} {', '.join(prefix + k for k in unknown)}; known: {', '.join(known)}"
