"""The state store's exceptions, and the two helpers that look inside a database error."""

from __future__ import annotations


class StateError(Exception):
    """The state store cannot be opened, read or written, or is from an incompatible version."""


class StoreLockedError(StateError):
    """Another process (a running daemon) holds the state store."""


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps (``__cause__``/``__context__``, SQLAlchemy's ``orig``)."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        stack.extend([current.__cause__, current.__context__])
        if isinstance(orig, BaseException):
            stack.append(orig)
    return seen


def reason(exc: BaseException) -> str:
    """The first line of the database's own message for ``exc`` (no SQL, no SQLAlchemy prefix)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if isinstance(orig, BaseException) else exc)
    return text.splitlines()[0] if text else type(exc).__name__
