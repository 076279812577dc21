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
from webapp.web.declare import route_declaration

log = logging.getLogger(__name__)


def notifier():
    """The app's Notifier (webapp/notify/notifier.py), for the services a view calls: what they say to people goes
    out after :func:`commit`."""
    return current_app.extensions["notifier"]


def _refuse(problem: str) -> None:
    """A broken rule of this module is a bug: it fails under test and is logged in production."""
    if current_app.testing:
        raise RuntimeError(problem)
    log.error(problem)


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
        _refuse(f"a second commit in one request ({request.endpoint})")
    if request.method in ("GET", "HEAD") and not getattr(current_app.view_functions.get(request.endpoint or ""),
                                                          "writes_on_get", None):
        _refuse(f"a GET that writes without saying why ({request.endpoint}): see writes_on_get")
    get_session().commit()
    g.committed = True


def writes_on_get(reason: str):
    """Declare a GET route that writes, and why (STYLE 3: GET requests do not write). :func:`commit` refuses a GET
    of any other route. The ones that do: a scan's audit row, and the steps a 实人核验 redirect lands on (the
    camera page's ``next_url`` is a GET, so the single-use pass is consumed there)."""
    return route_declaration("writes_on_get", reason)


def rollback() -> None:
    """Undo what this request wrote since its commit (or at all); what follows is a new unit of work."""
    get_session().rollback()
    g.pop("committed", None)
