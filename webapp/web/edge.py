"""The edge of a request: its instant and its one commit.

A view reads the time once (:func:`now`), calls one service (which adds and flushes, never commits), then
:func:`commit` once, and only then flashes and redirects (STYLE 3, Indico's ``RH.process``). An exception before the
commit writes nothing: the session rolls back at teardown. What services handed to the Notifier goes out after that
commit (webapp/notify/notifier.py). The queue's jobs (``tasks.py``) and the command line are edges of their own and
commit the same way, once, where they end.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app, g, request

from webapp.db import get_session

log = logging.getLogger(__name__)


def now() -> datetime:
    """This request's instant, read once from the app's clock (``create_app(clock=…)``), so every step of one
    request (the service, the page, the audit row) agrees on it."""
    if "now" not in g:
        g.now = current_app.extensions["clock"].now()
    return g.now


def commit() -> None:
    """Commit this request's work: the one commit, at the edge.

    A second commit in one request would write two halves of one action apart (the bug this replaced: a helper
    committing its caller's work); it raises under test and is logged otherwise. :func:`rollback` first starts a
    new unit of work, for the one place that needs it (a compensation after the commit, e.g. a queue that could
    not take a job)."""
    if g.get("committed"):
        if current_app.testing:
            raise RuntimeError(f"a second commit in one request ({request.endpoint})")
        log.error("a second commit in one request (%s)", request.endpoint)
    get_session().commit()
    g.committed = True


def rollback() -> None:
    """Undo what this request wrote since its commit (or at all); what follows is a new unit of work."""
    get_session().rollback()
    g.pop("committed", None)
