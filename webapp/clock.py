"""Time as an injectable dependency.

Every rule that depends on "now" (60 s QR windows, 30 min re-verification, 24 h validity, natural months,
6 months, working days) takes the instant from here, so tests move time instead of sleeping.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told to (tests, and the browser tests' shared server clock)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> "FrozenClock":
        self._at += timedelta(**delta)
        return self

    def set(self, at: datetime) -> "FrozenClock":
        self._at = at.astimezone(timezone.utc)
        return self
