"""Property-based fuzzing (Hypothesis) of every route in ``app.url_map``: every path parameter, every query
parameter the views read and every form (or JSON) field of the POST routes, as an anonymous visitor, a citizen and
an officer (of the role whose page it is, so officer forms are reached, not refused; a station police officer on
every other page), on both databases.

Values are hostile strings: NUL and other control characters, CR/LF, ``%00``, ``../``, backslashes, schemes,
overlong text, unicode extremes (RTL override, BOM, astral plane, lone surrogates where the encoding can carry one,
i.e. in JSON bodies), huge and odd numbers. The property: never a 5xx, and a refused request (4xx) writes no row
(bar the audit record some refusals keep on purpose, e.g. a failed sign-in).

POST routes come from ``POST_ROUTES`` of test_hostile_forms.py (who submits, the fields, the files), GET routes
straight from the URL map, query names from the views' ``request.args.get("…")``. Each route gets a few generated
cases plus two explicit ones (every parameter NUL; every parameter CR/LF), so every route meets the classic
hostile bytes whatever Hypothesis draws. Bounded and reproducible: ``derandomize=True``, no example database, a
fixed number of examples per route; the Hypothesis functions are built inside the test, so no function-scoped
fixture is reused across examples behind Hypothesis' back (the world is built once per principal, on purpose, and
the session cookie is put back before each case).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from flask import url_for
from hypothesis import strategies as st

from tests.conftest import csrf_from, make_test_config
from tests.http.test_hostile_forms import (  # noqa: F401 - world is a fixture
    POST_ROUTES, World, as_citizen, as_officer, row_counts, submit, world)
from tests.verification_support import make_certificate, make_officer
from webapp import create_app

ROOT = Path(__file__).resolve().parents[2]
# Every query parameter a view reads (request.args.get("name")): each GET route is tried with all of them.
_SOURCE = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "webapp").rglob("*.py"))
QUERY_NAMES = sorted(set(re.findall(r'request\.args\.get\("(\w+)"', _SOURCE)))
MAX_BODY = 512 * 1024

HOSTILE = [
    "\x00", "a\x00b", "%00", "\r\nSet-Cookie: owned=1", "\r", "\n", "/\t/evil.example", "\x1b[31m", "\x7f", "\x08",
    "../../../etc/passwd", "..\\..\\windows", "\\\\evil.example", "//evil.example", "https://evil.example/",
    "javascript:alert(1)", "/%0d%0aLocation:%20http://evil", "x" * 5000, "测" * 3000, "9" * 40, str(2 ** 63),
    "-9223372036854775809", "1e309", "NaN", "-0", "0x10", "\u202egnp.exe", "\ufeff", "\U0010ffff" * 8,
    "\U0001f600" * 50, "\ufffe", "'; DROP TABLE users; --", "<script>alert(1)</script>", "{{7*7}}", "%s%n", "",
]
SURROGATE = "\ud800x\udfff"   # only a JSON body can carry a lone surrogate (as \ud800); UTF-8 cannot
ALWAYS = ("\x00", "/a\r\nb")   # tried on every parameter of every route, whatever else is drawn

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE), st.text(st.characters(codec="utf-8"), max_size=8)),
)
hostile_json = st.one_of(hostile_text, st.just(SURROGATE), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                         st.floats(allow_nan=False), st.none(), st.lists(st.just("x"), max_size=3))

EXAMPLES_PER_ROUTE = 3   # generated cases per route and principal, on top of the two explicit ones
PRINCIPALS = ("anonymous", "citizen", "officer")
# The routes that end the session the rest of the run needs: nothing to fuzz (their only field is the CSRF token).
ENDS_SESSION = {"accounts.logout", "officer.logout"}
# Sign-in forms are fuzzed anonymously only: each case that reaches the password check costs a deliberate ~0.3 s of
# scrypt, and a signed-in browser posting them again reaches the same code.
ANONYMOUS_ONLY = {"accounts.login", "officer.login"}
# JSON fields of the API (its entry in POST_ROUTES describes no form).
JSON_FIELDS = {"api.verify": {"qr": "http://localhost/v/0oRDoQEmoQRIeHh4eHh4eHhA", "context": "entry"},
               "api.offline_scans": {"scans": [{"id": "scan-1", "qr": "http://localhost/v/0oRDoQEmoQRIeHh4eHh4eHhA",
                                                "context": "entry", "scanned_at": "2026-11-20T02:00:00+00:00",
                                                "valid": True, "reason": None}]}}
# Refusals that keep a record on purpose: a failed sign-in is evidence (audit) and counts towards the
# identifier's back-off (login_throttles, SPEC 8); every other table must not change.
AUDIT_TABLES = {"audit_events", "login_throttles"}


@pytest.fixture
def app(database_url, session_factory, clock):
    # Rate limits off: a 429 is a fine answer, but it would stop the cases from reaching the views.
    app = create_app(make_test_config(database_url, RATELIMIT_ENABLED=False), clock=clock,
                     session_factory=session_factory)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    yield app


def _good_path_values(world: World, cert_public_id: str) -> dict[str, dict[str, str]]:
    return {
        "driving_licence.show": {"public_id": world.licence_public_id},
        "driving_licence.token": {"public_id": world.licence_public_id},
        "driving_licence.replace_photo": {"public_id": world.licence_public_id},
        "driving_licence.decide": {"public_id": world.pending_public_id},
        "account_desk.decide": {"public_id": world.review_public_id},
        "proofing.page": {"public_id": world.challenge_public_id},
        "proofing.frames": {"public_id": world.challenge_public_id},
        "proofing.flash": {"public_id": world.challenge_public_id},
        "proofing.retry": {"public_id": world.challenge_public_id},
        **{f"travel_id.{name}": {"public_id": cert_public_id}
           for name in ("show", "result", "token", "reverify", "granted")},
        "shell.coming": {"feature": "violations"},
        "static": {"filename": "css/app.css"},
    }


@dataclass
class Browser:
    """A signed-in test client, its CSRF token, and the session cookie each case starts from."""

    client: object
    token: str
    cookie: object

    @classmethod
    def of(cls, app, sign_in) -> "Browser":
        client = app.test_client()
        sign_in(client)
        token = csrf_from(client.get("/account/login").get_data(as_text=True))
        return cls(client, token, client.get_cookie("session"))

    def reset(self) -> None:
        # Every case starts from the signed-in browser (a case may have changed its session).
        if self.cookie is not None:
            self.client.set_cookie(self.cookie.key, self.cookie.value, domain=self.cookie.domain,
                                   path=self.cookie.path)
        else:
            self.client.delete_cookie("session")


def _officer_role(app, endpoint: str) -> str:
    """The officer whose pages these are (officer_required's roles), so their forms are reached, not refused; a
    station police officer elsewhere (an officer session on a citizen or public page)."""
    roles = getattr(app.view_functions[endpoint], "officer_roles", None)
    return roles[0] if roles else "police"


def _cases(app, principal: str):
    """(endpoint, method, path argument names, field names) of every route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods & {"GET", "POST"}):
            if method == "POST" and (rule.endpoint in ENDS_SESSION
                                     or (rule.endpoint in ANONYMOUS_ONLY and principal != "anonymous")):
                continue
            if method == "GET":
                fields: tuple[str, ...] = ()
            elif rule.endpoint in JSON_FIELDS:
                fields = tuple(JSON_FIELDS[rule.endpoint])
            else:
                fields = tuple(POST_ROUTES[rule.endpoint].fields)
            yield rule.endpoint, method, tuple(sorted(rule.arguments)), fields


def _request(app, client, endpoint: str, method: str, path: dict, query: dict, fields: dict, token: str):
    with app.test_request_context():
        url = url_for(endpoint, **path, **{k: v for k, v in query.items() if v is not None})
    if method == "GET":
        return client.get(url)
    if endpoint in JSON_FIELDS:
        return client.post(url, json=fields, headers={"Accept": "application/json"})
    entry = POST_ROUTES[endpoint]
    return submit(client, entry, url, token, fields, entry.files)


def _text(value):
    """Form fields and URLs are UTF-8: a lone surrogate cannot be sent there (JSON carries it escaped)."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_hostile_values_in_every_parameter_of_every_route_never_get_a_5xx(app, db_session, clock, world,
                                                                          principal):
    cert = make_certificate(db_session, world.citizen_user.citizen, clock.now())
    db_session.commit()
    good_paths = _good_path_values(world, cert.public_id)
    world.officers.update({role: make_officer(db_session, role) for role in ("railway", "admin")})
    db_session.commit()
    browsers: dict[str, Browser] = {}

    def browser_for(endpoint: str) -> Browser:
        who = _officer_role(app, endpoint) if principal == "officer" else principal
        if who not in browsers:
            sign_in = {"anonymous": lambda client: None,
                       "citizen": lambda client: as_citizen(client, world)}.get(who)
            browsers[who] = Browser.of(app, sign_in or (lambda client: as_officer(who)(client, world)))
        return browsers[who]

    seen: list[tuple[str, str, int]] = []
    for endpoint, method, arguments, field_names in _cases(app, principal):
        browser = browser_for(endpoint)
        good_fields = {**POST_ROUTES[endpoint].fields} if method == "POST" and endpoint in POST_ROUTES else {}
        good_fields.update(JSON_FIELDS.get(endpoint, {}) if method == "POST" else {})
        json_body = method == "POST" and (endpoint in JSON_FIELDS or POST_ROUTES[endpoint].json_body)
        value = hostile_json if json_body else hostile_text
        names = [("path", a) for a in arguments] + [("field", f) for f in field_names]
        if method == "GET":
            names += [("query", q) for q in QUERY_NAMES]
        good = {("path", a): good_paths.get(endpoint, {}).get(a, "abcdefgh") for a in arguments}
        good.update({("field", f): good_fields.get(f, "") for f in field_names})
        good.update({("query", q): None for q in QUERY_NAMES})
        strategy = st.fixed_dictionaries({name: st.one_of(st.just(good[name]), value) for name in names})

        def check(values: dict) -> None:
            browser.reset()
            path = {name: _text(v) for (kind, name), v in values.items() if kind == "path"}
            query = {name: _text(v) for (kind, name), v in values.items() if kind == "query"}
            fields = {name: (v if json_body else _text(v))
                      for (kind, name), v in values.items() if kind == "field"}
            if not json_body:
                fields = {k: ("" if v is None else str(v)) for k, v in fields.items()}
            before = row_counts(db_session)
            resp = _request(app, browser.client, endpoint, method, path, query, fields, browser.token)
            status = resp.status_code
            body = resp.get_data().decode(errors="replace")   # /status-list is binary (CBOR)
            resp.close()
            where = f"{principal} {method} {endpoint} {values!r:.300} → {status}"
            seen.append((endpoint, method, status))
            assert status < 500, f"{where}: {body[:300]}"
            if status >= 400:
                after = row_counts(db_session)
                changed = {t for t in after if after[t] != before[t]} - AUDIT_TABLES
                assert not changed, f"{where}: a refused request wrote to {changed}"

        run = check
        for special in ALWAYS:
            run = example(values={name: special for name in names})(run)
        run = settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=True,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                              HealthCheck.large_base_example])(given(values=strategy)(run))
        run()

    routes = {(endpoint, method) for endpoint, method, _status in seen}
    assert routes == {(e, m) for e, m, _a, _f in _cases(app, principal)}, "every route was tried"
    assert len(seen) >= 3 * len(routes), "each route got its explicit and generated cases"
