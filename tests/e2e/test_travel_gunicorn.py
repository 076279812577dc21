"""The monthly quota under real concurrency: 20 browsers' worth of applications for one ID number, each
passing a real 实人核验, then all issuing at once against gunicorn with several workers on PostgreSQL.
Exactly the remaining quota must succeed."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from webapp.db import make_engine, make_session_factory
from webapp.registry.services import prepare_portrait
from webapp.travel_id import services as travel
from webapp.travel_id.models import TravelCertificate
from tests import factories
from tests.conftest import create_database, pg_reachable
from tests.testdata import FACES, load_sequence, needs_testdata

ROOT = Path(__file__).resolve().parents[2]
APPLICANTS = 20
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

pytestmark = [pytest.mark.postgres_only, needs_testdata]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_pg(tmp_path_factory):
    if not pg_reachable() and not os.environ.get("CI"):
        pytest.skip("PostgreSQL not reachable")
    url, drop = create_database("postgresql", tmp_path_factory)
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="gunicorn-test-secret", SUISHEN_ENV="production",
               BASE_URL=f"http://127.0.0.1:{port}", SUISHEN_LIVENESS_CHECKS="blink,match",
               RATELIMIT_ENABLED="0", GUNICORN_WORKERS="4")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                             "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        proc.kill()
        proc.wait()
        pytest.fail("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])
    engine = make_engine(url)
    yield base, make_session_factory(engine)
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    proc.stderr.close()
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
    answer = s.post(f"{base}/proofing/{public_id}/frames", files=files,
                    headers={"X-CSRFToken": csrf, "Accept": "application/json"}).json()
    assert answer["passed"], answer
    return s, base + answer["next_url"]


def test_exactly_the_remaining_quota_succeeds_when_20_applications_issue_at_once(gunicorn_pg):
    base, factory = gunicorn_pg
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
