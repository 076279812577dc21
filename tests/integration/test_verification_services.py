"""The verification service against a real database with a FrozenClock (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from webapp.signing import keys
from webapp.signing import rules as signing_rules
from webapp.signing.keys import KeyRing
from webapp.audit.models import AuditEvent
from webapp.driving_licence import services as licences
from webapp.errors import DomainError
from webapp.officer import services as officer_services
from webapp.registry.rules import InvalidIdNumber, make_id_number, mask_id_number
from webapp.verification import rules, services
from webapp.verification.services import Viewer
from tests.conftest import make_notifier
from tests.factories import CitizenFactory, LicenceFactory
from tests.verification_support import (FAKE_JPEG, facts_token, make_api_key, make_certificate, make_officer,
                                        signed_qr, signing_ring)

SECRET = "test-secret-key"
LICENCE_7 = signing_rules.CredentialFacts("driving_licence", 7, "张*", date(2031, 5, 1), licence_class="C1",
                                          licence_status="正常")


@pytest.fixture
def citizen(db_session):
    return CitizenFactory(portrait=FAKE_JPEG)


@pytest.fixture
def cert(db_session, citizen, clock):
    return make_certificate(db_session, citizen, clock.now())


def verify(db_session, text, clock, viewer=None, context=None):
    return services.verify(db_session, text, now=clock.now(), secret=SECRET, keyring=signing_ring(),
                           viewer=viewer or Viewer.public(), context=context)


def audit_rows(db_session):
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                                   .order_by(AuditEvent.id)))


def test_valid_certificate_for_a_railway_officer_shows_portrait_and_ticket_category(db_session, cert, clock):
    officer = make_officer(db_session, "railway")
    result = verify(db_session, signed_qr(cert, clock.now()), clock, Viewer.officer(officer), "entry")
    assert result.valid and result.reason is None and result.message is None
    assert result.credential_type == "travel_id" and result.status == "valid"
    assert result.fields == rules.PHOTO_ID_FIELDS | {rules.TICKET_CATEGORY}
    assert result.holder.name == cert.citizen.name
    assert result.holder.id_number_masked == mask_id_number(cert.citizen.id_number) != cert.citizen.id_number
    assert result.holder.portrait.startswith("data:image/jpeg;base64,")
    assert result.facts["ticket_category"].code == "full"
    assert result.valid_until == cert.expires_at


def test_ticket_category_counts_age_on_todays_beijing_date(db_session, clock):
    # T0 is 2026-11-20 10:00 in Beijing; born 2020-11-20 → 6 today (child ticket), born a day later → 5 (free).
    six = CitizenFactory(id_number=make_id_number("440106", date(2020, 11, 20), 123), birth_date=date(2020, 11, 20))
    five = CitizenFactory(id_number=make_id_number("440106", date(2020, 11, 21), 125), birth_date=date(2020, 11, 21))
    officer = Viewer.officer(make_officer(db_session, "railway"))
    child = verify(db_session, signed_qr(make_certificate(db_session, six, clock.now()), clock.now()), clock, officer)
    free = verify(db_session, signed_qr(make_certificate(db_session, five, clock.now()), clock.now()), clock, officer)
    assert (child.facts["ticket_category"].code, child.facts["ticket_category"].age) == ("child", 6)
    assert (free.facts["ticket_category"].code, free.facts["ticket_category"].age) == ("free", 5)


def test_public_viewer_gets_no_portrait_and_no_ticket_category(db_session, cert, clock):
    result = verify(db_session, signed_qr(cert, clock.now()), clock)
    assert result.valid and result.fields == rules.PUBLIC_FIELDS
    assert result.holder.portrait is None and result.facts == {}


def test_api_key_viewer_gets_the_standard_view(db_session, cert, clock):
    key, _raw = make_api_key(db_session, clock.now())
    result = verify(db_session, signed_qr(cert, clock.now()), clock, Viewer.api_key(key), "realname")
    assert result.valid and result.fields == rules.IDENTITY_FIELDS and result.holder.portrait is None


def test_token_is_accepted_within_its_window_plus_one_grace_window(db_session, cert, clock):
    text = signed_qr(cert, clock.now())   # T0 is the first second of a window
    clock.advance(seconds=119)
    assert verify(db_session, text, clock).valid


def test_stale_screenshot_is_refused_and_logged_on_the_holders_record(db_session, cert, clock):
    text = signed_qr(cert, clock.now())
    clock.advance(seconds=121)
    result = verify(db_session, text, clock)
    assert not result.valid and result.reason == "stale" and "二维码已过期" in result.message
    assert result.holder is None  # nothing about the holder for an old screenshot
    row = audit_rows(db_session)[-1]
    assert row.citizen_id == cert.citizen_id and row.detail["reason"] == "stale"


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
    (lambda t: t[:60] + ("A" if t[60] != "A" else "B") + t[61:], "bad_signature"),
    (lambda t: "hello world", "malformed"),
    (lambda t: "", "malformed"),
    (lambda t: "http://evil.example/v/" + "A" * 500, "malformed"),
])
def test_tampered_or_garbage_codes_are_refused_with_the_specific_reason(db_session, cert, clock, mangle, reason):
    result = verify(db_session, mangle(signed_qr(cert, clock.now())), clock)
    assert (result.valid, result.reason, result.holder, result.credential_type) == (False, reason, None, None)
    assert audit_rows(db_session)[-1].citizen_id is None


def test_token_signed_with_a_key_that_is_not_published_is_a_bad_signature(db_session, cert, clock, tmp_path):
    keys.init_keys(tmp_path, clock.now())
    assert verify(db_session, signed_qr(cert, clock.now(), ring=KeyRing(tmp_path)), clock).reason == "bad_signature"


def test_future_window_is_refused(db_session, cert, clock):
    text = signed_qr(cert, clock.now() + timedelta(minutes=5))
    assert verify(db_session, text, clock).reason == "future"
    assert verify(db_session, signed_qr(cert, clock.now() + timedelta(minutes=1)), clock).valid  # a clock a window ahead


def test_unknown_certificate_is_not_found(db_session, clock):
    gone = signing_rules.CredentialFacts("travel_id", 987_654, "张*", clock.now() + timedelta(hours=1), ticket=("full",))
    text = f"http://localhost/v/{facts_token(gone, clock.now())}"
    result = verify(db_session, text, clock)
    assert (result.valid, result.reason, result.credential_type) == (False, "not_found", "travel_id")


def test_certificate_is_expired_after_24_hours_even_with_a_fresh_token(db_session, cert, clock):
    clock.advance(hours=24)
    result = verify(db_session, signed_qr(cert, clock.now()), clock, Viewer.officer(make_officer(db_session, "railway")))
    assert (result.valid, result.reason, result.status) == (False, "expired", "expired")
    assert "有效期" in result.message
    assert result.holder.name == cert.citizen.name  # the officer still sees whose it was


def test_certificate_one_second_before_expiry_is_valid(db_session, cert, clock):
    clock.advance(hours=24, seconds=-1)
    assert verify(db_session, signed_qr(cert, clock.now()), clock).valid


def test_revoked_certificate_is_refused(db_session, citizen, clock):
    cert = make_certificate(db_session, citizen, clock.now(), status="revoked")
    result = verify(db_session, signed_qr(cert, clock.now()), clock)
    assert (result.valid, result.reason) == (False, "revoked")


def test_every_verification_is_audited_with_who_context_result_and_credential(db_session, cert, clock):
    officer = make_officer(db_session, "police")
    key, _ = make_api_key(db_session, clock.now())
    text = signed_qr(cert, clock.now())
    verify(db_session, text, clock, Viewer.officer(officer), "onboard")
    verify(db_session, text, clock, Viewer.api_key(key), "entry")
    verify(db_session, text, clock)
    officer_row, key_row, public_row = audit_rows(db_session)[-3:]
    assert (officer_row.actor_type, officer_row.actor_id, officer_row.detail["role"]) == ("officer", officer.id, "police")
    assert officer_row.detail["context"] == "onboard" and officer_row.detail["valid"] is True
    assert officer_row.detail["credential"] == cert.public_id and officer_row.subject_id == cert.id
    assert officer_row.subject_type == "travel_id" and officer_row.citizen_id == cert.citizen_id
    assert officer_row.at == clock.now()
    assert (key_row.actor_type, key_row.actor_id, key_row.detail["context"]) == ("apikey", key.id, "entry")
    assert (public_row.actor_type, public_row.actor_id, public_row.detail["context"]) == ("public", None, None)


def test_unknown_context_is_refused(db_session, cert, clock):
    with pytest.raises(DomainError) as exc:
        verify(db_session, signed_qr(cert, clock.now()), clock, context="gate-7")
    assert exc.value.code == "bad_context"


def test_a_licence_is_resolved_by_its_own_domain_with_the_record_for_traffic_police(db_session, citizen, clock):
    record = LicenceFactory(citizen=citizen)
    application = licences.apply(db_session, citizen=citizen, user_id=None, photo_source="system", photo=None,
                                 now=clock.now(), cities=None, notifier=make_notifier())
    licences.proven(db_session, application, clock.now(), None, notifier=make_notifier())
    record.status = "暂扣"
    db_session.flush()
    text = signed_qr(application, clock.now())
    traffic = Viewer.officer(make_officer(db_session, "traffic"))
    result = verify(db_session, text, clock, traffic, "roadside")
    assert (result.valid, result.reason, result.credential_type) == (False, "licence_status", "driving_licence")
    assert result.message == "驾驶证状态：暂扣，不能使用。"
    assert rules.LICENCE_RECORD in result.fields and result.holder.portrait
    assert result.facts["record_status"] == "暂扣" and result.facts["file_number"] == record.file_number
    assert audit_rows(db_session)[-1].detail["context"] == "roadside"


def test_a_licence_token_naming_no_e_licence_is_not_found(db_session, clock):
    result = verify(db_session, facts_token(LICENCE_7, clock.now()), clock)
    assert (result.valid, result.reason) == (False, "not_found")


def test_checks_for_lists_the_holders_checks_with_role_labels_newest_first(db_session, cert, clock):
    officer = make_officer(db_session, "railway", username="wangwu")
    key, _ = make_api_key(db_session, clock.now())
    text = signed_qr(cert, clock.now())
    verify(db_session, text, clock, Viewer.officer(officer), "entry")
    clock.advance(seconds=10)
    verify(db_session, text, clock, Viewer.api_key(key), "exit")
    clock.advance(seconds=10)
    verify(db_session, text, clock)
    other = make_certificate(db_session, CitizenFactory(), clock.now())
    verify(db_session, signed_qr(other, clock.now()), clock)

    rows = services.checks_for(db_session, cert.citizen_id, clock.now() - timedelta(days=30))
    assert [(r.verifier, r.context_label, r.valid) for r in rows] == [
        ("公众扫码", None, True), ("第三方/闸机", "出站检票", True), ("铁路工作人员", "进站检票", True)]
    assert all("wangwu" not in repr(r) for r in rows)
    assert rows[0].credential_label == "电子临时乘车身份证明"


def test_record_paper_links_the_registry_citizen(db_session, citizen, clock):
    police = make_officer(db_session, "police")
    paper = officer_services.record_paper(db_session, officer=police, name=citizen.name, id_number=citizen.id_number,
                                          station="广州南站", now=clock.now())
    assert paper.citizen_id == citizen.id and paper.serial.startswith("ZM20261120")
    assert officer_services.papers_for(db_session, citizen.id, citizen.id_number, clock.now() - timedelta(days=1)) == [paper]
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "paper.issue"))
    assert (row.actor_id, row.citizen_id) == (police.id, citizen.id)


def test_record_paper_refuses_an_invalid_id_number_and_a_name_mismatch(db_session, citizen, clock):
    police = make_officer(db_session, "police")
    with pytest.raises(InvalidIdNumber):
        officer_services.record_paper(db_session, officer=police, name="张三", id_number="440106199001011234",
                                      station="广州南站", now=clock.now())
    with pytest.raises(DomainError) as exc:
        officer_services.record_paper(db_session, officer=police, name="别人", id_number=citizen.id_number,
                                      station="广州南站", now=clock.now())
    assert exc.value.code == "identity_mismatch"


def test_api_keys_are_stored_as_hashes_and_revocation_stops_them(db_session, clock):
    key, raw = make_api_key(db_session, clock.now())
    assert raw not in (key.key_hash, key.prefix) and raw.startswith(key.prefix)
    assert officer_services.find_api_key(db_session, raw, scope="verify") is key
    officer_services.revoke_api_key(db_session, key.prefix, clock.now())
    with pytest.raises(officer_services.BadApiKey):
        officer_services.find_api_key(db_session, raw, scope="verify")


def test_officer_creation_refuses_weak_passwords_and_duplicate_usernames(db_session, clock):
    with pytest.raises(DomainError):
        officer_services.create_officer(db_session, username="rail01", password="short1", role="railway",
                                        now=clock.now())
    officer_services.create_officer(db_session, username="rail01", password="Long-enough-1", role="railway",
                                    now=clock.now())
    with pytest.raises(DomainError) as exc:
        officer_services.create_officer(db_session, username="RAIL01", password="Long-enough-1", role="police",
                                        now=clock.now())
    assert exc.value.code == "conflict"


def test_api_key_cache_serves_a_revoked_key_only_until_its_ttl_passes_when_the_key_was_in_use(db_session, clock):
    key, raw = make_api_key(db_session, clock.now())
    cache = officer_services.ApiKeyCache(timedelta(seconds=5))
    assert cache.find(db_session, raw, scope="verify", now=clock.now()).id == key.id
    officer_services.revoke_api_key(db_session, key.prefix, clock.now())
    db_session.flush()
    # Within the TTL the worker still trusts what it looked up (the documented bound on revocation)...
    assert cache.find(db_session, raw, scope="verify", now=clock.advance(seconds=4.9).now()).id == key.id
    # ...and once it has passed, the database says no.
    with pytest.raises(officer_services.BadApiKey):
        cache.find(db_session, raw, scope="verify", now=clock.advance(seconds=0.1).now())
    with pytest.raises(officer_services.BadApiKey):
        cache.find(db_session, raw, scope="verify", now=clock.now())


def test_api_key_cache_never_remembers_a_refusal_when_the_key_is_unknown_or_out_of_scope(db_session, clock):
    key, raw = make_api_key(db_session, clock.now())
    cache = officer_services.ApiKeyCache(timedelta(seconds=5))
    for presented, scope in [("ssk_" + "A" * 43, "verify"), (raw, "admin")]:
        for _ in range(2):
            with pytest.raises(officer_services.BadApiKey):
                cache.find(db_session, presented, scope=scope, now=clock.now())
    assert cache.find(db_session, raw, scope="verify", now=clock.now()).id == key.id


def test_api_key_cache_looks_up_again_when_the_clock_steps_back_or_the_ttl_is_zero(db_session, clock):
    key, raw = make_api_key(db_session, clock.now())
    cache = officer_services.ApiKeyCache(timedelta(seconds=5))
    off = officer_services.ApiKeyCache(timedelta(0))
    cache.find(db_session, raw, scope="verify", now=clock.now())
    off.find(db_session, raw, scope="verify", now=clock.now())
    officer_services.revoke_api_key(db_session, key.prefix, clock.now())
    db_session.flush()
    with pytest.raises(officer_services.BadApiKey):
        cache.find(db_session, raw, scope="verify", now=clock.now() - timedelta(seconds=1))
    with pytest.raises(officer_services.BadApiKey):
        off.find(db_session, raw, scope="verify", now=clock.now())
