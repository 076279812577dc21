"""SMS codes, the SMS outbox, in-app messages and Web Push subscriptions. Services add and flush; the view commits.

Saying something to someone (a notice, an SMS, a code) goes through the Notifier (webapp/notify/notifier.py),
which ``create_app`` builds and passes to services; what is here needs no app.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from webapp.audit import services as audit
from webapp.errors import DomainError, QuotaExceeded, TooSoon
from webapp.lazytext import _l
from webapp.notify import rules
from webapp.notify.models import Message, PushSubscription, SmsCode, SmsMessage


class BadCode(DomainError):
    status = 400
    code = "bad_code"


# --- SMS ----------------------------------------------------------------------------------------------------
def outbox(session: Session, *, phone: str | None = None, limit: int = 50) -> list[SmsMessage]:
    query = select(SmsMessage).order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc()).limit(limit)
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return list(session.scalars(query))


def request_code(session: Session, *, phone: str, purpose: str, policy: rules.CodePolicy, secret: str,
                 now: datetime, deliver: bool = True) -> tuple[SmsCode, str]:
    """A new code for ``phone`` and ``purpose``; earlier unused codes of the same purpose stop working. Returns the
    code's row and the SMS text to send (``Notifier.send_code`` sends it).
    The stored digest is keyed by a key derived from ``secret`` (:func:`rules.code_key`), never by ``secret``.

    ``deliver=False`` (忘记密码 for a phone without an account) does everything the same (cool-down, quota, a
    code row whose tries count) but the SMS says there is no account instead of carrying the code, which nobody
    ever learns: the answers and the work are those of a registered phone.

    :raises TooSoon: within the resend cool-down
    :raises QuotaExceeded: too many codes in the last hour / day
    """
    if purpose not in rules.PURPOSES:
        raise ValueError(purpose)
    sent = list(session.scalars(select(SmsCode.created_at).where(
        SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.created_at > now - timedelta(days=1))))
    refusal = rules.send_refusal(policy, now, sent)
    if refusal is not None:
        if refusal.code == "too_soon":
            raise TooSoon(refusal.message, retry_after=refusal.retry_after)
        error = QuotaExceeded(refusal.message)
        error.retry_after = refusal.retry_after
        raise error
    session.execute(update(SmsCode).where(SmsCode.phone == phone, SmsCode.purpose == purpose,
                                          SmsCode.used_at.is_(None)).values(used_at=now))
    code = f"{secrets.randbelow(10 ** rules.CODE_LENGTH):0{rules.CODE_LENGTH}d}"
    digest = rules.code_digest(rules.code_key(secret), phone, purpose, code)
    row = SmsCode(phone=phone, purpose=purpose, digest=digest, created_at=now, expires_at=now + policy.ttl,
                  attempts=0)
    session.add(row)
    body = rules.code_text(code, purpose, policy.ttl) if deliver else rules.no_account_text(purpose)
    return row, body


def consume_code(session: Session, *, phone: str, purpose: str, code: str, policy: rules.CodePolicy,
                 secret: str, now: datetime) -> None:
    """Accept a code once. Every wrong try counts; after ``max_attempts`` the code is burnt.

    :raises BadCode: wrong, expired, used, burnt, or never sent
    """
    code = (code or "").strip()
    row = session.scalar(select(SmsCode).where(SmsCode.phone == phone, SmsCode.purpose == purpose,
                                               SmsCode.used_at.is_(None))
                         .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))
    if row is None:
        raise BadCode(_l("验证码无效，请先获取验证码。"))
    if now >= row.expires_at:
        raise BadCode(_l("验证码已过期，请重新获取。"))
    if row.attempts >= policy.max_attempts:
        raise BadCode(_l("验证码错误次数过多，请重新获取。"))
    if not rules.well_formed(code) or not secrets.compare_digest(
            row.digest, rules.code_digest(rules.code_key(secret), phone, purpose, code)):
        left = policy.max_attempts - row.attempts - 1
        # Counted in the database, so parallel guesses cannot share one attempt.
        session.execute(update(SmsCode).where(SmsCode.id == row.id).values(attempts=SmsCode.attempts + 1))
        raise BadCode(_l("验证码错误，还可尝试 %(left)s 次。", left=left) if left > 0
                      else _l("验证码错误次数过多，请重新获取。"))
    claimed = session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
                              .values(used_at=now)).rowcount
    if claimed != 1:  # a concurrent request used it first
        raise BadCode(_l("验证码已使用，请重新获取。"))


# --- In-app messages and Web Push ------------------------------------------------------------------------------
def push_payload(message: Message) -> dict:
    """What a push shows: the title, the message and where tapping it leads."""
    return {"title": "随身证", "body": message.body, "url": message.url or "/messages"}


def messages_for(session: Session, citizen_id: int, limit: int = 20) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.citizen_id == citizen_id)
                                .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)))


def unread_count(session: Session, citizen_id: int) -> int:
    return session.scalar(select(func.count(Message.id)).where(Message.citizen_id == citizen_id,
                                                                Message.read_at.is_(None))) or 0


def mark_read(session: Session, citizen_id: int, now: datetime) -> None:
    session.execute(update(Message).where(Message.citizen_id == citizen_id, Message.read_at.is_(None))
                    .values(read_at=now))


def subscribe(session: Session, user_id: int, *, endpoint: str, p256dh: str, auth: str, now: datetime,
              check_endpoint: Callable[[str], object]) -> PushSubscription:
    """Keep (or move to this account) a browser's push subscription.

    :param check_endpoint: the push gateway's check (``WebPush.check_endpoint``: URL rules, fresh DNS, public
        addresses only); it raises :class:`rules.BadPushEndpoint`. Sending checks again (DNS can change).
    :raises DomainError: an endpoint this server will not send to, or keys of the wrong shape (nothing written)
    """
    if not (20 <= len(p256dh) <= 200 and 8 <= len(auth) <= 64):
        raise DomainError(_l("推送订阅无效：密钥格式不正确。请在浏览器中关闭后重新开启消息推送。"),
                          code="bad_subscription")
    try:
        check_endpoint(endpoint)
    except rules.BadPushEndpoint as exc:
        raise DomainError(str(exc), code="bad_subscription") from None
    sub = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if sub is None:
        sub = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now)
        session.add(sub)
    else:
        sub.user_id, sub.p256dh, sub.auth = user_id, p256dh, auth
    session.flush()
    audit.record(session, "push.subscribe", now, actor_type="user", actor_id=user_id,
                 subject_type="push_subscription", subject_id=sub.id)
    return sub


def unsubscribe(session: Session, user_id: int, endpoint: str) -> None:
    session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id,
                                                   PushSubscription.endpoint == endpoint))


def has_subscription(session: Session, user_id: int) -> bool:
    return session.scalar(select(PushSubscription.id).where(PushSubscription.user_id == user_id).limit(1)) is not None


def cooldown_left(session: Session, policy: rules.CodePolicy, *, phone: str, purpose: str, now: datetime) -> int:
    """Whole seconds until a new code may be asked for (0 = now): the page disables 获取验证码 until then."""
    last = session.scalar(select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone,
                                                                      SmsCode.purpose == purpose))
    wait = rules.resend_wait(policy, now, last)
    return rules.whole_seconds(wait) if wait else 0
