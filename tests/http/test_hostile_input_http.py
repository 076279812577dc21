"""Hostile input at the root (issue 12 point 6): the input guard, the database's last word, ``next`` and the wrong
kind of session. test_fuzz_routes.py throws generated values at every route; these are the named cases."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from tests.conftest import csrf_from
from tests.factories import PASSWORD, CitizenFactory, UserFactory
from tests.http.test_hostile_forms import message_of, row_counts
from tests.verification_support import make_officer
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp.db import get_session
from webapp.web.input_guard import MESSAGE
from webapp.web.urls import is_safe_next

BAD_CHARACTERS = "无效字符"


def login_citizen(client, user) -> None:
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    assert client.post("/account/login", data={"csrf_token": token, "account": user.phone,
                                               "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("url", ["/travel-id/abc%00def", "/licence/%00", "/v/T.%00", "/proofing/x%01y",
                                 "/account/login?next=%00", "/travel-id/locate?lat=1%0a&lon=2",
                                 "/coming/%1b%5b31m"])
def test_control_characters_in_a_path_or_query_are_a_400_page_when_sent(client, db_session, url):
    before = row_counts(db_session)
    resp = client.get(url)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert message_of(resp) == MESSAGE and resp.headers["Cache-Control"] == "no-store"
    assert row_counts(db_session) == before


def test_nul_in_a_form_field_is_a_400_and_writes_nothing_when_posted(client, db_session):
    user = UserFactory(level=LEVEL_REALPERSON)
    db_session.commit()
    before = row_counts(db_session)
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    resp = client.post("/account/login", data={"csrf_token": token, "account": user.phone + "\x00",
                                               "password": PASSWORD})
    assert resp.status_code == 400 and BAD_CHARACTERS in message_of(resp)
    assert row_counts(db_session) == before   # not even the audit row of a failed sign-in: the view never ran


def test_line_breaks_in_a_textarea_are_accepted_when_posted(client, db_session, officer_login):
    """A textarea sends CR LF: values may carry tab, CR and LF (the seizure reason is one)."""
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    officer_login(client, officer)
    token = csrf_from(client.get("/licence/officer/seize").get_data(as_text=True))
    resp = client.post("/licence/officer/seize", data={"csrf_token": token, "id_number": "11010519491231002X",
                                                       "reason": "扣留决定书\r\n第 0001 号\t附页"})
    assert resp.status_code != 400 or BAD_CHARACTERS not in message_of(resp)
    assert resp.status_code < 500


def test_json_body_with_nul_or_a_lone_surrogate_is_a_json_400_when_posted(client, db_session):
    login_citizen(client, UserFactory(level=LEVEL_REALPERSON))
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    for endpoint in ("https://push.example/\x00", "https://push.example/\ud800"):
        before = row_counts(db_session)
        resp = client.post("/messages/push/delete", json={"endpoint": endpoint},
                           headers={"X-CSRFToken": token, "Accept": "application/json"})
        assert resp.status_code == 400 and resp.get_json() == {"error": "bad_characters", "message": MESSAGE}
        assert row_counts(db_session) == before


def test_the_api_keeps_its_own_answer_to_a_control_character_in_the_code(client):
    """The verification API is not behind the JSON walk: a code with NUL is simply not a code (200, malformed)."""
    resp = client.post("/api/v1/verify", json={"qr": "T.abcdefgh\x00.1.xxxxxxxxxxxx"})
    assert resp.status_code == 200 and resp.get_json()["reason"] == "malformed"


@pytest.mark.parametrize(("target", "safe"), [
    ("/account/", True), ("/travel-id/abc?x=1", True), ("/javascript:alert(1)", True),
    ("/a\r\nSet-Cookie: x=1", False), ("/\t/evil.example", False), ("/\\evil.example", False),
    ("//evil.example", False), ("https://evil.example/", False), ("javascript:alert(1)", False),
    ("/a b", False), ("/\x00", False), ("", False), (None, False),
])
def test_is_safe_next_takes_only_plain_same_site_paths(target, safe):
    assert is_safe_next(target) is safe


def test_cr_lf_in_next_goes_home_instead_of_failing_when_posted(client):
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    resp = client.post("/settings/large-text", data={"csrf_token": token, "next": "/a\r\nSet-Cookie: owned=1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert "owned" not in resp.headers.get("Set-Cookie", "")


def test_cr_lf_in_next_of_a_sign_in_goes_home_when_the_password_is_right(client, db_session):
    user = UserFactory(level=LEVEL_REALPERSON, citizen=CitizenFactory())
    db_session.commit()
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    resp = client.post("/account/login", data={"csrf_token": token, "account": user.phone, "password": PASSWORD,
                                               "next": "/account/\r\nLocation: https://evil.example/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def citizen_only_endpoints(app) -> list[str]:
    return sorted(endpoint for endpoint, view in app.view_functions.items()
                  if getattr(view, "citizen_only", False))


def test_every_citizen_page_refuses_an_officer_session_with_a_403_page(app, client, db_session, officer_login):
    endpoints = citizen_only_endpoints(app)
    # The pages that failed with an AttributeError on an officer session, among all the others.
    assert {"accounts.verify", "accounts.verify_done", "accounts.profile", "driving_licence.index",
            "notify.messages", "verification.records"} <= set(endpoints)
    officer = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, officer)
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    for endpoint in endpoints:
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        url = rule.rule.replace("<public_id>", "someone-elses")
        for method in sorted(rule.methods & {"GET", "POST"}):
            resp = (client.get(url) if method == "GET"
                    else client.post(url, data={"csrf_token": token}, headers={"X-CSRFToken": token}))
            assert resp.status_code == 403, f"{method} {url}: {resp.status_code}"
            assert "工作人员账号不能办理个人业务" in message_of(resp) or "个人账号" in message_of(resp), url


def test_a_citizen_page_still_sends_an_anonymous_visitor_to_sign_in(app, client):
    for endpoint in citizen_only_endpoints(app):
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        if "GET" in rule.methods and not rule.arguments:
            resp = client.get(rule.rule)
            assert resp.status_code == 302 and resp.headers["Location"].startswith("/account/login"), rule.rule


def test_a_value_the_database_refuses_is_a_logged_400_not_a_500(app, client, db_session, caplog):
    @app.get("/test-only/refused-value")
    def refused_value():
        session = get_session()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": "not a number"})  # a real DataError
        raise DataError("SELECT CAST(:v AS INTEGER)", {"v": "x"}, ValueError("sqlite stores anything"))

    with caplog.at_level(logging.ERROR):
        resp = client.get("/test-only/refused-value")
    assert resp.status_code == 400 and message_of(resp)
    assert "the database refused a value" in caplog.text and "Traceback" in caplog.text
    json = client.get("/test-only/refused-value", headers={"Accept": "application/json"})
    assert json.status_code == 400 and json.get_json()["error"] == "bad_value"
