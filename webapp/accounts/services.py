"""Registration and sign-in. Services add and flush; the view commits."""
from __future__ import annotations

import secrets
from datetime import datetime

import numpy as np
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import images, normalise
from webapp.accounts import rules, throttle
from webapp.accounts.models import IdentityReview, User
from webapp.audit import services as audit
from webapp.db import add_unique
from webapp.errors import Conflict, DomainError, NotFound
from webapp.lazytext import DEFAULT_LOCALE, _l
from webapp.notify import rules as sms_rules
from webapp.notify import services as notices
from webapp.notify.notifier import Notifier
from webapp.proofing import engine
from webapp.proofing import services as proofing
from webapp.registry import rules as registry_rules
from webapp.registry import services as registry
from webapp.workdays import review_due

# A hash to compare against when the account does not exist, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-password-0")


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"


def register(session: Session, *, phone: str, password: str, name: str, id_number: str,
             now: datetime, locale: str | None = None) -> User:
    """Create an unverified account for a registry citizen; ``locale``: the language they registered in (their
    SMS and messages are written in it).

    :raises InvalidIdNumber: the ID number is invalid (checked first)
    :raises IdentityMismatch: name and number do not match the registry
    :raises Conflict: the phone or the ID number already has an account
    """
    citizen = registry.check_identity(session, id_number, name, now)
    phone = registry_rules.validate_phone(phone)
    problem = rules.password_problem(password)
    if problem:
        raise DomainError(problem, code="weak_password")
    if session.scalar(select(User.id).where(User.citizen_id == citizen.id)) is not None:
        raise Conflict(_l("该身份证号已注册账号，请直接登录。"))
    if session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise Conflict(_l("该手机号已注册，请直接登录或更换手机号。"))
    user = User(phone=phone, password_hash=generate_password_hash(password), citizen=citizen,
                level=rules.LEVEL_UNVERIFIED, created_at=now, locale=locale)
    # A concurrent double-submit gets past the checks above; the unique constraints decide.
    add_unique(session, user, _l("该手机号或身份证号已注册，请直接登录。"))
    audit.record(session, "account.register", now, actor_type="user", actor_id=user.id,
                 subject_type="user", subject_id=user.id, citizen_id=citizen.id)
    return user


def authenticate(session: Session, *, account: str, password: str, now: datetime,
                 policy: rules.ThrottlePolicy = rules.ThrottlePolicy(), locale: str | None = None) -> User:
    """Sign in with phone number or ID number, under the per-identifier throttle (throttle.guarded); ``locale``:
    the language signed in with, kept for the SMS and messages sent to them later.

    :raises BadCredentials: unknown account or wrong password (one message for both)
    :raises LoginLocked: too many failures in a row for this identifier, known or not (one message for both)
    """
    account = normalise.normalise_account(account)

    def check() -> User:
        user = session.scalar(
            select(User).join(User.citizen).where(
                or_(User.phone == account, User.citizen.has(id_number=account))
            )
        )
        if user is None:
            check_password_hash(_DUMMY_HASH, password or "")
            # Recorded as for an account (the same work), with no account and not what was typed.
            audit.record(session, "account.login_failed", now, actor_type="user", unknown_account=True)
            raise BadCredentials(_l("账号或密码错误。"))
        if not check_password_hash(user.password_hash, password or ""):
            audit.record(session, "account.login_failed", now, actor_type="user", actor_id=user.id,
                         citizen_id=user.citizen_id)
            raise BadCredentials(_l("账号或密码错误。"))
        return user

    user = throttle.guarded(session, rules.throttle_key("citizen", account), policy=policy, now=now, check=check,
                            refused=BadCredentials)
    user.last_login_at = now
    if locale is not None:
        remember_locale(session, user, locale)
    audit.record(session, "account.login", now, actor_type="user", actor_id=user.id,
                 citizen_id=user.citizen_id)
    return user


def user_ids_of(session: Session, citizen_id: int) -> list[int]:
    """The accounts of a citizen (the Notifier pushes to their browsers)."""
    return list(session.scalars(select(User.id).where(User.citizen_id == citizen_id)))


def locale_of(session: Session, citizen_id: int) -> str | None:
    """The language the citizen's account keeps (None: never chosen, zh-CN); the Notifier writes in it."""
    return session.scalar(select(User.locale).where(User.citizen_id == citizen_id, User.locale.is_not(None)).limit(1))


def remember_locale(session: Session, user: User, locale: str) -> None:
    """The language later SMS, messages and pushes to this holder are written in."""
    user.locale = locale
    session.flush()


def end_sessions(session: Session, principal, now: datetime, *, why: str) -> None:
    """End every session of this account opened so far, on every device (auth.load_principal compares the
    generation each request carries): logging out, a new password, 面签. ``principal`` is a citizen's
    :class:`User` or an officer: both tables carry ``session_generation``."""
    model = type(principal)
    session.execute(update(model).where(model.id == principal.id)
                    .values(session_generation=model.session_generation + 1)
                    .execution_options(synchronize_session=False))
    session.expire(principal, ["session_generation"])
    kind, actor = ("officer", "officer") if principal.is_officer else ("account", "user")
    audit.record(session, f"{kind}.sessions_ended", now, actor_type=actor, actor_id=principal.id,
                 subject_type=actor, subject_id=principal.id, citizen_id=getattr(principal, "citizen_id", None),
                 why=why)


# 实人认证 through the reusable proofing step (liveness + face match against the registry portrait).
REALPERSON_PURPOSE = "account_realperson"


def complete_realperson(session: Session, user: User, challenge_public_id: str, now: datetime) -> None:
    """实人认证 by 刷脸: the citizen passed the proofing step started for it; use the pass (once) and raise the
    account to the full level.

    :raises NotProven: no usable pass of this citizen for 实人认证 (unknown, used, failed, too old)
    """
    proofing.consume(session, challenge_public_id, purpose=REALPERSON_PURPOSE, citizen_id=user.citizen_id, now=now)
    set_level(session, user, rules.LEVEL_REALPERSON, now, how=rules.BY_LIVENESS)


def set_level(session: Session, user: User, level: str, now: datetime, *, how: str) -> None:
    if level not in rules.LEVELS:
        raise ValueError(level)
    user.level = level
    user.verified_by = how
    audit.record(session, "account.level", now, actor_type="user", actor_id=user.id,
                 subject_type="user", subject_id=user.id, citizen_id=user.citizen_id, level=level, how=how)
    session.flush()


# --- 实名认证 by SMS (limited account) and 忘记密码 -----------------------------------------------------------
def send_realname_code(session: Session, user: User, now: datetime, notifier: Notifier) -> str:
    """Send the 实名认证 code to the phone on file; returns it masked for the page.

    :raises DomainError: the account cannot use SMS (see rules.realname_refusal); TooSoon / QuotaExceeded
    """
    refusal = rules.realname_refusal(user.level, user.phone, user.citizen.phone)
    if refusal:
        raise DomainError(refusal, code="realname_refused")
    notifier.send_code(session, phone=user.phone, purpose=sms_rules.PURPOSE_REALNAME, now=now)
    return registry_rules.mask_phone(user.phone)


def confirm_realname(session: Session, user: User, code: str, now: datetime, notifier: Notifier) -> None:
    """:raises DomainError: refused; BadCode: wrong, expired or used code"""
    refusal = rules.realname_refusal(user.level, user.phone, user.citizen.phone)
    if refusal:
        raise DomainError(refusal, code="realname_refused")
    notifier.check_code(session, phone=user.phone, purpose=sms_rules.PURPOSE_REALNAME, code=code, now=now)
    set_level(session, user, rules.LEVEL_REALNAME, now, how=rules.BY_SMS)


def send_reset_code(session: Session, phone: str, now: datetime, notifier: Notifier) -> None:
    """A code to set a new password goes only to a registered phone. A phone without an account goes through
    the very same steps (cool-down, quota, a code row whose tries count, one SMS, which says there is no
    account): neither the page, nor a second request, nor the work done tells who has an account.

    :raises ValueError: not a phone number; TooSoon / QuotaExceeded
    """
    phone = registry_rules.validate_phone(phone)
    registered = session.scalar(select(User.id).where(User.phone == phone)) is not None
    notifier.send_code(session, phone=phone, purpose=sms_rules.PURPOSE_RESET, now=now, deliver=registered)


def reset_password(session: Session, *, phone: str, code: str, password: str, now: datetime,
                   notifier: Notifier) -> User:
    """:raises ValueError: phone format; DomainError: weak password; BadCode: wrong/expired/used code"""
    phone = registry_rules.validate_phone(phone)
    problem = rules.password_problem(password)
    if problem:
        raise DomainError(problem, code="weak_password")
    notifier.check_code(session, phone=phone, purpose=sms_rules.PURPOSE_RESET, code=code, now=now)
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:  # a code exists only for a registered phone; the account was removed since
        raise notices.BadCode(_l("验证码无效，请重新获取。"))
    user.password_hash = generate_password_hash(password)
    audit.record(session, "account.password_set", now, actor_type="user", actor_id=user.id,
                 subject_type="user", subject_id=user.id, citizen_id=user.citizen_id)
    session.flush()
    # Whoever held the old password (or a copied cookie) is signed out everywhere.
    end_sessions(session, user, now, why="password_set")
    return user


# --- 实人认证 by manual review of the ID card ---------------------------------------------------------------
def _id_card_image(data: bytes, side: str) -> np.ndarray:
    if len(data) > rules.ID_CARD_MAX_BYTES:
        raise DomainError(_l("%(side)s照片超过 10 MB，请压缩后重新上传。", side=side), code="too_large")
    try:
        return engine.decode_portrait(data)
    except engine.PortraitError:
        raise DomainError(_l("%(side)s照片无法识别，请上传 JPEG、PNG 或 WebP 格式的清晰照片。", side=side),
                          code="bad_image") from None


def submit_id_card(session: Session, user: User, *, front: bytes, back: bytes, now: datetime) -> IdentityReview:
    """Queue both sides of the ID card for a reviewer; due within 1 working day. The face on the 人像面 is
    compared with the registry portrait as a hint for the reviewer only.

    :raises DomainError: wrong level, unreadable images; Conflict: a review is already pending
    """
    refusal = rules.id_card_refusal(user.level)
    if refusal:
        raise DomainError(refusal, code="id_card_refused")
    front_image = _id_card_image(front, _l("人像面"))
    back_image = _id_card_image(back, _l("国徽面"))
    distance = None
    if user.citizen.portrait_encoding is not None:
        try:
            distance = engine.distance_to(user.citizen.portrait_encoding, engine.encode_face(front_image))
        except engine.PortraitError:
            distance = None
    review = IdentityReview(
        public_id=secrets.token_urlsafe(12), user_id=user.id, status=rules.REVIEW_PENDING,
        front=images.to_jpeg(images.fit_width(front_image, rules.ID_CARD_STORED_WIDTH)),
        back=images.to_jpeg(images.fit_width(back_image, rules.ID_CARD_STORED_WIDTH)),
        face_distance=distance, submitted_at=now, due_at=review_due(now))
    add_unique(session, review, _l("您已提交身份证照片，正在审核中，请耐心等待。"))
    audit.record(session, "account.id_card_submitted", now, actor_type="user", actor_id=user.id,
                 subject_type="identity_review", subject_id=review.id, citizen_id=user.citizen_id)
    return review


def pending_review(session: Session, user_id: int) -> IdentityReview | None:
    return session.scalar(select(IdentityReview).where(IdentityReview.user_id == user_id)
                          .order_by(IdentityReview.submitted_at.desc(), IdentityReview.id.desc()).limit(1))


def identity_review_queue(session: Session) -> list[IdentityReview]:
    return list(session.scalars(select(IdentityReview).where(IdentityReview.status == rules.REVIEW_PENDING)
                                .order_by(IdentityReview.due_at, IdentityReview.id)))


def decide_identity_review(session: Session, public_id: str, *, approve: bool, reason: str, reviewer,
                           now: datetime, notifier: Notifier) -> IdentityReview:
    """Approve (the account becomes 实人认证) or reject with a reason; the holder is told by SMS, in-app
    message and Web Push. A review already decided (by another reviewer) is refused.

    :raises NotFound, Conflict, DomainError: no reason for a rejection
    """
    review = session.scalar(select(IdentityReview).where(IdentityReview.public_id == public_id))
    if review is None:
        raise NotFound(_l("未找到该审核申请。"))
    reason = (reason or "").strip()
    if not approve and not reason:
        raise DomainError(_l("请填写不通过的原因，申请人将收到该原因。"), code="reason_required")
    status = rules.REVIEW_APPROVED if approve else rules.REVIEW_REJECTED
    # One atomic transition: two reviewers deciding at once cannot both win.
    claimed = session.execute(
        update(IdentityReview).where(IdentityReview.id == review.id, IdentityReview.status == rules.REVIEW_PENDING)
        .values(status=status, decided_at=now, reviewer_id=reviewer.id, reason=reason or None)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise Conflict(_l("该申请已被审核。"))
    session.refresh(review)
    user = review.user
    if approve:
        set_level(session, user, rules.LEVEL_REALPERSON, now, how=rules.BY_ID_CARD)
        body = _l("您提交的身份证照片已审核通过，账号已完成实人认证，可使用全部功能。")
    else:
        body = _l("您提交的身份证照片未通过审核：%(reason)s。请重新上传或到公安交管窗口面签。", reason=reason)
    notifier.notify(session, user.citizen, body, now, url="/account/", purpose="identity_review", user_id=user.id)
    audit.record(session, "account.id_card_review", now, actor_type="officer", actor_id=reviewer.id,
                 subject_type="identity_review", subject_id=review.id, citizen_id=user.citizen_id,
                 approved=approve, reason=reason or None, late=now > review.due_at)
    return review


# --- 面签 at a police window -------------------------------------------------------------------------------
def face_to_face(session: Session, *, officer, id_number: str, name: str, phone: str, now: datetime,
                 notifier: Notifier) -> tuple[User, bool]:
    """The officer has checked the person against the ID card and the registry portrait: create a full account
    (or raise an existing one to 实人认证). A new account has no password yet: an SMS tells the holder to set
    one with a code to this phone. Returns (user, created).

    :raises InvalidIdNumber, IdentityMismatch, ValueError (phone), Conflict (phone used by someone else)
    """
    citizen = registry.check_identity(session, id_number, name, now)
    phone = registry_rules.validate_phone(phone)
    user = session.scalar(select(User).where(User.citizen_id == citizen.id))
    other = session.scalar(select(User).where(User.phone == phone))
    if other is not None and (user is None or other.id != user.id):
        raise Conflict(_l("该手机号已被其他账号使用，请申请人更换手机号。"))
    created = user is None
    if created:
        user = User(phone=phone, password_hash=rules.UNUSABLE_PASSWORD, citizen=citizen,
                    level=rules.LEVEL_UNVERIFIED, created_at=now)
        add_unique(session, user, _l("该申请人刚刚完成了注册，请刷新后重试。"))
    set_level(session, user, rules.LEVEL_REALPERSON, now, how=rules.BY_FACE_TO_FACE)
    if not created:
        # The holder proved who they are at the window: whoever else was signed in to this account is not.
        end_sessions(session, user, now, why="face_to_face")
    audit.record(session, "account.face_to_face", now, actor_type="officer", actor_id=officer.id,
                 subject_type="user", subject_id=user.id, citizen_id=citizen.id, created=created)
    if created:
        body = _l("您已在公安交管窗口完成面签，账号已实人认证。请在随身证登录页点击“忘记密码”，用本手机号 %(phone)s "
                  "获取验证码设置登录密码。", phone=registry_rules.mask_phone(phone))
    else:
        body = _l("您已在公安交管窗口完成面签，账号已实人认证。")
    # In the holder's language (zh-CN for a new account), not the officer's.
    notifier.send_sms(session, phone, sms_rules.signed(body, user.locale or DEFAULT_LOCALE), "face_to_face", now)
    return user, created
