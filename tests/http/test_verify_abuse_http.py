"""Issue 12 point 7: the keyless API's limit, key guessing, a grant link in another browser, numeric kind 1.

Each test fails on the code before the fix: the keyless API allowed 120 scans a minute per IP, a random bearer
value had a bucket of its own (never limited), ``/travel-id/<id>/granted?c=`` granted whichever browser opened
it, and a kind-1 numeric code with a good MAC verified a travel ID.
"""
from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from tests.conftest import start_proofing_from_page
from tests.factories import CitizenFactory
from tests.http.test_api_verify import assert_documented, bearer, openapi_doc  # noqa: F401 - fixture
from tests.verification_support import FAKE_JPEG, make_api_key, make_certificate, make_officer, qr_text
from webapp import tokens
from webapp.proofing.models import CONSUMED, PASSED, Challenge
from webapp.travel_id.services import PURPOSE_VIEW

PUBLIC_LIMIT = 30   # SUISHEN_PUBLIC_VERIFY_RATE_LIMIT's default, as SPEC §8 and the README say


@pytest.fixture
def cert(db_session, clock):
    cert = make_certificate(db_session, CitizenFactory(portrait=FAKE_JPEG), clock.now())
    db_session.commit()
    return cert


def from_ip(ip: str) -> dict:
    return {"REMOTE_ADDR": ip}


def test_keyless_api_allows_the_public_limit_per_ip_then_429_with_retry_after(app, client, cert, clock,
                                                                              openapi_doc):
    assert app.config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"] == "30 per minute"
    body = {"qr": qr_text(app, cert, clock.now())}
    answers = [client.post("/api/v1/verify", json=body, environ_base=from_ip("203.0.113.7"))
               for _ in range(PUBLIC_LIMIT + 1)]
    assert [a.status_code for a in answers] == [200] * PUBLIC_LIMIT + [429]
    refused = answers[-1]
    assert refused.get_json()["error"] == "rate_limited" and 0 < int(refused.headers["Retry-After"]) <= 60
    assert_documented(openapi_doc, refused)
    # Another address has its own budget, and a gate's key its own (SUISHEN_API_RATE_LIMIT per key).
    assert client.post("/api/v1/verify", json=body, environ_base=from_ip("203.0.113.8")).status_code == 200


def test_api_key_and_officer_session_are_not_held_to_the_public_limit(app, client, db_session, cert, clock, officer_login):
    _key, raw = make_api_key(db_session, clock.now())
    officer = make_officer(db_session, "railway")
    db_session.commit()
    body = {"qr": qr_text(app, cert, clock.now())}
    keyed = [client.post("/api/v1/verify", json=body, headers=bearer(raw)) for _ in range(PUBLIC_LIMIT + 5)]
    assert {a.status_code for a in keyed} == {200}

    scanner = app.test_client()
    officer_login(scanner, officer)
    scans = [scanner.post("/api/v1/verify", json=body) for _ in range(PUBLIC_LIMIT + 5)]
    assert {a.status_code for a in scans} == {200}


def test_guessed_bearer_keys_are_throttled_per_ip_then_even_a_right_key_waits(app, client, db_session, cert,
                                                                             clock, openapi_doc):
    _key, raw = make_api_key(db_session, clock.now())
    db_session.commit()
    body = {"qr": qr_text(app, cert, clock.now())}
    guesser = from_ip("198.51.100.9")
    guesses = [client.post("/api/v1/verify", json=body, environ_base=guesser,
                           headers=bearer("ssk_" + secrets.token_urlsafe(32)))
               for _ in range(PUBLIC_LIMIT + 1)]
    assert [g.status_code for g in guesses] == [401] * PUBLIC_LIMIT + [429]
    assert 0 < int(guesses[-1].headers["Retry-After"]) <= 60
    assert_documented(openapi_doc, guesses[-1])
    # Over the limit, the client is refused before its key is looked up: a right guess would tell it nothing.
    right = client.post("/api/v1/verify", json=body, environ_base=guesser, headers=bearer(raw))
    assert right.status_code == 429
    # The gate with that key, elsewhere, is not affected.
    assert client.post("/api/v1/verify", json=body, environ_base=from_ip("198.51.100.10"),
                       headers=bearer(raw)).status_code == 200


def test_a_gate_whose_key_checked_out_keeps_scanning_when_its_address_also_sent_bad_keys(app, client, db_session,
                                                                                        cert, clock):
    """The bad-key check runs only when the worker has not just seen the key pass (the scan path's fast path)."""
    _key, raw = make_api_key(db_session, clock.now())
    db_session.commit()
    body = {"qr": qr_text(app, cert, clock.now())}
    gate = from_ip("192.0.2.50")
    assert client.post("/api/v1/verify", json=body, environ_base=gate, headers=bearer(raw)).status_code == 200
    for _ in range(PUBLIC_LIMIT + 1):
        client.post("/api/v1/verify", json=body, environ_base=gate, headers=bearer("ssk_" + "x" * 43))
    assert client.post("/api/v1/verify", json=body, environ_base=gate, headers=bearer(raw)).status_code == 200


def test_numeric_code_of_kind_1_gets_the_answer_of_an_unknown_code(app, client, cert, clock, db_session):
    secret, window = app.config["SECRET_KEY"], tokens.window_of(clock.now())

    def code(kind_digit: str) -> str:  # a well-formed code with a good MAC for the certificate's id
        return (f"{kind_digit}{cert.id:010d}{window % 1000:03d}"
                f"{tokens._numeric_mac(secret, kind_digit, cert.id, window)}")

    travel = client.post("/api/v1/verify", json={"qr": code("1")}).get_json()
    unknown = client.post("/api/v1/verify", json={"qr": code("9")}).get_json()
    for answer in (travel, unknown):
        answer.pop("checked_at")
    assert travel == unknown == {"valid": False, "reason": "malformed", "credential": None,
                                 "message": "无法识别的二维码，请扫描随身证页面上的二维码。"}


# --- the travel ID's grant link ------------------------------------------------------------------------------

def passed_view_challenge(client, db_session, cert, clock) -> str:
    """A 实人核验 for viewing ``cert`` that ``client``'s browser started and that passed (arranged: the face
    decision is not what this tests)."""
    start = start_proofing_from_page(client, client.get(f"/travel-id/{cert.public_id}/reverify"))
    public_id = start.headers["Location"].rsplit("/", 1)[1]
    challenge = db_session.scalar(select(Challenge).where(Challenge.public_id == public_id))
    assert challenge.purpose == PURPOSE_VIEW
    challenge.status, challenge.decided_at = PASSED, clock.now()
    db_session.commit()
    return public_id


def test_grant_link_opened_in_another_browser_is_a_403_telling_it_to_verify_there(app, client, db_session, cert,
                                                                                 clock):
    cert.citizen.portrait_encoding = b"\x00" * 1024
    db_session.commit()
    challenge = passed_view_challenge(client, db_session, cert, clock)
    link = f"/travel-id/{cert.public_id}/granted?c={challenge}"

    other = app.test_client()
    refused = other.get(link)
    assert refused.status_code == 403
    assert "完成实人核验的浏览器" in refused.get_data(as_text=True)
    assert other.get(f"/travel-id/{cert.public_id}").status_code == 302   # still sent to verify
    db_session.expire_all()
    assert db_session.scalar(select(Challenge.status).where(Challenge.public_id == challenge)) == PASSED

    # The browser that showed its face gets the QR page.
    granted = client.get(link)
    assert granted.status_code == 302 and granted.headers["Location"] == f"/travel-id/{cert.public_id}"
    assert client.get(f"/travel-id/{cert.public_id}").status_code == 200
    db_session.expire_all()
    assert db_session.scalar(select(Challenge.status).where(Challenge.public_id == challenge)) == CONSUMED
