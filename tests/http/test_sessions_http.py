"""Server-side session revocation over HTTP (SPEC 4, 8; issue 12 point 2).

A browser session is copied (its cookie handed to a second test client, as an attacker who copied it would) while
it works; then the account logs out, sets a new password from another browser, or passes 面签, and the copy must
no longer open 我的, the travel-ID QR page and its token route, or the officer pages.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import AuthActions, csrf_from
from tests.factories import PASSWORD, CitizenFactory, UserFactory
from tests.http.test_account_variants_http import post_form
from tests.http.test_travel_http import grant, issue_direct
from tests.verification_support import make_officer
from webapp.accounts.models import User
from webapp.accounts.rules import LEVEL_REALNAME, LEVEL_REALPERSON
from webapp.audit.models import AuditEvent
from webapp.notify.models import SmsMessage

JSON = {"Accept": "application/json"}


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def opens_citizen_pages(client, cert) -> tuple[int, int, int]:
    """(我的, the QR page, the QR token route) statuses."""
    return (client.get("/account/").status_code, client.get(f"/travel-id/{cert.public_id}").status_code,
            client.get(f"/travel-id/{cert.public_id}/token", headers=JSON).status_code)


@pytest.fixture
def holder(app, client, auth, db_session, clock):
    """A signed-in registered citizen who passed 实人核验 for their travel ID in this browser."""
    user = UserFactory(level=LEVEL_REALPERSON)
    cert = issue_direct(db_session, user.citizen, clock.now(), user_id=user.id)
    db_session.commit()
    assert auth.login(user.phone).status_code == 302
    grant(client, cert.public_id, clock.now())
    return user, cert


def assert_revoked(copy, cert) -> None:
    me = copy.get("/account/")
    assert me.status_code == 302 and me.headers["Location"].startswith("/account/login")
    page = copy.get(f"/travel-id/{cert.public_id}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/reverify")  # 实人核验 again (SPEC 4)
    token = copy.get(f"/travel-id/{cert.public_id}/token", headers=JSON)
    assert token.status_code == 403 and token.get_json()["error"] == "reverify"
    assert "token" not in token.get_json()


def test_a_copied_cookie_stops_working_after_logout(app, client, auth, holder):
    user, cert = holder
    copy = copy_of(app, client)
    assert opens_citizen_pages(copy, cert) == (200, 200, 200)  # the copy works while the session lives

    auth.logout()

    assert_revoked(copy, cert)
    # The revoked session was dropped from the copy (the grant with it), not only refused once.
    with copy.session_transaction() as sess:
        assert "travel_id_grants" not in sess and "_user_id" not in sess
    assert auth.login(user.phone).status_code == 302 and client.get("/account/").status_code == 200


def test_signing_in_to_another_account_does_not_carry_the_grants_past_the_logout(app, client, auth, holder,
                                                                                 db_session):
    """A copied cookie used to sign in to the copier's own account must not keep the holder's travel-ID grant."""
    user, cert = holder
    copier = UserFactory()
    db_session.commit()
    copy = copy_of(app, client)
    assert AuthActions(copy).login(copier.phone).status_code == 302
    auth.logout()  # the holder's logout

    token = copy.get(f"/travel-id/{cert.public_id}/token", headers=JSON)
    assert copy.get("/account/").status_code == 200  # signed in as the copier, as they are entitled to
    assert token.status_code == 403 and token.get_json()["error"] == "reverify"


def test_logout_ends_the_sessions_on_every_device(app, client, auth, holder):
    user, cert = holder
    phone = app.test_client()
    assert AuthActions(phone).login(user.phone).status_code == 302
    assert phone.get("/account/").status_code == 200

    auth.logout()  # on the first device

    assert phone.get("/account/").status_code == 302


def test_a_password_reset_from_another_browser_ends_every_earlier_session(app, client, holder, db_session):
    user, cert = holder
    copy = copy_of(app, client)
    assert opens_citizen_pages(copy, cert) == (200, 200, 200)
    other = app.test_client()

    assert post_form(other, "/account/password", {"phone": user.phone, "send": "1"}).status_code == 200
    body = db_session.scalars(select(SmsMessage.body).where(SmsMessage.phone == user.phone)).one()
    code = re.search(r"验证码 (\d{6})", body).group(1)
    done = post_form(other, "/account/password", {"phone": user.phone, "code": code, "password": "newpassw0rd2",
                                                  "confirm": "newpassw0rd2", "submit": "1"})
    assert done.status_code == 302

    assert_revoked(copy, cert)
    assert_revoked(client, cert)
    assert AuthActions(other).login(user.phone, "newpassw0rd2").status_code == 302
    assert other.get("/account/").status_code == 200


def test_face_to_face_ends_every_earlier_session_of_the_account(app, client, auth, db_session, clock, officer_login):
    user = UserFactory(level=LEVEL_REALNAME)
    cert = issue_direct(db_session, user.citizen, clock.now(), user_id=user.id)
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    assert auth.login(user.phone).status_code == 302
    grant(client, cert.public_id, clock.now())
    copy = copy_of(app, client)
    assert opens_citizen_pages(copy, cert) == (200, 200, 200)

    window = app.test_client()
    assert officer_login(window, officer).status_code == 302
    done = post_form(window, "/officer/accounts/face-to-face", {
        "name": user.citizen.name, "id_number": user.citizen.id_number, "phone": user.phone, "checked": "y"})
    assert done.status_code == 302

    assert_revoked(copy, cert)
    assert_revoked(client, cert)
    ended = select(AuditEvent.detail).where(AuditEvent.action == "account.sessions_ended")
    assert [e["why"] for e in db_session.scalars(ended)] == ["face_to_face"]


def test_a_copied_officer_cookie_stops_working_after_logout(app, client, db_session, officer_login):
    officer = make_officer(db_session, "police")
    db_session.commit()
    assert officer_login(client, officer).status_code == 302
    copy = copy_of(app, client)
    assert copy.get("/officer/").status_code == 200 and copy.get("/officer/scan").status_code == 200

    home = client.get("/officer/").get_data(as_text=True)
    assert client.post("/officer/logout", data={"csrf_token": csrf_from(home)}).status_code == 302

    for path in ("/officer/", "/officer/scan", "/officer/paper"):
        resp = copy.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/officer/login"), path
    assert officer_login(client, officer).status_code == 302 and client.get("/officer/").status_code == 200


def test_logging_out_raises_the_generation_once_and_is_audited(client, auth, holder, db_session):
    user, _cert = holder
    before = db_session.scalar(select(User.session_generation).where(User.id == user.id))
    auth.logout()
    db_session.expire_all()
    assert db_session.scalar(select(User.session_generation).where(User.id == user.id)) == before + 1
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "account.sessions_ended")).all()
    assert [(e.actor_id, e.detail["why"]) for e in events] == [(user.id, "logout")]


def test_a_session_without_a_generation_is_not_signed_in(app, client, db_session):
    """A cookie signed before revocation existed (or forged without the key) carries no generation."""
    user = UserFactory(citizen=CitizenFactory())
    db_session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    assert client.get("/account/").status_code == 302


def test_the_form_still_signs_in_and_the_password_is_still_checked(client, auth, db_session):
    user = UserFactory()
    db_session.commit()
    assert auth.login(user.phone, "wrong-passw0rd").status_code == 400
    assert auth.login(user.phone, PASSWORD).status_code == 302
    assert client.get("/account/").status_code == 200
