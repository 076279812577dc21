"""The monthly quota under real concurrency: 20 browsers' worth of applications for one ID number, each
passing a real 实人核验, then all issuing at once against gunicorn with several workers on PostgreSQL.
Exactly the remaining quota must succeed."""
from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from webapp.db import make_engine, make_session_factory
from webapp.proofing.services import prepare_portrait
from webapp.travel_id import services as travel
from webapp.travel_id.models import TravelCertificate
from tests import factories
from tests.conftest import create_database, pg_reachable
from tests.servers import WebAndWorkers, decision
from tests.testdata import FACES, load_sequence, needs_testdata

ROOT = Path(__file__).resolve().parents[2]
APPLICANTS = 20
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

pytestmark = [pytest.mark.postgres_only, needs_testdata]


@pytest.fixture
def gunicorn_pg(tmp_path_factory, tmp_path):
    if not pg_reachable() and not os.environ.get("CI"):
        pytest.skip("PostgreSQL not reachable")
    url, drop = create_database("postgresql", tmp_path_factory)
    stack = WebAndWorkers(dict(DATABASE_URL=url, SECRET_KEY="gunicorn-test-secret", SUISHEN_ENV="production",
                               SUISHEN_LIVENESS_CHECKS="blink,match", RATELIMIT_ENABLED="0",
                               GUNICORN_WORKERS="4"), tmp_path / "servers")
    stack.start()
    engine = make_engine(url)
    yield stack.base, make_session_factory(engine), stack
    stack.stop()
    engine.dispose()
    drop()


def _csrf(html: str) -> str:
    m = CSRF.search(html)
    return m.group(1) or m.group(2)


def _prove(base: str, citizen, frames: list[bytes]) -> tuple[requests.Session, str]:
    """One applicant up to a passed 实人核验; returns the session and the issue URL."""
    s = requests.Session()
    token = _csrf(s.get(f"{base}/travel-id/").text)
    r = s.post(f"{base}/travel-id/apply", data={"csrf_token": token, "name": citizen.name,
                                                 "id_number": citizen.id_number, "latitude": "23.13",
                                                 "longitude": "113.26"}, allow_redirects=False)
    assert r.status_code == 302, r.text[:500]
    page = s.get(base + r.headers["Location"])
    public_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    files = [("blink", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(frames)]
    answer = decision(s, base, s.post(f"{base}/proofing/{public_id}/frames", files=files,
                                      headers={"X-CSRFToken": csrf, "Accept": "application/json"}))
    assert answer["passed"], answer
    return s, base + answer["next_url"]


def test_exactly_the_remaining_quota_succeeds_when_20_applications_issue_at_once(gunicorn_pg):
    base, factory, _servers = gunicorn_pg
    with factory() as db:
        factories.bind(db)
        portrait, encoding = prepare_portrait((FACES / "meds-aa-S001-02.jpg").read_bytes())
        citizen = factories.CitizenFactory(portrait=portrait, portrait_encoding=encoding)
        travel.issue(db, citizen=citizen, lat=23.13, lon=113.26, city="广州", now=datetime.now(timezone.utc),
                     user_id=None, challenge_public_id=None)  # one of three already used this month
        db.commit()
        db.expunge_all()
    frames = load_sequence("genuine_blink_meds_s001")[:24]
    with ThreadPoolExecutor(4) as pool:
        proven = list(pool.map(lambda _: _prove(base, citizen, frames), range(APPLICANTS)))

    barrier = threading.Barrier(APPLICANTS)

    def issue(item):
        session, url = item
        barrier.wait()
        return session.get(url, allow_redirects=False)

    with ThreadPoolExecutor(APPLICANTS) as pool:
        answers = list(pool.map(issue, proven))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(302) == 2, statuses
    refused = [r for r in answers if r.status_code != 302]
    assert {r.status_code for r in refused} == {429}
    assert all("公安制证窗口" in r.text for r in refused)
    with factory() as db:
        assert sorted(db.scalars(select(TravelCertificate.slot))) == [1, 2, 3]
