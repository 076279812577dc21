"""A reviewer's decision POST, as the licence photo queue and the ID-card queue both take it."""
from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, url_for

from webapp.db import get_session
from webapp.errors import DomainError
from webapp.lazytext import _l
from webapp.web import edge
from webapp.web.forms import DecisionForm


def decision(decide: Callable, page: Callable, *, done: tuple[str, str], back: str):
    """``decide(session, approve, reason)`` runs the owning domain's service. A refusal (no reason, too long,
    already decided, unknown) answers ``page(form, status)`` with its 4xx and the message; a decision commits and
    goes back to the queue with ``done`` = (approved, rejected) message."""
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(form.reason.errors[0] if form.reason.errors else _l("请求无效，请刷新后重试。"), "danger")
        return page(DecisionForm(), 400)
    session = get_session()
    approve = bool(form.approve.data)
    try:
        decide(session, approve, form.reason.data)
    except DomainError as exc:
        session.rollback()
        flash(exc.user_message, "danger")
        return page(DecisionForm(), exc.status)
    edge.commit()
    flash(done[0] if approve else done[1], "success")
    return redirect(url_for(back))
