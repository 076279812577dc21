"""E-licence services on SQLite and PostgreSQL with a FrozenClock: apply → 实人核验 passed → issued at once (system
photo) or queued with its due time (album photo) → reviewed; one open application per citizen (partial unique
index); invalidation when the registry import changes class/validity/authority; 扣留 by a traffic officer; the
verification resolver; the 6-month photo rule; photo checks on real faces."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.conftest import T0, make_notifier
from tests.factories import CitizenFactory, LicenceFactory
from tests.testdata import face, needs_testdata
from tests.verification_support import signed_token, signing_ring
from webapp.audit.models import AuditEvent
from webapp.driving_licence import photo, rules, services
from webapp.driving_licence.models import (ABANDONED, ACTIVE, INVALIDATED, PENDING, PROOFING, REJECTED,
                                           ElectronicLicence)
from webapp.errors import Conflict, TooSoon
from webapp.proofing.services import prepare_portrait
from webapp.registry import services as registry
from webapp.timeutil import LOCAL_TZ
from webapp.verification import services as verification

NOTIFIER = make_notifier()
OFFICER = SimpleNamespace(id=7, role="traffic")
SECRET = "test-secret-key"


@pytest.fixture
def record(db_session):
    return LicenceFactory(citizen=CitizenFactory(portrait=b"\xff\xd8system-jpeg"))


def issue(db_session, record, now=T0, source=rules.PHOTO_SYSTEM, photo_bytes=None) -> ElectronicLicence:
    application = services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=source,
                                 photo=photo_bytes, now=now, cities=None, notifier=NOTIFIER)
    assert application.status == PROOFING
    return services.proven(db_session, application, now, None, notifier=NOTIFIER)


def audit_actions(db_session, citizen_id) -> list[str]:
    return list(db_session.scalars(select(AuditEvent.action).where(AuditEvent.citizen_id == citizen_id)
                                   .order_by(AuditEvent.id)))


def test_system_photo_application_is_issued_at_once_with_a_snapshot(db_session, record):
    licence = issue(db_session, record)

    assert licence.status == ACTIVE and licence.issued_at == T0
    assert licence.photo == b"\xff\xd8system-jpeg" and licence.photo_source == rules.PHOTO_SYSTEM
    assert (licence.licence_class, licence.valid_until, licence.issuing_authority) == (
        "C1", date(2031, 5, 1), "广东省广州市公安局交通警察支队")
    assert services.state(licence, T0).usable
    assert services.photo_replaceable_from(licence) == T0  # system photo: replace at once
    assert audit_actions(db_session, record.citizen_id) == ["licence.apply", "licence.issue"]
    assert "申领成功" in services.messages_for(db_session, record.citizen_id)[0].body


def test_album_photo_waits_for_a_reviewer_due_end_of_next_working_day(db_session, record):
    licence = issue(db_session, record, source=rules.PHOTO_ALBUM, photo_bytes=b"album")
    # T0 is Friday 2026-11-20 10:00 Beijing: due at the end of Monday 11-23.
    assert licence.status == PENDING
    assert licence.review_due_at == datetime(2026, 11, 24, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
    assert services.review_queue(db_session) == [licence]

    with pytest.raises(Conflict):
        services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=rules.PHOTO_SYSTEM,
                       photo=None, now=T0, cities=None, notifier=NOTIFIER)
    reviewer = SimpleNamespace(id=9, role="reviewer")
    services.decide(db_session, licence.public_id, approve=True, reason="", reviewer=reviewer,
                    now=T0 + timedelta(hours=3), notifier=NOTIFIER)
    assert licence.status == ACTIVE and licence.photo_changed_at == T0 + timedelta(hours=3)
    assert services.photo_replaceable_from(licence) == datetime(2027, 5, 20, 13, 0, tzinfo=LOCAL_TZ)


def test_rejection_needs_a_reason_and_tells_the_applicant(db_session, record):
    licence = issue(db_session, record, source=rules.PHOTO_CAMERA, photo_bytes=b"camera")
    reviewer = SimpleNamespace(id=9, role="reviewer")
    with pytest.raises(Exception, match="原因"):
        services.decide(db_session, licence.public_id, approve=False, reason=" ", reviewer=reviewer, now=T0, notifier=NOTIFIER)
    services.decide(db_session, licence.public_id, approve=False, reason="照片戴帽子", reviewer=reviewer, now=T0, notifier=NOTIFIER)
    assert licence.status == REJECTED
    assert "照片戴帽子" in services.messages_for(db_session, record.citizen_id)[0].body
    # A rejected application does not block a new one.
    assert issue(db_session, record).status == ACTIVE


def test_an_unfinished_application_is_abandoned_by_a_new_one(db_session, record):
    first = services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=rules.PHOTO_SYSTEM,
                           photo=None, now=T0, cities=None, notifier=NOTIFIER)
    second = services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=rules.PHOTO_SYSTEM,
                            photo=None, now=T0, cities=None, notifier=NOTIFIER)
    assert first.status == ABANDONED and second.status == PROOFING


def test_the_database_holds_one_open_application_per_citizen(db_session, record):
    issue(db_session, record)
    clash = ElectronicLicence(public_id="clash-public-id", citizen=record.citizen, record=record, status=PENDING,
                              licence_class="C1", valid_from=record.valid_from, valid_until=record.valid_until,
                              issuing_authority=record.issuing_authority, photo_source="album", photo=b"x",
                              applied_at=T0)
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.add(clash)
            db_session.flush()


@pytest.mark.parametrize("status", ["扣留", "吊销", "逾期未审验"])
def test_apply_refused_with_the_status_when_record_blocks(db_session, status):
    record = LicenceFactory(status=status, citizen=CitizenFactory(portrait=b"jpeg"))
    with pytest.raises(services.NotEligible, match=status):
        services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=rules.PHOTO_SYSTEM,
                       photo=None, now=T0, cities=None, notifier=NOTIFIER)
    assert db_session.scalar(select(ElectronicLicence).where(ElectronicLicence.citizen_id == record.citizen_id)) is None


def test_apply_refused_outside_the_enabled_region(db_session, record):
    with pytest.raises(services.NotEligible) as refused:
        services.apply(db_session, citizen=record.citizen, user_id=None, photo_source=rules.PHOTO_SYSTEM,
                       photo=None, now=T0, cities=rules.enabled_cities("pilot3"), notifier=NOTIFIER)
    assert refused.value.code == rules.OUTSIDE_REGION


def _import_row(record, **changes) -> dict[str, str]:
    row = {"id_number": record.citizen.id_number, "file_number": record.file_number, "class": record.licence_class,
           "first_issued": str(record.first_issued), "valid_from": str(record.valid_from),
           "valid_until": str(record.valid_until), "issuing_authority": record.issuing_authority,
           "status": record.status, "points": str(record.points)}
    row.update(changes)
    return row


@pytest.mark.parametrize("changes", [
    {"class": "B2"},
    {"valid_from": "2026-11-20", "valid_until": "2036-11-20"},
    {"issuing_authority": "北京市公安局公安交通管理局"},
])
def test_registry_import_invalidates_when_class_validity_or_authority_changed(db_session, record, changes, tmp_path):
    licence = issue(db_session, record)
    row = _import_row(record, **changes)
    path = tmp_path / "licences.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")

    report = services.import_records(db_session, path, T0 + timedelta(days=1), notifier=NOTIFIER)
    found = services.resolve_by_id(db_session, licence.id, T0 + timedelta(days=1))

    assert report.updated == 1 and not report.errors
    assert licence.status == INVALIDATED and not found.state.usable
    assert "重新申领" in licence.status_reason
    assert "licence.invalidate" in audit_actions(db_session, record.citizen_id)
    assert "重新申领" in services.messages_for(db_session, record.citizen_id)[0].body
    assert issue(db_session, record, now=T0 + timedelta(days=2)).status == ACTIVE  # re-apply works


def test_a_change_without_the_step_reads_invalid_and_resolving_writes_nothing(db_session, record):
    licence = issue(db_session, record)
    registry.upsert_licence(db_session, _import_row(record, **{"class": "B2"}), T0 + timedelta(days=1))
    # The signed status list already names it invalid, though nothing has invalidated it yet.
    assert services.unusable_ids(db_session) == services.Unusable(invalid=[licence.id], blocked=[])

    found = services.resolve_by_id(db_session, licence.id, T0 + timedelta(days=1))

    assert not found.state.usable and found.state.code == INVALIDATED
    assert licence.status == ACTIVE and "licence.invalidate" not in audit_actions(db_session, record.citizen_id)
    # Applying again is the next write: it invalidates the stale e-licence and goes on.
    assert issue(db_session, record, now=T0 + timedelta(days=2)).status == ACTIVE
    assert licence.status == INVALIDATED


def test_points_or_address_import_keeps_the_licence(db_session, record):
    licence = issue(db_session, record)
    registry.upsert_licence(db_session, _import_row(record, points="6"), T0)
    assert services.invalidate_changed(db_session, [record], T0, notifier=NOTIFIER) == []
    assert licence.status == ACTIVE


def test_seizure_turns_the_licence_invalid_at_once_and_is_audited(db_session, record):
    licence = issue(db_session, record)
    services.record_seizure(db_session, officer=OFFICER, id_number=record.citizen.id_number.lower(),
                            reason="公安交通管理行政强制措施凭证 123", now=T0, notifier=NOTIFIER)
    live = services.state(licence, T0)
    assert (live.usable, live.code, live.label) == (False, "扣留", "扣留")
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "licence.seize"))
    assert event.actor_type == "officer" and event.actor_id == 7 and event.detail["previous"] == "正常"
    with pytest.raises(Conflict):
        services.record_seizure(db_session, officer=OFFICER, id_number=record.citizen.id_number, reason="x", now=T0, notifier=NOTIFIER)


def test_verification_resolver_answers_for_a_licence_token(db_session, record):
    licence = issue(db_session, record)
    token = signed_token(licence, T0)

    ok = verification.verify(db_session, token, now=T0, secret=SECRET, keyring=signing_ring(),
                             viewer=verification.Viewer.public())
    assert ok.valid and ok.credential_type == "driving_licence" and ok.valid_until == date(2031, 5, 1)

    services.record_seizure(db_session, officer=OFFICER, id_number=record.citizen.id_number, reason="x", now=T0, notifier=NOTIFIER)
    assert services.unusable_ids(db_session) == services.Unusable(invalid=[], blocked=[licence.id])
    seized = verification.verify(db_session, token, now=T0, secret=SECRET, keyring=signing_ring(),
                                 viewer=verification.Viewer(kind="officer", id=7, role="traffic"))
    assert not seized.valid and seized.reason == "licence_status" and "扣留" in seized.message
    assert seized.facts["licence_class"] == "C1" and seized.facts["record_status"] == "扣留"


def test_photo_replacement_follows_the_six_month_rule(db_session, record):
    licence = issue(db_session, record)
    services.replace_photo(db_session, licence, source=rules.PHOTO_CAMERA, photo=b"new", now=T0, user_id=None)
    assert licence.photo == b"new" and licence.photo_changed_at == T0
    six_months = datetime(2027, 5, 20, 10, 0, tzinfo=LOCAL_TZ)
    with pytest.raises(TooSoon, match="2027-05-20 10:00"):
        services.replace_photo(db_session, licence, source=rules.PHOTO_ALBUM, photo=b"x",
                               now=six_months - timedelta(seconds=1), user_id=None)
    services.replace_photo(db_session, licence, source=rules.PHOTO_ALBUM, photo=b"y", now=six_months, user_id=None)
    assert licence.photo == b"y"


@needs_testdata
@pytest.mark.parametrize(("name", "failure"), [
    ("meds-aa-S001-02.jpg", None),
    ("two_people.jpg", "several_faces"),
    ("meds-aa-S029-01.jpg", "not_same_person"),
])
def test_photo_checks_on_real_faces(name, failure):
    reference = prepare_portrait(face("meds-aa-S001-02.jpg"))[1]
    result = photo.check_portrait(face(name), reference, 0.6)
    if failure is None:
        assert result.passed, result.measures
        from PIL import Image
        import io
        assert Image.open(io.BytesIO(result.jpeg)).size == rules.STORED_SIZE_PX
    else:
        assert failure in result.failures
        assert rules.CHECK_MESSAGES[failure] in result.messages


def test_photo_checks_refuse_a_non_image_and_a_face_free_picture():
    assert photo.check_portrait(b"not an image", None, 0.6).failures == ["bad_image"]
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (400, 600), (240, 240, 240)).save(out, format="JPEG")
    assert photo.check_portrait(out.getvalue(), None, 0.6).failures == ["no_face"]
