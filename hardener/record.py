"""Plain records without the dataclass machinery: creating a dataclass costs about half a
millisecond at import (it compiles its methods), and the hardening path starts on every
`helm install`. A record lists its fields in `_fields` (`_hidden`: left out of the repr) and
writes its own `__init__`; equality and repr are the dataclass ones (fields compared in
order, same class only; unhashable)."""

from __future__ import annotations

from typing import Any


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _hidden: frozenset[str] = frozenset()

    def __eq__(self, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, f) for f in self._fields) == tuple(getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: as a dataclass

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields if f not in self._hidden)
        return f"{self.__class__.__qualname__}({shown})"


class FrozenRecord(Record):
    """A record that cannot change once made, hashed by its fields: a frozen dataclass.
    `__init__` sets its fields with :meth:`_init`."""

    __slots__ = ()

    def _init(self, *values: Any) -> None:
        """Set the fields, in `_fields` order: the one way past :meth:`__setattr__`."""
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(getattr(self, f) for f in self._fields))
