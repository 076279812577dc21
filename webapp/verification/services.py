"""Verify a scanned QR against the server clock and the database, and log every verification.

The token says which kind of credential it is (``claims.kind``): a travel ID is read as one row on the scan path
(webapp/verification/scan.py), an e-licence by its own domain's service; either by the public id of a QR token or
by the integer id of a barcode's numeric code (``claims.by``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from webapp import images, tokens
from webapp.audit.models import AuditEvent
from webapp.driving_licence import services as licences
from webapp.errors import DomainError
from webapp.lazytext import _l
from webapp.registry.models import Citizen
from webapp.registry.rules import SEX_LABELS, age_on, mask_id_number, mask_name
from webapp.timeutil import local_date
from webapp.travel_id import rules as travel_rules
from webapp.verification import rules, scan


@dataclass(frozen=True)
class Viewer:
    """Who is verifying: the public (no credentials), an officer (with a role) or an API key."""

    kind: str
    id: int | None = None
    role: str | None = None

    @classmethod
    def public(cls) -> "Viewer":
        return cls(rules.VIEWER_PUBLIC)

    @classmethod
    def officer(cls, officer) -> "Viewer":
        return cls(rules.VIEWER_OFFICER, officer.id, officer.role)

    @classmethod
    def api_key(cls, key) -> "Viewer":
        return cls(rules.VIEWER_APIKEY, key.id)


@dataclass(frozen=True)
class Person:
    """The holder as a scan needs them: a plain row, not an ORM object (a scan is the hot path). The portrait,
    which only an officer's detail view shows, is read separately (:func:`_holder`)."""

    id: int
    name: str
    id_number: str
    sex: str
    birth_date: date

    @classmethod
    def of(cls, citizen: Citizen) -> "Person":
        return cls(id=citizen.id, name=citizen.name, id_number=citizen.id_number, sex=citizen.sex,
                   birth_date=citizen.birth_date)


@dataclass(frozen=True)
class Resolved:
    """What a resolver found: the credential, its holder and whether it can be used now."""

    db_id: int
    public_id: str
    citizen: Person
    status: str                      # valid | expired | revoked | a licence status name
    status_label: str
    valid_until: datetime | date | None
    reason: str | None               # None when usable; else a rules reason code
    facts: dict[str, Any] = field(default_factory=dict)  # kind-specific: ticket_category, or the licence record


def _find(session: Session, claims: tokens.TokenClaims, now: datetime) -> Resolved | None:
    """The credential a token names, by the public id of a QR token or the integer id a numeric code carries
    (``claims.by``), with whether it can be used now; None when there is no such credential."""
    by_id = claims.by == "id"
    key = int(claims.credential_id) if by_id else claims.credential_id
    if claims.kind == rules.TRAVEL_ID:
        return _travel_resolved(scan.travel_row(session, key, by_id=by_id), now)
    if claims.kind == rules.DRIVING_LICENCE:
        return _licence_resolved((licences.resolve_by_id if by_id else licences.resolve)(session, key, now))
    return None


def _travel_resolved(row, now: datetime) -> Resolved | None:
    if row is None:
        return None
    state = travel_rules.state(row.status, row.expires_at, now)
    reason = {"valid": None, "expired": rules.EXPIRED, "revoked": rules.REVOKED}[state]
    # Age counts on the travel date, which is today in Beijing.
    category = travel_rules.ticket_category(row.birth_date, local_date(now))
    holder = Person(id=row.citizen_id, name=row.name, id_number=row.id_number, sex=row.sex,
                    birth_date=row.birth_date)
    return Resolved(db_id=row.id, public_id=row.public_id, citizen=holder, status=state,
                    status_label=travel_rules.STATUS_LABELS[state], valid_until=row.expires_at, reason=reason,
                    facts={"ticket_category": category})


def _licence_resolved(found) -> Resolved | None:
    if found is None:
        return None
    live = found.state
    reason = None if live.usable else {"invalidated": rules.REVOKED, "expired": rules.EXPIRED}.get(
        live.code, rules.LICENCE_STATUS)
    return Resolved(db_id=found.licence.id, public_id=found.licence.public_id,
                    citizen=Person.of(found.licence.citizen), status=live.code, status_label=live.label,
                    valid_until=found.licence.record.valid_until, reason=reason, facts=found.facts)


@dataclass(frozen=True)
class Holder:
    name: str
    name_masked: str
    id_number_masked: str
    sex_label: str
    age: int
    portrait: str | None   # data: URI of the registry JPEG (rules.PORTRAIT viewers only)


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    reason: str | None
    message: str | None
    credential_type: str | None
    status: str | None
    status_label: str | None
    valid_until: datetime | date | None
    holder: Holder | None
    fields: frozenset[str]   # what the viewer may see (rules.VIEWER_FIELDS)
    context: str | None
    checked_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)
    audit_id: int | None = None

    @property
    def credential_label(self) -> str | None:
        return rules.CREDENTIAL_LABELS.get(self.credential_type or "")


_PORTRAIT = select(Citizen.portrait).where(Citizen.id == bindparam("id"))


def _holder(session: Session, person: Person, fields: frozenset[str], now: datetime) -> Holder:
    portrait = None
    if rules.PORTRAIT in fields:
        portrait = images.jpeg_data_uri(session.scalar(_PORTRAIT, {"id": person.id}))
    return Holder(name=person.name, name_masked=mask_name(person.name),
                  id_number_masked=mask_id_number(person.id_number), sex_label=SEX_LABELS.get(person.sex, ""),
                  age=age_on(person.birth_date, local_date(now)), portrait=portrait)


def verify(session: Session, qr_text: str, *, now: datetime, secret: str, viewer: Viewer,
           context: str | None = None, grace_windows: int = tokens.GRACE_WINDOWS) -> VerificationResult:
    """Check a scanned code (the QR's URL or bare token, or the barcode's numeric code) and log the verification.

    The check uses the server clock only (``now``). What the result carries is cut to what the viewer may see
    of this kind of credential (``rules.visible_fields``): e.g. railway staff get a travel ID's portrait and the
    ticket category of today's travel date, but only the validity of a licence.

    :param context: one of ``rules.CONTEXT_LABELS`` or None
    :raises DomainError: unknown context (code ``bad_context``)
    """
    if not rules.is_context(context):
        raise DomainError(_l("核验场景无效。"), code="bad_context")
    kind: str | None = None
    found: Resolved | None = None
    try:
        claims = tokens.check(secret, qr_text, now, grace_windows)
    except tokens.TokenError as exc:
        reason = exc.code
        if reason in (rules.STALE, rules.FUTURE):
            # The signature was good, so the credential named in the token is real: log it on the holder's
            # record (someone showed an old screenshot), but tell the verifier nothing about the holder.
            kind = exc.claims.kind
            found = _find(session, exc.claims, now)
        result = VerificationResult(
            valid=False, reason=reason, message=rules.reason_message(reason), credential_type=kind,
            status=None, status_label=None, valid_until=None, holder=None, fields=frozenset(),
            context=context, checked_at=now)
        return _log(session, result, viewer, found)

    kind = claims.kind
    found = _find(session, claims, now)
    fields = rules.visible_fields(viewer.kind, viewer.role, kind)
    if found is None:
        result = VerificationResult(
            valid=False, reason=rules.NOT_FOUND, message=rules.reason_message(rules.NOT_FOUND),
            credential_type=kind, status=None, status_label=None, valid_until=None, holder=None, fields=fields,
            context=context, checked_at=now)
        return _log(session, result, viewer, None)
    result = VerificationResult(
        valid=found.reason is None, reason=found.reason, message=rules.reason_message(found.reason,
                                                                                   found.status_label),
        credential_type=kind, status=found.status, status_label=found.status_label,
        valid_until=found.valid_until, holder=_holder(session, found.citizen, fields, now), fields=fields,
        context=context, checked_at=now, facts=_visible_facts(found.facts, fields))
    return _log(session, result, viewer, found)


def _visible_facts(facts: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The kind-specific facts this viewer may see: the ticket category, the licence record, or nothing."""
    visible: dict[str, Any] = {}
    if rules.TICKET_CATEGORY in fields and "ticket_category" in facts:
        visible["ticket_category"] = facts["ticket_category"]
    if rules.LICENCE_RECORD in fields:
        visible.update((name, value) for name, value in facts.items() if name != "ticket_category")
    return visible


def _log(session: Session, result: VerificationResult, viewer: Viewer, found: Resolved | None) -> VerificationResult:
    # Every scan is logged in its own transaction (the caller commits): the scan path's one row (scan.py).
    audit_id = scan.append_audit(
        session, rules.AUDIT_ACTION, result.checked_at, actor_type=viewer.kind, actor_id=viewer.id,
        subject_type=result.credential_type, subject_id=found.db_id if found else None,
        citizen_id=found.citizen.id if found else None, role=viewer.role, context=result.context,
        valid=result.valid, reason=result.reason, credential=found.public_id if found else None)
    return VerificationResult(**{**result.__dict__, "audit_id": audit_id})


@dataclass(frozen=True)
class CheckRecord:
    """One line of the holder's 核验记录."""

    at: datetime
    verifier: str
    context_label: str | None
    valid: bool
    reason_message: str | None
    credential_label: str | None


def checks_for(session: Session, citizen_id: int, since: datetime, limit: int = 50) -> list[CheckRecord]:
    """Who verified this citizen's credentials since an instant, newest first (role labels, never names)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.citizen_id == citizen_id, AuditEvent.action == rules.AUDIT_ACTION,
               AuditEvent.at >= since)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    return [CheckRecord(at=e.at, verifier=rules.verifier_label(e.actor_type, e.detail.get("role")),
                        context_label=rules.CONTEXT_LABELS.get(e.detail.get("context") or ""),
                        valid=bool(e.detail.get("valid")), reason_message=rules.reason_message(e.detail.get("reason")),
                        credential_label=rules.CREDENTIAL_LABELS.get(e.subject_type or ""))
            for e in events]
