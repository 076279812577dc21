"""The 实人核验 step as calling flows start it (account 实人认证, licence and travel-ID applications, 重新核验):
admission control, the challenge, this browser's ownership of it, and the camera page.

It reads the request (IP, the Flask session) and so belongs to the web side of proofing, but it never commits: the
calling view commits once, its own work and the challenge together (STYLE 3). A refusal is raised as
:class:`Refused`, which the proofing blueprint answers for every caller (a page, or JSON for a JSON request: 429 for
the counts and the failure cap, 503 with Retry-After when the queue is too long); nothing is written then.

A challenge belongs to the browser session that started it: its public id is kept in the Flask session
(:func:`remember`) and every proofing route refuses the others, so a leaked link cannot be answered from another
device. An anonymous GET (a link anyone could open, e.g. 重新核验 of a travel ID) creates nothing: it gets a page
whose POST (``proofing.start``) creates the challenge.
"""
from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask import session as web_session
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import select

from webapp import queue
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.extensions import seconds_over_limit
from webapp.lazytext import _l
from webapp.proofing import rules, services
from webapp.proofing.models import CONSUMED, PASSED, Challenge
from webapp.proofing.rules import Policy
from webapp.registry.models import Citizen
from webapp.web import edge
from webapp.web.urls import safe

#: Flask-session key holding the public ids this browser started (newest last).
SESSION_KEY = "proofing"
#: How many of them a session remembers; older ones can no longer be answered from it.
SESSION_REMEMBERS = 10
#: Flask-session keys: a random id of this browser session (the per-session counts), and the starts an anonymous
#: GET asked for, waiting for the POST that may create them.
SESSION_ID_KEY = "proofing_sid"
PENDING_KEY = "proofing_pending"
#: Stands for the public id in a pending start's next_url until the challenge exists.
PUBLIC_ID_PLACEHOLDER = "__proofing_public_id__"
#: A long-lived random cookie naming this browser, so that failed tries are counted per person and device
#: (rules.failure_refusal): set when this browser first starts a challenge. 400 days is the longest Chrome keeps.
DEVICE_COOKIE = "suishen_device"
DEVICE_COOKIE_AGE = timedelta(days=400)
_DEVICE_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
# What a calling view tells a citizen without a registry portrait (begin raises NoPortrait).
NoPortrait = services.NoPortrait
NO_PORTRAIT_MESSAGE = services.NO_PORTRAIT_MESSAGE


class Refused(DomainError):
    """No new challenge now (too many starts, too many failures, the queue too long); answered by the proofing
    blueprint's handler with ``retry_after`` seconds and the calling flow's ``fallback_url``."""

    def __init__(self, message: str, status: int, code: str, *, retry_after: int | None = None,
                 fallback_url: str | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after
        self.fallback_url = fallback_url


def policy() -> Policy:
    return Policy.from_setting(current_app.config["SUISHEN_LIVENESS_CHECKS"],
                               current_app.config["SUISHEN_FACE_TOLERANCE"])


def max_failures() -> int:
    return int(current_app.config.get("SUISHEN_PROOFING_MAX_FAILURES", 3))


def remember(public_id: str) -> None:
    """Mark a challenge as this browser session's own."""
    ids = [pid for pid in web_session.get(SESSION_KEY, []) if pid != public_id]
    web_session[SESSION_KEY] = (ids + [public_id])[-SESSION_REMEMBERS:]


def owns(public_id: str) -> bool:
    """Whether this browser session started the challenge (or its retry)."""
    return public_id in web_session.get(SESSION_KEY, [])


def device_token() -> str:
    """This browser's device cookie, or a new one that the proofing blueprint sets on the response."""
    token = request.cookies.get(DEVICE_COOKIE, "")
    if not _DEVICE_TOKEN.fullmatch(token):
        token = g.get("new_device_token") or secrets.token_urlsafe(16)
        g.new_device_token = token
    return token


def party_for(citizen_id: int) -> str:
    """Whose try a new challenge for ``citizen_id`` is: the signed-in account when it is this citizen's, else this
    browser (an account of someone else applying for a person, or nobody signed in)."""
    user = current_user
    if user.is_authenticated and not getattr(user, "is_officer", False) and user.citizen_id == citizen_id:
        return rules.user_party(user.id)
    return rules.device_party(device_token())


def passed_later(challenge: Challenge) -> Challenge | None:
    """A challenge this browser started after ``challenge`` (重新核验) for the same person and purpose that
    passed: an earlier failure is then history, not something to redo."""
    mine = web_session.get(SESSION_KEY, [])
    later = mine[mine.index(challenge.public_id) + 1:] if challenge.public_id in mine else []
    if not later:
        return None
    return get_session().scalar(
        select(Challenge).where(Challenge.public_id.in_(later), Challenge.citizen_id == challenge.citizen_id,
                                Challenge.purpose == challenge.purpose, Challenge.status.in_((PASSED, CONSUMED)))
        .order_by(Challenge.id.desc()).limit(1))


def begin(*, citizen: Citizen, purpose: str, next_url: str | Callable[[str], str], fallback_url: str | None,
          user_id: int | None = None) -> Response:
    """For calling views: start a challenge, give it to this browser, and go to the camera page. The calling view
    commits (its own work and the challenge, once) and returns the response.

    ``next_url`` may be a callable that gets the public id, e.g.
    ``lambda c: url_for("accounts.verify_done", c=c)``; that view then consumes the pass through its own domain's
    service (which calls ``proofing.services.consume``).

    An anonymous GET (a link anyone could open, e.g. 重新核验 of a travel ID) creates nothing: it gets a page
    whose POST (``proofing.start``) creates the challenge.

    :raises NoPortrait: the citizen has no registry portrait (let the caller explain what to do).
    :raises Refused: admission control said no (:func:`admit`), or too many failures; nothing is written.
    """
    if citizen.portrait_encoding is None:
        raise services.NoPortrait()
    if request.method == "GET" and user_id is None:
        token = secrets.token_urlsafe(16)
        pending = dict(web_session.get(PENDING_KEY, {}))
        pending[token] = {"citizen_id": citizen.id, "purpose": purpose, "fallback_url": fallback_url,
                          "next_url": next_url(PUBLIC_ID_PLACEHOLDER) if callable(next_url) else next_url}
        web_session[PENDING_KEY] = dict(list(pending.items())[-3:])
        return Response(render_template("proofing/start.html", token=token, fallback_url=safe(fallback_url)),
                        mimetype="text/html")
    return create(citizen=citizen, purpose=purpose, next_url=next_url, fallback_url=fallback_url, user_id=user_id)


def create(*, citizen: Citizen, purpose: str, next_url: str | Callable[[str], str], fallback_url: str | None,
           user_id: int | None) -> Response:
    """Admit, start the challenge, remember it for this browser: the redirect to the camera page (uncommitted).

    :raises Refused: see :func:`begin`
    """
    admit(citizen.id)
    try:
        challenge = services.start(get_session(), citizen=citizen, purpose=purpose, now=edge.now(), policy=policy(),
                                   next_url=next_url, fallback_url=fallback_url, user_id=user_id,
                                   max_failures=max_failures(), party=party_for(citizen.id))
    except services.TooManyFailures as exc:
        raise Refused(exc.user_message, 429, exc.code, fallback_url=fallback_url) from None
    remember(challenge.public_id)
    return redirect(url_for("proofing.page", public_id=challenge.public_id))


def _session_id() -> str:
    if SESSION_ID_KEY not in web_session:
        web_session[SESSION_ID_KEY] = secrets.token_urlsafe(12)
    return web_session[SESSION_ID_KEY]


def over_limits(scope: str, citizen_id: int, ip_spec: str, session_spec: str, citizen_spec: str) -> int | None:
    """Count one request per IP, browser session and citizen; the Retry-After of the first exceeded, or None."""
    for spec, key in ((ip_spec, "ip:" + get_remote_address()), (session_spec, "session:" + _session_id()),
                      (citizen_spec, f"citizen:{citizen_id}")):
        retry_after = seconds_over_limit(spec, scope, key)
        if retry_after is not None:
            return retry_after
    return None


def expected_wait(ahead: int | None = None) -> float:
    """Seconds a submission would wait for its decision with ``ahead`` submissions before it (default: the whole
    queue, i.e. one made now): ahead x measured seconds per decision / face workers."""
    config = current_app.config
    if ahead is None:
        ahead = services.queue_length(get_session())
    return rules.expected_wait(ahead, queue.decision_seconds(config["SUISHEN_PROOFING_DECISION_SECONDS"]),
                               config["SUISHEN_QUEUE_WORKERS"])


def admit(citizen_id: int) -> None:
    """Admission control for a new challenge of ``citizen_id``: per-IP, per-session and per-citizen counts, then
    the expected wait.

    :raises Refused: 429 over a count, 503 when the queue is too long (both with Retry-After)
    """
    config = current_app.config
    retry_after = over_limits("proofing-start", citizen_id, config["SUISHEN_PROOFING_START_LIMIT_IP"],
                              config["SUISHEN_PROOFING_START_LIMIT_SESSION"],
                              config["SUISHEN_PROOFING_START_LIMIT_CITIZEN"])
    if retry_after is not None:
        raise Refused(_l("发起核验过于频繁，请稍后再试。"), 429, "rate_limited", retry_after=retry_after)
    wait = expected_wait()
    if wait > config["SUISHEN_PROOFING_MAX_WAIT"]:
        seconds = max(1, math.ceil(wait))
        raise Refused(_l("当前核验人数较多，请约 %(seconds)s 秒后再试。", seconds=seconds), 503, "busy",
                      retry_after=seconds)
