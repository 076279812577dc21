"""Verify a scanned QR against the server clock and the database, and log every verification.

The code says which kind of credential it is (``claims.kind``) and its row id (the QR token's status index, the
barcode's numeric code): a travel ID is read as one row on the scan path (webapp/verification/scan.py), an
e-licence by its own domain's service.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from webapp import images, tokens
from webapp.audit import services as audit
from webapp.audit.models import AuditEvent
from webapp.driving_licence import services as licences
from webapp.errors import DomainError
from webapp.lazytext import _l
from webapp.registry.models import Citizen
from webapp.registry.rules import SEX_LABELS, age_on, mask_id_number, mask_name
from webapp.signing import credential_token
from webapp.signing import rules as signing_rules
from webapp.signing.keys import KeyRing
from webapp.timeutil import local_date
from webapp.travel_id import rules as travel_rules
from webapp.travel_id import services as travel
from webapp.verification import rules, scan


@dataclass(frozen=True)
class Viewer:
    """Who is verifying: the public (no credentials), an officer (with a role) or an API key."""

    kind: str
    id: int | None = None
    role: str | None = None

    @classmethod
    def public(cls) -> Viewer:
        return cls(rules.VIEWER_PUBLIC)

    @classmethod
    def officer(cls, officer) -> Viewer:
        return cls(rules.VIEWER_OFFICER, officer.id, officer.role)

    @classmethod
    def api_key(cls, key) -> Viewer:
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
    def of(cls, citizen: Citizen) -> Person:
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
    """The credential a code names (both codes carry its integer id), with whether it can be used now; None when
    there is no such credential."""
    if claims.kind == rules.TRAVEL_ID:
        return _travel_resolved(scan.travel_row(session, claims.db_id), now)
    if claims.kind == rules.DRIVING_LICENCE:
        return _licence_resolved(licences.resolve_by_id(session, claims.db_id, now))
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


def read_code(qr_text: str, *, now: datetime, secret: str, keyring: KeyRing,
              grace_windows: int = tokens.GRACE_WINDOWS) -> tokens.TokenClaims:
    """The claims of a scanned code: the e-licence barcode's numeric code (HMAC, online only) or the QR's signed
    token (its URL or the bare token, checked against the published keys).

    :raises tokens.TokenError: malformed, bad_signature, stale, future
    """
    if tokens.is_numeric(qr_text):
        return tokens.check_numeric(secret, qr_text, now, grace_windows)
    return credential_token.read(keyring, qr_text, now).claims


def verify(session: Session, qr_text: str, *, now: datetime, secret: str, keyring: KeyRing, viewer: Viewer,
           context: str | None = None, grace_windows: int = tokens.GRACE_WINDOWS) -> VerificationResult:
    """Check a scanned code (the QR's URL or bare token, or the barcode's numeric code) and log the verification.

    The check uses the server clock only (``now``) and the database (not the status list: online, the
    credential's live state decides). What the result carries is cut to what the viewer may see
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
        claims = read_code(qr_text, now=now, secret=secret, keyring=keyring, grace_windows=grace_windows)
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
class OfflineScan:
    """A scan an officer's page verified offline and uploads later (static/js/scan.js)."""

    id: str                  # made by the page: the same scan uploaded twice is recorded once
    qr: str
    context: str | None
    scanned_at: datetime
    valid: bool              # what the page showed: 有效, or 无效/无法确认
    reason: str | None


def record_offline_scan(session: Session, item: OfflineScan, *, viewer: Viewer, now: datetime,
                        keyring: KeyRing) -> bool:
    """Log a scan made offline, at the time it was made, on the holder's record (核验记录) when the token is ours.
    The token is checked again here, at ``scanned_at`` and with any key still on file (a key may have stopped
    being published since): a token that does not check out is logged with the server's reason, whatever the page
    said; otherwise the page's verdict is logged (it saw the status list of its time). Returns False when this scan
    was already recorded.

    :raises DomainError: ``bad_time`` (too old, or ahead of the server's clock), ``online_only`` (a barcode's
        numeric code: it is never verified offline)
    """
    refusal = rules.offline_time_refusal(item.scanned_at, now)
    if refusal:
        raise DomainError(refusal, code="bad_time")
    if tokens.is_numeric(item.qr):
        raise DomainError(_l("条形码只能联网核验，不接收离线记录。"), code="online_only")
    if _already_recorded(session, item, viewer):
        return False
    kind: str | None = None
    found: Resolved | None = None
    valid, reason = item.valid, (None if item.valid else item.reason)
    if reason is not None and reason not in rules.REASONS and reason not in rules.OFFLINE_REASON_MESSAGES:
        reason = rules.STATUS_UNKNOWN
    try:
        claims = credential_token.read(keyring, item.qr, item.scanned_at, any_key_on_file=True).claims
    except tokens.TokenError as exc:
        valid, reason, claims = False, exc.code, exc.claims
    if claims is not None:
        kind = claims.kind
        found = _find(session, claims, now)
    # Not the scan path (scan.py): an upload after the fact, in the request's one transaction.
    audit.record(session, rules.AUDIT_ACTION, item.scanned_at, actor_type=viewer.kind, actor_id=viewer.id,
                 subject_type=kind, subject_id=found.db_id if found else None,
                 citizen_id=found.citizen.id if found else None, role=viewer.role, context=item.context,
                 valid=valid, reason=reason, credential=found.public_id if found else None, offline=True,
                 scan_id=item.id, received_at=now.isoformat())
    return True


def _already_recorded(session: Session, item: OfflineScan, viewer: Viewer) -> bool:
    same_moment = session.scalars(select(AuditEvent).where(
        AuditEvent.action == rules.AUDIT_ACTION, AuditEvent.actor_type == viewer.kind,
        AuditEvent.actor_id == viewer.id, AuditEvent.at == item.scanned_at))
    return any(event.detail.get("scan_id") == item.id for event in same_moment)


@dataclass(frozen=True)
class CheckRecord:
    """One line of the holder's 核验记录."""

    at: datetime
    verifier: str
    context_label: str | None
    valid: bool
    reason_message: str | None
    credential_label: str | None
    offline: bool = False     # verified on an officer's device without network, uploaded later


def status_states(session: Session, now: datetime) -> dict[int, int]:
    """{status index: state} of every credential an offline verifier must refuse now (the signed status list); the
    rest are valid."""
    states = {signing_rules.status_index(signing_rules.TRAVEL_ID, cert_id): signing_rules.STATE_INVALID
              for cert_id in travel.withdrawn_ids(session, now)}
    unusable = licences.unusable_ids(session)
    states.update((signing_rules.status_index(signing_rules.DRIVING_LICENCE, i), signing_rules.STATE_INVALID)
                  for i in unusable.invalid)
    states.update((signing_rules.status_index(signing_rules.DRIVING_LICENCE, i), signing_rules.STATE_SUSPENDED)
                  for i in unusable.blocked)
    return states


def checks_for(session: Session, citizen_id: int, since: datetime, limit: int = 50, *,
               credential: str | None = None) -> list[CheckRecord]:
    """Who verified this citizen's credentials since an instant, newest first (role labels, never names).

    :param credential: only checks of this credential type (``rules.TRAVEL_ID`` for the travel-ID 申请记录, which
        must not list the driving licence's), or every type
    """
    query = select(AuditEvent).where(AuditEvent.citizen_id == citizen_id, AuditEvent.action == rules.AUDIT_ACTION,
                                     AuditEvent.at >= since)
    if credential is not None:
        query = query.where(AuditEvent.subject_type == credential)
    events = session.scalars(
        query
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    return [CheckRecord(at=e.at, verifier=rules.verifier_label(e.actor_type, e.detail.get("role")),
                        context_label=rules.CONTEXT_LABELS.get(e.detail.get("context") or ""),
                        valid=bool(e.detail.get("valid")), reason_message=rules.reason_message(e.detail.get("reason")),
                        credential_label=rules.CREDENTIAL_LABELS.get(e.subject_type or ""),
                        offline=bool(e.detail.get("offline")))
            for e in events]
