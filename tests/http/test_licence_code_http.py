"""The e-licence's numeric barcode code over HTTP: the token endpoint issues it, POST /api/v1/verify and the
public /v/ page accept it like the QR token (same window and grace; stale codes logged on the holder), and a
traffic officer's answer carries the licence record while railway staff and gates get no licence detail."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from tests.conftest import T0, make_notifier
from tests.http.test_api_verify import assert_documented, bearer
from tests.http.test_licence_http import issue_directly, login, make_user
from tests.verification_support import make_api_key, make_officer
from webapp import tokens
from webapp.audit.models import AuditEvent
from webapp.registry.rules import mask_name
from webapp.driving_licence import services
from webapp.verification import rules

URL = "/api/v1/verify"


@pytest.fixture(scope="module")
def openapi_doc():
    import json

    from webapp.verification.api import OPENAPI_PATH

    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def licence(db_session):
    user = make_user(db_session, points=4)
    return user, issue_directly(db_session, user)


def code_of(app, licence, at=T0) -> str:
    return tokens.issue_numeric(app.config["SECRET_KEY"], "driving_licence", licence.id, at)


def test_token_endpoint_gives_the_numeric_code_as_barcode_and_grouped_digits(client, auth, licence, app):
    user, lic = licence
    login(auth, user)
    data = client.get(f"/licence/{lic.public_id}/token").get_json()
    assert data["code"] == code_of(app, lic) and len(data["code"]) == 22
    assert data["code_text"].replace(" ", "") == data["code"]
    assert data["barcode"].startswith("data:image/svg+xml;base64,")
    # The QR keeps the URL token: a plain phone camera opens the public page.
    assert data["url"].endswith("/v/" + data["token"]) and not tokens.is_numeric(data["token"])


def test_numeric_code_verifies_through_the_api_with_a_key(client, app, licence, db_session, openapi_doc):
    user, lic = licence
    _, raw = make_api_key(db_session, T0)
    db_session.commit()
    resp = client.post(URL, json={"qr": tokens.group_digits(code_of(app, lic))}, headers=bearer(raw))
    body = resp.get_json()
    assert resp.status_code == 200 and body["valid"] is True
    assert body["credential"]["type"] == "driving_licence" and body["credential"]["holder"]["name"] == user.citizen.name
    assert "detail" not in body  # a gate or third party sees no licence record
    assert_documented(openapi_doc, resp)


def test_numeric_code_opens_the_public_page(client, app, licence):
    page = client.get(f"/v/{code_of(app, licence[1])}").get_data(as_text=True)
    assert "有效" in page and "电子驾驶证" in page and licence[0].citizen.name not in page


def test_traffic_officer_sees_the_licence_record_when_scanning_the_code(client, app, licence, db_session,
                                                                        openapi_doc, officer_login):
    user, lic = licence
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    officer_login(client, officer)
    resp = client.post(URL, json={"qr": code_of(app, lic), "context": "roadside"})
    body = resp.get_json()
    assert body["valid"] is True and body["detail"]["portrait"].startswith("data:image/jpeg;base64,")
    record = user.citizen.licence
    assert body["detail"]["licence"] == {
        "licence_class": "C1", "valid_from": "2021-05-01", "valid_until": "2031-05-01",
        "issuing_authority": "广东省广州市公安局交通警察支队", "file_number": record.file_number, "points": 4,
        "record_status": "正常", "first_issued": "2015-05-01"}
    assert body["credential"]["holder"]["id_number_masked"] != user.citizen.id_number
    assert_documented(openapi_doc, resp)


def test_seized_licence_is_invalid_with_its_record_for_the_traffic_officer(client, app, licence, db_session, officer_login):
    user, lic = licence
    officer = make_officer(db_session, "traffic")
    services.record_seizure(db_session, officer=officer, id_number=user.citizen.id_number, reason="凭证 9",
                            now=T0, notifier=make_notifier())
    db_session.commit()
    officer_login(client, officer)
    body = client.post(URL, json={"qr": code_of(app, lic)}).get_json()
    assert body["valid"] is False and body["reason"] == rules.LICENCE_STATUS and "扣留" in body["message"]
    assert body["detail"]["licence"]["record_status"] == "扣留"


def test_railway_staff_get_no_licence_record(client, app, licence, db_session, openapi_doc, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    officer_login(client, officer)
    resp = client.post(URL, json={"qr": code_of(app, licence[1])})
    body = resp.get_json()
    assert body["valid"] is True and "detail" not in body
    # SPEC §6: a licence's validity only, as the public sees it (test_role_matrix.py has the whole table).
    assert set(body["credential"]) == {"type", "holder", "status"}
    assert body["credential"]["holder"] == {"name": mask_name(licence[0].citizen.name)}
    assert_documented(openapi_doc, resp)


def test_stale_numeric_code_is_refused_and_logged_on_the_holder(client, app, licence, clock, db_session):
    user, lic = licence
    code = code_of(app, lic)
    clock.advance(seconds=125)
    body = client.post(URL, json={"qr": code}).get_json()
    assert body["valid"] is False and body["reason"] == "stale" and body["credential"] is None
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                               .order_by(AuditEvent.id.desc())).first()
    assert event.citizen_id == user.citizen_id and event.detail["reason"] == "stale"
    assert event.detail["credential"] == lic.public_id


@pytest.mark.parametrize("text, reason", [
    ("2" + "0" * 21, "malformed"),                    # id 0
    ("2000 0000 0000 0000 0000 0", "malformed"),      # 21 digits
    ("2" + "9" * 21, "bad_signature"),
    ("1" + "9" * 21, "malformed"),                    # kind 1: no credential shows such a code
])
def test_bad_numeric_input_is_a_clear_200_answer_never_a_500(client, text, reason):
    resp = client.post(URL, json={"qr": text})
    assert resp.status_code == 200 and resp.get_json()["reason"] == reason


def test_numeric_code_of_an_unknown_id_is_not_found(client, app):
    code = tokens.issue_numeric(app.config["SECRET_KEY"], "driving_licence", 999_999, T0)
    assert client.post(URL, json={"qr": code}).get_json()["reason"] == "not_found"
