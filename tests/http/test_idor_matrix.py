"""Who may read or change what: two citizens (A and B, both 实人 with a travel certificate and an e-licence), every
officer role and an anonymous visitor, against every route whose URL carries an identifier (from ``app.url_map``).

Nobody but the holder (or the role whose job it is) gets anything but 403/404 or a redirect to sign in / re-verify,
and no answer to anyone carries another citizen's full name or full ID number. The holder's own pages never carry
the full 18-digit ID number either, except the e-licence front page, whose licence number *is* the ID number.

A new route with a URL parameter fails ``test_every_identified_route_has_an_entry`` until it is listed below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import csrf_from, make_notifier
from tests.factories import PASSWORD, CitizenFactory, LicenceFactory, UserFactory
from tests.http.test_officer_http import login_officer
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

# endpoint → (method, URL with {cert}/{licence}/{challenge}/{pending}/{serial}/{review} of citizen A, who may use it).
# "holder" = citizen A (the browser that holds the grant/challenge); a role name = officers of that role.
IDENTIFIED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "travel_id.show": ("GET", "/travel-id/{cert}", ("holder",)),
    "travel_id.result": ("GET", "/travel-id/{cert}/result", ("holder",)),
    "travel_id.token": ("GET", "/travel-id/{cert}/token", ("holder",)),
    # Starts 实人核验 for the certificate's citizen: only their face can pass it (the non-registered flow).
    "travel_id.reverify": ("GET", "/travel-id/{cert}/reverify", ("anyone",)),
    "travel_id.granted": ("GET", "/travel-id/{cert}/granted?c={challenge}", ()),
    "driving_licence.show": ("GET", "/licence/{licence}", ("holder",)),
    "driving_licence.token": ("GET", "/licence/{licence}/token", ("holder",)),
    "driving_licence.replace_photo": ("POST", "/licence/{licence}/photo", ("holder",)),
    "driving_licence.decide": ("POST", "/licence/review/{pending}", (roles.ROLE_REVIEWER,)),
    "officer.paper_print": ("GET", "/officer/paper/{serial}", (roles.ROLE_POLICE,)),
    "account_desk.decide": ("POST", "/officer/accounts/reviews/{review}", (roles.ROLE_REVIEWER,)),
    "proofing.page": ("GET", "/proofing/{challenge}", ("holder",)),
    "proofing.frames": ("POST", "/proofing/{challenge}/frames", ()),
    "proofing.retry": ("POST", "/proofing/{challenge}/retry", ()),
    "proofing.status": ("GET", "/proofing/{challenge}/status", ("holder",)),
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
        assert login_officer(client, world["officers"][principal]).status_code == 302


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


@pytest.mark.parametrize("endpoint", sorted(IDENTIFIED))
def test_nobody_reads_or_changes_what_is_not_theirs(app, db_session, clock, world, endpoint):
    world["now"] = clock.now()
    a = world["A"]
    method, template, who = IDENTIFIED[endpoint]
    url = template.format(cert=a.cert.public_id, licence=a.licence_public_id, challenge=a.challenge_public_id,
                          pending=world["pending"], serial=world["serial"], review=world["review"])
    for principal in PRINCIPALS:
        client = app.test_client()  # a browser of its own for each principal
        sign_in(client, world, principal)
        resp = request(client, method, url)
        body = resp.get_data(as_text=True)
        where = f"{principal} {method} {url} → {resp.status_code}"
        assert resp.status_code < 500, where
        if allowed(principal, who):
            assert resp.status_code in (200, 302, 400, 409), where
        else:
            assert resp.status_code in (302, 400, 401, 403, 404), where
            if resp.status_code == 302:
                target = resp.headers["Location"]
                assert re.match(r"^/(account|officer)/login|^/travel-id/[^/]+/reverify$|^/proofing/", target), \
                    f"{where}: redirected to {target}"
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
    own = [template.format(cert=a.cert.public_id, licence=a.licence_public_id, challenge=a.challenge_public_id,
                           pending=world["pending"], serial=world["serial"], review=world["review"])
           for endpoint, (method, template, _who) in IDENTIFIED.items()
           if method == "GET" and endpoint not in FULL_ID_SHOWN]
    for url in plain + own:
        resp = client.get(url)
        body = resp.get_data(as_text=True)
        resp.close()  # static files (the manifest) are streamed from an open file
        assert resp.status_code < 500, url
        for holder in (world["A"], world["B"]):
            assert holder.user.citizen.id_number not in body, f"{url}: a full ID number in the page"
