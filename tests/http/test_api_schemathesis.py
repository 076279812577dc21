"""schemathesis against the OpenAPI document the app serves (/api/v1/openapi.json), in-process over WSGI.

Every operation, with generated (and schema-violating) bodies and headers, anonymously and with a valid API key:
no 5xx, every documented status with a body matching its schema, every error a JSON 4xx of the ``Error`` shape.
Then the answers schemathesis cannot reach by chance (valid travel ID and e-licence codes, officer detail) are
sent as schemathesis cases too, so the same conformance checks cover them.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.conftest import T0, make_notifier
from tests.factories import CitizenFactory, LicenceFactory
from tests.verification_support import FAKE_JPEG, make_api_key, make_certificate, make_officer, qr_text
from webapp import tokens
from webapp.driving_licence import services as licence_services
from webapp import roles

# Bounded: at most this many generated cases per operation and mode, each sent twice (~5 s per backend).
MAX_EXAMPLES = 100


@pytest.fixture
def api_app(app):
    # Hundreds of calls in one test: the limits (per key, per IP without a key or with a wrong one) are tested in
    # test_api_verify.py, not here.
    app.config["SUISHEN_API_RATE_LIMIT"] = "100000 per minute"
    app.config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"] = "100000 per minute"
    return app


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


@pytest.fixture
def raw_key(db_session, clock):
    _key, raw = make_api_key(db_session, clock.now())
    db_session.commit()
    return raw


def _check_error_shape(response) -> None:
    """Errors are JSON 4xx of the documented Error shape (schemathesis checks the document; this says it
    whatever the document says)."""
    if response.status_code < 400:
        return
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"][0].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] and body["message"], body


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_documented_answers_never_a_5xx(api_schema, raw_key, mode):
    # schemathesis' pytest plugin (from_fixture) does not run under pytest 9, so the cases are drawn from each
    # operation's strategy in an inner Hypothesis test; the checks are the same (call_and_validate).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {("POST", "/api/v1/verify"), ("GET", "/healthz")}
    calls = []
    excluded = [schemathesis.checks.negative_data_rejection] if mode is GenerationMode.NEGATIVE else []
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET" and not list(operation.iter_parameters()):
            continue  # nothing of a GET without parameters can be made invalid
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def run(case):
            # Each case is sent anonymously (the public subset) and with a valid API key; a generated
            # Authorization header of its own is kept in the first call.
            for credentials in (None, {"Authorization": f"Bearer {raw_key}"}):
                if (credentials and mode is GenerationMode.NEGATIVE and case.headers
                        and "Authorization" in case.headers):
                    continue  # the case's fault is its own credentials (a required key, negated): ours would mend it
                # schemathesis' negative_data_rejection does not count 413 as a rejection; a body over the
                # documented limit *is* rejected with it, so negative cases are held to 400/401/413 here instead.
                response = case.call_and_validate(headers=credentials, excluded_checks=excluded)
                _check_error_shape(response)
                if mode is GenerationMode.NEGATIVE:
                    assert response.status_code in (400, 401, 413), response.text[:300]
                calls.append((operation.label, response.status_code))

        run()
    verify_statuses = [status for label, status in calls if label == "POST /api/v1/verify"]
    assert len(verify_statuses) >= MAX_EXAMPLES, "too few cases were generated to mean anything"
    if mode is GenerationMode.NEGATIVE:
        assert set(verify_statuses) <= {400, 401, 413}, set(verify_statuses)


def test_unreachable_database_answers_are_documented_too(tmp_path):
    """/healthz and /api/v1/verify with the database gone: 503 bodies that match the document."""
    from tests.conftest import make_test_config
    from webapp import create_app

    app = create_app(make_test_config(f"sqlite:///{tmp_path}/missing/dir/none.db"))
    down = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)  # the document needs no database
    for operation, kwargs in ((down["/healthz"]["GET"], {}),
                              (down["/api/v1/verify"]["POST"], {"body": {"qr": "T.abc.1.def"},
                                                                "media_type": "application/json"})):
        # 503 is the documented answer here, so the "no server error" check is the one check left out.
        response = operation.Case(**kwargs).call_and_validate(
            excluded_checks=[schemathesis.checks.not_a_server_error])
        assert response.status_code == 503, response.text


# --- answers generation cannot reach: real codes -------------------------------------------------------

def _call(api_schema, body: dict, headers: dict | None = None, cookies: dict | None = None):
    case = api_schema["/api/v1/verify"]["POST"].Case(body=body, media_type="application/json")
    response = case.call_and_validate(headers=headers, cookies=cookies)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("credentials", ["anonymous", "api_key", "railway", "traffic"])
def test_real_codes_are_answered_as_documented_for_every_viewer(api_app, api_schema, db_session, clock, client,
                                                               raw_key, credentials, officer_login):
    cert = make_certificate(db_session, CitizenFactory(portrait=FAKE_JPEG), clock.now())
    stale = make_certificate(db_session, CitizenFactory(portrait=FAKE_JPEG), clock.now(), status="revoked")
    licence_user = LicenceFactory(citizen=CitizenFactory(portrait=FAKE_JPEG)).citizen
    with api_app.app_context():  # issuing notifies the holder through the app's SMS gateway
        application = licence_services.apply(db_session, citizen=licence_user, user_id=None,
                                             photo_source="system", photo=None, now=T0, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, application, T0, None, notifier=make_notifier())
    headers = cookies = None
    if credentials == "api_key":
        headers = {"Authorization": f"Bearer {raw_key}"}
    elif credentials in (roles.ROLE_RAILWAY, roles.ROLE_TRAFFIC):
        officer = make_officer(db_session, credentials)
        db_session.commit()
        # schemathesis calls the app with its own WSGI client: carry the officer's session cookie over.
        officer_login(client, officer)
        cookies = {"session": client.get_cookie("session").value}
    db_session.commit()

    codes = {
        "travel_id": qr_text(api_app, cert, clock.now()),
        "revoked": qr_text(api_app, stale, clock.now()),
        "licence": qr_text(api_app, application, clock.now()),
        "stale": qr_text(api_app, cert, clock.now() - tokens.WINDOW * 5),
    }
    answers = {name: _call(api_schema, {"qr": qr}, headers, cookies) for name, qr in codes.items()}
    assert answers["travel_id"]["valid"] is True and answers["licence"]["valid"] is True
    assert answers["revoked"]["valid"] is False and answers["stale"]["valid"] is False
    if credentials == "railway":
        assert "detail" in answers["travel_id"]
