"""The logins `flask --app app registry demo` prints work in the real sign-in forms (CSRF on), on both databases:
a newcomer reaches the officer screens of every role and a full (实人认证) holder's pages without reading code."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from webapp import roles
from tests.conftest import demo_logins


@pytest.fixture
def printed_logins(app, db_session):
    result = app.test_cli_runner().invoke(args=["registry", "demo"])
    assert result.exit_code == 0, result.output
    return demo_logins(result.output)


@pytest.mark.parametrize("role", roles.ROLES)
def test_demo_officer_signs_in_through_the_login_form_with_the_printed_password(client, printed_logins, role,
                                                                              officer_login):
    username = f"demo-{role}"
    password, _ = printed_logins[username]
    resp = officer_login(client, SimpleNamespace(username=username), password=password)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    home = client.get(resp.headers["Location"])
    assert home.status_code == 200 and roles.ROLE_LABELS[role] in home.get_data(as_text=True)


def test_demo_officer_is_refused_with_a_wrong_password(client, printed_logins, officer_login):
    resp = officer_login(client, SimpleNamespace(username="demo-admin"), password="Demo-wrong-0000")
    assert resp.status_code == 400 and "用户名或密码错误" in resp.get_data(as_text=True)


def test_demo_citizen_signs_in_with_the_printed_password_and_is_a_full_account(client, auth, printed_logins):
    password, _ = printed_logins["13800138001"]
    resp = auth.login("13800138001", password)
    assert resp.status_code == 302
    profile = client.get("/account/").get_data(as_text=True)
    assert "李明" in profile and "实人认证" in profile and "功能受限" not in profile
    licence = client.get("/licence/")
    assert licence.status_code == 200 and "需要完成实人认证" not in licence.get_data(as_text=True)
