"""SMS codes, the outbox, messages and Web Push hand-off, on SQLite and PostgreSQL (services only)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.db import make_engine, make_session_factory
from webapp.errors import QuotaExceeded, TooSoon
from webapp.notify import gateway as gateways
from webapp.notify import rules, services
from webapp.notify.models import Message, SmsCode, SmsMessage
from webapp.notify.notifier import PENDING, Notifier
from tests.conftest import create_database, race
from tests.factories import CitizenFactory

POLICY = rules.CodePolicy()
SECRET = "test-secret-key"
PHONE = "13800001234"


def notifier_with(gateway=None) -> Notifier:
    return Notifier(sms_gateway=gateway or gateways.OutboxGateway(), web_push=gateways.WebPush({}),
                    code_policy=POLICY, secret=SECRET, accounts_of=lambda session, citizen_id: [],
                    enqueue=lambda notices: None)


def send(session, clock, phone=PHONE, purpose=rules.PURPOSE_REALNAME, gateway=None):
    return notifier_with(gateway).send_code(session, phone=phone, purpose=purpose, now=clock.now())


def code_in_outbox(session, phone=PHONE) -> str:
    body = services.outbox(session, phone=phone, limit=1)[0].body
    return re.search(r"验证码 (\d{6})", body).group(1)


def consume(session, clock, code, phone=PHONE, purpose=rules.PURPOSE_REALNAME):
    services.consume_code(session, phone=phone, purpose=purpose, code=code, policy=POLICY, secret=SECRET,
                          now=clock.now())


def test_a_code_goes_to_the_outbox_and_only_its_hmac_is_stored(db_session, clock):
    row = send(db_session, clock)
    code = code_in_outbox(db_session)
    assert row.digest != code and code not in row.digest
    message = db_session.scalars(select(SmsMessage)).one()
    assert message.phone == PHONE and message.gateway == "outbox" and message.purpose == "realname"
    assert row.expires_at == clock.now() + timedelta(minutes=5)


def test_the_stored_digest_is_keyed_by_a_derived_key_not_the_app_secret(db_session, clock):
    """Issue 12: a digest keyed by the raw SECRET_KEY ties the SMS codes to every other use of the secret."""
    import hashlib
    import hmac

    row = send(db_session, clock)
    code = code_in_outbox(db_session)
    message = f"realname:{PHONE}:{code}".encode()
    assert row.digest != hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert row.digest == hmac.new(rules.code_key(SECRET), message, hashlib.sha256).hexdigest()


def test_a_code_works_once(db_session, clock):
    send(db_session, clock)
    code = code_in_outbox(db_session)
    consume(db_session, clock, code)
    with pytest.raises(services.BadCode, match="请先获取"):
        consume(db_session, clock, code)


def test_a_code_expires_after_five_minutes(db_session, clock):
    send(db_session, clock)
    code = code_in_outbox(db_session)
    clock.advance(minutes=5)
    with pytest.raises(services.BadCode, match="已过期"):
        consume(db_session, clock, code)


def test_a_code_is_bound_to_its_phone_and_purpose(db_session, clock):
    send(db_session, clock)
    code = code_in_outbox(db_session)
    with pytest.raises(services.BadCode):
        consume(db_session, clock, code, purpose=rules.PURPOSE_RESET)
    with pytest.raises(services.BadCode):
        consume(db_session, clock, code, phone="13800009999")
    consume(db_session, clock, code)


def test_wrong_tries_are_counted_and_the_fifth_burns_the_code(db_session, clock):
    send(db_session, clock)
    code = code_in_outbox(db_session)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    messages = []
    for _ in range(5):
        with pytest.raises(services.BadCode) as caught:
            consume(db_session, clock, wrong)
        messages.append(caught.value.user_message)
    assert messages[0] == "验证码错误，还可尝试 4 次。" and messages[-1] == "验证码错误次数过多，请重新获取。"
    with pytest.raises(services.BadCode, match="次数过多"):
        consume(db_session, clock, code)  # even the right code: it is burnt


def test_a_new_code_replaces_the_earlier_one_after_the_cool_down(db_session, clock):
    send(db_session, clock)
    first = code_in_outbox(db_session)
    with pytest.raises(TooSoon) as caught:
        send(db_session, clock)
    assert caught.value.retry_after == timedelta(seconds=60)
    clock.advance(seconds=60)
    send(db_session, clock)
    second = code_in_outbox(db_session)
    if first != second:
        with pytest.raises(services.BadCode):
            consume(db_session, clock, first)
    consume(db_session, clock, second)


def test_the_sixth_code_within_an_hour_is_refused_and_nothing_is_sent(db_session, clock):
    for _ in range(5):
        send(db_session, clock)
        clock.advance(seconds=61)
    with pytest.raises(QuotaExceeded):
        send(db_session, clock)
    assert db_session.scalar(select(func.count(SmsMessage.id))) == 5
    assert db_session.scalar(select(func.count(SmsCode.id))) == 5


class BrokenGateway:
    name = "broken"

    def send(self, phone, body):
        raise gateways.SmsError("provider down")


def test_a_real_provider_is_not_called_inside_the_request_but_queued_after_the_commit(db_session, clock):
    """Issue 13 point 6: the request records the SMS and leaves it for the queue; nothing reaches the provider
    (here one that fails) while the transaction is open, and the code is still issued."""
    row = send(db_session, clock, gateway=BrokenGateway())
    sms = services.outbox(db_session, phone=PHONE, limit=1)[0]
    assert row.id and sms.gateway == "broken" and sms.gateway_ref is None
    assert [notice for _notifier, notice in db_session.info[PENDING]] == [("sms", sms.id)]


def test_the_embedded_outbox_needs_no_job(db_session, clock):
    send(db_session, clock)
    assert not db_session.info.get(PENDING)


def test_notify_writes_the_in_app_message_and_the_sms(db_session, clock):
    citizen = CitizenFactory()
    notifier_with().notify(db_session, citizen, "审核通过。", clock.now(), url="/account/")
    message = db_session.scalars(select(Message)).one()
    assert (message.citizen_id, message.body, message.url, message.read_at) == (citizen.id, "审核通过。",
                                                                                "/account/", None)
    assert services.outbox(db_session, phone=citizen.phone)[0].body == "【随身证】审核通过。"
    assert services.unread_count(db_session, citizen.id) == 1
    services.mark_read(db_session, citizen.id, clock.now())
    assert services.unread_count(db_session, citizen.id) == 0


def test_one_code_used_by_twelve_simultaneous_requests_on_postgresql(tmp_path_factory, clock):
    """The atomic claim: exactly one of twelve concurrent submissions of the right code succeeds."""
    url, drop = create_database("postgresql", tmp_path_factory)
    engine = make_engine(url, pool_size=12, max_overflow=2)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            send(session, clock)
            session.commit()
            code = code_in_outbox(session)
        def submit() -> str:
            with factory() as session:
                try:
                    consume(session, clock, code)
                    session.commit()
                    return "ok"
                except services.BadCode:
                    session.rollback()
                    return "refused"

        assert race(12, submit) == ["ok"] + ["refused"] * 11
    finally:
        engine.dispose()
        drop()
