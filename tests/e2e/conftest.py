"""Browser tests: the real app served over HTTP from a thread, driven by Debian's Chromium.

The server has its own database (PostgreSQL when reachable, else a SQLite file), emptied between tests
(the savepoint trick does not cross threads). The server's FrozenClock is shared with the test.
"""
from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from webapp import create_app
from webapp.clock import FrozenClock
from webapp.db import make_engine, make_session_factory
from webapp.extensions import limiter
import webapp.models  # noqa: F401
from tests import factories
from tests.conftest import create_database, make_notifier, make_test_config, pg_reachable
from tests.queue_support import ThreadConsumer, truncate_all

CHROMIUM = os.environ.get("SUISHEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}

pytestmark = pytest.mark.e2e


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory):
    kind = "postgresql" if (pg_reachable() or os.environ.get("CI")) else "sqlite"
    url, drop = create_database(kind, tmp_path_factory)
    yield url
    drop()


@pytest.fixture(scope="session")
def e2e_engine(e2e_database_url):
    engine = make_engine(e2e_database_url)
    yield engine
    engine.dispose()


def closes_its_responses(app):
    """The app as werkzeug's development server should run it. When a browser drops a connection mid-response (it
    leaves the page while an icon downloads), the server's ``finally`` reads the dead socket, raises, and never calls
    the response's ``close()``: WhiteNoise's open file is then collected unclosed, and the ResourceWarning fails
    whatever test runs next (seen once in CI). Through this generator the collector's ``close()`` reaches it."""
    def wsgi(environ, start_response):
        response = app(environ, start_response)
        try:
            yield from response
        finally:
            if hasattr(response, "close"):
                response.close()
    return wsgi


class LiveServer:
    def __init__(self, app, clock: FrozenClock):
        self.app = app
        self.clock = clock
        self._server = make_server("127.0.0.1", 0, closes_its_responses(app), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.app.config["BASE_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


_truncate = truncate_all


@pytest.fixture
def live_clock():
    return FrozenClock(datetime.now(timezone.utc).replace(microsecond=0))


@pytest.fixture
def live_config():
    """Override in a test module to change settings, e.g. the liveness checks of a fake camera."""
    return {"SUISHEN_LIVENESS_CHECKS": "blink,match"}


@pytest.fixture
def live_workers():
    """Override (e.g. parametrize) to 0 for a test that starts its own consumer later (queued states)."""
    return 2


@pytest.fixture
def live_server(e2e_database_url, e2e_engine, live_clock, live_config, live_workers, tmp_path):
    """The app over HTTP and a real Huey consumer (two thread workers) on a queue file of this test's own, as
    `make run` serves it (their logs are captured by pytest and shown when the test fails)."""
    _truncate(e2e_engine)
    config = {"SUISHEN_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}", **live_config}
    app = create_app(make_test_config(e2e_database_url, **config), clock=live_clock,
                     session_factory=make_session_factory(e2e_engine))
    limiter.reset()
    server = LiveServer(app, live_clock)
    consumer = ThreadConsumer(workers=live_workers) if live_workers else None
    if consumer:
        consumer.start()
    yield server
    server.stop()
    if consumer:
        consumer.stop(graceful=True)


@pytest.fixture
def live_db(e2e_engine):
    """A session on the live server's database, for arranging data and checking results (commit it)."""
    session = make_session_factory(e2e_engine)()
    factories.bind(session)
    yield session
    session.close()


@pytest.fixture(scope="session")
def playwright_instance():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def camera_browser(playwright_instance, tmp_path):
    """A factory: a Chromium whose fake camera plays the given .y4m file (looped)."""
    launched = []

    def launch(y4m: Path):
        # Chromium reads the file by path; copy it so a test can never alter the shared original.
        local = tmp_path / Path(y4m).name
        shutil.copyfile(y4m, local)
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={local}"])
        launched.append(browser)
        return browser

    yield launch
    for b in launched:
        b.close()


@pytest.fixture
def phone_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, **PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-results/ (for a person to look at; CI keeps nothing): the whole page, or with
    ``full_page=False`` the first view only (what the phone shows without scrolling)."""
    out = Path(__file__).resolve().parents[2] / "test-results"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def make_licence_holder(live_db, now, portrait: bytes, encoding=None):
    """A driver with an active C1 e-licence on the system photo, issued directly, and the account: (user, licence)."""
    from webapp.accounts.rules import LEVEL_REALPERSON
    from webapp.driving_licence import services as licences

    citizen = factories.CitizenFactory(name="张驾驶", portrait=portrait, portrait_encoding=encoding)
    factories.LicenceFactory(citizen=citizen, points=3, licence_class="C1")
    user = factories.UserFactory(citizen=citizen, level=LEVEL_REALPERSON)
    licence = licences.apply(live_db, citizen=citizen, user_id=user.id, photo_source="system", photo=None,
                             now=now, cities=None, notifier=make_notifier())
    licences.proven(live_db, licence, now, None, notifier=make_notifier())
    live_db.commit()
    return user, licence


@pytest.fixture
def licence_holder(live_db, live_clock, s001_portrait):
    """A driver (S001's face) with an active e-licence on the system photo, issued directly, and the account."""
    return make_licence_holder(live_db, live_clock.now(), *s001_portrait)


def read_code(page, selector: str, expected_format=None) -> str:
    """Decode the one QR or barcode drawn in ``selector`` from a screenshot (zxing-cpp), as a scanner would.
    The element is centred first so the fixed tab bar cannot cover part of it."""
    import io

    import zxingcpp
    from PIL import Image

    element = page.locator(selector)
    element.evaluate("e => e.scrollIntoView({block: 'center'})")
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(element.screenshot())))
    assert len(found) == 1, f"{len(found)} codes decoded in {selector}"
    if expected_format is not None:
        assert found[0].format == expected_format
    return found[0].text


def verify_api(live_server, text: str) -> dict:
    """POST /api/v1/verify without a key (the public subset), as a third party would."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{live_server.url}/api/v1/verify", data=json.dumps({"qr": text}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request) as resp:
        return json.loads(resp.read())


def sign_in(page, account: str, password: str = factories.PASSWORD) -> None:
    """登录 through the real form (phone or ID number) and wait until the browser has left the sign-in page."""
    import re

    page.goto("/account/login")
    page.get_by_label("手机号或身份证号").fill(account)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: not re.search(r"/account/login(\?|$)", url))


def open_page(browser, live_server, *, console: bool = False, **options):
    """A new phone-sized context (``options`` override PHONE, e.g. permissions) and its page; returns
    (page, errors) where errors collects uncaught script errors, and console errors too when ``console``."""
    context = browser.new_context(base_url=live_server.url, **{**PHONE, **options})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if console:
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page, errors


def officer_sign_in(page, username: str, target: str = "/officer/") -> None:
    """Open an officer page, get sent to the officer sign-in, sign in and land back on ``target``."""
    import re

    from tests.verification_support import OFFICER_PASSWORD

    page.goto(target)
    page.wait_for_url(re.compile(r"/officer/login\?next="))
    page.get_by_label("工号/用户名").fill(username)
    page.get_by_label("密码").fill(OFFICER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))


def wait_until(page, target, script: str, *, tries: int = 100) -> None:
    """Poll ``target.evaluate(script)`` (a page or a locator) every 100 ms until it is truthy: Playwright's
    wait_for_function evaluates a string, which our CSP refuses."""
    for _ in range(tries):
        if target.evaluate(script):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {script}")


def assert_camera_stops_on_pagehide(page, video) -> None:
    """Once the live camera in ``video`` (a locator) runs, leaving the page (pagehide) ends all its tracks."""
    wait_until(page, video, "v => v.srcObject !== null")
    video.evaluate("v => { window.__tracks = v.srcObject.getTracks(); }")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    assert page.evaluate("window.__tracks.length > 0 && window.__tracks.every(t => t.readyState === 'ended')")
