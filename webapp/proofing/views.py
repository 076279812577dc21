"""The 实人核验 page, its frame upload and the decision's status. Calling flows start the step with
:func:`webapp.proofing.flow.begin` and consume a pass through ``services.consume``.

A challenge belongs to the browser session that started it (``flow.remember``): every route here refuses the
others, so a leaked link cannot be answered from another device.

The frames request does only cheap work (limits, headers, the claim) and hands the decision to the task queue
(webapp/queue.py, webapp/proofing/tasks.py); the page polls :func:`status`. New challenges pass admission control
first (``flow.admit``): per-IP, per-session and per-citizen counts, the failure cap, and the expected wait.
"""
from __future__ import annotations

import logging
import math
from datetime import timedelta

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for
from flask import session as web_session

from webapp.db import get_session
from webapp.errors import DomainError, NotFound
from webapp.lazytext import LazyText, _l
from webapp.proofing import flow, rules, services, tasks
from webapp.proofing.models import CONSUMED, DECIDING, EXPIRED, FAILED, ISSUED, PASSED, QUEUED, Challenge
from webapp.proofing.rules import ChallengePlan
from webapp.registry.models import Citizen
from webapp.web import edge
from webapp.web.errors import wants_json
from webapp.web.input_guard import checks_own_body
from webapp.web.urls import safe

log = logging.getLogger(__name__)

bp = Blueprint("proofing", __name__, url_prefix="/proofing")

#: Accepted content types of an uploaded frame (what canvas.toBlob can produce, and what the engine reads).
FRAME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
#: How often the camera page polls the status while queued or deciding, milliseconds.
POLL_MS = 1000
USED_UP_MESSAGE = _l("本次核验已完成并已使用。如需继续办理，请返回业务页面。")
PASSED_LATER_MESSAGE = _l("这是之前未通过的一次核验；您随后已重新核验并通过，无需再次核验。")
#: Flask-session key: where the calling flow's next_url led after a pass ({public id: path}), so the camera page of a
#: used challenge, reached again with Back or an old link, goes there instead of saying the check is used up.
OUTCOMES_KEY = "proofing_outcomes"


_now = edge.now


@bp.app_errorhandler(flow.Refused)
def refused(exc: flow.Refused) -> Response:
    """A new challenge refused (admission control, the failure cap), for whichever flow asked: a page offering the
    flow's other way, or JSON; Retry-After when waiting helps."""
    if wants_json():
        resp = jsonify({"error": exc.code, "message": exc.user_message, "retry_after": exc.retry_after})
    else:
        resp = Response(render_template("proofing/refused.html", message=exc.user_message, status=exc.status,
                                        code=exc.code, retry_after=exc.retry_after,
                                        fallback_url=safe(exc.fallback_url)))
    resp.status_code = exc.status
    if exc.retry_after is not None:
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@bp.after_app_request
def _set_device_cookie(resp: Response) -> Response:
    token = g.pop("new_device_token", None)
    if token is not None:
        resp.set_cookie(flow.DEVICE_COOKIE, token, max_age=int(flow.DEVICE_COOKIE_AGE.total_seconds()),
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return resp


@bp.after_app_request
def _remember_outcome(resp: Response) -> Response:
    """Every calling flow names its challenge ``c`` in its next_url (``…/issue?c=<public id>``) and answers it
    with a redirect to what the pass produced (the result page, the QR page, 我的). Remember that target for this
    browser's own challenges: :func:`page` sends a used challenge there (Back from the result must not land on a
    page saying 该核验已使用). Only the Flask session is written."""
    public_id = request.args.get("c") if request.method == "GET" and request.blueprint != bp.name else None
    if public_id and resp.status_code in (302, 303) and resp.location and flow.owns(public_id):
        outcomes = {k: v for k, v in web_session.get(OUTCOMES_KEY, {}).items() if k != public_id}
        outcomes[public_id] = resp.location
        web_session[OUTCOMES_KEY] = dict(list(outcomes.items())[-flow.SESSION_REMEMBERS:])
    return resp


def _own_challenge(public_id: str) -> Challenge:
    if not flow.owns(public_id):
        raise DomainError(_l("该核验不属于当前浏览器会话，请从业务页面重新发起核验。"), status=403, code="forbidden")
    return services.get(get_session(), public_id)


@bp.post("/start")
def start():
    """The POST behind an anonymous GET's start page: creates the challenge ``flow.begin`` described."""
    token = request.form.get("token", "")
    pending = dict(web_session.get(flow.PENDING_KEY, {}))
    item = pending.get(token) if isinstance(token, str) else None
    if not isinstance(item, dict):
        raise DomainError(_l("核验请求已失效，请返回业务页面重新发起。"), status=400, code="no_pending_start")
    citizen = get_session().get(Citizen, item["citizen_id"])
    if citizen is None:
        raise NotFound(_l("该核验不存在或已失效，请返回重新发起。"))
    if citizen.portrait_encoding is None:
        raise DomainError(services.NO_PORTRAIT_MESSAGE, status=409, code=services.NO_PORTRAIT)
    template = item["next_url"]
    response = flow.create(citizen=citizen, purpose=item["purpose"], fallback_url=item["fallback_url"], user_id=None,
                           next_url=lambda public_id: template.replace(flow.PUBLIC_ID_PLACEHOLDER, public_id))
    edge.commit()
    pending.pop(token, None)
    web_session[flow.PENDING_KEY] = pending
    return response


@bp.get("/<public_id>")
def page(public_id: str):
    challenge = _own_challenge(public_id)
    session = get_session()
    now = _now()
    if challenge.status == PASSED and safe(challenge.next_url):
        return redirect(challenge.next_url)
    outcome = web_session.get(OUTCOMES_KEY, {}).get(public_id)
    if challenge.status == CONSUMED and safe(outcome):
        return redirect(outcome)
    count = services.failure_count(session, challenge.citizen_id, challenge.purpose, now, challenge.party)
    refusal = rules.failure_refusal(count, flow.max_failures())
    plan = ChallengePlan.from_json(challenge.plan)
    open_ = challenge.status == ISSUED and now <= challenge.expires_at
    waiting = challenge.status in (QUEUED, DECIDING)  # reloaded while its decision is pending: poll it
    state_message = result_title = continue_url = None
    if not open_ and not waiting:
        state_message = {
            FAILED: services.reason_message(challenge.reason),
            CONSUMED: USED_UP_MESSAGE,
            EXPIRED: rules.REASON_MESSAGES[rules.EXPIRED],
        }.get(challenge.status, rules.REASON_MESSAGES[rules.EXPIRED])
        result_title = {FAILED: _l("核验未通过"), CONSUMED: _l("核验已完成")}.get(challenge.status, _l("核验已超时"))
        later = flow.passed_later(challenge) if challenge.status != CONSUMED else None
        if later is not None:  # Back past a failed try to a retry that passed: say so, offer the way on
            state_message, continue_url = PASSED_LATER_MESSAGE, url_for("proofing.page", public_id=later.public_id)
    config = {
        # Not the colours: the page learns each one when it must show it (:func:`flash`).
        "plan": {"blinks": plan.blinks, "turn": plan.turn, "steps": len(plan.colours)},
        "checks": sorted(challenge.check_set),
        "turnNames": rules.TURN_NAMES,
        "captureAgesMs": list(rules.CAPTURE_AGES_MS[: plan.frames_per_colour]),
        "flashUrl": url_for("proofing.flash", public_id=public_id),
        "framesUrl": url_for("proofing.frames", public_id=public_id),
        "statusUrl": url_for("proofing.status", public_id=public_id),
    }
    return render_template(
        "proofing/page.html", challenge=challenge, config=config, open_=open_, waiting=waiting,
        state_message=state_message, result_title=result_title, continue_url=continue_url,
        refusal=None if continue_url else refusal,
        fallback_message=rules.failure_message(refusal, count) if refusal else "",
        fallback_url=safe(challenge.fallback_url),
        colour_on="colour" in challenge.check_set, plan=plan,
    )


def _bad(message: str, status: int = 400, code: str = "bad_request") -> Response:
    resp = jsonify({"error": code, "message": message})
    resp.status_code = status
    return resp


def _read_frames(field: str) -> list[bytes] | LazyText:
    """The uploaded files of one field, or the message saying why they are not acceptable."""
    frames = []
    for upload in request.files.getlist(field):
        if (upload.mimetype or "").lower() not in FRAME_TYPES:
            return _l("画面格式不支持，请使用 JPEG、PNG 或 WebP 图片。")
        data = upload.read(rules.MAX_FRAME_BYTES + 1)
        if len(data) > rules.MAX_FRAME_BYTES:
            return _l("单帧画面过大（最多 %(kb)s KB），请重新核验。", kb=rules.MAX_FRAME_BYTES // 1024)
        if not data:
            return _l("收到空白画面，请重新核验。")
        frames.append(data)
    return frames


@bp.post("/<public_id>/flash")
def flash(public_id: str):
    """The colour of the next flash step (JSON ``{"step": k}``), told only when the page must show it."""
    if not flow.owns(public_id):
        return _bad(_l("该核验不属于当前浏览器会话，请从业务页面重新发起核验。"), 403, "forbidden")
    body = request.get_json(silent=True)
    session = get_session()
    try:
        step = services.reveal_step(session, public_id, body.get("step") if isinstance(body, dict) else None,
                                    _now())
    except DomainError as exc:
        session.rollback()
        return _bad(exc.user_message, exc.status, exc.code)
    edge.commit()
    return jsonify(step)


@bp.post("/<public_id>/frames")
@checks_own_body("ownership, rate limits and the content type before the multipart body is parsed; only the image "
                 "parts are read, their names never used (rules.MAX_FRAME_BYTES, check_frame_headers)")
def frames(public_id: str):
    """Cheap checks, claim, store the frames, enqueue the decision: 202 queued (200 when already decided)."""
    if not flow.owns(public_id):
        return _bad(_l("该核验不属于当前浏览器会话，请从业务页面重新发起核验。"), 403, "forbidden")
    if request.mimetype != "multipart/form-data":
        return _bad(_l("请以 multipart/form-data 上传画面。"), code="bad_content_type")
    session = get_session()
    challenge = services.get(session, public_id)
    # Counted per IP, browser session and citizen before the body is parsed (werkzeug parses it lazily).
    spec = current_app.config["SUISHEN_PROOFING_SUBMIT_LIMIT"]
    retry_after = flow.over_limits("proofing-submit", challenge.citizen_id, spec, spec, spec)
    if retry_after is not None:
        resp = _bad(_l("提交过于频繁，请稍后再试。"), 429, "rate_limited")
        resp.headers["Retry-After"] = str(retry_after)
        return resp
    blink = _read_frames("blink")
    if not isinstance(blink, list):
        return _bad(blink, code=rules.BAD_FRAME)
    colour = _read_frames("colour")
    if not isinstance(colour, list):
        return _bad(colour, code=rules.BAD_FRAME)
    if not blink:
        return _bad(_l("没有收到画面，请重新核验。"), code="no_frames")
    if len(blink) + len(colour) > rules.MAX_FRAMES:
        return _bad(_l("画面过多（最多 %(n)s 帧），请重新核验。", n=rules.MAX_FRAMES), code="too_many_frames")

    now = _now()
    config = current_app.config
    store = _frame_store()
    try:
        timing = services.parse_timing(request.form.get("timing"))
        submission = services.enqueue(session, public_id, blink_frames=blink, colour_frames=colour, now=now,
                                      store=store, timing=timing,
                                      frames_ttl=timedelta(seconds=config["SUISHEN_PROOFING_QUEUE_TIMEOUT"]))
    except DomainError as exc:
        session.rollback()
        return _bad(exc.user_message, exc.status, exc.code)
    edge.commit()
    if submission.decision is None:
        # After the commit (STYLE 3): the job must find the challenge queued and its frames stored.
        try:
            tasks.decide(submission.challenge.id, timeout=config["SUISHEN_PROOFING_DECISION_BUDGET"])
        except Exception:  # noqa: BLE001 - the queue store is down: end it now, retryable, not the person's fault
            log.exception("could not enqueue the decision of challenge %s", submission.challenge.id)
            edge.rollback()  # the submission stays committed; ending it is a second unit of work (a compensation)
            services.fail_as_system_busy(session, submission.challenge.id, _now(), store=store)
            edge.commit()
        session.expire_all()  # the job may have decided it already (immediate mode, or a fast worker)
    if submission.decision is not None:
        # A replay or a late submission: this request's own answer (``used``/``expired``), whatever the
        # challenge holds now.
        body = {"status": "decided", "status_url": url_for("proofing.status", public_id=public_id),
                **_decision_fields(submission.challenge, submission.decision.passed, submission.decision.reason)}
    else:
        body = _state(services.get(session, public_id))
    resp = jsonify(body)
    resp.status_code = 200 if body["status"] == "decided" else 202
    return resp


@bp.get("/<public_id>/status")
@edge.writes_on_get("a stale submission (dead or overrun worker) is ended as system_busy when its page asks, so "
                    "the page never waits for ever (the sweep runs once a minute)")
def status(public_id: str):
    """What the camera page polls after sending its frames: queued (position, wait), deciding, or decided with
    the decision. Only the browser session that started the challenge may read it.

    A read also fails this challenge as ``system_busy`` once it is stale (its worker died or overran): the page
    must never wait for ever, and the periodic sweep runs only once a minute. That is the one write of this GET.
    """
    if not flow.owns(public_id):
        return _bad(_l("该核验不属于当前浏览器会话，请从业务页面重新发起核验。"), 403, "forbidden")
    session = get_session()
    challenge = services.get(session, public_id)
    if challenge.status in (QUEUED, DECIDING):
        config = current_app.config
        if services.fail_stale(session, _now(), store=_frame_store(), challenge_id=challenge.id,
                               decision_budget=timedelta(seconds=config["SUISHEN_PROOFING_DECISION_BUDGET"]),
                               queue_timeout=timedelta(seconds=config["SUISHEN_PROOFING_QUEUE_TIMEOUT"])):
            edge.commit()
            session.refresh(challenge)
    return jsonify(_state(challenge))


def _frame_store():
    return services.frame_store(current_app.config["SUISHEN_QUEUE_URL"])


def _state(challenge: Challenge) -> dict:
    session = get_session()
    status_url = url_for("proofing.status", public_id=challenge.public_id)
    if challenge.status == ISSUED:
        return {"status": "issued", "status_url": status_url}
    if challenge.status == QUEUED:
        position = services.queue_position(session, challenge)
        return {"status": "queued", "status_url": status_url, "position": position, "poll_ms": POLL_MS,
                "wait_seconds": math.ceil(flow.expected_wait(position))}
    if challenge.status == DECIDING:
        return {"status": "deciding", "status_url": status_url, "position": 0, "poll_ms": POLL_MS}
    passed = challenge.status in (PASSED, CONSUMED)
    body = {"status": "decided", "status_url": status_url}
    body.update(_decision_fields(challenge, passed, challenge.reason))
    return body


def _decision_fields(challenge: Challenge, passed: bool, reason: str | None) -> dict:
    """The decision as the page acts on it (the fields of the synchronous answer before the queue)."""
    count = services.failure_count(get_session(), challenge.citizen_id, challenge.purpose, _now(), challenge.party)
    refusal = rules.failure_refusal(count, flow.max_failures())
    show_fallback = refusal is not None
    return {
        "passed": passed,
        "reason": reason,
        "message": _l("核验通过。") if passed else services.reason_message(reason),
        "next_url": safe(challenge.next_url) if passed else None,
        "retry_url": None if passed or show_fallback
        else url_for("proofing.retry", public_id=challenge.public_id),
        "fallback_url": safe(challenge.fallback_url) if show_fallback else None,
        "fallback_message": rules.failure_message(refusal, count) if show_fallback else None,
        # This party's own failures: what the person in front of the camera is told (never a stranger's).
        "failures": count.here,
    }


@bp.post("/<public_id>/retry")
def retry(public_id: str):
    old = _own_challenge(public_id)
    flow.admit(old.citizen_id)
    try:
        challenge = services.retry(get_session(), public_id, now=_now(), policy=flow.policy(),
                                   max_failures=flow.max_failures(), party=flow.party_for(old.citizen_id))
    except services.TooManyFailures as exc:
        raise flow.Refused(exc.user_message, 429, exc.code, fallback_url=old.fallback_url) from None
    edge.commit()
    flow.remember(challenge.public_id)
    return redirect(url_for("proofing.page", public_id=challenge.public_id))
