"""Immutable value classes without :mod:`dataclasses`: a cold ``credledger verify`` starts fast.

The offline verifier runs one command, once, so its start-up is most of its cost, and
``@dataclass`` is a large part of a start-up: it imports :mod:`inspect` (and with it ``ast``,
``dis``, ``tokenize``), and generates and compiles the methods of every class at import time.
The value classes on the verifier's import path (``ledger.events``, ``note``, ``smt``,
``verify``, and ``witness`` for ``--witness``) are therefore written by hand: each names its
fields in ``__slots__``, declares their types in the class body, and sets them in its own
``__init__`` through ``object.__setattr__``, as a frozen dataclass does. :class:`Frozen` gives
them the rest of what ``@dataclass(frozen=True, slots=True)`` gave them: equality and a hash
over the fields, a repr, immutability, pickling and :meth:`Frozen.replace`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing costs a cold verify ~5 ms)
if TYPE_CHECKING:
    from typing import Any, NoReturn, Self


class Frozen:
    """Base of an immutable value whose fields are its class's ``__slots__``.

    A subclass's ``__init__`` takes every field as a keyword parameter of the same name
    (:meth:`replace` constructs through it, so its checks run again). The repr lists the fields
    in the order of the class body's annotations, which is the constructor's order.
    """

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__annotations__)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    # Pickling and copying, as a slotted frozen dataclass does them: the state is the fields.
    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> Self:
        """A copy with the given fields changed, made (and checked) by the constructor, as
        :func:`dataclasses.replace` makes one."""
        values = {name: changes.pop(name, getattr(self, name)) for name in self.__slots__}
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {min(changes)!r}")
        return self.__class__(**values)
