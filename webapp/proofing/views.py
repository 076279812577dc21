"""The 实人核验 page and its frame upload. Calling flows use :func:`begin` and ``services.consume``.

A challenge belongs to the browser session that started it: its public id is kept in the Flask session and
every route refuses the others, so a leaked link cannot be answered from another device.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template, request,
                   session as web_session, url_for)

from webapp.accounts.rules import is_safe_next
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.extensions import limiter
from webapp.proofing import rules, services
from webapp.proofing.models import CONSUMED, EXPIRED, FAILED, ISSUED, PASSED, Challenge
from webapp.proofing.rules import ChallengePlan, Policy
from webapp.registry.models import Citizen

bp = Blueprint("proofing", __name__, url_prefix="/proofing")

#: Flask-session key holding the public ids this browser started (newest last).
SESSION_KEY = "proofing"
#: How many of them a session remembers; older ones can no longer be answered from it.
SESSION_REMEMBERS = 10
#: Accepted content types of an uploaded frame (what canvas.toBlob can produce, and what the engine reads).
FRAME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
FRAMES_RATE_LIMIT = "12 per minute"


def _now():
    return current_app.extensions["clock"].now()


def policy() -> Policy:
    return Policy.from_setting(current_app.config["SUISHEN_LIVENESS_CHECKS"],
                               current_app.config["SUISHEN_FACE_TOLERANCE"])


def remember(public_id: str) -> None:
    """Mark a challenge as this browser session's own."""
    ids = [pid for pid in web_session.get(SESSION_KEY, []) if pid != public_id]
    web_session[SESSION_KEY] = (ids + [public_id])[-SESSION_REMEMBERS:]


def _owns(public_id: str) -> bool:
    return public_id in web_session.get(SESSION_KEY, [])


def begin(*, citizen: Citizen, purpose: str, next_url: str | Callable[[str], str], fallback_url: str | None,
          user_id: int | None = None) -> Response:
    """For calling views: start a challenge, give it to this browser, commit, and go to the camera page.

    ``next_url`` may be a callable that gets the public id, e.g.
    ``lambda c: url_for("accounts.verify_done", c=c)``; that view then calls ``services.consume``.

    :raises NoPortrait: the citizen has no registry portrait (let the caller explain what to do).
    """
    session = get_session()
    challenge = services.start(session, citizen=citizen, purpose=purpose, now=_now(), policy=policy(),
                               next_url=next_url, fallback_url=fallback_url, user_id=user_id)
    session.commit()
    remember(challenge.public_id)
    return redirect(url_for("proofing.page", public_id=challenge.public_id))


def _own_challenge(public_id: str) -> Challenge:
    if not _owns(public_id):
        raise DomainError("该核验不属于当前浏览器会话，请从业务页面重新发起核验。", status=403, code="forbidden")
    return services.get(get_session(), public_id)


def _max_failures() -> int:
    return int(current_app.config.get("SUISHEN_PROOFING_MAX_FAILURES", 3))


def _safe(url: str | None) -> str | None:
    return url if url and is_safe_next(url) else None


@bp.get("/<public_id>")
def page(public_id: str):
    challenge = _own_challenge(public_id)
    session = get_session()
    now = _now()
    if challenge.status == PASSED and _safe(challenge.next_url):
        return redirect(challenge.next_url)
    failures = services.recent_failures(session, challenge.citizen_id, challenge.purpose, now)
    plan = ChallengePlan.from_json(challenge.plan)
    open_ = challenge.status == ISSUED and now <= challenge.expires_at
    remaining = max(0, int((challenge.expires_at - now).total_seconds())) if open_ else 0
    state_message = None
    if not open_:
        state_message = {
            FAILED: services.reason_message(challenge.reason),
            CONSUMED: rules.REASON_MESSAGES[rules.USED],
            EXPIRED: rules.REASON_MESSAGES[rules.EXPIRED],
        }.get(challenge.status, rules.REASON_MESSAGES[rules.EXPIRED])
    config = {
        "plan": json.loads(challenge.plan),
        "checks": sorted(challenge.check_set),
        "colourRgb": {name: list(rgb) for name, rgb in rules.COLOUR_RGB.items()},
        "colourNames": rules.COLOUR_NAMES,
        "turnNames": rules.TURN_NAMES,
        "settleMs": int(rules.COLOUR_SETTLE.total_seconds() * 1000),
        "framesPerColour": plan.frames_per_colour,
        "minFrames": rules.MIN_FRAMES,
        "maxFrames": rules.MAX_FRAMES,
        "remainingSeconds": remaining,
        "framesUrl": url_for("proofing.frames", public_id=public_id),
        "maxFailures": _max_failures(),
    }
    return render_template(
        "proofing/page.html", challenge=challenge, config=config, open_=open_, state_message=state_message,
        failures=failures, max_failures=_max_failures(), fallback_url=_safe(challenge.fallback_url),
        colour_on="colour" in challenge.check_set, plan=plan,
    )


def _bad(message: str, status: int = 400, code: str = "bad_request") -> Response:
    resp = jsonify({"error": code, "message": message})
    resp.status_code = status
    return resp


def _read_frames(field: str) -> list[bytes] | str:
    """The uploaded files of one field, or the message saying why they are not acceptable."""
    frames = []
    for upload in request.files.getlist(field):
        if (upload.mimetype or "").lower() not in FRAME_TYPES:
            return "画面格式不支持，请使用 JPEG、PNG 或 WebP 图片。"
        data = upload.read(rules.MAX_FRAME_BYTES + 1)
        if len(data) > rules.MAX_FRAME_BYTES:
            return f"单帧画面过大（最多 {rules.MAX_FRAME_BYTES // 1024} KB），请重新核验。"
        if not data:
            return "收到空白画面，请重新核验。"
        frames.append(data)
    return frames


@bp.post("/<public_id>/frames")
@limiter.limit(FRAMES_RATE_LIMIT)
def frames(public_id: str):
    if not _owns(public_id):
        return _bad("该核验不属于当前浏览器会话，请从业务页面重新发起核验。", 403, "forbidden")
    if request.mimetype != "multipart/form-data":
        return _bad("请以 multipart/form-data 上传画面。", code="bad_content_type")
    blink = _read_frames("blink")
    if isinstance(blink, str):
        return _bad(blink, code=rules.BAD_FRAME)
    colour = _read_frames("colour")
    if isinstance(colour, str):
        return _bad(colour, code=rules.BAD_FRAME)
    if not blink:
        return _bad("没有收到画面，请重新核验。", code="no_frames")
    if len(blink) + len(colour) > rules.MAX_FRAMES:
        return _bad(f"画面过多（最多 {rules.MAX_FRAMES} 帧），请重新核验。", code="too_many_frames")

    session = get_session()
    now = _now()
    try:
        decision = services.submit(session, public_id, blink_frames=blink, colour_frames=colour, now=now,
                                   policy=policy(), keep_frames=current_app.config["SUISHEN_KEEP_FRAMES"])
    except DomainError as exc:
        session.rollback()
        return _bad(exc.user_message, exc.status, exc.code)
    session.commit()
    challenge = services.get(session, public_id)
    failures = services.recent_failures(session, challenge.citizen_id, challenge.purpose, now)
    show_fallback = failures >= _max_failures()
    return jsonify({
        "passed": decision.passed,
        "reason": decision.reason,
        "message": "核验通过。" if decision.passed else services.reason_message(decision.reason),
        "next_url": _safe(challenge.next_url) if decision.passed else None,
        "retry_url": None if decision.passed or show_fallback else url_for("proofing.retry", public_id=public_id),
        "fallback_url": _safe(challenge.fallback_url) if show_fallback else None,
        "failures": failures,
    })


@bp.post("/<public_id>/retry")
def retry(public_id: str):
    _own_challenge(public_id)
    session = get_session()
    challenge = services.retry(session, public_id, now=_now(), policy=policy(), max_failures=_max_failures())
    session.commit()
    remember(challenge.public_id)
    return redirect(url_for("proofing.page", public_id=challenge.public_id))
