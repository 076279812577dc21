"""Notices leave the request (issue 13 point 6): the request records the in-app message and the SMS and, after its
commit, enqueues one job per push and per SMS for a real provider; a real Huey consumer sends them. A rolled-back
request enqueues nothing.

The push service and the SMS provider are stand-ins named as such (the machine has no outside network, and the
question here is *when and where* they are called, not how a push is encrypted: tests/http/test_push_http.py and
the 面签/ID-card review tests deliver real pushes to a local receiver).
"""
from __future__ import annotations

import threading

from sqlalchemy import select

from tests import factories
from tests.http.test_proofing_queue import qapp, qdb, queue_database, queue_url  # noqa: F401 - fixtures
from tests.queue_support import ThreadConsumer, wait_for
from webapp import queue
from webapp.db import get_session
from webapp.notify.models import PushSubscription, SmsMessage


class StandInPushService:
    """NOT a push service: records which thread was asked to push what."""

    enabled = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, str]] = []

    def send(self, subscription: dict, payload: dict) -> int:
        self.sent.append((subscription["endpoint"], payload, threading.current_thread().name))
        return 201


class StandInSmsProvider:
    """NOT an SMS provider: records the messages handed to it."""

    name = "stand-in"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, body: str) -> str:
        self.sent.append((phone, body))
        return f"ref-{len(self.sent)}"


def _holder_with_browser(qdb):
    user = factories.UserFactory()
    qdb.add(PushSubscription(user_id=user.id, endpoint="https://fcm.googleapis.com/fcm/send/abc", p256dh="p" * 40,
                             auth="a" * 16, created_at=user.created_at))
    qdb.commit()
    return user


def test_a_notice_is_sent_by_the_queue_after_the_commit_never_inside_the_request(qapp, qdb, clock):
    push, provider = StandInPushService(), StandInSmsProvider()
    notifier = qapp.extensions["notifier"]
    notifier.web_push, notifier.sms_gateway = push, provider
    user = _holder_with_browser(qdb)
    with qapp.app_context():
        session = get_session()
        notifier.notify(session, user.citizen, "审核通过。", clock.now(), url="/account/", user_id=user.id)
        assert queue.pending() == 0           # nothing is enqueued before the commit
        session.commit()
    assert push.sent == [] and provider.sent == []   # the request itself contacted nobody
    assert queue.pending() == 2                      # one push, one SMS
    with ThreadConsumer():
        wait_for(lambda: push.sent and provider.sent)
    endpoint, payload, thread = push.sent[0]
    assert endpoint.endswith("/abc") and payload == {"title": "随身证", "body": "审核通过。", "url": "/account/"}
    assert thread != threading.main_thread().name
    assert provider.sent == [(user.citizen.phone, "【随身证】审核通过。")]
    assert wait_for(lambda: qdb.rollback() or [r for r in qdb.scalars(select(SmsMessage.gateway_ref)) if r]) == ["ref-1"]


def test_a_rolled_back_request_enqueues_no_notice(qapp, qdb, clock):
    notifier = qapp.extensions["notifier"]
    notifier.web_push, notifier.sms_gateway = StandInPushService(), StandInSmsProvider()
    user = _holder_with_browser(qdb)
    with qapp.app_context():
        session = get_session()
        notifier.notify(session, user.citizen, "审核通过。", clock.now(), user_id=user.id)
        session.rollback()
        session.commit()  # a later commit of the same session must not send what was rolled back
    assert queue.pending() == 0


def test_a_push_service_that_says_gone_drops_the_subscription(qapp, qdb, clock):
    class GonePushService(StandInPushService):
        def send(self, subscription, payload):
            super().send(subscription, payload)
            return 410

    gone = GonePushService()
    notifier = qapp.extensions["notifier"]
    notifier.web_push = gone
    user = _holder_with_browser(qdb)
    with qapp.app_context():
        session = get_session()
        notifier.notify(session, user.citizen, "审核通过。", clock.now(), user_id=user.id)
        session.commit()
    with ThreadConsumer():
        wait_for(lambda: gone.sent)
        wait_for(lambda: qdb.rollback() or qdb.scalar(select(PushSubscription.id)) is None)
