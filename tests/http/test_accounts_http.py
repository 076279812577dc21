"""Accounts over HTTP with CSRF on: register → log in → log out, and every way a submission can go wrong."""
from sqlalchemy import select

from webapp.accounts.models import User
from webapp.audit.models import AuditEvent
from tests.factories import CitizenFactory


def test_register_then_login_then_logout_when_identity_matches(client, auth, db_session):
    citizen = CitizenFactory()
    resp = auth.register(citizen)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert "注册成功" in client.get("/").get_data(as_text=True)
    profile = client.get("/account/").get_data(as_text=True)
    assert citizen.name in profile and "未认证" in profile
    assert citizen.id_number not in profile  # masked on the holder's own page too
    assert auth.logout().status_code == 302
    assert client.get("/account/").status_code == 302
    resp = auth.login(citizen.id_number)
    assert resp.status_code == 302
    assert client.get("/account/").status_code == 200
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"account.register", "account.login"} <= actions


def test_register_shows_field_errors_and_writes_nothing_when_input_is_bad(client, auth, db_session):
    citizen = CitizenFactory()
    token = auth.csrf("/account/register")
    cases = [
        ({"id_number": "110105194912310021"}, "校验位"),
        ({"name": "别人"}, "不匹配"),
        ({"phone": "123"}, "手机号码"),
        ({"password": "short", "confirm": "short"}, "至少 8 位"),
        ({"confirm": "different1"}, "不一致"),
        ({"name": ""}, "必填"),
    ]
    for change, message in cases:
        data = {"csrf_token": token, "name": citizen.name, "id_number": citizen.id_number,
                "phone": "13900000001", "password": "passw0rd1", "confirm": "passw0rd1"}
        data.update(change)
        resp = client.post("/account/register", data=data)
        assert resp.status_code == 400, change
        assert message in resp.get_data(as_text=True), change
    assert db_session.scalar(select(User)) is None


def test_form_post_is_refused_when_csrf_token_is_missing(client, db_session):
    citizen = CitizenFactory()
    resp = client.post("/account/register", data={"name": citizen.name, "id_number": citizen.id_number,
                                                   "phone": "13900000001", "password": "passw0rd1",
                                                   "confirm": "passw0rd1"})
    assert resp.status_code == 400
    assert db_session.scalar(select(User)) is None
    resp = client.post("/account/login", data={"account": "x", "password": "y"})
    assert resp.status_code == 400


def test_login_redirects_only_to_local_next_when_next_is_given(client, auth, db_session):
    citizen = CitizenFactory()
    auth.register(citizen)
    auth.logout()
    assert auth.login(citizen.id_number, next="/account/").headers["Location"] == "/account/"
    auth.logout()
    assert auth.login(citizen.id_number, next="https://evil.example/").headers["Location"] == "/"


def test_protected_page_sends_to_login_with_next_when_anonymous(client):
    resp = client.get("/account/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/account/login?next=")


def test_login_is_rate_limited_with_retry_after_when_attempts_repeat(client, auth):
    # The per-IP limit: ten different names from one address (one name alone is locked sooner, per account).
    statuses = [auth.login(f"139000000{i:02d}", "wrong1234").status_code for i in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    resp = auth.login("13900000009", "wrong1234")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "操作过于频繁" in resp.get_data(as_text=True)


def test_wrong_password_gets_one_message_when_account_exists_or_not(client, auth, db_session):
    citizen = CitizenFactory()
    auth.register(citizen)
    auth.logout()
    a = auth.login(citizen.id_number, "wrong1234").get_data(as_text=True)
    b = auth.login("13900000077", "wrong1234").get_data(as_text=True)
    assert "账号或密码错误" in a and "账号或密码错误" in b
