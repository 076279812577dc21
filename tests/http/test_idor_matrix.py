"""Who may read or change what: two citizens (A and B, both 实人 with a travel certificate and an e-licence), every
officer role and an anonymous visitor, against every route whose URL carries an identifier (from ``app.url_map``).

Each principal gets exactly the one answer its row states: the holder (or the role whose job it is) reaches the
route; everyone else gets 403/404 or a redirect to sign in / re-verify, never a 400 that could hide either; and no
answer to anyone carries another citizen's full name or full ID number. The holder's own pages never carry
the full 18-digit ID number either, except the e-licence front page, whose licence number *is* the ID number.

A new route with a URL parameter fails ``test_every_identified_route_has_an_entry`` until it is listed below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import csrf_from, log_officer_in, make_notifier
from tests.factories import PASSWORD, CitizenFactory, LicenceFactory, UserFactory
from tests.verification_support import FAKE_JPEG, make_certificate, make_officer
from webapp.accounts.models import IdentityReview
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp.driving_licence import services as licence_services
from webapp import roles
from webapp.officer.models import PaperCertificate
from webapp.proofing import services as proofing_services
from webapp.proofing.rules import Policy

PRINCIPALS = ["A", "B", *roles.ROLES, "anonymous"]

# Routes whose parameter is public on purpose, and why.
PUBLIC = {
    "verification.public": "/v/<token>: what any phone camera opens from the QR; answers the public subset only "
                           "(validity, type, masked name), tested in test_api_verify.py",
    "shell.coming": "/coming/<feature>: a feature name, not anyone's data",
    "static": "/static/<path>: the app's own files",
}

# The answers. 200/400/403/404 are statuses; LOGIN = a redirect to the citizen or officer sign-in page, REVERIFY = to
# the certificate's 重新核验 page, PROOFING = to a camera page (a challenge started for whoever asks).
LOGIN, REVERIFY, PROOFING = "login", "reverify", "proofing"
REDIRECTS = {LOGIN: r"^/(account|officer)/login\?next=", REVERIFY: r"^/travel-id/[^/]+/reverify$",
             PROOFING: r"^/proofing/[\w-]{40,}$"}


@dataclass(frozen=True)
class Row:
    """One route with an identifier of citizen A's (``url``), who may use it, and the one answer each kind of
    principal gets: ``allowed`` for those in ``who`` ("holder" = citizen A, in the browser holding the grant or
    challenge; "anyone"; or officer roles); then, for everyone else, ``citizen`` (B), ``officer`` (another role)
    and ``anonymous``. An allowed principal's 400 is the route's own refusal of the empty form the matrix sends
    (the view was reached); nobody else ever gets it."""

    method: str
    url: str
    who: tuple[str, ...]
    allowed: int | str | dict
    citizen: int | str
    officer: int | str
    anonymous: int | str


IDENTIFIED: dict[str, Row] = {
    # A travel ID is viewable in the browser that passed 实人核验 for it, with no sign-in: others are sent to do so.
    "travel_id.show": Row("GET", "/travel-id/{cert}", ("holder",), 200, REVERIFY, REVERIFY, REVERIFY),
    "travel_id.result": Row("GET", "/travel-id/{cert}/result", ("holder",), 200, REVERIFY, REVERIFY, REVERIFY),
    "travel_id.token": Row("GET", "/travel-id/{cert}/token", ("holder",), 200, 403, 403, 403),
    # Starts 实人核验 for the certificate's citizen: only their face can pass it (the non-registered flow). A signed-in
    # citizen's GET starts it at once; anyone else gets the page whose POST starts it.
    "travel_id.reverify": Row("GET", "/travel-id/{cert}/reverify", ("anyone",),
                              {"A": PROOFING, "B": PROOFING, "officer": 200, "anonymous": 200}, 0, 0, 0),
    # The grant needs a passed challenge started in this browser: A's is not passed, everyone else has none.
    "travel_id.granted": Row("GET", "/travel-id/{cert}/granted?c={challenge}", (), 0, 403, 403, 403),
    "driving_licence.show": Row("GET", "/licence/{licence}", ("holder",), 200, 404, 403, LOGIN),
    "driving_licence.token": Row("GET", "/licence/{licence}/token", ("holder",), 200, 404, 403, LOGIN),
    "driving_licence.replace_photo": Row("POST", "/licence/{licence}/photo", ("holder",), 400, 404, 403, LOGIN),
    "driving_licence.decide": Row("POST", "/licence/review/{pending}", (roles.ROLE_REVIEWER,), 400, 403, 403, LOGIN),
    "officer.paper_print": Row("GET", "/officer/paper/{serial}", (roles.ROLE_POLICE,), 200, 403, 403, LOGIN),
    "account_desk.decide": Row("POST", "/officer/accounts/reviews/{review}", (roles.ROLE_REVIEWER,), 400, 403, 403,
                               LOGIN),
    "proofing.page": Row("GET", "/proofing/{challenge}", ("holder",), 200, 403, 403, 403),
    "proofing.frames": Row("POST", "/proofing/{challenge}/frames", ("holder",), 400, 403, 403, 403),
    "proofing.flash": Row("POST", "/proofing/{challenge}/flash", ("holder",), 400, 403, 403, 403),
    "proofing.retry": Row("POST", "/proofing/{challenge}/retry", ("holder",), PROOFING, 403, 403, 403),
    "proofing.status": Row("GET", "/proofing/{challenge}/status", ("holder",), 200, 403, 403, 403),
}
# Pages that show a full ID number on purpose, to whom, and why.
FULL_ID_SHOWN = {
    "driving_licence.show": ("A", "SPEC §5.3: the front page's licence number is the ID number"),
    "driving_licence.replace_photo": ("A", "a refused replacement answers with the front page again"),
    "officer.paper_print": (roles.ROLE_POLICE, "the printed paper certificate carries the ID number"),
}


def test_every_identified_route_has_an_entry(app):
    identified = {rule.endpoint for rule in app.url_map.iter_rules() if rule.arguments}
    missing = sorted(identified - set(IDENTIFIED) - set(PUBLIC))
    assert not missing, (f"routes with a URL identifier missing from IDENTIFIED or PUBLIC in {__file__}: {missing}. "
                         "Say who may use them (IDENTIFIED) or why they are public (PUBLIC).")
    assert not (set(IDENTIFIED) | set(PUBLIC)) - identified - {"static"}, "entries for routes that no longer exist"


@dataclass
class Holder:
    user: object
    cert: object
    licence_public_id: str
    challenge_public_id: str


def _holder(app, db_session, now) -> Holder:
    user = UserFactory(level=LEVEL_REALPERSON, citizen=CitizenFactory(portrait=FAKE_JPEG,
                                                                     portrait_encoding=b"\x00" * 1024))
    LicenceFactory(citizen=user.citizen)
    cert = make_certificate(db_session, user.citizen, now)
    cert.applicant_user_id = user.id
    with app.app_context():
        licence = licence_services.apply(db_session, citizen=user.citizen, user_id=user.id, photo_source="system",
                                         photo=None, now=now, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, licence, now, None, notifier=make_notifier())
    challenge = proofing_services.start(db_session, citizen=user.citizen, purpose="travel_id_view", now=now,
                                        policy=Policy.from_setting("blink,match", 0.6),
                                        next_url=f"/travel-id/{cert.public_id}", fallback_url=None, user_id=user.id)
    return Holder(user, cert, licence.public_id, challenge.public_id)


@pytest.fixture
def world(app, db_session, clock):
    now = clock.now()
    a, b = _holder(app, db_session, now), _holder(app, db_session, now)
    other = LicenceFactory(citizen=CitizenFactory(portrait=FAKE_JPEG))
    with app.app_context():
        pending = licence_services.apply(db_session, citizen=other.citizen, user_id=None, photo_source="album",
                                         photo=FAKE_JPEG, now=now, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, pending, now, None, notifier=make_notifier())
    officers = {role: make_officer(db_session, role) for role in roles.ROLES}
    paper = PaperCertificate(serial="ZM20261120IDOR0001", name=a.user.citizen.name, id_number=a.user.citizen.id_number,
                             citizen_id=a.user.citizen_id, issuing_station="广州南站",
                             officer=officers[roles.ROLE_POLICE], issued_at=now)
    db_session.add(paper)
    review = IdentityReview(public_id="idor-review-1", user=a.user, status="pending", front=FAKE_JPEG, back=FAKE_JPEG,
                            submitted_at=now, due_at=now + timedelta(days=1))
    db_session.add(review)
    db_session.commit()
    return {"A": a, "B": b, "officers": officers, "pending": pending.public_id, "serial": paper.serial,
            "review": review.public_id}


def sign_in(client, world, principal: str) -> None:
    if principal in ("A", "B"):
        holder = world[principal]
        token = csrf_from(client.get("/account/login").get_data(as_text=True))
        resp = client.post("/account/login", data={"csrf_token": token, "account": holder.user.phone,
                                                    "password": PASSWORD})
        assert resp.status_code == 302
        # The browser that passed 实人核验 for the certificate holds the grant and the challenge.
        with client.session_transaction() as session:
            session["travel_id_grants"] = {holder.cert.public_id: world["now"].isoformat()}
            session["proofing"] = [holder.challenge_public_id]
    elif principal != "anonymous":
        assert log_officer_in(client, world["officers"][principal]).status_code == 302


def secrets_of(holder: Holder) -> list[str]:
    """What must never reach anyone else: the full name and the full ID number (and the phone on file)."""
    citizen = holder.user.citizen
    return [citizen.id_number, citizen.name, citizen.phone]


def request(client, method: str, url: str):
    if method == "GET":
        return client.get(url, headers={"Accept": "text/html"})
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, "photo_source": "camera"},
                       headers={"X-CSRFToken": token})


def allowed(principal: str, who: tuple[str, ...]) -> bool:
    return "anyone" in who or (principal == "A" and "holder" in who) or principal in who


def expected(row: Row, principal: str) -> int | str:
    kind = "citizen" if principal in ("A", "B") else "anonymous" if principal == "anonymous" else "officer"
    if allowed(principal, row.who):
        if isinstance(row.allowed, dict):
            return row.allowed.get(principal, row.allowed.get(kind))
        return row.allowed
    return getattr(row, kind)


def assert_answer(resp, answer: int | str, where: str) -> None:
    if isinstance(answer, int):
        assert resp.status_code == answer, where
        return
    assert resp.status_code == 302, where
    target = resp.headers["Location"]
    assert re.match(REDIRECTS[answer], target), f"{where}: redirected to {target}, not to {answer}"


@pytest.mark.parametrize("endpoint", sorted(IDENTIFIED))
def test_nobody_reads_or_changes_what_is_not_theirs(app, db_session, clock, world, endpoint):
    world["now"] = clock.now()
    a = world["A"]
    row = IDENTIFIED[endpoint]
    url = row.url.format(cert=a.cert.public_id, licence=a.licence_public_id, challenge=a.challenge_public_id,
                         pending=world["pending"], serial=world["serial"], review=world["review"])
    for principal in PRINCIPALS:
        client = app.test_client()  # a browser of its own for each principal
        sign_in(client, world, principal)
        resp = request(client, row.method, url)
        body = resp.get_data(as_text=True)
        where = f"{principal} {row.method} {url} → {resp.status_code}"
        assert_answer(resp, expected(row, principal), where)
        if not allowed(principal, row.who):
            leaks = [s for s in secrets_of(a) if s in body]
            assert not leaks, f"{where}: A's {leaks} in the answer"
        # Nobody's full ID number on any page but the holder's own licence front page.
        for holder in (world["A"], world["B"]):
            if FULL_ID_SHOWN.get(endpoint, ("",))[0] == principal and holder is a:
                continue
            assert holder.user.citizen.id_number not in body, f"{where}: a full ID number in the answer"


def test_holders_own_pages_never_show_the_full_id_number(app, client, db_session, clock, world):
    """Every page A can open without an identifier, and A's own identified pages (bar the licence front page)."""
    world["now"] = clock.now()
    a = world["A"]
    sign_in(client, world, "A")
    plain = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api/")})
    own = [row.url.format(cert=a.cert.public_id, licence=a.licence_public_id, challenge=a.challenge_public_id,
                          pending=world["pending"], serial=world["serial"], review=world["review"])
           for endpoint, row in IDENTIFIED.items() if row.method == "GET" and endpoint not in FULL_ID_SHOWN]
    for url in plain + own:
        resp = client.get(url)
        body = resp.get_data().decode(errors="replace")   # /status-list is binary (CBOR)
        resp.close()  # static files (the manifest) are streamed from an open file
        assert resp.status_code < 500, url
        for holder in (world["A"], world["B"]):
            assert holder.user.citizen.id_number not in body, f"{url}: a full ID number in the page"
