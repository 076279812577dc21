"""Offline verification over HTTP (issue 17): the published keys and signed status list, the short offline verifier
of scripts/ fed with nothing but those two, and the upload of scans an officer's page made offline (SQLite and
PostgreSQL)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from
from tests.factories import CitizenFactory, UserFactory
from tests.http.test_licence_http import issue_directly, make_user
from tests.conftest import log_officer_in as login_officer
from tests.verification_support import (
    load_offline_verifier,
    make_api_key,
    make_certificate,
    make_officer,
    qr_text,
    signed_qr,
)
from webapp.audit.models import AuditEvent
from webapp.signing import keys
from webapp.signing.keys import KeyRing
from webapp.verification import rules

offline_verify = load_offline_verifier()


def published(client) -> offline_verify.Trust:
    """What a gate keeps while online: the JWKS and the status list, fetched over HTTP."""
    return offline_verify.Trust(client.get("/.well-known/jwks.json").get_json(), client.get("/status-list").data)


def offline(text, trust, at, max_age=3600):
    return offline_verify.verify(text, trust, at.timestamp(), max_age)


@pytest.fixture
def cert(db_session, clock):
    cert = make_certificate(db_session, CitizenFactory(name="欧阳娜娜"), clock.now())
    db_session.commit()
    return cert


def test_keys_are_published_as_a_cacheable_jwks_without_private_parts(client):
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "public, max-age=300"
    (key,) = resp.get_json()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"} and key["alg"] == "ES256"


def test_status_list_is_a_signed_cwt_naming_withdrawn_and_seized_credentials(app, client, db_session, clock):
    revoked = make_certificate(db_session, CitizenFactory(), clock.now(), status="revoked")
    user = make_user(db_session)
    with app.app_context():
        licence = issue_directly(db_session, user)
    user.citizen.licence.status = "扣留"
    db_session.commit()
    resp = client.get("/status-list")
    assert resp.status_code == 200 and resp.mimetype == "application/statuslist+cwt"
    assert resp.headers["Cache-Control"] == "public, max-age=60"
    trust = published(client)
    assert trust.status_iat == int(clock.now().timestamp())
    assert trust.state(2 * revoked.id) == 1 and trust.state(2 * licence.id + 1) == 2
    assert trust.state(2 * (licence.id + 50) + 1) == trust.state(2 * (revoked.id + 50)) == 0


def test_live_token_verifies_offline_with_only_the_published_keys(app, client, cert, clock):
    trust = published(client)
    result = offline(qr_text(app, cert, clock.now()), trust, clock.now() + timedelta(seconds=30))
    assert (result.verdict, result.reason) == ("valid", None)
    assert result.facts["持证人"] == "欧***" and result.facts["票种"] == "全价票"
    assert result.facts["证件"] == "电子临时乘车身份证明" and result.facts["签发方"] == "http://localhost"


def test_tampered_expired_future_wrong_key_and_revoked_tokens_are_refused_offline_with_their_reason(
        app, client, db_session, cert, clock, tmp_path):
    now = clock.now()
    good = qr_text(app, cert, now)
    withdrawn = make_certificate(db_session, CitizenFactory(), now, status="revoked")
    db_session.commit()
    keys.init_keys(tmp_path, now)
    trust = published(client)
    cases = {
        "tampered payload": (good[:90] + ("A" if good[90] != "A" else "B") + good[91:], "bad_signature"),
        "tampered signature": (good[:-5] + ("A" if good[-5] != "A" else "B") + good[-4:], "bad_signature"),
        "stale screenshot": (qr_text(app, cert, now - timedelta(minutes=3)), "stale"),
        "future": (qr_text(app, cert, now + timedelta(minutes=5)), "future"),
        "expired credential": (qr_text(app, cert, cert.expires_at + timedelta(seconds=10)), "expired"),
        "wrong key": (signed_qr(cert, now, ring=KeyRing(tmp_path)), "unknown_key"),
        "revoked": (qr_text(app, withdrawn, now), "revoked"),
        "garbage": ("http://localhost/v/not-a-token", "malformed"),
    }
    for name, (text, reason) in cases.items():
        at = cert.expires_at + timedelta(seconds=20) if name == "expired credential" else now
        result = offline(text, trust, at)
        assert (result.verdict, result.reason) == ("invalid", reason), name
    # A status list older than the verifier's setting: it cannot tell, whatever the token says.
    result = offline(good, trust, now + timedelta(seconds=30), max_age=20)
    assert (result.verdict, result.reason) == ("unknown", "status_unknown")


def test_command_line_verifier_reads_the_stored_keys_and_list(app, client, cert, clock, tmp_path, capsys):
    (tmp_path / "jwks.json").write_bytes(client.get("/.well-known/jwks.json").data)
    (tmp_path / "status-list.cwt").write_bytes(client.get("/status-list").data)
    at = clock.now().isoformat()
    assert offline_verify.main(["--store", str(tmp_path), "--at", at, qr_text(app, cert, clock.now())]) == 0
    assert capsys.readouterr().out.startswith("有效（离线核验）")
    assert offline_verify.main(["--store", str(tmp_path), "--at", at, "garbage"]) == 1
    assert "无效：无法识别的二维码" in capsys.readouterr().out


def test_rotated_key_signs_after_its_prepublication_and_the_old_one_stays_published_meanwhile(
        app, client, cert, clock, tmp_path):
    app.config["SUISHEN_SIGNING_KEYS"] = str(tmp_path)
    ring = KeyRing(tmp_path)
    app.extensions["signing"] = ring
    runner = app.test_cli_runner()
    assert "已创建签名密钥" in runner.invoke(args=["keys", "init"]).output
    before = qr_text(app, cert, clock.now())
    out = runner.invoke(args=["keys", "rotate"]).output
    assert "起签名" in out
    ring.reload()   # a worker sees the folder change within keys.RELOAD_EVERY
    assert len(client.get("/.well-known/jwks.json").get_json()["keys"]) == 2
    assert [line.split("\t")[1] for line in runner.invoke(args=["keys", "list"]).output.splitlines()] == [
        "签名中", "待启用"]
    clock.advance(seconds=app.config["SUISHEN_OFFLINE_STATUS_MAX_AGE"])
    ring.reload()
    after = qr_text(app, cert, clock.now())
    assert before.rsplit("/v/")[1][:12] != after.rsplit("/v/")[1][:12]  # another kid in the protected header
    assert client.post("/api/v1/verify", json={"qr": after}).get_json()["valid"] is True
    clock.advance(minutes=5)
    ring.reload()
    assert len(client.get("/.well-known/jwks.json").get_json()["keys"]) == 1
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    assert runner.invoke(args=["keys", "rotate"]).exit_code != 0   # one is already waiting


# --- Scans made offline, uploaded later ----------------------------------------------------------------------

URL = "/api/v1/verify/offline"


def scan(text, at, **fields):
    return {"id": fields.pop("id", "scan-1"), "qr": text, "context": "entry",
            "scanned_at": at if isinstance(at, str) else at.isoformat(),
            "valid": True, "reason": None, **fields}


def test_offline_scans_uploaded_later_are_logged_at_their_time_once_and_shown_to_the_holder(
        app, client, auth, db_session, clock):
    user = UserFactory()
    cert = make_certificate(db_session, user.citizen, clock.now())
    officer = make_officer(db_session, "railway")
    db_session.commit()
    scanned_at = clock.now() + timedelta(seconds=5)
    text = qr_text(app, cert, clock.now())
    clock.advance(hours=3)   # the officer's page was offline for three hours
    login_officer(client, officer)
    body = {"scans": [scan(text, scanned_at), scan(text, scanned_at, id="scan-2", valid=False,
                                                     reason="status_unknown"),
                      scan("1234", scanned_at, id="scan-3")]}
    bad = client.post(URL, json={"scans": [*body["scans"], {"id": "scan-4", "qr": text}]})
    assert bad.status_code == 400 and bad.get_json()["error"] == "malformed_scan"   # refused whole, nothing written
    answer = client.post(URL, json=body).get_json()
    assert answer["recorded"] == ["scan-1", "scan-2"] and answer["duplicates"] == []
    assert [(r["id"], r["error"]) for r in answer["refused"]] == [("scan-3", "online_only")]
    again = client.post(URL, json={"scans": [scan(text, scanned_at)]}).get_json()
    assert (again["recorded"], again["duplicates"]) == ([], ["scan-1"])

    rows = list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                                   .order_by(AuditEvent.id)))
    assert len(rows) == 2 and all(r.at == scanned_at and r.citizen_id == cert.citizen_id for r in rows)
    assert rows[0].detail["offline"] is True and rows[0].detail["valid"] is True
    assert rows[0].detail["received_at"] == clock.now().isoformat() and rows[0].actor_id == officer.id
    assert (rows[1].detail["valid"], rows[1].detail["reason"]) == (False, "status_unknown")

    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})
    auth.login(user.phone)
    checks = client.get("/travel-id/records").get_data(as_text=True).split("核验记录", 1)[1]
    checks = re.sub(r"<[^>]+>", "", checks)
    assert checks.count("· 离线核验 ·") == 2 and "铁路工作人员 · 进站检票" in checks
    assert "离线核验时证件状态列表过旧，无法确认。" in checks


def test_an_uploaded_token_that_does_not_check_out_is_logged_with_the_servers_reason(app, client, db_session, cert,
                                                                                   clock):
    officer = make_officer(db_session, "police")
    db_session.commit()
    login_officer(client, officer)
    text = qr_text(app, cert, clock.now())
    forged = text[:-5] + ("A" if text[-5] != "A" else "B") + text[-4:]
    late = clock.now() + timedelta(minutes=10)   # said valid, but scanned long after the token's life
    clock.advance(minutes=11)
    answer = client.post(URL, json={"scans": [scan(forged, clock.now()), scan(text, late, id="late")]}).get_json()
    assert answer["recorded"] == ["scan-1", "late"]
    rows = list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                                   .order_by(AuditEvent.id)))
    assert [(r.detail["valid"], r.detail["reason"], r.citizen_id) for r in rows] == [
        (False, "bad_signature", None), (False, "stale", cert.citizen_id)]


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"scans": []}, 400, "malformed_json"),
    ({"scans": "x"}, 400, "malformed_json"),
    ([1, 2], 400, "malformed_json"),
    ({"scans": [{"id": "a"}] * 21}, 400, "malformed_json"),
    ({"scans": [{"id": "a", "qr": "x", "scanned_at": "2026-11-20T02:00:00+00:00", "extra": 1}]}, 400,
     "malformed_scan"),
    ({"scans": [{"id": "a", "qr": "x", "scanned_at": "2026-11-20T02:00:00"}]}, 400, "malformed_scan"),
    ({"scans": [{"id": "a", "qr": "x", "scanned_at": "2026-11-20 02:00:00+00:00"}]}, 400, "malformed_scan"),
    ({"scans": [{"id": "a", "qr": "x", "scanned_at": "2026-11-20T02:00:00+00:00", "context": "gate-7"}]}, 400,
     "malformed_scan"),
    ({"scans": [], "more": 1}, 400, "malformed_json"),
])
def test_malformed_uploads_are_refused_whole(client, db_session, clock, body, status, error):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    login_officer(client, officer)
    resp = client.post(URL, json=body)
    assert (resp.status_code, resp.get_json()["error"]) == (status, error)


def test_uploads_need_an_officer_or_an_api_key_and_refuse_times_out_of_range(app, client, db_session, cert, clock):
    text = qr_text(app, cert, clock.now())
    assert client.post(URL, json={"scans": [scan(text, clock.now())]}).status_code == 401
    _key, raw = make_api_key(db_session, clock.now())
    db_session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    answer = client.post(URL, headers=headers, json={"scans": [
        scan(text, clock.now() - timedelta(days=8), id="old"), scan(text, clock.now() + timedelta(minutes=5), id="ahead"),
        scan(text, clock.now(), id="ok", context="exit")]}).get_json()
    assert answer["recorded"] == ["ok"]
    assert [(r["id"], r["error"]) for r in answer["refused"]] == [("old", "bad_time"), ("ahead", "bad_time")]


def test_a_production_server_refuses_to_start_without_a_signing_key(app, tmp_path):
    from webapp import signing

    app.config["SUISHEN_ENV"] = "production"
    app.extensions["signing"] = KeyRing(tmp_path)
    with pytest.raises(RuntimeError, match="keys init"):
        signing.check_keys(app)
    keys.init_keys(tmp_path, app.extensions["clock"].now())
    app.extensions["signing"] = KeyRing(tmp_path)
    signing.check_keys(app)
