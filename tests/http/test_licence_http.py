"""电子驾驶证 over HTTP with CSRF on: a 实人 account applies with the system photo → real 实人核验 frames → issued →
show page (owner only, no-store) → token endpoint (QR + Code128) → POST /api/v1/verify (valid; seized by a
traffic officer → invalid with the status; invalidated by a registry change); refusals; photo uploads."""
from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage

from tests.conftest import T0, csrf_from, make_notifier
from tests.factories import CitizenFactory, LicenceFactory, UserFactory
from tests.http.test_travel_http import pass_proofing
from tests.testdata import face, load_sequence, needs_testdata
from tests.verification_support import make_officer, read_claims, token_of
from webapp.accounts.rules import LEVEL_REALNAME, LEVEL_REALPERSON
from webapp.driving_licence import services
from webapp.registry import services as registry

PASSWORD = "passw0rd1"


@pytest.fixture
def live_policy(app):
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"


def make_user(db_session, *, level=LEVEL_REALPERSON, portrait=(b"\xff\xd8jpeg", None), **licence):
    citizen = CitizenFactory(portrait=portrait[0], portrait_encoding=portrait[1])
    LicenceFactory(citizen=citizen, **licence)
    user = UserFactory(citizen=citizen, level=level)
    db_session.commit()
    return user


def login(auth, user):
    resp = auth.login(user.phone, PASSWORD)
    assert resp.status_code == 302


def issue_directly(db_session, user):
    application = services.apply(db_session, citizen=user.citizen, user_id=user.id, photo_source="system",
                                 photo=None, now=T0, cities=None, notifier=make_notifier())
    services.proven(db_session, application, T0, None, notifier=make_notifier())
    db_session.commit()
    return application


def verify_api(client, text):
    return client.post("/api/v1/verify", json={"qr": text})


@needs_testdata
def test_apply_with_system_photo_through_real_proofing_then_show_and_verify(client, auth, db_session, live_policy,
                                                                           s001_portrait, app):
    user = make_user(db_session, portrait=s001_portrait)
    login(auth, user)
    page = client.get("/licence/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "可更换驾驶证照片" in html and "实人核验" in html

    resp = client.post("/licence/apply", data={"csrf_token": csrf_from(html), "photo_source": "system"})
    assert resp.status_code == 302 and "/proofing/" in resp.location
    next_url = pass_proofing(client, resp.location, load_sequence("genuine_blink_meds_s001")[:24])
    issued = client.get(next_url)
    assert issued.status_code == 302 and re.search(r"/licence/[A-Za-z0-9_-]{16}$", issued.location)
    public_id = issued.location.rsplit("/", 1)[1]

    show = client.get(f"/licence/{public_id}")
    body = show.get_data(as_text=True)
    assert show.status_code == 200 and show.headers["Cache-Control"] == "no-store"
    shown = re.sub(r"<[^>]+>", "", body)  # the text as read (dates sit in <span class="nowrap">)
    for text in (user.citizen.name, user.citizen.id_number, "中国", "C1", "2021-05-01 至 2031-05-01", "档案编号",
                 "广东省广州市公安局交通警察支队", "准驾车型代号规定", "12 分", "正页", "副页", "当前时间"):
        assert text in shown, text

    answer = client.get(f"/licence/{public_id}/token")
    data = answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    assert data["usable"] and data["state_label"] == "正常"
    assert data["qr"].startswith("data:image/svg+xml") and data["barcode"].startswith("data:image/svg+xml;base64,")
    assert data["url"] == f"http://localhost/v/{data['token']}" and 0 < data["refresh_in"] <= 60
    claims = read_claims(app, data["token"], T0)
    assert (claims.kind, claims.db_id) == ("driving_licence", services.get(db_session, public_id).id)

    result = verify_api(client, data["url"]).get_json()
    assert result["valid"] is True and result["credential"]["type"] == "driving_licence"
    public = client.get(f"/v/{data['token']}").get_data(as_text=True)
    assert "有效" in public and "电子驾驶证" in public
    # SPEC §6: the public sees validity, type and the masked name; not the class (准驾车型) nor the full name. Read as
    # text: the page's random CSRF token may itself contain "C1" (a failure seen once).
    public = re.sub(r"<[^>]+>", "", public)
    assert "准驾车型" not in public and "C1" not in public and user.citizen.name not in public


def test_show_and_token_are_owner_only(client, auth, db_session):
    owner = make_user(db_session)
    licence = issue_directly(db_session, owner)
    other = make_user(db_session)
    login(auth, other)
    assert client.get(f"/licence/{licence.public_id}").status_code == 404
    assert client.get(f"/licence/{licence.public_id}/token").status_code == 404
    auth.logout()
    anonymous = client.get(f"/licence/{licence.public_id}")
    assert anonymous.status_code == 302 and "/account/login" in anonymous.location


def test_account_below_realperson_is_told_to_verify(client, auth, db_session):
    user = make_user(db_session, level=LEVEL_REALNAME)
    login(auth, user)
    page = client.get("/licence/").get_data(as_text=True)
    # A limited (实名) account is offered the ID-card review; 刷脸 only when the registry has a portrait.
    assert "实人认证" in page and 'href="/account/id-card"' in page and "面签" in page
    assert ('href="/account/verify"' in page) == (user.citizen.portrait_encoding is not None)


def test_blocking_status_is_refused_before_any_camera_step(client, auth, db_session):
    user = make_user(db_session, status="暂扣")
    login(auth, user)
    page = client.get("/licence/").get_data(as_text=True)
    assert "“暂扣”" in page and "暂扣期满" in page and 'action="/licence/apply"' not in page


def test_seizure_by_traffic_officer_makes_the_token_and_api_say_invalid(client, auth, db_session, app, officer_login):
    user = make_user(db_session)
    licence = issue_directly(db_session, user)
    login(auth, user)
    token = client.get(f"/licence/{licence.public_id}/token").get_json()["token"]
    auth.logout()

    officer = make_officer(db_session, "traffic")
    db_session.commit()
    officer_login(client, officer)
    form = client.get("/licence/officer/seize")
    assert form.status_code == 200
    resp = client.post("/licence/officer/seize", data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                                       "id_number": user.citizen.id_number, "reason": "凭证 001"})
    assert resp.status_code == 302
    officer_view = verify_api(client, token).get_json()
    assert officer_view["valid"] is False and officer_view["reason"] == "licence_status"
    assert "扣留" in officer_view["message"] and officer_view["credential"]["status"] == "扣留"
    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})

    login(auth, user)
    answer = client.get(f"/licence/{licence.public_id}/token").get_json()
    assert answer["usable"] is False and answer["state_label"] == "扣留" and "token" not in answer
    assert "licence--blocked" in client.get(f"/licence/{licence.public_id}").get_data(as_text=True)


def test_only_traffic_officers_record_seizures(client, auth, db_session, officer_login):
    railway = make_officer(db_session, "railway")
    db_session.commit()
    officer_login(client, railway)
    assert client.get("/licence/officer/seize").status_code == 403
    assert client.get("/licence/review").status_code == 403


def _changed_class_row(user) -> dict[str, str]:
    record = user.citizen.licence
    return {"id_number": user.citizen.id_number, "file_number": record.file_number, "class": "B2",
            "first_issued": "2015-05-01", "valid_from": "2021-05-01", "valid_until": "2031-05-01",
            "issuing_authority": record.issuing_authority, "status": "正常", "points": "0"}


def test_registry_import_invalidates_and_the_holder_is_told_to_reapply(client, auth, db_session, app, tmp_path):
    user = make_user(db_session)
    licence = issue_directly(db_session, user)
    token = token_of(app, licence, T0)
    row = _changed_class_row(user)
    path = tmp_path / "licences.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["registry", "import-licences", str(path)])

    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert db_session.get(type(licence), licence.id).status == "invalidated"
    assert "准驾车型已变更" in services.messages_for(db_session, user.citizen_id)[0].body
    result = verify_api(client, token).get_json()
    assert result["valid"] is False and result["reason"] == "revoked"
    login(auth, user)
    assert client.get(f"/licence/{licence.public_id}").status_code == 302
    page = client.get("/licence/").get_data(as_text=True)
    assert "准驾车型已变更" in page and "重新申领" in page and 'action="/licence/apply"' in page


def test_a_record_changed_by_another_route_reads_invalid_and_no_read_writes(client, auth, db_session, app):
    """A change that took no invalidation step (not our import) is still never shown or scanned as valid: the
    state is read from current data; and reading it writes nothing (GET requests do not write)."""
    user = make_user(db_session)
    licence = issue_directly(db_session, user)
    token = token_of(app, licence, T0)
    registry.upsert_licence(db_session, _changed_class_row(user), T0)
    db_session.commit()
    messages = len(services.messages_for(db_session, user.citizen_id))

    result = verify_api(client, token).get_json()
    login(auth, user)
    shown = client.get(f"/licence/{licence.public_id}")
    polled = client.get(f"/licence/{licence.public_id}/token").get_json()

    assert result["valid"] is False and result["reason"] == "revoked"
    assert shown.status_code == 302
    assert polled["usable"] is False and polled["state_label"] == "已失效" and "准驾车型已变更" in polled["message"]
    db_session.expire_all()
    assert db_session.get(type(licence), licence.id).status == "active"
    assert len(services.messages_for(db_session, user.citizen_id)) == messages


@needs_testdata
def test_album_photo_of_someone_else_is_refused_with_the_reason(client, auth, db_session, s001_portrait):
    user = make_user(db_session, portrait=s001_portrait)
    login(auth, user)
    token = csrf_from(client.get("/licence/").get_data(as_text=True))
    resp = client.post("/licence/apply", data={
        "csrf_token": token, "photo_source": "album",
        "album": FileStorage(io.BytesIO(face("meds-aa-S029-01.jpg")), "me.jpg", content_type="image/jpeg")},
        content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "不一致" in resp.get_data(as_text=True)
    resp = client.post("/licence/apply", data={
        "csrf_token": token, "photo_source": "album",
        "album": FileStorage(io.BytesIO(b"GIF89a"), "me.gif", content_type="image/gif")},
        content_type="multipart/form-data")
    assert resp.status_code == 400 and "JPEG" in resp.get_data(as_text=True)


def test_apply_needs_csrf(client, auth, db_session):
    user = make_user(db_session)
    login(auth, user)
    assert client.post("/licence/apply", data={"photo_source": "system"}).status_code == 400
