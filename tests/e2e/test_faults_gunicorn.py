"""Faults against real gunicorn workers on PostgreSQL.

(a) The database goes away mid-flow: a small TCP proxy between gunicorn and PostgreSQL (threads and sockets, in
    this test) is cut. Pages answer 503 with the Chinese message, the API 503 ``status_unknown``, /healthz 503;
    nothing is half-written; once the proxy is back the same flows work.
(b) A restart (stop gunicorn, start it again with the same SECRET_KEY) loses no session a user needs: the signed-in
    user is still signed in and the travel ID QR page still answers.
(c) One 实人核验 challenge submitted from several workers at once is decided exactly once (the atomic claim).
"""
from __future__ import annotations

import os
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

import webapp.models  # noqa: F401 - every table in the metadata
from tests import factories
from tests.conftest import create_database, make_test_config, pg_reachable
from tests.servers import WebAndWorkers, decision
from tests.verification_support import FAKE_JPEG, make_api_key, make_certificate, signed_qr
from webapp import create_app
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp.audit.models import AuditEvent
from webapp.db import Base, make_engine, make_session_factory
from webapp.proofing import services as proofing_services
from webapp.proofing.models import Challenge
from webapp.proofing.rules import Policy

ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-test-secret"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
DB_DOWN = "系统暂时无法连接数据库"

pytestmark = [pytest.mark.postgres_only]


class Proxy:
    """A TCP proxy 127.0.0.1:<port> → PostgreSQL that the test can cut (every connection dropped, new ones
    closed at once) and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            # The timeout was for connecting only: a pooled connection may idle for long (a slow, loaded CI
            # machine), and a recv timeout would cut it as if the database had gone.
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src)
            self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            live = list(self._sockets)
        for sock in live:
            self._drop(sock)

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


class Gunicorn(WebAndWorkers):
    """gunicorn and the queue's face workers (tests/servers.py), restartable with the same secret and queue."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        super().__init__(dict(DATABASE_URL=database_url, SECRET_KEY=SECRET, SUISHEN_ENV="production",
                              SUISHEN_LIVENESS_CHECKS="blink,match", RATELIMIT_ENABLED="0", GUNICORN_WORKERS="3"),
                         log_dir)

    def start(self) -> None:
        try:
            super().start()
        except RuntimeError as error:
            pytest.fail(str(error))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not pg_reachable() and not os.environ.get("CI"):
        pytest.skip("PostgreSQL not reachable")
    url, drop = create_database("postgresql", tmp_path_factory)
    direct = make_url(url)
    proxy = Proxy((direct.host or "127.0.0.1", direct.port or 5432))
    server = Gunicorn(direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                      tmp_path_factory.mktemp("servers"))
    server.start()
    engine = make_engine(url)  # the test's own connection, straight to PostgreSQL
    yield server, proxy, make_session_factory(engine)
    server.stop()
    proxy.close()
    engine.dispose()
    drop()


@pytest.fixture
def db(stack):
    session = stack[2]()
    factories.bind(session)
    yield session
    session.close()


def row_counts(db) -> dict[str, int]:
    db.expire_all()
    counts = {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    db.rollback()
    return counts


def csrf(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) or match.group(2)


def signed_in(base: str, user) -> requests.Session:
    browser = requests.Session()
    token = csrf(browser.get(f"{base}/account/login").text)
    resp = browser.post(f"{base}/account/login", data={"csrf_token": token, "account": user.phone,
                                                        "password": factories.PASSWORD}, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:300]
    return browser


def edit_session(browser: requests.Session, base: str, change) -> None:
    """Change this browser's signed session cookie as the app would (the test holds the same SECRET_KEY)."""
    app = create_app(make_test_config("sqlite://", SECRET_KEY=SECRET))
    serializer = app.session_interface.get_signing_serializer(app)
    host = base.split("//", 1)[1].split(":", 1)[0]
    data = serializer.loads(browser.cookies.get("session", domain=host)) if browser.cookies.get("session") else {}
    change(data)
    browser.cookies.set("session", serializer.dumps(data), domain=host, path="/")


def _holder(db):
    citizen = factories.CitizenFactory(portrait=FAKE_JPEG, portrait_encoding=b"\x00" * 1024)
    factories.LicenceFactory(citizen=citizen)
    user = factories.UserFactory(citizen=citizen, level=LEVEL_REALPERSON)
    cert = make_certificate(db, citizen, datetime.now(timezone.utc))
    cert.applicant_user_id = user.id
    _key, raw_key = make_api_key(db, datetime.now(timezone.utc))
    db.commit()
    return user, cert, raw_key


def test_database_cut_mid_flow_answers_503_writes_nothing_and_recovers(stack, db):
    server, proxy, _factory = stack
    base = server.base
    user, cert, raw_key = _holder(db)
    browser = signed_in(base, user)
    apply_token = csrf(browser.get(f"{base}/travel-id/").text)
    licence_token = csrf(browser.get(f"{base}/account/login").text)
    qr = signed_qr(cert, datetime.now(timezone.utc), base=base)
    before = row_counts(db)

    proxy.cut()
    try:
        health = requests.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        for auth in ({}, {"Authorization": f"Bearer {raw_key}"}):
            api = requests.post(f"{base}/api/v1/verify", json={"qr": qr}, headers=auth, timeout=30)
            assert api.status_code == 503, api.text
            assert api.json()["error"] == "status_unknown" and api.headers["Retry-After"]
        page = browser.get(f"{base}/account/", timeout=30)
        assert page.status_code == 503 and DB_DOWN in page.text
        # Mid-flow: the forms were opened while the database answered, submitted while it does not.
        applied = browser.post(f"{base}/travel-id/apply", data={
            "csrf_token": apply_token, "name": user.citizen.name, "id_number": user.citizen.id_number,
            "latitude": "23.13", "longitude": "113.26"}, allow_redirects=False, timeout=30)
        assert applied.status_code == 503 and DB_DOWN in applied.text
        licence = browser.post(f"{base}/licence/apply", data={"csrf_token": licence_token, "photo_source": "system"},
                               allow_redirects=False, timeout=30)
        assert licence.status_code == 503 and DB_DOWN in licence.text
        public = requests.get(qr, timeout=30)
        assert public.status_code == 503 and DB_DOWN in public.text  # never a false VALID or INVALID
    finally:
        proxy.restore()

    assert row_counts(db) == before  # no half-written application, certificate, challenge or review
    assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    answer = requests.post(f"{base}/api/v1/verify", json={"qr": qr}, headers={"Authorization": f"Bearer {raw_key}"},
                           timeout=30)
    assert answer.status_code == 200 and answer.json()["valid"] is True
    assert browser.get(f"{base}/account/", timeout=30).status_code == 200
    applied = browser.post(f"{base}/travel-id/apply", data={
        "csrf_token": apply_token, "name": user.citizen.name, "id_number": user.citizen.id_number,
        "latitude": "23.13", "longitude": "113.26"}, allow_redirects=False, timeout=30)
    assert applied.status_code == 302 and "/proofing/" in applied.headers["Location"]


def _frame() -> bytes:
    out = BytesIO()
    Image.effect_noise((320, 240), 40).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def test_one_challenge_submitted_from_several_workers_is_decided_once(stack, db):
    server, _proxy, _factory = stack
    base = server.base
    user, _cert, _key = _holder(db)
    challenge = proofing_services.start(db, citizen=user.citizen, purpose="travel_id_view",
                                        now=datetime.now(timezone.utc), policy=Policy.from_setting("blink,match", 0.6),
                                        next_url="/", fallback_url=None)
    db.commit()
    browser = requests.Session()
    browser.get(f"{base}/")  # a session cookie to extend
    edit_session(browser, base, lambda data: data.update(proofing=[challenge.public_id]))
    page = browser.get(f"{base}/proofing/{challenge.public_id}")
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    edited_cookie = browser.cookies.get("session")
    frames = [("blink", (f"{i}.jpg", _frame(), "image/jpeg")) for i in range(6)]
    submitters = 6
    barrier = threading.Barrier(submitters)

    def submit(_):
        s = requests.Session()
        s.cookies.set("session", edited_cookie, domain="127.0.0.1", path="/")
        barrier.wait()
        return s.post(f"{base}/proofing/{challenge.public_id}/frames", files=frames,
                      headers={"X-CSRFToken": token, "Accept": "application/json"}, timeout=60)

    with ThreadPoolExecutor(submitters) as pool:
        answers = list(pool.map(submit, range(submitters)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * (submitters - 1) + [202], [(r.status_code, r.text[:200]) for r in answers]
    assert all(r.json()["reason"] == "used" for r in answers if r.status_code == 200)
    accepted = next(r for r in answers if r.status_code == 202)  # exactly one was queued for a decision
    s = requests.Session()
    s.cookies.set("session", edited_cookie, domain="127.0.0.1", path="/")
    decided = [decision(s, base, accepted)["reason"]]
    db.expire_all()
    stored = db.scalar(select(Challenge).where(Challenge.public_id == challenge.public_id))
    assert stored.status == "failed" and stored.reason == decided[0]  # no face in noise: decided, once
    decisions = db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "proofing.decide", AuditEvent.subject_id == stored.id))
    assert decisions == 1


def test_restart_with_the_same_secret_keeps_sessions_and_the_qr_page(stack, db):
    server, _proxy, _factory = stack
    base = server.base
    user, cert, _key = _holder(db)
    browser = signed_in(base, user)
    # This browser passed 实人核验 for the certificate a minute ago (the grant lives in the signed cookie).
    granted = datetime.now(timezone.utc).isoformat()
    edit_session(browser, base, lambda data: data.update(travel_id_grants={cert.public_id: granted}))
    assert browser.get(f"{base}/travel-id/{cert.public_id}/token").json()["state"] == "valid"

    server.stop()
    server.start()

    profile = browser.get(f"{base}/account/", allow_redirects=False)
    assert profile.status_code == 200 and user.citizen.name in profile.text  # still signed in
    page = browser.get(f"{base}/travel-id/{cert.public_id}", allow_redirects=False)
    assert page.status_code == 200, page.headers.get("Location")
    token = browser.get(f"{base}/travel-id/{cert.public_id}/token").json()
    assert token["state"] == "valid" and token["url"].startswith(f"{base}/v/")
    checked = requests.post(f"{base}/api/v1/verify", json={"qr": token["url"]}).json()
    assert checked["valid"] is True
