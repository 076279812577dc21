"""The reviewer's queue and photo replacement over HTTP, CSRF on, with the injectable clock.

An album-photo application goes through the real routes (upload → machine photo checks → 实人核验 with genuine
frames) into the review queue with its due time (within 1 working day); a reviewer approves one and rejects
another with a reason; the holders get the in-app message; non-reviewers get 403. A camera/album photo can be
replaced only 6 months after it was set: refused the minute before, accepted at that instant.

The MEDS frames of S001 are mugshots on a mid-grey wall (background luma ≈ 74) that the background check (≥ 90)
refuses; these tests lower that threshold (``grey_wall_accepted``) to follow the accepted path.
"""
from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage

from tests.conftest import T0, csrf_from, make_notifier
from tests.http.test_licence_http import make_user
from tests.http.test_travel_http import pass_proofing
from tests.testdata import load_sequence, needs_testdata
from tests.verification_support import make_officer
from webapp.driving_licence import rules, services
from webapp.driving_licence.models import ACTIVE, PENDING, REJECTED, ElectronicLicence
from webapp.notify.services import outbox

pytestmark = needs_testdata

PASSWORD = "passw0rd1"
DUE_TEXT = "2026-11-23 23:59"  # T0 is Friday 10:00 Beijing: the next working day is Monday 11-23


@pytest.fixture
def grey_wall_accepted(monkeypatch):
    monkeypatch.setattr(rules, "BACKGROUND_MIN_LUMA", 70.0)


@pytest.fixture
def live_policy(app):
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"


@pytest.fixture(scope="module")
def s001_frames():
    return load_sequence("genuine_blink_meds_s001")


def jpeg_upload(data: bytes, name: str = "photo.jpg") -> FileStorage:
    return FileStorage(io.BytesIO(data), name, content_type="image/jpeg")


def login(client, user):
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    resp = client.post("/account/login", data={"csrf_token": token, "account": user.phone, "password": PASSWORD})
    assert resp.status_code == 302


def logout(client):
    page = client.get("/account/").get_data(as_text=True)
    client.post("/account/logout", data={"csrf_token": csrf_from(page)})


def officer_logout(client):
    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})


def pending_by_album(db_session, user, photo: bytes) -> ElectronicLicence:
    application = services.apply(db_session, citizen=user.citizen, user_id=user.id, photo_source=rules.PHOTO_ALBUM,
                                 photo=photo, now=T0, cities=None, notifier=make_notifier())
    services.proven(db_session, application, T0, None, notifier=make_notifier())
    db_session.commit()
    return application


def test_album_application_is_queued_then_approved_or_rejected_by_a_reviewer(
        client, db_session, live_policy, grey_wall_accepted, s001_portrait, s001_frames, officer_login):
    first = make_user(db_session, portrait=s001_portrait)
    second = make_user(db_session, portrait=s001_portrait)

    # The first applies through the routes with an album photo, then passes 实人核验.
    login(client, first)
    token = csrf_from(client.get("/licence/").get_data(as_text=True))
    resp = client.post("/licence/apply", data={"csrf_token": token, "photo_source": "album",
                                               "album": jpeg_upload(s001_frames[0])},
                       content_type="multipart/form-data")
    assert resp.status_code == 302 and "/proofing/" in resp.location
    done = client.get(pass_proofing(client, resp.location, s001_frames[:24]))
    assert done.status_code == 302 and done.location.endswith("/licence/")
    page = client.get("/licence/").get_data(as_text=True)
    assert "申请审核中" in page and f'<strong id="review-due">{DUE_TEXT}</strong>' in page
    assert f"预计 {DUE_TEXT} 前完成" in page  # the in-app message of the submission
    logout(client)
    queued = db_session.query(ElectronicLicence).filter_by(citizen_id=first.citizen_id).one()
    assert queued.status == PENDING and queued.photo_source == rules.PHOTO_ALBUM
    # The second one's application is arranged directly (same service calls, no second camera run).
    other = pending_by_album(db_session, second, queued.photo)

    # Non-reviewers: citizens and officers of other roles get 403; anonymous is sent to the officer sign-in.
    assert client.get("/licence/review").status_code == 302
    login(client, first)
    assert client.get("/licence/review").status_code == 403
    citizen_csrf = csrf_from(client.get("/account/").get_data(as_text=True))
    assert client.post(f"/licence/review/{queued.public_id}",
                       data={"csrf_token": citizen_csrf, "approve": "审核通过"}).status_code == 403
    logout(client)
    for role in ("traffic", "railway", "police"):
        officer = make_officer(db_session, role)
        db_session.commit()
        officer_login(client, officer)
        officer_csrf = csrf_from(client.get("/officer/").get_data(as_text=True))
        assert client.get("/licence/review").status_code == 403, role
        assert client.post(f"/licence/review/{queued.public_id}",
                           data={"csrf_token": officer_csrf, "approve": "审核通过"}).status_code == 403, role
        officer_logout(client)
    db_session.expire_all()
    assert db_session.get(ElectronicLicence, queued.id).status == PENDING

    # The reviewer's queue: both, due first first, with the due time and both photos.
    reviewer = make_officer(db_session, "reviewer")
    db_session.commit()
    officer_login(client, reviewer)
    queue = client.get("/licence/review")
    html = queue.get_data(as_text=True)
    assert queue.status_code == 200
    shown = re.sub(r"<[^>]+>", "", html)  # the text as read (times sit in <span class="nowrap">)
    assert shown.count(f"须在 {DUE_TEXT} 前审核") == 2 and "已超时" not in html
    assert html.index(queued.public_id) < html.index(other.public_id)
    assert html.count('alt="申请照片"') == 2 and html.count('alt="人口库照片"') == 2
    token = csrf_from(html)

    # Without the CSRF token nothing is decided.
    resp = client.post(f"/licence/review/{queued.public_id}", data={"approve": "审核通过"})
    assert resp.status_code == 400
    db_session.expire_all()
    assert db_session.get(ElectronicLicence, queued.id).status == PENDING

    resp = client.post(f"/licence/review/{queued.public_id}", data={"csrf_token": token, "approve": "审核通过"})
    assert resp.status_code == 302 and "已审核通过" in client.get(resp.location).get_data(as_text=True)
    # A rejection needs a reason.
    resp = client.post(f"/licence/review/{other.public_id}", data={"csrf_token": token, "reject": "不通过",
                                                                   "reason": "  "})
    assert resp.status_code == 400 and "请填写不通过的原因" in resp.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(ElectronicLicence, other.id).status == PENDING
    resp = client.post(f"/licence/review/{other.public_id}", data={"csrf_token": token, "reject": "不通过",
                                                                   "reason": "照片未免冠"})
    assert "已退回申请" in client.get(resp.location).get_data(as_text=True)
    # Deciding twice is refused with a message, not a 500.
    resp = client.post(f"/licence/review/{other.public_id}", data={"csrf_token": token, "approve": "审核通过"})
    assert resp.status_code == 409 and "不在待审核状态" in resp.get_data(as_text=True)
    assert "暂无待审核的申请" in client.get("/licence/review").get_data(as_text=True)
    officer_logout(client)

    db_session.expire_all()
    approved, rejected = db_session.get(ElectronicLicence, queued.id), db_session.get(ElectronicLicence, other.id)
    assert approved.status == ACTIVE and approved.issued_at == T0
    assert rejected.status == REJECTED and rejected.status_reason == "照片未免冠"

    # The holders are told in the app.
    login(client, first)
    page = client.get("/licence/").get_data(as_text=True)
    assert "出示电子驾驶证" in page and "已申领成功" in page
    logout(client)
    login(client, second)
    page = client.get("/licence/").get_data(as_text=True)
    assert "未通过审核：照片未免冠" in page and 'id="licence-reason"' in page
    assert 'action="/licence/apply"' in page  # and may apply again
    # ...and by SMS to the phone on file (the embedded gateway's outbox).
    assert any("未通过审核：照片未免冠" in m.body for m in outbox(db_session, phone=second.citizen.phone))
    assert any("已申领成功" in m.body for m in outbox(db_session, phone=first.citizen.phone))


def test_photo_replacement_is_refused_before_6_months_and_accepted_after(client, db_session, clock,
                                                                         grey_wall_accepted, s001_portrait,
                                                                         s001_frames):
    user = make_user(db_session, portrait=s001_portrait)
    application = pending_by_album(db_session, user, b"\xff\xd8album")
    services.decide(db_session, application.public_id, approve=True, reason="", reviewer=make_officer(
        db_session, "reviewer"), now=T0, notifier=make_notifier())
    db_session.commit()
    login(client, user)

    def replace(photo: bytes):
        # The show page has no photo form before the time: post anyway, with the session's token from 我的.
        token = csrf_from(client.get("/account/").get_data(as_text=True))
        return client.post(f"/licence/{application.public_id}/photo", data={
            "csrf_token": token, "photo_source": "camera", "camera": jpeg_upload(photo, "camera.jpg")},
            content_type="multipart/form-data")

    # Issued with an album photo at T0 (Beijing 2026-11-20 10:00): replaceable from 2027-05-20 10:00.
    page = client.get(f"/licence/{application.public_id}").get_data(as_text=True)
    assert "2027-05-20 10:00 后可更换" in page and "/photo" not in page  # no form yet
    clock.advance(days=180, hours=23, minutes=59)  # 2027-05-20 09:59 Beijing
    resp = replace(s001_frames[3])
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "不足 6 个月" in body and "2027-05-20 10:00 后可更换照片" in body
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    db_session.expire_all()
    assert db_session.get(ElectronicLicence, application.id).photo == b"\xff\xd8album"

    clock.advance(minutes=1)
    assert "现在可以更换" in client.get(f"/licence/{application.public_id}").get_data(as_text=True)
    # A photo that fails a check is refused with the reason, even when the time has come.
    resp = replace(b"\xff\xd8 not really a jpeg")
    assert resp.status_code == 400 and rules.CHECK_MESSAGES["bad_image"] in resp.get_data(as_text=True)
    resp = replace(s001_frames[3])
    assert resp.status_code == 302
    assert "照片已更换" in client.get(resp.location).get_data(as_text=True)
    db_session.expire_all()
    replaced = db_session.get(ElectronicLicence, application.id)
    assert replaced.photo_source == rules.PHOTO_CAMERA and replaced.photo_changed_at == clock.now()
    assert replaced.photo.startswith(b"\xff\xd8") and replaced.photo != b"\xff\xd8album"

    # And the next change only 6 months after this one.
    page = client.get(f"/licence/{application.public_id}").get_data(as_text=True)
    assert re.search(r"2027-11-20 10:00 后可更换", page)
    assert replace(s001_frames[3]).status_code == 429


def test_system_photo_can_be_replaced_at_once(client, db_session, grey_wall_accepted, s001_portrait, s001_frames):
    user = make_user(db_session, portrait=s001_portrait)
    application = services.apply(db_session, citizen=user.citizen, user_id=user.id, photo_source="system",
                                 photo=None, now=T0, cities=None, notifier=make_notifier())
    services.proven(db_session, application, T0, None, notifier=make_notifier())
    db_session.commit()
    login(client, user)
    page = client.get(f"/licence/{application.public_id}").get_data(as_text=True)
    assert "现在可以更换" in page
    resp = client.post(f"/licence/{application.public_id}/photo", data={
        "csrf_token": csrf_from(page), "photo_source": "album", "album": jpeg_upload(s001_frames[0])},
        content_type="multipart/form-data")
    assert resp.status_code == 302
    db_session.expire_all()
    assert db_session.get(ElectronicLicence, application.id).photo_source == rules.PHOTO_ALBUM
