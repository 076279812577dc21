"""SPEC §6 "who sees what", as one table: for each viewer and each kind of credential, the exact fields of the
``POST /api/v1/verify`` answer (which the officer scan page renders, no more) and of the public ``/v/`` page.

The public sees validity, credential type, masked name; officers see identity and status; railway staff: travel
IDs in full, a licence's validity only; traffic police: licences in full; station police: both identities, no
driving record; reviewers and administrators: their queues, no scan access. The table below is written from the
SPEC, independently of ``verification.rules.VIEWER_FIELDS`` which the app renders.
"""
from __future__ import annotations

import re

import pytest

from tests.conftest import T0, make_notifier
from tests.factories import CitizenFactory, LicenceFactory, UserFactory
from tests.verification_support import FAKE_JPEG, make_api_key, make_certificate, make_officer, qr_text
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp.driving_licence import services as licence_services
from webapp.registry.rules import mask_name

TRAVEL, LICENCE = "travel_id", "driving_licence"
VERDICT = {"valid", "reason", "message", "checked_at"}
PUBLIC = VERDICT | {"credential.type", "credential.holder.name", "credential.status"}
IDENTITY = VERDICT | {"credential.type", "credential.holder.name", "credential.holder.id_number_masked",
                      "credential.valid_until", "credential.status"}
PHOTO_ID = IDENTITY | {f"detail.{name}" for name in ("credential_label", "status_label", "valid_until_text", "sex",
                                                      "age", "portrait")}
TRAVEL_IN_FULL = PHOTO_ID | {"detail.ticket_category.code", "detail.ticket_category.label",
                             "detail.ticket_category.age"}
LICENCE_IN_FULL = PHOTO_ID | {f"detail.licence.{name}" for name in (
    "licence_class", "valid_from", "valid_until", "issuing_authority", "file_number", "points", "record_status",
    "first_issued")}
NO_SCAN = None   # 403, nothing of the credential

# (viewer, credential) → (JSON leaf paths, holder name shown: "masked" | "full")
WHO_SEES_WHAT = {
    ("public", TRAVEL): (PUBLIC, "masked"),
    ("public", LICENCE): (PUBLIC, "masked"),
    ("apikey", TRAVEL): (IDENTITY, "full"),
    ("apikey", LICENCE): (IDENTITY, "full"),
    ("railway", TRAVEL): (TRAVEL_IN_FULL, "full"),
    ("railway", LICENCE): (PUBLIC, "masked"),           # a licence's validity only
    ("police", TRAVEL): (TRAVEL_IN_FULL, "full"),
    ("police", LICENCE): (PHOTO_ID, "full"),             # the identity, no driving record
    ("traffic", TRAVEL): (IDENTITY, "full"),
    ("traffic", LICENCE): (LICENCE_IN_FULL, "full"),
    ("reviewer", TRAVEL): (NO_SCAN, None),
    ("reviewer", LICENCE): (NO_SCAN, None),
    ("admin", TRAVEL): (NO_SCAN, None),
    ("admin", LICENCE): (NO_SCAN, None),
}
# What the public /v/ page shows, for everyone who opens it (officers included): type and masked name.
PUBLIC_PAGE_LABELS = ["证件", "持证人"]


def leaves(value, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*(leaves(v, f"{prefix}{k}.") for k, v in value.items())) if value else {prefix[:-1]}
    return {prefix[:-1]}


@pytest.fixture
def credentials(app, db_session, clock):
    """A valid travel ID and a valid e-licence, each of a different holder, and their QR texts now."""
    cert = make_certificate(db_session, CitizenFactory(portrait=FAKE_JPEG), clock.now())
    driver = UserFactory(level=LEVEL_REALPERSON, citizen=CitizenFactory(portrait=FAKE_JPEG))
    LicenceFactory(citizen=driver.citizen)
    with app.app_context():  # issuing notifies the holder through the app's gateways
        licence = licence_services.apply(db_session, citizen=driver.citizen, user_id=driver.id,
                                         photo_source="system", photo=None, now=T0, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, licence, T0, None, notifier=make_notifier())
    db_session.commit()
    return {
        TRAVEL: (qr_text(app, cert, clock.now()), cert.citizen),
        LICENCE: (qr_text(app, licence, clock.now()), driver.citizen),
    }


@pytest.mark.parametrize(("viewer", "kind"), sorted(WHO_SEES_WHAT))
def test_each_role_sees_exactly_its_fields_of_each_credential(app, client, db_session, clock, credentials,
                                                              viewer, kind, officer_login):
    expected, name_shown = WHO_SEES_WHAT[(viewer, kind)]
    code, holder = credentials[kind]
    headers = {}
    if viewer == "apikey":
        headers["Authorization"] = f"Bearer {make_api_key(db_session, clock.now())[1]}"
        db_session.commit()
    elif viewer != "public":
        officer = make_officer(db_session, viewer)
        db_session.commit()
        assert officer_login(client, officer).status_code == 302
        assert client.get("/officer/scan").status_code == (403 if expected is NO_SCAN else 200)

    resp = client.post("/api/v1/verify", json={"qr": code}, headers=headers)
    body = resp.get_json()
    if expected is NO_SCAN:
        assert resp.status_code == 403 and set(body) == {"error", "message"}
        assert holder.name not in resp.get_data(as_text=True)
    else:
        assert resp.status_code == 200 and body["valid"] is True and body["credential"]["type"] == kind
        assert leaves(body) == expected, sorted(leaves(body) ^ expected)
        shown = holder.name if name_shown == "full" else mask_name(holder.name)
        assert body["credential"]["holder"]["name"] == shown
        if "credential.holder.id_number_masked" in expected:
            assert body["credential"]["holder"]["id_number_masked"] != holder.id_number
        assert holder.id_number not in resp.get_data(as_text=True)

    # The public page is the public subset for whoever opens it: validity, type, masked name; nothing else.
    page = client.get("/v/" + code.rsplit("/v/", 1)[1])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "有效" in html
    assert re.findall(r"<dt>([^<]+)</dt>", html) == PUBLIC_PAGE_LABELS
    assert mask_name(holder.name) in html and holder.name not in html and holder.id_number not in html
    # Read as text: the language switch echoes the page's own URL and a CSRF token, either of which may spell "C1".
    shown = re.sub(r"<[^>]+>", "", html)
    assert "准驾车型" not in shown and "C1" not in shown and "data:image" not in shown
