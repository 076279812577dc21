"""温馨服务 → 乘坐旅客列车临时身份证明: apply, 实人核验, result, QR page, records."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask import session as web_session
from flask_login import current_user

from webapp import codes
from webapp.db import get_session
from webapp.errors import DomainError, Forbidden
from webapp.extensions import limiter
from webapp.lazytext import _l
from webapp.proofing import flow as proofing
from webapp.registry.rules import InvalidIdNumber, mask_id_number
from webapp.timeutil import format_local
from webapp.travel_id import rules, services
from webapp.travel_id.forms import ApplyForm
from webapp.web import edge

bp = Blueprint("travel_id", __name__, url_prefix="/travel-id")

GRANTS = "travel_id_grants"      # {certificate public id: ISO instant of the last 实人核验 for viewing}
PENDING = "travel_id_pending"    # {citizen id: {lat, lon, city}} between apply and issue (survives 重新核验)
APPLY_RATE_LIMIT = "10 per minute;30 per hour"


_now = edge.now


def _service_cities() -> frozenset[str]:
    return frozenset(c.strip() for c in current_app.config.get("SUISHEN_TRAVEL_ID_CITIES", "").split(",")
                     if c.strip())


def _verified_user():
    if current_user.is_authenticated and not getattr(current_user, "is_officer", False) \
            and current_user.is_realperson:
        return current_user
    return None


def _grant(public_id: str, now: datetime) -> None:
    grants = dict(web_session.get(GRANTS, {}))
    grants[public_id] = now.isoformat()
    web_session[GRANTS] = dict(list(grants.items())[-5:])


def _granted_at(public_id: str) -> datetime | None:
    raw = web_session.get(GRANTS, {}).get(public_id)
    return datetime.fromisoformat(raw) if raw else None


@bp.get("/")
def apply_page():
    form = ApplyForm()
    user = _verified_user()
    if user is not None:
        form.name.data, form.id_number.data = user.name, user.id_number
    return render_template("travel_id/apply.html", form=form, locked=user is not None)


@bp.get("/locate")
def locate():
    try:
        place = services.locate(request.args.get("lat"), request.args.get("lon"), _service_cities())
    except DomainError as exc:
        return jsonify({"ok": False, "code": exc.code, "message": exc.user_message}), 400
    return jsonify({"ok": True, "city": place.label})


@bp.post("/apply")
@limiter.limit(APPLY_RATE_LIMIT)
def apply():
    form = ApplyForm()
    user = _verified_user()
    if user is not None:  # prefilled and locked: the account's own identity, whatever was posted
        form.name.data, form.id_number.data = user.name, user.id_number
    if not form.validate_on_submit():
        return render_template("travel_id/apply.html", form=form, locked=user is not None), 400
    session = get_session()
    now = _now()
    try:
        citizen = services.check_applicant(session, name=form.name.data, id_number=form.id_number.data, now=now)
        place = services.locate(form.latitude.data, form.longitude.data, _service_cities())
    except InvalidIdNumber as exc:
        form.id_number.errors.append(str(exc))
        return render_template("travel_id/apply.html", form=form, locked=user is not None), 400
    except DomainError as exc:
        status = form.refused(session, exc)
        return render_template("travel_id/apply.html", form=form, locked=user is not None,
                               paper=exc.code == "quota_exceeded"), status
    lat, lon = float(form.latitude.data), float(form.longitude.data)
    try:
        response = proofing.begin(
            citizen=citizen, purpose=services.PURPOSE_APPLY, next_url=lambda c: url_for("travel_id.issue", c=c),
            fallback_url=url_for("travel_id.paper"), user_id=_user_id())
    except proofing.NoPortrait:
        form.form_errors.append(_l("人口库中没有您的人像照片，无法在线核验。%(paper)s", paper=rules.PAPER_ROUTE))
        return render_template("travel_id/apply.html", form=form, locked=user is not None, paper=True), 409
    edge.commit()
    # Keyed by citizen, not by challenge: 重新核验 after a failed attempt gives the challenge a new id.
    pending = dict(web_session.get(PENDING, {}))
    pending[str(citizen.id)] = {"lat": lat, "lon": lon, "city": place.label}
    web_session[PENDING] = dict(list(pending.items())[-5:])
    return response


def _user_id() -> int | None:
    if current_user.is_authenticated and not getattr(current_user, "is_officer", False):
        return current_user.id
    return None


@bp.get("/issue")
@edge.writes_on_get("the camera page's next step after a pass (a GET redirect) consumes the single-use pass")
def issue():
    challenge_id = request.args.get("c", "")
    expired = DomainError(_l("申请已失效，请重新申请。"), status=400, code="no_pending_application")
    # This browser started the challenge (or its retry) and holds the application; the service proves it passed.
    if not proofing.owns(challenge_id):
        raise expired
    session = get_session()
    now = _now()
    citizen_id = services.applicant_of(session, challenge_id)
    pending = web_session.get(PENDING, {}).get(str(citizen_id))
    if pending is None:
        raise expired
    cert = services.issue_after_proofing(session, challenge_id, citizen_id=citizen_id, lat=pending["lat"],
                                         lon=pending["lon"], city=pending["city"], now=now, user_id=_user_id())
    edge.commit()
    web_session[PENDING] = {k: v for k, v in web_session.get(PENDING, {}).items() if k != str(citizen_id)}
    _grant(cert.public_id, now)
    return redirect(url_for("travel_id.result", public_id=cert.public_id))


def _viewable(public_id: str):
    """The certificate, if this browser passed 实人核验 for it in the last 30 minutes; else None."""
    cert = services.get(get_session(), public_id)
    if rules.needs_reverify(_granted_at(public_id), _now()):
        return cert, False
    return cert, True


@bp.get("/<public_id>/result")
def result(public_id: str):
    cert, ok = _viewable(public_id)
    if not ok:
        return redirect(url_for("travel_id.reverify", public_id=public_id))
    return render_template("travel_id/result.html", cert=cert, **_view_facts(cert))


def _view_facts(cert) -> dict:
    now = _now()
    return {
        "state": rules.state(cert.status, cert.expires_at, now),
        "state_label": rules.STATUS_LABELS[rules.state(cert.status, cert.expires_at, now)],
        "masked_id": mask_id_number(cert.citizen.id_number),
        "issued": format_local(cert.issued_at, "%Y-%m-%d %H:%M:%S"),
        "expires": format_local(cert.expires_at, "%Y-%m-%d %H:%M:%S"),
    }


@bp.get("/<public_id>")
def show(public_id: str):
    """The QR page. Re-verification every 30 minutes (not counted against the quota)."""
    cert, ok = _viewable(public_id)
    if not ok:
        return redirect(url_for("travel_id.reverify", public_id=public_id))
    granted = _granted_at(public_id)
    reverify_in = int((granted + rules.REVERIFY_AFTER - _now()).total_seconds())
    return render_template("travel_id/show.html", cert=cert, reverify_in=reverify_in, **_view_facts(cert))


@bp.get("/<public_id>/token")
# Per certificate, not per IP: a whole station's phones may share one address behind NAT.
@limiter.limit(lambda: current_app.config["SUISHEN_QR_RATE_LIMIT"],
               key_func=lambda: "qr:" + (request.view_args or {}).get("public_id", ""))
def token(public_id: str):
    """What the QR page polls every 60 s (and on 刷新). Never cached (no-store, and the SW skips it)."""
    cert, ok = _viewable(public_id)
    if not ok:
        return jsonify({"error": "reverify", "message": _l("已超过 30 分钟，请重新进行实人核验。"),
                        "reverify_url": url_for("travel_id.reverify", public_id=public_id)}), 403
    now = _now()
    state = rules.state(cert.status, cert.expires_at, now)
    body = {"state": state, "state_label": rules.STATUS_LABELS[state],
            "reverify_in": int((_granted_at(public_id) + rules.REVERIFY_AFTER - now).total_seconds())}
    if state == "valid":
        body.update(codes.qr_fields(cert, now))
    return jsonify(body)


@bp.get("/<public_id>/reverify")
@edge.writes_on_get("重新核验 of a signed-in holder starts their challenge (an anonymous visitor gets a page whose "
                    "POST starts it)")
def reverify(public_id: str):
    cert = services.get(get_session(), public_id)
    reason = rules.reverify_reason(_granted_at(public_id), _now())
    if reason is None:  # still granted (back/forward to an old 重新核验 link, or a second tab): nothing to redo
        return redirect(url_for("travel_id.show", public_id=public_id))
    # Said on the page that follows (the start page or the camera page): why again, and that it costs no quota.
    flash(reason, "info")
    try:
        response = proofing.begin(
            citizen=cert.citizen, purpose=services.PURPOSE_VIEW,
            next_url=lambda c: url_for("travel_id.granted", public_id=public_id, c=c),
            fallback_url=url_for("travel_id.paper"), user_id=_user_id())
    except proofing.NoPortrait:
        raise DomainError(_l("人口库中没有人像照片，无法在线核验。%(paper)s", paper=rules.PAPER_ROUTE), status=409) from None
    edge.commit()
    return response


@bp.get("/<public_id>/granted")
@edge.writes_on_get("the camera page's next step after a pass (a GET redirect) consumes the single-use pass")
def granted(public_id: str):
    challenge_id = request.args.get("c", "")
    # The grant goes to the browser that showed its face, never to one that only has the link (copied, leaked in
    # a history or a referrer): that browser must pass 实人核验 itself.
    if not proofing.owns(challenge_id):
        raise Forbidden(_l("此链接只能在完成实人核验的浏览器中使用。请在本浏览器重新进行实人核验后查看乘车身份证明。"))
    now = _now()
    services.grant_view(get_session(), public_id, challenge_id, now)
    edge.commit()
    _grant(public_id, now)
    return redirect(url_for("travel_id.show", public_id=public_id))


@bp.get("/paper")
def paper():
    return render_template("travel_id/paper.html", paper_route=rules.PAPER_ROUTE)
