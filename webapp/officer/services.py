"""Officer accounts, API keys and paper certificates. Services add and flush; the caller commits."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import roles
from webapp.accounts import rules as account_rules
from webapp.accounts import throttle
from webapp.audit import services as audit
from webapp.db import add_unique
from webapp.errors import DomainError, NotFound
from webapp.lazytext import _l
from webapp.officer import rules
from webapp.officer.models import ApiKey, Officer, PaperCertificate
from webapp.registry import rules as registry_rules
from webapp.registry import services as registry
from webapp.timeutil import local_date, to_local

_DUMMY_HASH = generate_password_hash("not-a-password-0")


class BadCredentials(DomainError):
    status = 401
    code = "bad_credentials"


class BadApiKey(DomainError):
    status = 401
    code = "invalid_api_key"


def create_officer(session: Session, *, username: str, password: str, role: str, now: datetime) -> Officer:
    """:raises DomainError: bad username/role, weak password; :raises Conflict: the username is taken"""
    username = (username or "").strip().lower()
    problem = rules.username_problem(username)
    if problem:
        raise DomainError(problem, code="bad_username")
    if role not in roles.ROLES:
        raise DomainError(_l("角色须为 %(roles)s 之一。", roles=" / ".join(roles.ROLES)), code="bad_role")
    problem = rules.officer_password_problem(password)
    if problem:
        raise DomainError(problem, code="weak_password")
    officer = Officer(username=username, password_hash=generate_password_hash(password), role=role,
                      active=True, created_at=now)
    add_unique(session, officer, _l("用户名 %(username)s 已存在。", username=username))
    audit.record(session, "officer.create", now, subject_type="officer", subject_id=officer.id, role=role)
    return officer


def authenticate(session: Session, *, username: str, password: str, now: datetime,
                 policy: account_rules.ThrottlePolicy = account_rules.ThrottlePolicy()) -> Officer:
    """Under the per-username throttle (accounts.throttle.guarded), as citizens.

    :raises BadCredentials: unknown, inactive or wrong password (one message for all)
    :raises LoginLocked: too many failures in a row for this username, known or not (one message for both)
    """
    username = (username or "").strip().lower()

    def check() -> Officer:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        if officer is None or not officer.active:
            check_password_hash(_DUMMY_HASH, password or "")
            # Recorded as for an officer (the same work), with no account and not what was typed.
            audit.record(session, "officer.login_failed", now, actor_type="officer", unknown_account=True)
            raise BadCredentials(_l("用户名或密码错误。"))
        if not check_password_hash(officer.password_hash, password or ""):
            audit.record(session, "officer.login_failed", now, actor_type="officer", actor_id=officer.id)
            raise BadCredentials(_l("用户名或密码错误。"))
        return officer

    officer = throttle.guarded(session, account_rules.throttle_key("officer", username), policy=policy, now=now,
                               check=check, refused=BadCredentials)
    officer.last_login_at = now
    audit.record(session, "officer.login", now, actor_type="officer", actor_id=officer.id, role=officer.role)
    return officer


def load_officer(session: Session, officer_id: int) -> Officer | None:
    """The session loader: a deactivated officer is logged out at the next request."""
    officer = session.get(Officer, officer_id)
    return officer if officer is not None and officer.active else None


def create_api_key(session: Session, *, name: str, scope: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key; returns (row, the raw key). The raw key is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError(_l("名称须为 1–64 个字符。"), code="bad_name")
    if scope not in rules.SCOPES:
        raise DomainError(_l("范围须为 %(scopes)s 之一。", scopes=" / ".join(rules.SCOPES)), code="bad_scope")
    raw = rules.API_KEY_PREFIX + secrets.token_urlsafe(rules.API_KEY_BYTES)
    key = ApiKey(name=name, key_hash=rules.hash_api_key(raw), prefix=rules.display_prefix(raw), scope=scope,
                 created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, "apikey.create", now, subject_type="api_key", subject_id=key.id, scope=scope)
    return key, raw


def find_api_key(session: Session, raw: str, *, scope: str) -> ApiKey:
    """The active key with this value and scope.

    :raises BadApiKey: unknown, revoked or out of scope (one message for all)
    """
    raw = (raw or "").strip()
    if not rules.looks_like_api_key(raw):
        raise BadApiKey(_l("API 密钥无效。"))
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == rules.hash_api_key(raw)))
    if key is None or key.revoked or key.scope != scope:
        raise BadApiKey(_l("API 密钥无效。"))
    return key


@dataclass(frozen=True)
class KnownApiKey:
    """What a request needs of a key that checked out: who it is (audit actor) and its scope."""

    id: int
    scope: str


class ApiKeyCache:
    """Remembers, for ``ttl``, keys that :func:`find_api_key` found active, so a gate's scans do not each
    look their key up in the database.

    Only keys that checked out are remembered (an unknown, revoked or out-of-scope key always goes to the
    database), by hash, never the raw key. The cache is per process and nothing relies on it being shared
    (SPEC 10): a revoked key therefore stops working on every worker within ``ttl`` of the revocation.
    ``ttl`` of zero turns the cache off.
    """

    def __init__(self, ttl: timedelta, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[datetime, KnownApiKey]] = {}

    def cached(self, raw: str, *, scope: str, now: datetime) -> KnownApiKey | None:
        """The key if this worker saw it check out within ``ttl``, without asking the database; else None."""
        hit = self._entries.get((rules.hash_api_key((raw or "").strip()), scope))
        # A clock that stepped back must not stretch an entry's life, hence the lower bound too.
        if hit is not None and hit[0] <= now < hit[0] + self.ttl:
            return hit[1]
        return None

    def find(self, session: Session, raw: str, *, scope: str, now: datetime) -> KnownApiKey:
        """:raises BadApiKey: as :func:`find_api_key` (the cache never remembers a refusal)"""
        raw = (raw or "").strip()
        known = self.cached(raw, scope=scope, now=now)
        if known is not None:
            return known
        slot = (rules.hash_api_key(raw), scope)
        key = find_api_key(session, raw, scope=scope)
        known = KnownApiKey(id=key.id, scope=key.scope)
        if self.ttl > timedelta(0):
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] <= now < v[0] + self.ttl}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[slot] = (now, known)
        return known


def revoke_api_key(session: Session, prefix: str, now: datetime) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    if key is None:
        raise NotFound(_l("没有该前缀的有效密钥。"))
    key.revoked_at = now
    audit.record(session, "apikey.revoke", now, subject_type="api_key", subject_id=key.id)
    return key


def record_paper(session: Session, *, officer: Officer, name: str, id_number: str, station: str,
                 now: datetime) -> PaperCertificate:
    """Record a paper temporary travel ID issued at the window; linked to the registry citizen when known.

    :raises InvalidIdNumber: the ID number is not valid (checked first)
    :raises DomainError: the name does not match the registry, or no station
    """
    resident = registry_rules.parse_resident_id(id_number, local_date(now))
    station = (station or "").strip()
    try:
        name = registry_rules.validate_name(name)
    except ValueError as exc:
        raise DomainError(str(exc), code="bad_name") from None
    if not station:
        raise DomainError(_l("请填写发证车站。"), code="bad_station")
    citizen = registry.find_citizen(session, resident.number)
    if citizen is not None and not registry_rules.same_name(citizen.name, name):
        raise DomainError(_l("姓名与身份证号不一致，请核对证件。"), code="identity_mismatch")
    serial = f"{rules.PAPER_SERIAL_PREFIX}{to_local(now):%Y%m%d}{secrets.token_hex(4).upper()}"
    paper = PaperCertificate(serial=serial, name=name, id_number=resident.number,
                             citizen_id=citizen.id if citizen else None, issuing_station=station,
                             officer=officer, issued_at=now)
    session.add(paper)
    session.flush()
    audit.record(session, "paper.issue", now, actor_type="officer", actor_id=officer.id,
                 subject_type="paper_certificate", subject_id=paper.id,
                 citizen_id=paper.citizen_id, station=station, role=officer.role)
    return paper


def get_paper(session: Session, serial: str) -> PaperCertificate:
    paper = session.scalar(select(PaperCertificate).where(PaperCertificate.serial == serial))
    if paper is None:
        raise NotFound(_l("未找到该纸质证明。"))
    return paper


def papers_for(session: Session, citizen_id: int, id_number: str, since: datetime) -> list[PaperCertificate]:
    """The holder's paper certificates since an instant (matched by citizen, or by ID number if recorded
    before the citizen was in the registry)."""
    return list(session.scalars(
        select(PaperCertificate)
        .where(or_(PaperCertificate.citizen_id == citizen_id, PaperCertificate.id_number == id_number),
               PaperCertificate.issued_at >= since)
        .order_by(PaperCertificate.issued_at.desc())))
