"""Issue 16 point 1 (the server's half; the browser walks are in tests/e2e/test_history_browser.py): a page that
answers a POST names the GET address that replaces it in the history (app.js), so Back and reload never ask to
resubmit a form; a used 实人核验 sends Back to what it led to."""
from __future__ import annotations

import re

from tests.conftest import csrf_from

HISTORY = re.compile(r'<body[^>]*data-history-url="([^"]*)"')


def history_url(resp) -> str | None:
    match = HISTORY.search(resp.get_data(as_text=True))
    return match.group(1) if match else None


def test_a_form_shown_again_with_errors_names_its_get_address_when_answering_a_post(client):
    token = csrf_from(client.get("/travel-id/").get_data(as_text=True))
    travel = client.post("/travel-id/apply", data={"csrf_token": token, "name": "张3", "id_number": "1"})
    register = client.post("/account/register", data={"csrf_token": token, "name": "张三"})
    login = client.post("/account/login?next=/travel-id/records", data={"csrf_token": token, "account": "x",
                                                                        "password": "y"})

    assert travel.status_code == 400 and history_url(travel) == "/travel-id/"
    assert register.status_code == 400 and history_url(register) == "/account/register"
    assert history_url(login) == "/account/login?next=/travel-id/records"


def test_a_page_answering_a_get_names_no_history_address(client):
    assert history_url(client.get("/travel-id/")) is None
    assert history_url(client.get("/account/login")) is None


def test_the_start_page_of_a_reverify_link_is_served_as_html(client, db_session, clock):
    import numpy as np

    from tests.factories import CitizenFactory
    from webapp.travel_id import services as travel

    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=np.zeros(128).tobytes())
    cert = travel.issue(db_session, citizen=citizen, lat=23.13, lon=113.26, city="广州", now=clock.now(),
                        user_id=None, challenge_public_id=None)
    db_session.commit()

    resp = client.get(f"/travel-id/{cert.public_id}/reverify")

    assert resp.status_code == 200 and resp.mimetype == "text/html"
