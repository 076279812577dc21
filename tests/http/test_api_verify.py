"""POST /api/v1/verify (SPEC §6), the OpenAPI document kept true against real answers, and /v/<token>."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from webapp import create_app
from webapp.audit.models import AuditEvent
from webapp.signing.rules import CredentialFacts
from webapp.verification import rules
from tests.conftest import make_test_config
from tests.factories import CitizenFactory
from tests.verification_support import FAKE_JPEG, facts_token, make_api_key, make_certificate, make_officer, qr_text

URL = "/api/v1/verify"


@pytest.fixture(scope="module")
def openapi_doc():
    from webapp.verification.api import OPENAPI_PATH

    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


def assert_documented(doc: dict, resp, path: str = URL, method: str = "post") -> None:
    """The status is documented for the operation and the body matches its schema."""
    operation = doc["paths"][path][method]
    assert str(resp.status_code) in operation["responses"], f"{resp.status_code} is not documented"
    schema = operation["responses"][str(resp.status_code)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    errors = sorted(validator.iter_errors(resp.get_json()), key=str)
    assert not errors, errors


@pytest.fixture
def cert(db_session, clock):
    cert = make_certificate(db_session, CitizenFactory(name="王小明", portrait=FAKE_JPEG), clock.now())
    db_session.commit()
    return cert


@pytest.fixture
def api_key(db_session, clock):
    key, raw = make_api_key(db_session, clock.now())
    db_session.commit()
    return key, raw


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def post(client, body, headers=None):
    return client.post(URL, json=body, headers=headers or {})


def test_valid_certificate_with_an_api_key(client, app, cert, api_key, clock, openapi_doc, db_session):
    key, raw = api_key
    resp = post(client, {"qr": qr_text(app, cert, clock.now()), "context": "entry"}, bearer(raw))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["valid"] is True and body["reason"] is None
    assert body["credential"] == {
        "type": "travel_id",
        "holder": {"name": "王小明", "id_number_masked": cert.citizen.id_number[:4] + "*" * 10 + cert.citizen.id_number[-4:]},
        "valid_until": "2026-11-21T02:00:00+00:00",
        "status": "valid",
    }
    assert "detail" not in body
    assert resp.headers["Cache-Control"] == "no-store"
    assert_documented(openapi_doc, resp)
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION))
    assert (row.actor_type, row.actor_id, row.citizen_id, row.detail["context"]) == ("apikey", key.id, cert.citizen_id, "entry")


def test_bare_token_is_accepted_as_well_as_the_url(client, app, cert, api_key, clock):
    token = qr_text(app, cert, clock.now()).rsplit("/v/", 1)[1]
    assert post(client, {"qr": token}, bearer(api_key[1])).get_json()["valid"] is True


def test_without_credentials_the_answer_is_the_public_subset(client, app, cert, clock, openapi_doc, db_session):
    resp = post(client, {"qr": qr_text(app, cert, clock.now())})
    body = resp.get_json()
    assert body["valid"] is True
    assert body["credential"] == {"type": "travel_id", "holder": {"name": "王**"}, "status": "valid"}
    assert cert.citizen.id_number[-4:] not in resp.get_data(as_text=True)
    assert_documented(openapi_doc, resp)
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION))
    assert row.actor_type == "public"


def test_railway_officer_session_gets_the_detail(client, app, cert, clock, openapi_doc, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    officer_login(client, officer)
    resp = post(client, {"qr": qr_text(app, cert, clock.now()), "context": "onboard"})
    body = resp.get_json()
    assert body["valid"] is True and body["credential"]["holder"]["name"] == "王小明"
    assert body["detail"]["portrait"].startswith("data:image/jpeg;base64,")
    assert body["detail"]["ticket_category"]["code"] == "full"
    assert body["detail"]["valid_until_text"] == "2026-11-21 10:00"
    assert_documented(openapi_doc, resp)
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION))
    assert (row.actor_type, row.actor_id, row.detail["role"]) == ("officer", officer.id, "railway")


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_officer_roles_that_do_not_verify_get_403(client, app, cert, clock, openapi_doc, officer_login, role):
    officer_login(client, role)
    resp = post(client, {"qr": qr_text(app, cert, clock.now())})
    assert resp.status_code == 403
    assert_documented(openapi_doc, resp)


def test_stale_code_is_invalid_with_the_stale_reason(client, app, cert, api_key, clock, openapi_doc):
    text = qr_text(app, cert, clock.now())
    clock.advance(seconds=121)
    resp = post(client, {"qr": text}, bearer(api_key[1]))
    body = resp.get_json()
    assert (resp.status_code, body["valid"], body["reason"], body["credential"]) == (200, False, "stale", None)
    assert "二维码已过期" in body["message"]
    assert_documented(openapi_doc, resp)


def test_tampered_code_is_a_bad_signature(client, app, cert, api_key, clock, openapi_doc):
    text = qr_text(app, cert, clock.now())
    tampered = text[:-3] + ("abc" if not text.endswith("abc") else "xyz")
    resp = post(client, {"qr": tampered}, bearer(api_key[1]))
    assert (resp.get_json()["valid"], resp.get_json()["reason"]) == (False, "bad_signature")
    assert_documented(openapi_doc, resp)


def test_expired_certificate(client, app, cert, api_key, clock, openapi_doc):
    clock.advance(hours=24)
    resp = post(client, {"qr": qr_text(app, cert, clock.now())}, bearer(api_key[1]))
    body = resp.get_json()
    assert (body["valid"], body["reason"], body["credential"]["status"]) == (False, "expired", "expired")
    assert_documented(openapi_doc, resp)


def test_revoked_certificate(client, app, db_session, api_key, clock, openapi_doc):
    cert = make_certificate(db_session, CitizenFactory(), clock.now(), status="revoked")
    db_session.commit()
    resp = post(client, {"qr": qr_text(app, cert, clock.now())}, bearer(api_key[1]))
    assert (resp.get_json()["valid"], resp.get_json()["reason"]) == (False, "revoked")
    assert_documented(openapi_doc, resp)


def test_not_found(client, app, api_key, clock, openapi_doc):
    gone = CredentialFacts("travel_id", 987_654, "张*", clock.now() + timedelta(hours=1), ticket=("full",))
    resp = post(client, {"qr": facts_token(gone, clock.now())}, bearer(api_key[1]))
    assert (resp.get_json()["valid"], resp.get_json()["reason"]) == (False, "not_found")
    assert_documented(openapi_doc, resp)


@pytest.mark.parametrize("qr", ["garbage", "http://example.com/", "T.x.1.y", "🙂" * 100])
def test_garbage_code_is_invalid_not_an_error(client, api_key, openapi_doc, qr):
    resp = post(client, {"qr": qr}, bearer(api_key[1]))
    assert resp.status_code == 200 and resp.get_json()["reason"] == "malformed"
    assert_documented(openapi_doc, resp)


@pytest.mark.parametrize(("data", "content_type", "code"), [
    ("{not json", "application/json", "malformed_json"),
    ("[1, 2]", "application/json", "malformed_json"),
    ('"qr"', "application/json", "malformed_json"),
    ("{}", "application/json", "missing_qr"),
    ('{"qr": ""}', "application/json", "missing_qr"),
    ('{"qr": 42}', "application/json", "missing_qr"),
    ('{"qr": "x", "context": "gate"}', "application/json", "bad_context"),
    ('{"qr": "x", "context": 7}', "application/json", "bad_context"),
    ('{"qr": "' + "x" * 3000 + '"}', "application/json", "qr_too_long"),
    ('{"qr": "x"}', "text/plain", "wrong_content_type"),
    ("qr=x", "application/x-www-form-urlencoded", "wrong_content_type"),
    ("", None, "wrong_content_type"),
])
def test_malformed_input_is_400_json_never_500(client, api_key, openapi_doc, data, content_type, code):
    resp = client.post(URL, data=data, headers={**bearer(api_key[1]), **({"Content-Type": content_type} if content_type else {})})
    assert resp.status_code == 400 and resp.get_json()["error"] == code
    assert_documented(openapi_doc, resp)


def test_body_over_the_api_limit_is_413_json(client, api_key, openapi_doc):
    resp = client.post(URL, data='{"qr": "' + "x" * 20_000 + '"}', content_type="application/json",
                       headers=bearer(api_key[1]))
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    assert_documented(openapi_doc, resp)


def test_body_over_max_content_length_is_413_json(client, app, openapi_doc):
    resp = client.post(URL, data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1), content_type="application/json")
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    assert_documented(openapi_doc, resp)


@pytest.mark.parametrize("header", ["Bearer ssk_" + "A" * 43, "Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "Token x"])
def test_invalid_key_is_401_json_with_www_authenticate(client, openapi_doc, header):
    resp = client.post(URL, json={"qr": "x"}, headers={"Authorization": header})
    assert resp.status_code == 401 and resp.get_json()["error"] in ("invalid_api_key", "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert_documented(openapi_doc, resp)


def test_revoked_key_is_401(client, db_session, api_key, clock):
    key, raw = api_key
    key.revoked_at = clock.now()
    db_session.commit()
    assert post(client, {"qr": "x"}, bearer(raw)).status_code == 401


def test_revoked_key_stops_working_once_the_key_cache_ttl_passes_when_it_was_in_use(client, app, db_session,
                                                                                     api_key, cert, clock):
    key, raw = api_key
    ttl = app.config["SUISHEN_API_KEY_CACHE_SECONDS"]
    assert 0 < ttl <= 10   # "a few seconds": the bound README and bench/RESULTS.md promise
    body = {"qr": qr_text(app, cert, clock.now())}
    assert post(client, body, bearer(raw)).status_code == 200
    key.revoked_at = clock.now()
    db_session.commit()
    clock.advance(seconds=ttl)
    assert post(client, body, bearer(raw)).status_code == 401


def test_a_scan_with_a_known_key_is_one_lookup_and_one_audit_insert(client, app, engine, cert, api_key, clock,
                                                                     db_session):
    """The statements of one verification, counted (never timed): the key comes from the per-worker cache, the
    certificate and its holder from one joined SELECT without the portrait bytes, and the audit row is written."""
    from sqlalchemy import event

    body = {"qr": qr_text(app, cert, clock.now()), "context": "entry"}
    assert post(client, body, bearer(api_key[1])).get_json()["valid"] is True   # the key is now cached
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert post(client, body, bearer(api_key[1])).get_json()["valid"] is True
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [s.split()[0].upper() for s in statements] == ["SELECT", "INSERT"], statements
    assert "travel_certificates" in statements[0] and "citizens" in statements[0]
    assert "portrait" not in statements[0]
    assert "audit_events" in statements[1]


def test_api_is_rate_limited_per_key(database_url, session_factory, clock, api_key, openapi_doc):
    from webapp.extensions import limiter

    app = create_app(make_test_config(database_url, SUISHEN_API_RATE_LIMIT="3 per minute"), clock=clock,
                     session_factory=session_factory)
    limiter.reset()
    client = app.test_client()
    answers = [post(client, {"qr": "x"}, bearer(api_key[1])) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    # X-RateLimit-* are off by default (two storage round trips each); the refusal still says when to retry.
    assert not any(h.startswith("X-RateLimit") for a in answers for h in a.headers.keys())
    resp = post(client, {"qr": "x"}, bearer(api_key[1]))
    # Retry-After: the seconds left in the window that refused it (the frozen clock does not move Redis' or the
    # memory storage's own clock, so only the bounds are certain).
    assert resp.get_json()["error"] == "rate_limited" and 0 < int(resp.headers["Retry-After"]) <= 60
    assert_documented(openapi_doc, resp)
    assert post(client, {"qr": "x"}).status_code == 200   # another client (no key → per IP) has its own budget


def test_api_keeps_verifying_and_counts_in_the_worker_when_the_rate_limit_storage_is_down(
        database_url, session_factory, clock, api_key, cert, caplog):
    from webapp import extensions

    # Nothing listens on port 1: every call to the shared storage fails at once.
    app = create_app(make_test_config(database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1",
                                      SUISHEN_API_RATE_LIMIT="3 per minute"), clock=clock,
                     session_factory=session_factory)
    extensions._FALLBACK.storage.reset()
    client = app.test_client()
    body = {"qr": qr_text(app, cert, clock.now())}
    answers = [post(client, body, bearer(api_key[1])) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]   # still limited, by this worker's count
    assert all(a.get_json()["valid"] is True for a in answers[:3])
    assert int(answers[3].headers["Retry-After"]) > 0
    assert "rate-limit storage unavailable (ConnectionError)" in caplog.text
    extensions._FALLBACK.storage.reset()


def test_json_api_needs_no_csrf_token_but_forms_still_do(client, db_session, api_key):
    assert post(client, {"qr": "x"}, bearer(api_key[1])).status_code == 200
    assert client.post("/officer/login", data={"username": "x", "password": "y"}).status_code == 400


def test_database_unreachable_is_503_status_unknown(tmp_path, openapi_doc):
    app = create_app(make_test_config(f"sqlite:///{tmp_path}/missing/dir/none.db"))
    client = app.test_client()
    resp = client.post(URL, json={"qr": "T.abcdefgh.1.abcdefghijkl"}, headers=bearer("ssk_" + "A" * 43))
    assert resp.status_code == 503 and resp.get_json()["error"] == "status_unknown"
    assert_documented(openapi_doc, resp)
    resp = client.post(URL, json={"qr": "T.abcdefgh.1.abcdefghijkl"})
    assert resp.status_code == 503 and resp.get_json()["error"] == "status_unknown"


def test_openapi_document_is_served_and_lists_the_contract(client, openapi_doc):
    resp = client.get("/api/v1/openapi.json")
    served = resp.get_json()
    assert resp.status_code == 200 and served["openapi"].startswith("3.")
    assert served["paths"] == openapi_doc["paths"]
    assert served["servers"] == [{"url": "http://localhost"}]
    Draft202012Validator.check_schema({**openapi_doc["components"]["schemas"]["VerifyResponse"],
                                       "components": openapi_doc["components"]})
    reasons = openapi_doc["components"]["schemas"]["VerifyResponse"]["properties"]["reason"]["enum"]
    assert set(reasons) - {None} == set(rules.REASONS)


def test_healthz_matches_the_document(client, openapi_doc):
    assert_documented(openapi_doc, client.get("/healthz"), "/healthz", "get")


# --- /v/<token>: what a plain phone camera opens -------------------------------------------------------------

def test_public_page_shows_validity_type_and_masked_name_only(client, app, cert, clock, db_session):
    token = qr_text(app, cert, clock.now()).rsplit("/v/", 1)[1]
    resp = client.get(f"/v/{token}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "有效" in page and "电子临时乘车身份证明" in page and "王**" in page
    assert "王小明" not in page and cert.citizen.id_number[-4:] not in page and "base64" not in page
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION))
    assert (row.actor_type, row.citizen_id) == ("public", cert.citizen_id)


def test_public_page_of_a_stale_code_says_invalid_and_why(client, app, cert, clock):
    token = qr_text(app, cert, clock.now()).rsplit("/v/", 1)[1]
    clock.advance(seconds=121)
    page = client.get(f"/v/{token}").get_data(as_text=True)
    assert "无效" in page and "二维码已过期，请让持证人刷新" in page and "王**" not in page


def test_public_page_of_garbage_is_an_invalid_answer_not_an_error(client):
    resp = client.get("/v/not-a-token")
    assert resp.status_code == 200 and "无法识别的二维码" in resp.get_data(as_text=True)


def test_public_page_is_the_public_subset_even_for_an_officer(client, app, cert, clock, officer_login):
    officer_login(client, "railway")
    token = qr_text(app, cert, clock.now()).rsplit("/v/", 1)[1]
    page = client.get(f"/v/{token}").get_data(as_text=True)
    assert "王小明" not in page and "王**" in page
