"""Per-identifier sign-in throttling with exponential back-off, for citizens and officers (SPEC 8).

Wrong passwords are counted per identifier in the database (``login_throttles``), so they add up whatever the
IP (the per-IP limits of the login routes stay as well). After ``max_failures`` in a row every further try is
refused for a lock that doubles each time (rules.lock_after), even with the right password, with one sentence
and a 429 for known and unknown identifiers alike. Services: they flush, the view commits.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, TypeVar

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.accounts import rules
from webapp.accounts.models import LoginThrottle
from webapp.errors import DomainError

T = TypeVar("T")


class LoginLocked(DomainError):
    status = 429
    code = "login_locked"

    def __init__(self, left: timedelta) -> None:
        super().__init__(rules.locked_message(left))
        self.retry_after = left


def guarded(session: Session, key: str, *, policy: rules.ThrottlePolicy, now: datetime,
            check: Callable[[], T], refused: type[DomainError]) -> T:
    """Run ``check`` (the password comparison, which raises ``refused`` for bad credentials) under the throttle
    row of ``key``.

    The row is locked (SELECT … FOR UPDATE on PostgreSQL) for the whole attempt, so the attempts of one
    identifier run one after another: a burst of parallel guesses gets no more password comparisons than a
    patient guesser, and each failure is counted by one atomic UPDATE.

    :raises LoginLocked: the identifier is locked (before any password is compared)
    :raises refused: from ``check``, after the failure is counted
    """
    row = _locked_row(session, key)
    left = rules.lock_left(row.locked_until, now)
    if left > timedelta(0):
        raise LoginLocked(left)
    try:
        result = check()
    except refused:
        _count_failure(session, key, policy, now)
        raise
    if row.failures or row.locked_until is not None:
        row.failures, row.last_failure_at, row.locked_until = 0, None, None
        session.flush()
    return result


def _locked_row(session: Session, key: str) -> LoginThrottle:
    """The row of ``key``, created if missing (the same work for an identifier nobody has), locked for update."""
    query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update().execution_options(
        populate_existing=True)
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key=key, failures=0))
                session.flush()
        except IntegrityError:  # a parallel first attempt created it
            pass
        row = session.scalar(query)
    return row


def _count_failure(session: Session, key: str, policy: rules.ThrottlePolicy, now: datetime) -> None:
    # Atomic on every backend: a failure older than the memory starts the count again at 1.
    failures = session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key)
        .values(failures=case((LoginThrottle.last_failure_at > now - policy.memory, LoginThrottle.failures + 1),
                              else_=1),
                last_failure_at=now)
        .returning(LoginThrottle.failures)
        .execution_options(synchronize_session=False)).scalar_one()
    lock = rules.lock_after(policy, failures)
    if lock > timedelta(0):
        # Only the holder of this count writes its lock: a slower parallel failure cannot shorten it.
        session.execute(update(LoginThrottle).where(LoginThrottle.key == key, LoginThrottle.failures == failures)
                        .values(locked_until=now + lock).execution_options(synchronize_session=False))
