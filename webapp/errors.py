"""Typed domain errors: a refusal the user can understand, raised by services and rules.

How the web layer shows them (a page or JSON, never a 500) is :mod:`webapp.web.errors`; nothing here needs Flask."""
from __future__ import annotations

from datetime import timedelta


class DomainError(Exception):
    """A refusal the user can understand. ``code`` is stable for the API; ``user_message`` is shown."""

    status = 400
    code = "invalid"

    def __init__(self, user_message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class QuotaExceeded(DomainError):
    status = 429
    code = "quota_exceeded"


class TooSoon(DomainError):
    status = 429
    code = "too_soon"

    def __init__(self, user_message: str, *, retry_after: timedelta) -> None:
        super().__init__(user_message)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status = 503
    code = "status_unknown"
