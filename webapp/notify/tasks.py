"""Queue jobs of notices: Web Push and SMS leave the request and go out after its commit (issue 13 point 6).

A reviewer's approval used to wait 5.6 s for an unreachable push service; now the request only records the
message (the in-app message, the SMS in ``sms_messages``) and, once its transaction has committed, the Notifier
(webapp/notify/notifier.py) hands what must go out to :func:`enqueue`: one job per push and per SMS for a real
provider. A rollback enqueues nothing. Jobs take ids, load what they name and send one thing, like views; the
embedded ``outbox`` SMS gateway needs no job (the table is the outbox).
"""
from __future__ import annotations

import logging

from webapp.db import get_session
from webapp.notify import gateway as gateways
from webapp.notify import services
from webapp.notify.models import Message, PushSubscription, SmsMessage
from webapp.queue import current_app_for_jobs, huey

log = logging.getLogger(__name__)

#: A push service or SMS provider that fails is tried again this often, this many seconds apart.
RETRIES = 2
RETRY_DELAY = 30


@huey.task(name="notify.push", retries=RETRIES, retry_delay=RETRY_DELAY)
def deliver_push(message_id: int, subscription_id: int) -> None:
    """Push one in-app message to one browser (the gateway checks the endpoint again right before connecting).
    A subscription the push service says is gone (404/410) is dropped."""
    app = current_app_for_jobs()
    with app.app_context():
        session = get_session()
        message = session.get(Message, message_id)
        subscription = session.get(PushSubscription, subscription_id)
        push = app.extensions["notifier"].web_push
        if message is None or subscription is None or not push.enabled:
            return
        status = push.send({"endpoint": subscription.endpoint,
                            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
                           services.push_payload(message))
        if status in (404, 410):
            session.delete(subscription)
            session.commit()


@huey.task(name="notify.sms", retries=RETRIES, retry_delay=RETRY_DELAY)
def deliver_sms(sms_id: int) -> None:
    """Hand one recorded SMS to the provider and keep its reference; a provider error is retried."""
    app = current_app_for_jobs()
    with app.app_context():
        session = get_session()
        sms = session.get(SmsMessage, sms_id)
        if sms is None or sms.gateway_ref is not None:
            return
        try:
            sms.gateway_ref = app.extensions["notifier"].sms_gateway.send(sms.phone, sms.body)
        except gateways.SmsError:
            log.warning("SMS %s to provider %s failed; retried", sms_id, sms.gateway)
            raise
        session.commit()


def enqueue(notices: list[tuple]) -> None:
    """The notices of one commit (the Notifier's): a job per push and per SMS for a real provider. A queue that
    cannot take one leaves the notice recorded (the message, the outbox row) and logs it."""
    for kind, *ids in notices:
        try:
            (deliver_push if kind == "push" else deliver_sms)(*ids)
        except Exception:  # noqa: BLE001 - the queue is down: the notice stays recorded (message, outbox row)
            log.exception("could not enqueue %s %s", kind, ids)
