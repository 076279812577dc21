"""Test fixtures: a real database per backend (SQLite and, when reachable, a throw-away PostgreSQL
database), migrated once with Alembic; each test inside an outer transaction it rolls back.

Tests that take ``app``/``client``/``db_session`` run once per backend: ``[sqlite]`` and ``[postgresql]``.
Under CI (``CI=true``) an unreachable PostgreSQL is a failure, not a skip.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from webapp import config as app_config
from webapp import create_app, migrate
from webapp.accounts import services as accounts
from webapp.clock import FrozenClock
from webapp.db import make_engine
from webapp.extensions import limiter
from webapp.signing import keys as signing_keys
from webapp.notify import tasks as notify_tasks
from webapp.notify.notifier import Notifier
from tests import factories
from tests.verification_support import OFFICER_PASSWORD, make_officer

# Property tests check properties, not timing: the first example of a cold run pays imports and caches (the holiday
# schedule, compiled patterns) on a machine other processes load, which Hypothesis' 200 ms deadline reported as a
# flaky failure. The per-test settings inherit this profile.
settings.register_profile("suishen", deadline=None)
settings.load_profile("suishen")

PG_ADMIN_URL = os.environ.get("SUISHEN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# A Friday, 10:00 in Beijing.
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)

# QR tokens are signed with a key of the test run's own, never the developer's instance/signing_keys: one folder
# per test process, made at import and named in the environment, so the servers that tests start as processes
# (tests/servers.py) sign with the same key. It signs from 2000 on, so frozen and live clocks alike can use it.
TEST_SIGNING_KEYS = Path(tempfile.mkdtemp(prefix="suishen-test-keys-"))
signing_keys.init_keys(TEST_SIGNING_KEYS, datetime(2000, 1, 1, tzinfo=timezone.utc))
os.environ["SUISHEN_SIGNING_KEYS"] = str(TEST_SIGNING_KEYS)
atexit.register(shutil.rmtree, TEST_SIGNING_KEYS, ignore_errors=True)


def pg_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - whatever fails, it is not reachable
        return False


def _require_pg() -> None:
    if not pg_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; CI must test against it")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")


def create_database(kind: str, tmp_path_factory) -> tuple[str, callable]:
    """A new, migrated, empty database. Returns (url, drop)."""
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "suishen.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        return url, lambda: None
    _require_pg()
    name = f"suishen_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrate.upgrade(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    url, drop = create_database(request.param, tmp_path_factory)
    yield url
    drop()


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine):
    # Everything a test does, including the app's commits, happens inside one outer transaction that is
    # rolled back at the end (warehouse's pattern); commits become savepoint releases.
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def clock():
    return FrozenClock(T0)


def make_test_config(database_url: str, **overrides) -> dict:
    config = {
        "SUISHEN_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "SUISHEN_DEMO": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "BASE_URL": "http://localhost",
        "SUISHEN_LIVENESS_CHECKS": "blink,colour,match",
        # Jobs run at once in the enqueuing request: for tests that are not about the queue. Queue tests
        # (tests/http/test_proofing_queue.py, the e2e servers) run a real consumer on a real queue file.
        "SUISHEN_QUEUE_URL": "immediate://",
        "SUISHEN_QUEUE_WORKERS": 1,
        # Push off unless a test sets keys: never the developer's instance/vapid.env (config reads it).
        "SUISHEN_VAPID_PUBLIC_KEY": "",
        "SUISHEN_VAPID_PRIVATE_KEY": "",
        "SUISHEN_SIGNING_KEYS": str(TEST_SIGNING_KEYS),
    }
    config.update(overrides)
    return config


def make_notifier() -> Notifier:
    """A Notifier as create_app builds one (the embedded SMS outbox, push off), for services a test calls outside a
    request; what it queues after a commit goes to the task queue of the last app made."""
    settings = {**app_config.DEFAULTS, **app_config.from_environment("/nonexistent"), **make_test_config("")}
    return Notifier.from_config(settings, accounts_of=accounts.user_ids_of, enqueue=notify_tasks.enqueue)


@pytest.fixture
def notifier() -> Notifier:
    return make_notifier()


@pytest.fixture
def app(database_url, session_factory, clock):
    app = create_app(make_test_config(database_url), clock=clock, session_factory=session_factory)
    limiter.reset()
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db_session(session_factory):
    session = session_factory()
    factories.bind(session)
    yield session
    session.close()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


DEMO_LOGIN_LINE = re.compile(r"^  (?P<label>.+?)：账号 (?P<login>\S+)  密码 (?P<password>\S+)  登录 (?P<url>\S+)"
                             r"（(?P<state>新建|已有)）$", re.M)


def demo_logins(output: str) -> dict[str, tuple[str, str]]:
    """{login: (password, 新建|已有)} from the output of `flask --app app registry demo`."""
    return {m["login"]: (m["password"], m["state"]) for m in DEMO_LOGIN_LINE.finditer(output)}


def start_proofing_from_page(client, page):
    """A GET of a calling flow's 实人核验 link creates nothing (issue 12): it shows a page whose CSRF-checked POST to
    /proofing/start starts the challenge. Press its button; returns the POST's answer (302 to the camera page)."""
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    start = client.post("/proofing/start", data={"csrf_token": csrf_from(html), "token": token})
    assert start.status_code == 302, start.status_code
    return start


class AuthActions:
    """flaskr-style helper: register and log in through the real forms, CSRF included."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path: str) -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def register(self, citizen, phone: str = "13900000001", password: str = "passw0rd1"):
        token = self.csrf("/account/register")
        return self.client.post("/account/register", data={
            "csrf_token": token, "name": citizen.name, "id_number": citizen.id_number, "phone": phone,
            "password": password, "confirm": password})

    def login(self, account: str, password: str = "passw0rd1", next: str | None = None):
        token = self.csrf("/account/login")
        data = {"csrf_token": token, "account": account, "password": password}
        if next:
            data["next"] = next
        return self.client.post("/account/login", data=data)

    def logout(self):
        token = self.csrf("/account/")
        return self.client.post("/account/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def log_officer_in(client, officer, *, password: str = OFFICER_PASSWORD, next: str | None = None):
    """An officer signs in through the real sign-in form (CSRF on); the answer of the form. The one way the tests
    do it: through the ``officer_login`` fixture, or from tables of routes built when a module is imported."""
    token = csrf_from(client.get("/officer/login").get_data(as_text=True))
    data = {"csrf_token": token, "username": officer.username, "password": password}
    if next:
        data["next"] = next
    return client.post("/officer/login", data=data)


@pytest.fixture
def officer_login(db_session):
    """``officer_login(client, officer, password=…, next=…)`` signs an officer in on a test client (see
    :func:`log_officer_in`); given a role name instead of an officer, it first makes and commits one of that role."""

    def login(client, officer, **kwargs):
        if isinstance(officer, str):
            officer = make_officer(db_session, officer)
            db_session.commit()
        return log_officer_in(client, officer, **kwargs)

    return login


@pytest.fixture(scope="session")
def s001_portrait():
    """(JPEG, encoding bytes) of MEDS subject S001 as a registry portrait, computed once per run.

    Only for tests marked ``needs_testdata``: the genuine S001 sequences match it.
    """
    from tests.testdata import face
    from webapp.proofing.services import prepare_portrait

    return prepare_portrait(face("meds-aa-S001-02.jpg"))


def race(n: int, attempt) -> list[str]:
    """Run ``attempt()`` in ``n`` threads released together by a barrier; the sorted outcomes it returned.
    For the concurrency tests on PostgreSQL (each attempt opens its own session)."""
    import threading

    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = attempt()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes)


def pytest_sessionstart(session):
    """The English catalogue as `make install` compiles it (`pybabel compile`), when the .po is newer than the .mo:
    the tests run the app as the build leaves it, also when pytest is run without make."""
    from pathlib import Path

    from babel.messages.frontend import CommandLineInterface

    translations = Path(__file__).resolve().parents[1] / "webapp" / "translations"
    for po in translations.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            CommandLineInterface().run(["pybabel", "-q", "compile", "-d", str(translations)])
            return


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that started servers shows their logs: any fixture value (or element of a tuple value)
    with a ``server_logs()`` method (tests/servers.py, the e2e live server)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        for candidate in value if isinstance(value, tuple) else (value,):
            logs = getattr(candidate, "server_logs", None)
            if callable(logs):
                try:
                    report.sections.append((f"server logs ({name})", logs()))
                except Exception as error:  # noqa: BLE001 - a report must never fail
                    report.sections.append((f"server logs ({name})", f"unreadable: {error!r}"))
