"""Applying for, issuing, showing, invalidating and seizing electronic driving licences.

Services take the session and ``now``; they add and flush, never commit.

An e-licence keeps a snapshot of its record's class, validity and issuing authority. When the record changes, the
change itself invalidates the e-licences of it (:func:`invalidate_changed`: status, audit row, the holder told),
as an explicit step of the registry import (:func:`import_records`) and of a new application. Reading never
writes: the driver registry is the traffic police's system of record and could change by a route that takes no
such step, so :func:`state` also compares the snapshot with the record as it is now, and a show, a poll or a scan
of a changed licence answers 已失效 from current data without writing anything.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from webapp.audit import services as audit
from webapp.driving_licence import photo, rules
from webapp.driving_licence.models import (
    ABANDONED,
    ACTIVE,
    INVALIDATED,
    OPEN_STATUSES,
    PENDING,
    PROOFING,
    REJECTED,
    ElectronicLicence,
)
from webapp.errors import Conflict, DomainError, NotFound, TooSoon
from webapp.lazytext import _l, joined
from webapp.normalise import normalise_id_number
from webapp.notify import services as notices
from webapp.notify.models import Message
from webapp.notify.notifier import Notifier
from webapp.proofing import services as proofing
from webapp.registry import services as registry
from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import LICENCE_STATUS_NORMAL, LICENCE_STATUSES, licence_status_label
from webapp.timeutil import format_deadline, format_local, local_date

#: The 实人核验 purpose of an application (proofing.services.consume checks it).
PURPOSE_APPLY = "licence_apply"
SEIZED = "扣留"
assert SEIZED in LICENCE_STATUSES
# A due instant is 00:00 of the next day; people read "before 23:59 of the working day".


class NotEligible(DomainError):
    status = 409

    def __init__(self, refusal: rules.Refusal) -> None:
        super().__init__(refusal.message, code=refusal.code)


class PhotoRejected(DomainError):
    code = "photo_rejected"

    def __init__(self, messages: list[str]) -> None:
        super().__init__(joined(messages, _l("；")))
        self.messages = messages


#: Largest album or camera photo read (photo.check_portrait refuses anything larger).
MAX_PHOTO_BYTES = photo.MAX_UPLOAD_BYTES


def checked_photo(citizen: Citizen, data: bytes, *, tolerance: float) -> bytes:
    """An album or camera photo for the e-licence, after the machine checks (photo.check_portrait: one face, the
    registry person, the 32×22 mm format, background, colour): the stored 22:32 crop.

    :raises PhotoRejected: with one message per failed check
    """
    result = photo.check_portrait(data, citizen.portrait_encoding, tolerance)
    if not result.passed:
        raise PhotoRejected(result.messages)
    return result.jpeg


def _facts(record: LicenceRecord | None) -> rules.RecordFacts | None:
    if record is None:
        return None
    return rules.RecordFacts(status=record.status, valid_from=record.valid_from, valid_until=record.valid_until,
                             issuing_authority=record.issuing_authority)


def _record_of(session: Session, citizen_id: int) -> LicenceRecord | None:
    return session.scalar(select(LicenceRecord).where(LicenceRecord.citizen_id == citizen_id))


def check_eligible(session: Session, citizen: Citizen, now: datetime, cities: frozenset[str] | None) -> LicenceRecord:
    """The citizen's licence record if an e-licence may be issued for it now.

    :raises NotEligible: no record, a blocking status, outside validity, or a region not enabled
    """
    record = _record_of(session, citizen.id)
    refusal = rules.eligibility(_facts(record), local_date(now), cities)
    if refusal is not None:
        raise NotEligible(refusal)
    return record


def _snapshot_of(record: LicenceRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in rules.SNAPSHOT_FIELDS}


def apply(session: Session, *, citizen: Citizen, user_id: int | None, photo_source: str, photo: bytes | None,
          now: datetime, cities: frozenset[str] | None, notifier: Notifier) -> ElectronicLicence:
    """Start an application (status ``proofing``: 实人核验 comes next). A previous unfinished application of the
    same citizen is abandoned; an active e-licence or one under review refuses a new one.

    :param photo: the checked 22:32 JPEG for album/camera photos; None for the system photo
    :raises NotEligible: see :func:`check_eligible`
    :raises Conflict: an e-licence is active or an application is under review
    """
    record = check_eligible(session, citizen, now, cities)
    if photo_source not in rules.PHOTO_SOURCES:
        raise DomainError(_l("照片来源无效。"))
    if photo_source == rules.PHOTO_SYSTEM:
        if citizen.portrait is None:
            raise DomainError(_l("人口库中没有您的照片，请选择相册照片或拍摄照片。"), code="no_portrait")
        photo = citizen.portrait
    if photo is None:
        raise DomainError(_l("请选择照片。"), code="no_photo")
    for existing in list(session.scalars(select(ElectronicLicence).where(
            ElectronicLicence.citizen_id == citizen.id, ElectronicLicence.status.in_(OPEN_STATUSES)))):
        if existing.status == PROOFING:
            existing.status = ABANDONED
        elif existing.status == ACTIVE and _changed(existing):
            _invalidate(session, existing, now, notifier)  # its record changed by a route that did not say so
        elif existing.status == ACTIVE:
            raise Conflict(_l("您已领取电子驾驶证，无需重复申领。"), code="already_active")
        else:
            raise Conflict(_l("您的申请正在审核中，请耐心等待审核结果。"), code="under_review")
    session.flush()
    application = ElectronicLicence(
        public_id=secrets.token_urlsafe(12), citizen=citizen, record=record, user_id=user_id, status=PROOFING,
        photo_source=photo_source, photo=photo, applied_at=now, **_snapshot_of(record))
    try:
        with session.begin_nested():
            session.add(application)
            session.flush()
    except IntegrityError:
        # Two applications at once: the partial unique index lets one open application per citizen through.
        raise Conflict(_l("您有一个正在进行的申请，请稍后刷新页面查看。"), code="concurrent") from None
    audit.record(session, "licence.apply", now, actor_type="user", actor_id=user_id,
                 subject_type="electronic_licence", subject_id=application.id, citizen_id=citizen.id,
                 photo_source=photo_source)
    return application


def pending_application(session: Session, citizen_id: int) -> ElectronicLicence | None:
    return session.scalar(select(ElectronicLicence).where(ElectronicLicence.citizen_id == citizen_id,
                                                          ElectronicLicence.status == PROOFING))


def proven(session: Session, application: ElectronicLicence, now: datetime,
           cities: frozenset[str] | None, notifier: Notifier) -> ElectronicLicence:
    """实人核验 passed: a system-photo application is clean and issued at once; an album/camera photo goes to a
    reviewer (what a machine cannot check: bareheaded, recent), due within 1 working day.

    :raises NotEligible: the record changed in between (e.g. seized while the applicant was at the camera)
    :raises Conflict: the application is not waiting for 实人核验
    """
    if application.status != PROOFING:
        raise Conflict(_l("该申请已处理，请返回“我的驾驶证”查看。"), code="not_proofing")
    check_eligible(session, application.citizen, now, cities)
    if application.photo_source == rules.PHOTO_SYSTEM:
        _issue(session, application, now, notifier)
    else:
        application.status = PENDING
        application.review_due_at = rules.review_due(now)
        audit.record(session, "licence.queue", now, subject_type="electronic_licence", subject_id=application.id,
                     citizen_id=application.citizen_id, due=application.review_due_at.isoformat())
        _tell(notifier, session, application.citizen, now,
              _l("您的电子驾驶证申领已提交审核，预计 %(due)s 前完成。", due=format_deadline(application.review_due_at)))
    session.flush()
    return application


def issue_after_proofing(session: Session, citizen: Citizen, challenge_public_id: str, now: datetime,
                         cities: frozenset[str] | None, notifier: Notifier) -> ElectronicLicence:
    """The applicant came back from 实人核验: use the pass (once) and go on with the application (:func:`proven`).

    :raises DomainError: no application waiting for 实人核验 (code ``no_pending_application``)
    :raises NotProven: no usable pass of this citizen for an application
    :raises NotEligible, Conflict: see :func:`proven`
    """
    application = pending_application(session, citizen.id)
    if application is None:
        raise DomainError(_l("申请已失效，请重新申领。"), code="no_pending_application")
    proofing.consume(session, challenge_public_id, purpose=PURPOSE_APPLY, citizen_id=citizen.id, now=now)
    return proven(session, application, now, cities, notifier)


def _issue(session: Session, application: ElectronicLicence, now: datetime, notifier: Notifier) -> None:
    application.status = ACTIVE
    application.issued_at = now
    application.decided_at = now
    if application.photo_source != rules.PHOTO_SYSTEM:
        application.photo_changed_at = now
    audit.record(session, "licence.issue", now, subject_type="electronic_licence", subject_id=application.id,
                 citizen_id=application.citizen_id, photo_source=application.photo_source)
    _tell(notifier, session, application.citizen, now, _l("您的电子驾驶证已申领成功，可在“我的驾驶证”中出示使用。"))


def current(session: Session, citizen_id: int) -> ElectronicLicence | None:
    """The citizen's newest e-licence or application (any status), or None."""
    return session.scalar(select(ElectronicLicence).where(ElectronicLicence.citizen_id == citizen_id,
                                                          ElectronicLicence.status != ABANDONED)
                          .order_by(ElectronicLicence.applied_at.desc(), ElectronicLicence.id.desc()).limit(1))


def get(session: Session, public_id: str) -> ElectronicLicence:
    found = session.scalar(select(ElectronicLicence).where(ElectronicLicence.public_id == public_id))
    if found is None:
        raise NotFound(_l("未找到该电子驾驶证。"))
    return found


def _changed(licence: ElectronicLicence) -> list[str]:
    """The snapshot fields the licence's record no longer agrees with (class, validity, issuing authority)."""
    return rules.changed_fields(licence.snapshot(), _snapshot_of(licence.record))


def _invalidate(session: Session, licence: ElectronicLicence, now: datetime, notifier: Notifier) -> None:
    changed = _changed(licence)
    licence.status = INVALIDATED
    licence.decided_at = now
    audit.record(session, "licence.invalidate", now, subject_type="electronic_licence", subject_id=licence.id,
                 citizen_id=licence.citizen_id, fields=changed)
    # Kept as the holder was told, in their language.
    licence.status_reason = _tell(notifier, session, licence.citizen, now, rules.invalidation_message(changed)).body


def invalidate_changed(session: Session, records: list[LicenceRecord], now: datetime,
                       notifier: Notifier) -> list[ElectronicLicence]:
    """The step of a registry change: every active e-licence of ``records`` whose record's class, validity or
    issuing authority changed becomes invalidated, is audited, and its holder is told to re-apply.

    :returns: the e-licences invalidated
    """
    record_ids = [record.id for record in records]
    if not record_ids:
        return []
    invalidated = [licence for licence in session.scalars(select(ElectronicLicence).where(
        ElectronicLicence.licence_record_id.in_(record_ids), ElectronicLicence.status == ACTIVE))
        if _changed(licence)]
    for licence in invalidated:
        _invalidate(session, licence, now, notifier)
    session.flush()
    return invalidated


def import_records(session: Session, path: Path, now: datetime, notifier: Notifier) -> registry.ImportReport:
    """The registry's licence import (``registry import-licences``) with its consequence for e-licences: a record
    whose class, validity or issuing authority changed invalidates its e-licence (:func:`invalidate_changed`)."""
    report = registry.import_licences(session, path, now)
    invalidate_changed(session, report.records, now, notifier)
    return report


def status_reason(licence: ElectronicLicence) -> str | None:
    """Why the e-licence is not usable, as its holder reads it (None when nothing is to be said)."""
    changed = _changed(licence) if licence.status == ACTIVE else None
    return rules.invalidation_message(changed) if changed else licence.status_reason


@dataclass(frozen=True)
class LicenceState:
    """What the show page, the token endpoint and verifiers are told."""

    usable: bool
    code: str          # valid | invalidated | rejected | pending | expired | not_yet_valid | a record status
    label: str


def state(licence: ElectronicLicence, now: datetime) -> LicenceState:
    """Live state, from current data: the e-licence's own status first (and whether its record changed since it
    was issued), then the record's status, then the validity dates."""
    if licence.status == INVALIDATED or (licence.status == ACTIVE and _changed(licence)):
        return LicenceState(False, INVALIDATED, _l("已失效"))
    if licence.status != ACTIVE:
        return LicenceState(False, licence.status, {PENDING: _l("审核中"), REJECTED: _l("未通过审核"),
                                                    PROOFING: _l("待核验")}.get(licence.status, licence.status))
    record = licence.record
    if record.status != LICENCE_STATUS_NORMAL:
        return LicenceState(False, record.status, licence_status_label(record.status))
    today = local_date(now)
    if today < record.valid_from:
        return LicenceState(False, "not_yet_valid", _l("未生效"))
    if record.valid_until is not None and today > record.valid_until:
        return LicenceState(False, "expired", _l("已过有效期"))
    return LicenceState(True, "valid", licence_status_label(LICENCE_STATUS_NORMAL))


def photo_replaceable_from(licence: ElectronicLicence) -> datetime:
    return rules.photo_replaceable_from(licence.photo_source, licence.photo_changed_at,
                                        licence.issued_at or licence.applied_at)


def check_photo_replaceable(licence: ElectronicLicence, now: datetime) -> None:
    """Whether the photo may be replaced now; the view asks before it runs the (costly) face checks on an upload.

    :raises Conflict: the e-licence is not active
    :raises TooSoon: within 6 months of the last camera/album photo or replacement
    """
    if licence.status != ACTIVE:
        raise Conflict(_l("电子驾驶证当前不可用，不能更换照片。"), code="not_active")
    allowed = photo_replaceable_from(licence)
    if now < allowed:
        raise TooSoon(_l("距上次使用拍摄或相册照片不足 %(months)s 个月，%(date)s 后可更换照片。",
                         months=rules.PHOTO_REPLACE_MONTHS, date=format_local(allowed, "%Y-%m-%d %H:%M")),
                      retry_after=allowed - now)


def replace_photo(session: Session, licence: ElectronicLicence, *, source: str, photo: bytes, now: datetime,
                  user_id: int | None) -> ElectronicLicence:
    """Replace the photo of an active e-licence with a checked album/camera photo.

    :raises TooSoon: within 6 months of the last camera/album photo or replacement
    :raises Conflict: the e-licence is not active
    """
    check_photo_replaceable(licence, now)
    if source not in (rules.PHOTO_ALBUM, rules.PHOTO_CAMERA):
        raise DomainError(_l("请选择相册照片或拍摄照片。"))
    licence.photo = photo
    licence.photo_source = source
    licence.photo_changed_at = now
    audit.record(session, "licence.photo", now, actor_type="user", actor_id=user_id,
                 subject_type="electronic_licence", subject_id=licence.id, citizen_id=licence.citizen_id,
                 photo_source=source)
    session.flush()
    return licence


def record_seizure(session: Session, *, officer, id_number: str, reason: str, now: datetime,
                   notifier: Notifier) -> LicenceRecord:
    """A traffic officer records 扣留 of a licence (the paper licence is kept): the record's status becomes
    扣留, so every e-licence of it turns invalid at once (the state is read live).

    :raises NotFound: no licence record with that number (the licence number is the ID number)
    :raises Conflict: already in a blocking status
    """
    number = normalise_id_number(id_number)
    record = session.scalar(select(LicenceRecord).join(Citizen).where(Citizen.id_number == number))
    if record is None:
        raise NotFound(_l("未查询到该驾驶证（驾驶证号即身份证号）。"))
    if record.status != LICENCE_STATUS_NORMAL:
        raise Conflict(_l("该驾驶证当前状态为“%(status)s”，无需重复登记。", status=licence_status_label(record.status)),
                       code="not_normal")
    previous = record.status
    record.status = SEIZED
    record.updated_at = now
    audit.record(session, "licence.seize", now, actor_type="officer", actor_id=officer.id,
                 subject_type="licence_record", subject_id=record.id, citizen_id=record.citizen_id,
                 previous=previous, reason=(reason or "").strip()[:200], role=officer.role)
    _tell(notifier, session, record.citizen, now, _l("您的机动车驾驶证已被公安交管部门扣留，电子驾驶证暂停使用。"
                                                    "请按处罚决定书接受处理。"))
    session.flush()
    return record


def review_queue(session: Session) -> list[ElectronicLicence]:
    """Applications waiting for a reviewer, the earliest due first."""
    return list(session.scalars(select(ElectronicLicence).where(ElectronicLicence.status == PENDING)
                                .order_by(ElectronicLicence.review_due_at, ElectronicLicence.id)))


def decide(session: Session, public_id: str, *, approve: bool, reason: str, reviewer, now: datetime,
           notifier: Notifier) -> ElectronicLicence:
    """A reviewer approves (issue) or rejects (with a reason the applicant is told) an application.

    :raises Conflict: not waiting for review
    :raises DomainError: a rejection without a reason
    """
    application = get(session, public_id)
    if application.status != PENDING:
        raise Conflict(_l("该申请不在待审核状态。"), code="not_pending")
    reason = (reason or "").strip()
    if approve:
        _issue(session, application, now, notifier)
    else:
        if not reason:
            raise DomainError(_l("请填写不通过的原因。"), code="reason_required")
        application.status = REJECTED
        application.decided_at = now
        application.status_reason = reason[:500]
        _tell(notifier, session, application.citizen, now,
              _l("您的电子驾驶证申领未通过审核：%(reason)s。请修改后重新申领。", reason=reason))
    audit.record(session, "licence.review", now, actor_type="officer", actor_id=reviewer.id,
                 subject_type="electronic_licence", subject_id=application.id, citizen_id=application.citizen_id,
                 approved=approve, reason=reason or None, late=now > application.review_due_at)
    session.flush()
    return application


def _tell(notifier: Notifier, session: Session, citizen: Citizen, now: datetime, body: str) -> Message:
    """An e-licence notice: in-app message, SMS to the phone on file, Web Push (sent after the commit)."""
    return notifier.notify(session, citizen, body, now, url="/licence/", purpose="licence")


def messages_for(session: Session, citizen_id: int, limit: int = 20) -> list[Message]:
    return notices.messages_for(session, citizen_id, limit)


@dataclass(frozen=True)
class Resolution:
    """For the verification resolver: the e-licence, its live state and the officer facts."""

    licence: ElectronicLicence
    state: LicenceState
    facts: dict[str, object]


def resolve_by_id(session: Session, licence_id: int, now: datetime) -> Resolution | None:
    """Find an e-licence by integer primary key (both codes carry it) for a verifier; its state is read from current
    data (:func:`state`), nothing is written. A scan (the hot path) reads it in one statement: the licence with its
    holder and record joined, without the licence photo, which no verifier is shown (they see the registry
    portrait)."""
    return _resolution(session, session.get(ElectronicLicence, licence_id, options=_RESOLVE_OPTIONS), now)


_RESOLVE_OPTIONS = (joinedload(ElectronicLicence.record), defer(ElectronicLicence.photo))


def _resolution(session: Session, licence: ElectronicLicence | None, now: datetime) -> Resolution | None:
    if licence is None or licence.status in (PROOFING, ABANDONED):
        return None
    record = licence.record
    live = state(licence, now)
    facts = {"licence_class": record.licence_class, "file_number": record.file_number,
             "issuing_authority": record.issuing_authority, "points": record.points,
             "record_status": record.status, "first_issued": record.first_issued.isoformat(),
             "valid_from": record.valid_from.isoformat(),
             "valid_until": record.valid_until.isoformat() if record.valid_until else None}
    return Resolution(licence=licence, state=live, facts=facts)


@dataclass(frozen=True)
class Unusable:
    """E-licences an offline verifier must refuse, by row id (the signed status list)."""

    invalid: list[int]     # invalidated, or the record's class, validity or authority changed: re-apply
    blocked: list[int]     # the record's status is not 正常 (扣留, 暂扣, 吊销 …)


def unusable_ids(session: Session) -> Unusable:
    """Issued e-licences that cannot be used now, read without invalidating anything (a GET writes nothing):
    a changed record counts as invalid here already, as :func:`state` reads it and the change's own step
    (:func:`invalidate_changed`) writes it."""
    record, lic = LicenceRecord.__table__.c, ElectronicLicence.__table__.c
    changed = or_(*(lic[name].is_distinct_from(record[name]) for name in rules.SNAPSHOT_FIELDS))
    not_normal = record.status != LICENCE_STATUS_NORMAL
    rows = session.execute(
        select(lic.id, lic.status, changed.label("changed"))
        .join(LicenceRecord.__table__, record.id == lic.licence_record_id)
        .where((lic.status == INVALIDATED) | ((lic.status == ACTIVE) & (changed | not_normal))))
    invalid, blocked = [], []
    for row in rows:
        (invalid if row.status == INVALIDATED or row.changed else blocked).append(row.id)
    return Unusable(invalid=invalid, blocked=blocked)
