"""The Notifier: how a service tells a person something (an in-app message, an SMS, Web Push, an SMS code).

One is built by ``create_app`` from the settings (the SMS gateway, the Web Push sender, the code policy and the
secret the codes are keyed with) and passed to the services that notify, so no service reads the app or behaves
differently outside one.

Nothing leaves inside a transaction. The notifier records what it says (the ``messages`` row, the ``sms_messages``
row, which is the embedded gateway's outbox) and keeps what must go out, each SMS for a real provider and each push,
with the session; once that session commits they are handed together to ``enqueue`` (the task queue's
``notify.sms`` / ``notify.push`` jobs, webapp/notify/tasks.py). A rollback drops them: nobody hears of what did not
happen.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.lazytext import DEFAULT_LOCALE, render
from webapp.notify import gateway as gateways
from webapp.notify import rules, services
from webapp.notify.models import Message, PushSubscription, SmsCode, SmsMessage
from webapp.registry.models import Citizen

#: ``session.info`` key: [(notifier, ("push", message_id, subscription_id) | ("sms", sms_message_id)), …]
PENDING = "suishen.pending_notices"

#: One thing to send after the commit: ("push", message id, subscription id) or ("sms", sms message id).
Notice = tuple


def _no_locale(session: Session, citizen_id: int) -> str | None:
    return None


class Notifier:
    """:param accounts_of: ``(session, citizen_id) -> [user id, …]``, the accounts whose browsers get a push (the
        accounts domain's lookup: notify itself knows no accounts)
    :param enqueue: takes the notices of one commit and puts them on the task queue
    :param locale_of: ``(session, citizen_id) -> locale or None``, the language the citizen's account keeps (the
        accounts domain's too): a notice is written in it, zh-CN when there is none, whoever caused it
    """

    def __init__(self, *, sms_gateway: gateways.SmsGateway, web_push: gateways.WebPush,
                 code_policy: rules.CodePolicy, secret: str,
                 accounts_of: Callable[[Session, int], Sequence[int]],
                 enqueue: Callable[[list[Notice]], None],
                 locale_of: Callable[[Session, int], str | None] = _no_locale) -> None:
        self.sms_gateway = sms_gateway
        self.web_push = web_push
        self.code_policy = code_policy
        self._secret = secret
        self._accounts_of = accounts_of
        self._enqueue = enqueue
        self._locale_of = locale_of

    @classmethod
    def from_config(cls, config, *, sms_gateway: gateways.SmsGateway | None = None, **wiring) -> Notifier:
        return cls(sms_gateway=sms_gateway or gateways.load_sms_gateway(config), web_push=gateways.WebPush(config),
                   code_policy=rules.CodePolicy.from_config(config), secret=config["SECRET_KEY"], **wiring)

    # --- what services say ---------------------------------------------------------------------------------
    def notify(self, session: Session, citizen: Citizen, body: str, now: datetime, *, url: str | None = None,
               purpose: str = "notice", user_id: int | None = None) -> Message:
        """One notice to a citizen: an in-app message, an SMS to the phone on file, and Web Push to every browser
        of their account that allowed it (``user_id``: that account only). Sent after the commit. ``body`` (a lazy
        text, webapp/lazytext.py) is written in the language of the citizen's account."""
        text = render(body, self._locale_of(session, citizen.id) or DEFAULT_LOCALE)
        message = Message(citizen_id=citizen.id, phone=citizen.phone or "", body=text, url=url, created_at=now)
        session.add(message)
        if citizen.phone:
            self.send_sms(session, citizen.phone, rules.signed(text), purpose, now)
        user_ids = [user_id] if user_id else list(self._accounts_of(session, citizen.id))
        session.flush()
        for sub_id in session.scalars(select(PushSubscription.id).where(PushSubscription.user_id.in_(user_ids))):
            self._after_commit(session, ("push", message.id, sub_id))
        return message

    def send_sms(self, session: Session, phone: str, body: str, purpose: str, now: datetime) -> SmsMessage:
        """Record a message in ``sms_messages`` (the outbox of the embedded gateway, the log of a real one); a real
        provider gets it from the task queue after the commit (``notify.sms``, retried on a provider error), so a
        slow provider never holds a request and a rolled-back request sends nothing. A lazy ``body`` is written in
        the request's language (the caller renders one for someone else: ``rules.signed(body, locale)``)."""
        message = SmsMessage(phone=phone, body=render(body), purpose=purpose, created_at=now, gateway=self.sms_gateway.name)
        session.add(message)
        session.flush()
        if not isinstance(self.sms_gateway, gateways.OutboxGateway):
            self._after_commit(session, ("sms", message.id))
        return message

    def send_code(self, session: Session, *, phone: str, purpose: str, now: datetime,
                  deliver: bool = True) -> SmsCode:
        """A new SMS code (:func:`services.request_code` with this app's policy and secret).

        :raises TooSoon, QuotaExceeded: see there
        """
        code, body = services.request_code(session, phone=phone, purpose=purpose, policy=self.code_policy,
                                           secret=self._secret, now=now, deliver=deliver)
        self.send_sms(session, phone, rules.signed(body), purpose, now)  # for whoever asked: the request's language
        return code

    def check_code(self, session: Session, *, phone: str, purpose: str, code: str, now: datetime) -> None:
        """:func:`services.consume_code` with this app's policy and secret. :raises BadCode:"""
        services.consume_code(session, phone=phone, purpose=purpose, code=code, policy=self.code_policy,
                              secret=self._secret, now=now)

    def cooldown_left(self, session: Session, *, phone: str, purpose: str, now: datetime) -> int:
        """Whole seconds until a new code may be asked for (0 = now): the page disables 获取验证码 until then."""
        return services.cooldown_left(session, self.code_policy, phone=phone, purpose=purpose, now=now)

    # --- after the commit ------------------------------------------------------------------------------------
    def _after_commit(self, session: Session, notice: Notice) -> None:
        session.info.setdefault(PENDING, []).append((self, notice))

    def send_pending(self, notices: list[Notice]) -> None:
        self._enqueue(notices)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    by_notifier: dict[Notifier, list[Notice]] = {}
    for notifier, notice in session.info.pop(PENDING, ()):
        by_notifier.setdefault(notifier, []).append(notice)
    for notifier, notices in by_notifier.items():
        notifier.send_pending(notices)


@event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit: nobody is notified
        session.info.pop(PENDING, None)
