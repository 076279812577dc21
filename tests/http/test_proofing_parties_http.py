"""Issue 16 point 5: 实人核验 failures are counted per person and device. A stranger's failed tries on another device
never tell the holder "您已连续 3 次未通过" nor stop them on their account or on a phone they passed on before; the
cap against that stranger holds across devices (clearing cookies makes a new device, all of them count together),
as issue 12 asked. Over HTTP with CSRF on, failures arranged as rows of their own parties."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tests.factories import CitizenFactory, UserFactory
from webapp.proofing import rules
from webapp.proofing.models import FAILED, PASSED, Challenge
from webapp.proofing.flow import DEVICE_COOKIE

PORTRAIT = np.zeros(128, dtype=np.float64).tobytes()
GUANGZHOU = {"latitude": "23.13", "longitude": "113.26"}
HOLDER_PHONE_TOKEN = "holders-phone-cookie-0123456789"


def challenge_rows(db_session, citizen_id: int, now, n: int, *, party: str | None, status: str = FAILED,
                   purpose: str = "travel_id_apply") -> None:
    for _ in range(n):
        db_session.add(Challenge(public_id=secrets.token_urlsafe(24), purpose=purpose,
                                 citizen_id=citizen_id, plan='{"colours":["red"]}', checks="blink,match",
                                 status=status, issued_at=now, expires_at=now, decided_at=now, queued_at=now,
                                 reason=rules.NO_BLINK if status == FAILED else None, next_url="/", attempt=1,
                                 party=party))
    db_session.commit()


def strangers(db_session, citizen_id: int, now, devices: int = 3) -> None:
    """One failed try on each of ``devices`` other browsers (a stranger clearing cookies between tries)."""
    for i in range(devices):
        challenge_rows(db_session, citizen_id, now, 1, party=rules.device_party(f"stranger-device-{i:02d}-xxxxxxxxxx"))


def count_challenges(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(Challenge))


def apply(client, citizen):
    token = csrf_from(client.get("/travel-id/").get_data(as_text=True))
    return client.post("/travel-id/apply", data={"csrf_token": token, "name": citizen.name,
                                                 "id_number": citizen.id_number, **GUANGZHOU})


def test_a_strangers_failures_elsewhere_never_tell_nor_stop_the_holder_when_signed_in(client, auth, db_session,
                                                                                      clock):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    user = UserFactory(citizen=citizen)
    strangers(db_session, citizen.id, clock.now(), devices=3)
    challenge_rows(db_session, citizen.id, clock.now(), 3, party=None, purpose="account_realperson")
    strangers_rows = count_challenges(db_session)
    assert auth.login(user.phone).status_code == 302

    started = client.get("/account/verify")
    applied = apply(client, citizen)

    assert started.status_code == 302 and applied.status_code == 302
    page = client.get(applied.headers["Location"]).get_data(as_text=True)
    assert "您已连续" not in page and re.search(r'id="proofing-fallback"[^>]*hidden', page)
    assert count_challenges(db_session) == strangers_rows + 2


def test_a_new_anonymous_device_is_refused_when_anonymous_devices_failed_three_times_together(app, db_session,
                                                                                            clock):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    strangers(db_session, citizen.id, clock.now(), devices=3)
    before = count_challenges(db_session)

    resp = apply(app.test_client(), citizen)  # a fresh browser: no device cookie, nothing passed on it

    html = resp.get_data(as_text=True)
    assert resp.status_code == 429
    assert "其他设备上未通过人脸核验的次数过多" in html and "并非本设备上的操作" in html and "您已连续" not in html
    assert count_challenges(db_session) == before


def test_the_holders_phone_where_they_passed_before_is_not_stopped_by_failures_elsewhere(client, db_session, clock):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    challenge_rows(db_session, citizen.id, clock.now() - timedelta(days=20), 1,
                   party=rules.device_party(HOLDER_PHONE_TOKEN), status=PASSED)
    strangers(db_session, citizen.id, clock.now(), devices=5)
    client.set_cookie(DEVICE_COOKIE, HOLDER_PHONE_TOKEN)

    resp = apply(client, citizen)

    assert resp.status_code == 302 and "/proofing/" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "您已连续" not in page


def test_a_phone_passed_on_long_ago_counts_as_a_new_device_when_past_the_memory(client, db_session, clock):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    challenge_rows(db_session, citizen.id, clock.now() - rules.TRUSTED_DEVICE_MEMORY - timedelta(days=1), 1,
                   party=rules.device_party(HOLDER_PHONE_TOKEN), status=PASSED)
    strangers(db_session, citizen.id, clock.now(), devices=3)
    client.set_cookie(DEVICE_COOKIE, HOLDER_PHONE_TOKEN)

    assert apply(client, citizen).status_code == 429


def test_this_devices_own_failures_stop_it_and_are_what_it_is_told(client, db_session, clock):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    client.set_cookie(DEVICE_COOKIE, HOLDER_PHONE_TOKEN)
    challenge_rows(db_session, citizen.id, clock.now(), 2, party=rules.device_party(HOLDER_PHONE_TOKEN))

    third = apply(client, citizen)
    public_id = third.headers["Location"].rsplit("/", 1)[-1]
    db_session.expire_all()
    row = db_session.scalar(select(Challenge).where(Challenge.public_id == public_id))
    row.status, row.decided_at, row.reason = FAILED, clock.now(), rules.NO_BLINK
    db_session.commit()
    page = client.get(third.headers["Location"]).get_data(as_text=True)
    fourth = apply(client, citizen)

    assert row.party == rules.device_party(HOLDER_PHONE_TOKEN)
    assert "您已连续 3 次未通过人脸核验" in page and not re.search(r'id="proofing-fallback"[^>]*hidden', page)
    assert fourth.status_code == 429 and "核验失败次数过多" in fourth.get_data(as_text=True)


def test_a_browser_gets_a_long_lived_device_cookie_when_it_first_starts_a_challenge(client, db_session):
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=PORTRAIT)
    db_session.commit()

    first = apply(client, citizen)
    second = apply(client, citizen)

    cookie = next(h for h in first.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=34560000" in cookie
    assert not any(h.startswith(DEVICE_COOKIE + "=") for h in second.headers.getlist("Set-Cookie"))
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    db_session.expire_all()
    parties = set(db_session.scalars(select(Challenge.party)))
    assert parties == {rules.device_party(token)} and token not in str(parties)
