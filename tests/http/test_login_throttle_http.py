"""Per-identifier sign-in back-off over HTTP (SPEC 8; issue 12 point 4): wrong passwords slow an account down
whatever the IP, with the same answers for identifiers nobody has. Time moves with the FrozenClock."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tests.factories import PASSWORD, UserFactory
from tests.verification_support import OFFICER_PASSWORD, make_officer
from webapp.audit.models import AuditEvent

CITIZEN = ("/account/login", "account")
OFFICER = ("/officer/login", "username")
_ips = iter(f"10.{i // 250}.{i % 250}.1" for i in range(100_000))


def attempt(client, form: tuple[str, str], name: str, password: str):
    """One sign-in from a new IP address each time (the per-IP limits never come into play)."""
    path, field = form
    ip = {"REMOTE_ADDR": next(_ips)}
    token = csrf_from(client.get(path, environ_base=ip).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, field: name, "password": password}, environ_base=ip)


def answer(resp, name: str) -> tuple[int, str | None, str]:
    """What a visitor can observe: status, Retry-After and the page without its CSRF token and the echoed name."""
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"|value="[^"]+"[^>]*name="csrf_token"', "", resp.get_data(
        as_text=True)).replace(name, "NAME")
    return resp.status_code, resp.headers.get("Retry-After"), html


def failures_then_right_password(client, form, name, right_password, n=5):
    wrong = [attempt(client, form, name, "wrong-passw0rd9") for _ in range(n)]
    return wrong, attempt(client, form, name, right_password)


def test_five_wrong_passwords_from_five_ips_lock_the_account_even_for_the_right_password(client, db_session):
    user = UserFactory()
    db_session.commit()

    wrong, right = failures_then_right_password(client, CITIZEN, user.phone, PASSWORD)

    assert [r.status_code for r in wrong] == [400] * 5
    assert all("账号或密码错误" in r.get_data(as_text=True) for r in wrong)
    assert right.status_code == 429 and right.headers["Retry-After"] == "60"
    assert "登录失败次数过多，请 1 分钟后再试。" in right.get_data(as_text=True)
    assert client.get("/account/").status_code == 302  # not signed in
    # The failures' audit records were committed although every request was refused.
    failed = db_session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "account.login_failed",
                                                                       AuditEvent.actor_id == user.id))
    assert failed == 5


def test_an_unknown_identifier_gets_the_same_answers_as_a_known_one(client, db_session):
    user = UserFactory()
    db_session.commit()
    known = failures_then_right_password(client, CITIZEN, user.phone, PASSWORD)
    unknown = failures_then_right_password(client, CITIZEN, "13912345678", PASSWORD)

    for a, b in zip([*known[0], known[1]], [*unknown[0], unknown[1]]):
        assert answer(a, user.phone) == answer(b, "13912345678")
    assert known[1].status_code == 429


def test_the_lock_ends_at_sixty_seconds_not_fifty_nine(client, db_session, clock):
    user = UserFactory()
    db_session.commit()
    failures_then_right_password(client, CITIZEN, user.phone, PASSWORD)

    clock.advance(seconds=59)
    still = attempt(client, CITIZEN, user.phone, PASSWORD)
    assert still.status_code == 429 and still.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert attempt(client, CITIZEN, user.phone, PASSWORD).status_code == 302


def test_each_failure_after_the_lock_doubles_it_and_a_success_resets_the_count(client, db_session, clock):
    user = UserFactory()
    db_session.commit()
    failures_then_right_password(client, CITIZEN, user.phone, PASSWORD)
    clock.advance(seconds=60)

    assert attempt(client, CITIZEN, user.phone, "wrong-passw0rd9").status_code == 400  # the 6th failure
    locked = attempt(client, CITIZEN, user.phone, PASSWORD)
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "120"
    assert "请 2 分钟后再试" in locked.get_data(as_text=True)
    clock.advance(seconds=120)
    assert attempt(client, CITIZEN, user.phone, PASSWORD).status_code == 302

    # The success cleared the count: four more failures lock nothing, the fifth does.
    statuses = [attempt(client, CITIZEN, user.phone, "wrong-passw0rd9").status_code for _ in range(5)]
    assert statuses == [400] * 5
    assert attempt(client, CITIZEN, user.phone, PASSWORD).status_code == 429


def test_failures_older_than_a_day_are_forgotten(client, db_session, clock):
    user = UserFactory()
    db_session.commit()
    for _ in range(4):
        attempt(client, CITIZEN, user.phone, "wrong-passw0rd9")
    clock.advance(hours=24)
    statuses = [attempt(client, CITIZEN, user.phone, "wrong-passw0rd9").status_code for _ in range(4)]
    assert statuses == [400] * 4
    assert attempt(client, CITIZEN, user.phone, PASSWORD).status_code == 302


def test_the_settings_change_the_numbers(app, client, db_session):
    app.config.update(SUISHEN_LOGIN_MAX_FAILURES=2, SUISHEN_LOGIN_BACKOFF_BASE=300)
    user = UserFactory()
    db_session.commit()
    wrong, right = failures_then_right_password(client, CITIZEN, user.phone, PASSWORD, n=2)
    assert right.status_code == 429 and right.headers["Retry-After"] == "300"


def test_the_id_number_is_throttled_as_the_phone_is(client, db_session):
    user = UserFactory()
    db_session.commit()
    wrong, right = failures_then_right_password(client, CITIZEN, user.citizen.id_number.lower(), PASSWORD)
    assert right.status_code == 429
    # The same number typed in capitals is the same identifier.
    assert attempt(client, CITIZEN, user.citizen.id_number, PASSWORD).status_code == 429


@pytest.mark.parametrize("known", [True, False])
def test_officer_sign_in_is_throttled_per_username_whatever_the_ip(client, db_session, known):
    officer = make_officer(db_session, "police", username="police.throttle")
    db_session.commit()
    name = officer.username if known else "nobody.here"

    wrong, right = failures_then_right_password(client, OFFICER, name, OFFICER_PASSWORD)

    assert [r.status_code for r in wrong] == [400] * 5
    assert right.status_code == 429 and right.headers["Retry-After"] == "60"
    assert "登录失败次数过多，请 1 分钟后再试。" in right.get_data(as_text=True)
    assert client.get("/officer/").status_code == 302
