"""临时乘车身份证明 over HTTP with CSRF on: apply with a location → 实人核验 with real camera frames → result →
QR page → rotating token; every refusal (clear message, nothing written); the 30-minute re-verification,
24 h validity and 申请记录 with the FrozenClock (no sleeping)."""
from __future__ import annotations

import base64
import io
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import csrf_from, start_proofing_from_page
from tests.factories import CitizenFactory, UserFactory
from tests.testdata import load_sequence, needs_testdata
from tests.verification_support import read_claims
from webapp.proofing.models import Challenge
from webapp.travel_id import rules, services
from webapp.travel_id.models import TravelCertificate

GUANGZHOU = {"latitude": "23.13", "longitude": "113.26"}
PROOFING_RE = re.compile(r"/proofing/([A-Za-z0-9_-]{20,})$")
PAPER = "公安制证窗口"


@pytest.fixture(scope="module")
def genuine_frames():
    return load_sequence("genuine_blink_meds_s001")[:24]


@pytest.fixture
def live_policy(app):
    # What a camera without reflected screen light can pass (the colour check is covered elsewhere).
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"


@pytest.fixture
def citizen(db_session, s001_portrait):
    jpeg, encoding = s001_portrait
    return CitizenFactory(portrait=jpeg, portrait_encoding=encoding)


def apply(client, name: str, id_number: str, location: dict | None = GUANGZHOU):
    page = client.get("/travel-id/")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "name": name, "id_number": id_number,
            **(location or {})}
    return client.post("/travel-id/apply", data=data)


def post_frames(client, public_id: str, frames: list[bytes]):
    page = client.get(f"/proofing/{public_id}")
    assert page.status_code == 200
    csrf = re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)
    fields = MultiDict([("blink", FileStorage(io.BytesIO(d), f"b{i}.jpg", content_type="image/jpeg"))
                        for i, d in enumerate(frames)] + [("sent", "1")])
    boundary, body = encode_multipart(fields)
    return client.post(f"/proofing/{public_id}/frames", data=body,
                       headers={"Accept": "application/json", "X-CSRFToken": csrf},
                       content_type=f"multipart/form-data; boundary={boundary}")


def pass_proofing(client, location: str, frames: list[bytes]) -> str:
    """Answer the camera page a redirect led to with genuine frames; return next_url."""
    public_id = PROOFING_RE.search(location).group(1)
    resp = post_frames(client, public_id, frames)
    body = resp.get_json()
    assert resp.status_code == 200 and body["passed"] is True, body
    return body["next_url"]


def apply_and_pass(client, citizen, frames) -> str:
    """The whole application; returns the certificate's public id (this client holds the grant)."""
    resp = apply(client, citizen.name, citizen.id_number)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    issued = client.get(pass_proofing(client, resp.headers["Location"], frames))
    assert issued.status_code == 302
    return re.search(r"/travel-id/([A-Za-z0-9_-]+)/result$", issued.headers["Location"]).group(1)


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def issue_direct(db_session, citizen, now, **kw) -> TravelCertificate:
    cert = services.issue(db_session, citizen=citizen, lat=23.13, lon=113.26, city="广州市", now=now,
                          user_id=kw.get("user_id"), challenge_public_id=None)
    db_session.flush()
    return cert


# --- the real flow ------------------------------------------------------------------------------------

@needs_testdata
def test_apply_proof_result_qr_and_token_when_everything_is_right(app, client, db_session, clock, citizen,
                                                                  genuine_frames, live_policy):
    resp = apply(client, citizen.name, citizen.id_number)
    assert resp.status_code == 302 and PROOFING_RE.search(resp.headers["Location"])
    assert count(db_session, TravelCertificate) == 0  # nothing issued before 实人核验 passes

    next_url = pass_proofing(client, resp.headers["Location"], genuine_frames)
    issued = client.get(next_url)

    assert issued.status_code == 302
    public_id = re.search(r"/travel-id/([A-Za-z0-9_-]+)/result$", issued.headers["Location"]).group(1)
    cert = db_session.scalar(select(TravelCertificate).where(TravelCertificate.public_id == public_id))
    assert (cert.citizen_id, cert.slot, cert.located_city, cert.applicant_user_id) == \
        (citizen.id, 1, "广东省广州市", None)
    assert (cert.latitude, cert.longitude) == (23.13, 113.26)  # the location is recorded
    assert cert.expires_at - cert.issued_at == timedelta(hours=24) and cert.issued_at == clock.now()
    assert client.get(next_url).status_code == 400  # the passed challenge issues once, not twice
    assert count(db_session, TravelCertificate) == 1

    result = client.get(issued.headers["Location"]).get_data(as_text=True)
    assert "审核通过" in result and "查看乘车身份证明" in result and citizen.name in result
    assert citizen.id_number not in result  # masked

    page = client.get(f"/travel-id/{public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "刷新" in html and "秒后自动刷新" in html and "亮度" in html and citizen.id_number not in html
    assert "<script>" not in html  # CSP: the page's code is an external module

    token_resp = client.get(f"/travel-id/{public_id}/token", headers={"Accept": "application/json"})
    body = token_resp.get_json()
    assert token_resp.status_code == 200 and token_resp.headers["Cache-Control"] == "no-store"
    assert body["state"] == "valid" and 0 < body["refresh_in"] <= 60
    assert body["url"] == f"{app.config['BASE_URL']}/v/{body['token']}"
    claims = read_claims(app, body["url"], clock.now())
    assert (claims.kind, claims.db_id) == ("travel_id", services.get(db_session, public_id).id)
    assert body["qr"].startswith("data:image/svg+xml")
    svg = unquote(body["qr"].split(",", 1)[1]) if ";base64" not in body["qr"][:40] \
        else base64.b64decode(body["qr"].split(",", 1)[1]).decode()
    assert "<svg" in svg


@needs_testdata
def test_qr_page_needs_reverify_after_30_minutes_which_does_not_count(client, db_session, clock, citizen,
                                                                     genuine_frames, live_policy):
    public_id = apply_and_pass(client, citizen, genuine_frames)
    token_url = f"/travel-id/{public_id}/token"

    clock.advance(minutes=29, seconds=59)
    ok = client.get(token_url, headers={"Accept": "application/json"})
    assert ok.status_code == 200 and ok.get_json()["reverify_in"] == 1 and ok.get_json()["token"]

    clock.advance(seconds=1)
    refused = client.get(token_url, headers={"Accept": "application/json"})
    assert refused.status_code == 403
    assert refused.get_json()["reverify_url"] == f"/travel-id/{public_id}/reverify"
    assert "token" not in refused.get_json()
    page = client.get(f"/travel-id/{public_id}")
    assert page.status_code == 302 and page.headers["Location"] == f"/travel-id/{public_id}/reverify"

    # 实人核验 again, and the QR page opens again; the quota is untouched. The anonymous GET creates nothing: its
    # page's POST starts the challenge (issue 12: a link anyone can open must not mint challenges).
    start_page = client.get(f"/travel-id/{public_id}/reverify")
    assert count(db_session, Challenge) == 1
    start = start_proofing_from_page(client, start_page)
    assert count(db_session, Challenge) == 2
    granted = client.get(pass_proofing(client, start.headers["Location"], genuine_frames))
    assert granted.status_code == 302 and granted.headers["Location"] == f"/travel-id/{public_id}"
    assert client.get(f"/travel-id/{public_id}").status_code == 200
    assert services.used_this_month(db_session, citizen.id, clock.now()) == 1
    assert count(db_session, TravelCertificate) == 1


@needs_testdata
def test_qr_page_opened_from_another_browser_sends_it_to_reverify(app, client, citizen, genuine_frames,
                                                                 live_policy):
    public_id = apply_and_pass(client, citizen, genuine_frames)
    # A non-registered user who closes the browser: a new session cookie, no grant.
    stranger = app.test_client()

    page = stranger.get(f"/travel-id/{public_id}")
    result = stranger.get(f"/travel-id/{public_id}/result")
    token = stranger.get(f"/travel-id/{public_id}/token", headers={"Accept": "application/json"})

    assert page.status_code == 302 and page.headers["Location"] == f"/travel-id/{public_id}/reverify"
    assert result.status_code == 302 and result.headers["Location"].endswith("/reverify")
    assert token.status_code == 403 and "token" not in token.get_json()
    assert client.get(f"/travel-id/{public_id}").status_code == 200  # the applicant's own browser still can


# --- refusals: a clear message, nothing written ----------------------------------------------------------

def assert_nothing_written(db_session):
    assert count(db_session, TravelCertificate) == 0
    assert count(db_session, Challenge) == 0


def test_invalid_id_number_is_refused_before_the_registry(client, db_session, citizen):
    bad = citizen.id_number[:-1] + ("0" if citizen.id_number[-1] != "0" else "1")  # wrong check digit

    resp = apply(client, "不存在的人", bad)

    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "身份证号" in html and "不匹配" not in html  # the number's own error, not a registry lookup
    assert_nothing_written(db_session)


def test_name_that_does_not_match_the_number_is_refused(client, db_session, citizen):
    resp = apply(client, citizen.name + "错", citizen.id_number)

    assert resp.status_code == 400 and "姓名与身份证号不匹配" in resp.get_data(as_text=True)
    assert_nothing_written(db_session)


def test_application_without_a_location_is_refused(client, db_session, citizen):
    resp = apply(client, citizen.name, citizen.id_number, location=None)

    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "定位" in html and "重新定位" in html
    assert_nothing_written(db_session)


def test_application_outside_the_service_area_is_refused(app, client, db_session, citizen):
    app.config["SUISHEN_TRAVEL_ID_CITIES"] = "北京"

    resp = apply(client, citizen.name, citizen.id_number)  # located in Guangzhou

    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "暂未开通" in html and "广州" in html and "北京" in html
    located = client.get("/travel-id/locate?lat=23.13&lon=113.26", headers={"Accept": "application/json"})
    assert located.status_code == 400 and located.get_json()["code"] == "outside_service_area"
    assert_nothing_written(db_session)


def test_fourth_application_in_a_month_is_refused_with_the_paper_route(client, db_session, clock, citizen):
    for _ in range(rules.MONTHLY_QUOTA):
        issue_direct(db_session, citizen, clock.now())

    resp = apply(client, citizen.name, citizen.id_number)

    html = resp.get_data(as_text=True)
    assert resp.status_code == 429 and PAPER in html and "已达上限" in html
    assert count(db_session, TravelCertificate) == rules.MONTHLY_QUOTA
    assert count(db_session, Challenge) == 0  # refused before any camera step


def test_locate_answers_the_city_for_the_apply_page(client):
    resp = client.get("/travel-id/locate?lat=23.13&lon=113.26", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "city": "广东省广州市"}
    missing = client.get("/travel-id/locate", headers={"Accept": "application/json"})
    assert missing.status_code == 400 and missing.get_json()["code"] == "location_required"


# --- validity and records ----------------------------------------------------------------------------

def grant(client, public_id: str, at) -> None:
    """What passing 实人核验 for viewing leaves in the session (arranged: the face check is tested above)."""
    with client.session_transaction() as sess:
        sess["travel_id_grants"] = {public_id: at.isoformat()}


def test_expired_certificate_shows_expired_with_reapply_and_no_token(client, db_session, clock, citizen):
    cert = issue_direct(db_session, citizen, clock.now())
    clock.advance(hours=23, minutes=59, seconds=59)
    grant(client, cert.public_id, clock.now())
    still = client.get(f"/travel-id/{cert.public_id}/token", headers={"Accept": "application/json"}).get_json()
    assert still["state"] == "valid" and still["token"]

    clock.advance(seconds=1)  # 24 h after issue
    body = client.get(f"/travel-id/{cert.public_id}/token", headers={"Accept": "application/json"}).get_json()
    html = client.get(f"/travel-id/{cert.public_id}").get_data(as_text=True)

    assert body["state"] == "expired" and "token" not in body and "qr" not in body and "url" not in body
    assert "已过期" in html and "重新申请" in html and PAPER in html and 'id="qr-img"' not in html


def test_records_need_login(client):
    resp = client.get("/travel-id/records")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_records_list_only_own_certificates_of_the_last_month(client, auth, db_session, clock, citizen):
    user = UserFactory(citizen=citizen)
    other = issue_direct(db_session, CitizenFactory(), clock.now())
    old = issue_direct(db_session, citizen, clock.now() - timedelta(days=32))
    recent = issue_direct(db_session, citizen, clock.now() - timedelta(days=3))
    today = issue_direct(db_session, citizen, clock.now())
    assert auth.login(user.phone).status_code == 302

    html = client.get("/travel-id/records").get_data(as_text=True)

    assert today.public_id in html and recent.public_id in html
    assert old.public_id not in html and other.public_id not in html
    assert html.index(today.public_id) < html.index(recent.public_id)  # newest first
    assert "本月已申请 2 / 3 次" in html


def test_records_list_the_travel_ids_checks_but_not_the_driving_licences_when_both_were_scanned(
        client, auth, db_session, clock, citizen):
    from tests.conftest import make_notifier
    from tests.factories import LicenceFactory
    from webapp.driving_licence import services as licences

    LicenceFactory(citizen=citizen)
    user = UserFactory(citizen=citizen, level="realperson")
    cert = issue_direct(db_session, citizen, clock.now())
    licence = licences.apply(db_session, citizen=citizen, user_id=user.id, photo_source="system", photo=None,
                             now=clock.now(), cities=None, notifier=make_notifier())
    licences.proven(db_session, licence, clock.now(), None, notifier=make_notifier())
    db_session.commit()
    from tests.verification_support import qr_text

    for credential in (cert, licence):
        text = qr_text(client.application, credential, clock.now())
        assert client.post("/api/v1/verify", json={"qr": text}).get_json()["valid"] is True
    assert auth.login(user.phone).status_code == 302

    html = client.get("/travel-id/records").get_data(as_text=True)

    checks = html[html.index('id="checks-title"'):]
    assert checks.count("<li>") == 1 and "电子临时乘车身份证明" in checks and "电子驾驶证" not in checks


def test_registered_users_grant_ends_with_logout(client, auth, db_session, clock, citizen):
    user = UserFactory(citizen=citizen)
    cert = issue_direct(db_session, citizen, clock.now(), user_id=user.id)
    assert auth.login(user.phone).status_code == 302
    grant(client, cert.public_id, clock.now())
    assert client.get(f"/travel-id/{cert.public_id}").status_code == 200

    auth.logout()

    page = client.get(f"/travel-id/{cert.public_id}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/reverify")


@needs_testdata
def test_application_completes_after_a_failed_attempt_and_a_retry(client, db_session, citizen, genuine_frames,
                                                                 live_policy):
    resp = apply(client, citizen.name, citizen.id_number)
    first = PROOFING_RE.search(resp.headers["Location"]).group(1)
    failed = post_frames(client, first, load_sequence("static_photo_meds_s001")[:15]).get_json()
    assert failed["passed"] is False and failed["retry_url"]
    page = client.get(f"/proofing/{first}").get_data(as_text=True)

    retried = client.post(failed["retry_url"], data={"csrf_token": csrf_from(page)})
    issued = client.get(pass_proofing(client, retried.headers["Location"], genuine_frames))

    assert issued.status_code == 302 and issued.headers["Location"].endswith("/result"), \
        issued.get_data(as_text=True)[:500]
    assert count(db_session, TravelCertificate) == 1


def test_issue_is_refused_when_the_challenge_has_not_passed(client, db_session, citizen):
    resp = apply(client, citizen.name, citizen.id_number)
    public_id = PROOFING_RE.search(resp.headers["Location"]).group(1)

    issued = client.get(f"/travel-id/issue?c={public_id}")
    forged = client.get("/travel-id/issue?c=not-mine")

    assert issued.status_code in (400, 403) and "实人核验" in issued.get_data(as_text=True)
    assert forged.status_code == 400 and "重新申请" in forged.get_data(as_text=True)
    assert count(db_session, TravelCertificate) == 0


def test_verified_users_apply_with_their_own_identity_whatever_is_posted(client, auth, db_session, citizen):
    user = UserFactory(citizen=citizen, level="realperson")
    someone_else = CitizenFactory(portrait=citizen.portrait, portrait_encoding=citizen.portrait_encoding)
    assert auth.login(user.phone).status_code == 302
    page = client.get("/travel-id/").get_data(as_text=True)
    masked = citizen.id_number[:4] + "*" * 10 + citizen.id_number[-4:]
    assert f'value="{masked}" readonly' in page and "已使用您账号的实名信息" in page
    assert citizen.id_number not in page  # the page never needs the full number (SPEC §8)

    resp = apply(client, someone_else.name, someone_else.id_number)

    assert resp.status_code == 302
    challenge = db_session.scalar(select(Challenge))
    assert (challenge.citizen_id, challenge.user_id, challenge.purpose) == (citizen.id, user.id, "travel_id_apply")


# --- re-verification says why (issue 16) ------------------------------------------------------------------------
def test_reverify_in_a_new_browser_says_why_and_that_it_costs_no_application(app, db_session, clock, citizen):
    cert = issue_direct(db_session, citizen, clock.now())
    db_session.commit()
    other_browser = app.test_client()

    shown = other_browser.get(f"/travel-id/{cert.public_id}", follow_redirects=True)

    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and rules.REVERIFY_IN_NEW_BROWSER in html and "不占用申请次数" in html
    assert 'name="token"' in html  # the start page of 实人核验, whose button creates the challenge


def test_reverify_after_30_minutes_says_why_on_the_camera_page_when_signed_in(client, auth, db_session, clock,
                                                                              citizen):
    user = UserFactory(citizen=citizen, level="realperson")
    cert = issue_direct(db_session, citizen, clock.now(), user_id=user.id)
    db_session.commit()
    assert auth.login(user.phone).status_code == 302
    grant(client, cert.public_id, clock.now())
    clock.advance(minutes=30)

    first = client.get(f"/travel-id/{cert.public_id}")
    camera = client.get(first.headers["Location"], follow_redirects=True)

    assert first.headers["Location"].endswith("/reverify")
    html = camera.get_data(as_text=True)
    assert "/proofing/" in camera.request.path and rules.REVERIFY_AFTER_30_MINUTES in html
    assert "不占用申请次数" in html


def test_reverify_goes_back_to_the_qr_page_when_the_grant_still_holds(client, db_session, clock, citizen):
    cert = issue_direct(db_session, citizen, clock.now())
    db_session.commit()
    grant(client, cert.public_id, clock.now())
    clock.advance(minutes=29, seconds=59)
    before = db_session.scalar(select(func.count()).select_from(Challenge))

    resp = client.get(f"/travel-id/{cert.public_id}/reverify")

    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/travel-id/{cert.public_id}")
    assert db_session.scalar(select(func.count()).select_from(Challenge)) == before
