"""Registration and sign-in. Services add and flush; the view commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.accounts import rules
from webapp.accounts.models import User
from webapp.audit import services as audit
from webapp.errors import Conflict, DomainError
from webapp.registry import rules as registry_rules
from webapp.registry import services as registry

# A hash to compare against when the account does not exist, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-password-0")


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"


def register(session: Session, *, phone: str, password: str, name: str, id_number: str,
             now: datetime) -> User:
    """Create an unverified account for a registry citizen.

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
        raise Conflict("该身份证号已注册账号，请直接登录。")
    if session.scalar(select(User.id).where(User.phone == phone)) is not None:
        raise Conflict("该手机号已注册，请直接登录或更换手机号。")
    user = User(phone=phone, password_hash=generate_password_hash(password), citizen=citizen,
                level=rules.LEVEL_UNVERIFIED, created_at=now)
    try:
        # A concurrent double-submit gets past the checks above; the unique constraints decide.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict("该手机号或身份证号已注册，请直接登录。") from None
    audit.record(session, "account.register", now, actor_type="user", actor_id=user.id,
                 subject_type="user", subject_id=user.id, citizen_id=citizen.id)
    return user


def authenticate(session: Session, *, account: str, password: str, now: datetime) -> User:
    """Sign in with phone number or ID number.

    :raises BadCredentials: unknown account or wrong password (one message for both)
    """
    account = (account or "").strip().upper()
    user = session.scalar(
        select(User).join(User.citizen).where(
            or_(User.phone == account, User.citizen.has(id_number=account))
        )
    )
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise BadCredentials("账号或密码错误。")
    if not check_password_hash(user.password_hash, password or ""):
        audit.record(session, "account.login_failed", now, actor_type="user", actor_id=user.id,
                     citizen_id=user.citizen_id)
        raise BadCredentials("账号或密码错误。")
    user.last_login_at = now
    audit.record(session, "account.login", now, actor_type="user", actor_id=user.id,
                 citizen_id=user.citizen_id)
    return user


def set_level(session: Session, user: User, level: str, now: datetime, *, how: str) -> None:
    if level not in rules.LEVELS:
        raise ValueError(level)
    user.level = level
    audit.record(session, "account.level", now, actor_type="user", actor_id=user.id,
                 subject_type="user", subject_id=user.id, citizen_id=user.citizen_id, level=level, how=how)
    session.flush()
