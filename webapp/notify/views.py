"""消息 (the in-app message list), Web Push subscriptions of the installed PWA, and the SMS outbox page."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from webapp.db import get_session
from webapp.errors import DomainError
from webapp.lazytext import _l
from webapp.notify import services
from webapp.registry.rules import mask_phone
from webapp.roles import ROLE_ADMIN
from webapp.timeutil import format_local
from webapp.web import edge
from webapp.web.auth import citizen_required, current_citizen, officer_required
from webapp.web.forms import EmptyForm

bp = Blueprint("notify", __name__)
BAD_SUBSCRIPTION = _l("推送订阅无效。")


@bp.get("/messages")
@edge.writes_on_get("opening 消息 marks its messages read, as the 12123 app does")
@citizen_required
def messages():
    """消息: the newest first; opening the list marks them read."""
    user = current_citizen()
    session = get_session()
    rows = [{"body": m.body, "url": m.url, "at": format_local(m.created_at), "unread": m.read_at is None}
            for m in services.messages_for(session, user.citizen_id, 50)]
    services.mark_read(session, user.citizen_id, edge.now())
    edge.commit()
    push = edge.notifier().web_push
    return render_template("notify/messages.html", rows=rows, push_key=push.public_key if push.enabled else "",
                           subscribed=services.has_subscription(session, user.id), form=EmptyForm())


def _subscription_json() -> tuple[str, str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DomainError(BAD_SUBSCRIPTION, code="bad_subscription")
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    endpoint, p256dh, auth = body.get("endpoint"), keys.get("p256dh"), keys.get("auth")
    if not all(isinstance(v, str) for v in (endpoint, p256dh, auth)):
        raise DomainError(BAD_SUBSCRIPTION, code="bad_subscription")
    return endpoint, p256dh, auth


@bp.post("/messages/push")
@citizen_required
def subscribe():
    """Keep the PushSubscription JSON the browser made (sent with the CSRF token in X-CSRFToken)."""
    user = current_citizen()
    endpoint, p256dh, auth = _subscription_json()
    session = get_session()
    try:
        services.subscribe(session, user.id, endpoint=endpoint, p256dh=p256dh, auth=auth,
                           now=edge.now(),
                           check_endpoint=edge.notifier().web_push.check_endpoint)
    except DomainError:
        session.rollback()
        raise
    edge.commit()
    return jsonify({"subscribed": True})


@bp.post("/messages/push/delete")
@citizen_required
def unsubscribe():
    user = current_citizen()
    body = request.get_json(silent=True)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str):
        raise DomainError(BAD_SUBSCRIPTION, code="bad_subscription")
    session = get_session()
    services.unsubscribe(session, user.id, endpoint)
    edge.commit()
    return jsonify({"subscribed": False})


@bp.get("/officer/sms-outbox")
@officer_required(ROLE_ADMIN)
def outbox():
    """What the embedded gateway 'sent': administrators read it here (and with `flask sms outbox`)."""
    phone = (request.args.get("phone") or "").strip()[:20]
    rows = [{"phone": mask_phone(m.phone) if not phone else m.phone, "body": m.body, "purpose": m.purpose,
             "at": format_local(m.created_at), "gateway": m.gateway}
            for m in services.outbox(get_session(), phone=phone or None, limit=100)]
    return render_template("notify/outbox.html", rows=rows, phone=phone)
