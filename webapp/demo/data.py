"""Demo data (SUISHEN_DEMO=1 only): the demo registry plus accounts to sign in with.

`flask --app app registry demo` writes the demo citizens and licences, then ONE citizen account at the full level
(实人认证) and one officer per role, and prints their logins. The passwords are derived from SECRET_KEY (HMAC),
so they are the same on every run and printed on every run, without storing them anywhere and without a fixed
password anyone could read in this repository; a new secret key gives new passwords, set on the next run.

Idempotent: a second run creates nothing and duplicates nothing; it only puts back what a demo login needs (the
password, the role, the account level) if something changed it. Services: add and flush, the CLI commits.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import roles
from webapp.accounts import rules as account_rules
from webapp.accounts import services as accounts
from webapp.accounts.models import User
from webapp.audit import services as audit
from webapp.errors import Conflict
from webapp.officer import services as officers
from webapp.officer.models import Officer
from webapp.registry import services as registry
from webapp.timeutil import local_date

DEMO_VERIFIED_BY = "demo"  # User.verified_by of the demo account: no 实人核验 took place
DEMO_OFFICER_PREFIX = "demo-"  # demo-railway, demo-police, demo-traffic, demo-reviewer, demo-admin
_LABEL = b"suishen demo-login v1:"


@dataclass(frozen=True)
class DemoLogin:
    kind: str        # "citizen" | "officer"
    login: str       # phone number (citizen) or username (officer)
    password: str
    label: str       # who it is, in Chinese
    url: str         # the sign-in page
    created: bool    # False: it existed (its password, role and level were checked and put back if changed)


def demo_password(secret_key: str, login: str) -> str:
    """A password for a demo login, stable for this secret key: passes both password rules (an officer's
    at least 10 characters; letters and digits). Pure."""
    digest = hmac.new(secret_key.encode("utf-8"), _LABEL + login.encode("utf-8"), hashlib.sha256).digest()
    letters = base64.b32encode(digest[:10]).decode("ascii").lower().rstrip("=")[:8]
    return f"Demo-{letters}-{int.from_bytes(digest[10:12], 'big') % 9000 + 1000}"


def _set_password_if_changed(account, password: str) -> None:
    if not check_password_hash(account.password_hash, password):
        account.password_hash = generate_password_hash(password)


def ensure_demo_citizen_account(session: Session, *, secret_key: str, now: datetime) -> DemoLogin:
    """The account of the first demo citizen (李明, who also holds a driving licence), 实人认证.

    :raises Conflict: the demo phone number belongs to another citizen's account (nothing is written)
    """
    person = next(iter(registry.iter_demo_people(local_date(now))))
    citizen = registry.find_citizen(session, person["id_number"])
    if citizen is None:
        citizen, _ = registry.upsert_citizen(session, portrait=None, now=now, **person)
    password = demo_password(secret_key, person["phone"])
    user = session.scalar(select(User).where(User.citizen_id == citizen.id))
    created = user is None
    if user is None:
        other = session.scalar(select(User).where(User.phone == person["phone"]))
        if other is not None:
            raise Conflict(f"演示手机号 {person['phone']} 已被其他账号使用，未创建演示账号。")
        user = accounts.register(session, phone=person["phone"], password=password, name=person["name"],
                                 id_number=person["id_number"], now=now)
    else:
        _set_password_if_changed(user, password)
    if user.level != account_rules.LEVEL_REALPERSON:
        accounts.set_level(session, user, account_rules.LEVEL_REALPERSON, now, how=DEMO_VERIFIED_BY)
    session.flush()
    return DemoLogin("citizen", user.phone, password, f"演示旅客/驾驶人 {person['name']}（实人认证）",
                     "/account/login", created)


def ensure_demo_officers(session: Session, *, secret_key: str, now: datetime) -> list[DemoLogin]:
    """One active officer per role, named demo-<role>."""
    logins = []
    for role in roles.ROLES:
        username = DEMO_OFFICER_PREFIX + role
        password = demo_password(secret_key, username)
        officer = session.scalar(select(Officer).where(Officer.username == username))
        created = officer is None
        if officer is None:
            officer = officers.create_officer(session, username=username, password=password, role=role, now=now)
        else:
            _set_password_if_changed(officer, password)
            if officer.role != role or not officer.active:
                officer.role, officer.active = role, True
                audit.record(session, "officer.demo_restored", now, subject_type="officer",
                             subject_id=officer.id, role=role)
        logins.append(DemoLogin("officer", username, password, roles.ROLE_LABELS[role], "/officer/login",
                                created))
    session.flush()
    return logins


def write_demo_data(session: Session, *, secret_key: str, now: datetime) -> tuple[list[DemoLogin], list[str]]:
    """The demo registry (citizens, licences) and the demo logins. Returns (logins to print, warnings).

    A demo login that cannot be made (a visitor registered the demo phone number for another citizen) is a
    warning, not a failure: the rest lands, and `make run` still starts.
    """
    today = local_date(now)
    for person in registry.iter_demo_people(today):
        registry.upsert_citizen(session, portrait=None, now=now, **person)
    for row in registry.demo_licences(today):
        registry.upsert_licence(session, row, now)
    logins, warnings = [], []
    try:
        with session.begin_nested():
            logins.append(ensure_demo_citizen_account(session, secret_key=secret_key, now=now))
    except Conflict as exc:
        warnings.append(exc.user_message)
    logins.extend(ensure_demo_officers(session, secret_key=secret_key, now=now))
    return logins, warnings
