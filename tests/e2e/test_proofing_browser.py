"""实人核验 in headless Chromium, the fake camera playing the shared test sequences.

A fake camera cannot show light reflected from the screen, so these run with the policy ``blink,match``
(``live_config``'s default); the colour check is covered by the engine's integration tests.
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests import factories
from tests.e2e.conftest import open_page, shot, sign_in, wait_until
from tests.queue_support import ThreadConsumer
from tests.testdata import SEQUENCES, needs_testdata
from webapp.clock import FrozenClock
from webapp.proofing import rules
from webapp.proofing.models import QUEUED, Challenge
from webapp.proofing.rules import ChallengePlan

pytestmark = [pytest.mark.e2e, needs_testdata]


@pytest.fixture
def s001_user(live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    user = factories.UserFactory(citizen=factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding))
    live_db.commit()
    return user


def open_camera_page(camera_browser, live_server, user, sequence: str | None, browser=None):
    browser = browser or camera_browser(SEQUENCES / f"{sequence}.y4m")
    page, errors = open_page(browser, live_server, console=True,
                             **({"permissions": ["camera"]} if sequence else {}))

    sign_in(page, user.phone)
    page.goto("/account/")
    page.get_by_role("link", name="实人认证（刷脸）").click()
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    return page, errors


def test_genuine_user_passes_and_lands_on_the_profile_as_realperson(camera_browser, live_server, s001_user):
    page, errors = open_camera_page(camera_browser, live_server, s001_user, "genuine_blink_meds_s001")
    assert page.get_by_text("人脸信息属于敏感个人信息").is_visible()
    shot(page, "proofing-intro-360")

    page.get_by_role("button", name="开始核验").click()
    page.get_by_text("请眨眨眼").wait_for()
    shot(page, "proofing-blink-360")

    page.wait_for_url(re.compile(r"/account/$"), timeout=30_000)
    assert page.get_by_text("实人认证成功").is_visible()
    assert page.locator(".level--realperson").inner_text() == "实人认证"
    assert page.get_by_role("link", name="实人认证（刷脸）").count() == 0
    shot(page, "proofing-passed-profile-360")
    assert errors == []


def test_static_photo_fails_with_the_no_blink_message_and_offers_a_retry(camera_browser, live_server, s001_user):
    page, errors = open_camera_page(camera_browser, live_server, s001_user, "static_photo_meds_s001")
    first = page.url

    page.get_by_role("button", name="开始核验").click()
    message = page.locator("#proofing-message")
    message.wait_for(state="visible", timeout=30_000)
    assert message.inner_text() == rules.REASON_MESSAGES[rules.NO_BLINK]
    retry = page.get_by_role("button", name="重新核验")
    assert retry.is_visible()
    shot(page, "proofing-failed-360")

    retry.click()
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    assert page.url != first
    assert page.get_by_role("button", name="开始核验").is_visible()
    assert errors == []


class TickingClock(FrozenClock):
    """Real time from a fixed start: the server times the flash steps as the browser really runs them."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._at + timedelta(seconds=time.monotonic() - self._started)


@pytest.mark.parametrize(("live_config", "live_clock"), [({"SUISHEN_LIVENESS_CHECKS": "blink,colour,match"},
                                                          TickingClock())])
def test_colour_flash_paints_each_colour_as_the_server_reveals_it(camera_browser, live_server, live_db, s001_user,
                                                                  live_config, live_clock):
    page, errors = open_camera_page(camera_browser, live_server, s001_user, "genuine_blink_meds_s001")
    config = page.evaluate("JSON.parse(document.getElementById('proofing').dataset.config)")
    assert config["plan"]["steps"] == 4 and "colours" not in config["plan"]  # not known before its step
    reveals = []
    page.on("response", lambda r: reveals.append(r.json()["colour"]) if r.url.endswith("/flash") else None)
    page.evaluate("""() => {
        window.seenColours = [];
        const flash = document.getElementById('proofing-flash');
        new MutationObserver(() => {
            const colour = getComputedStyle(flash).backgroundColor;
            if (!flash.hidden && window.seenColours.at(-1) !== colour) window.seenColours.push(colour);
        }).observe(flash, {attributes: true});
    }""")

    page.get_by_role("button", name="开始核验").click()
    page.locator("#proofing-flash").wait_for(state="visible")
    page.wait_for_timeout(150)
    shot(page, "proofing-flash-360")
    page.locator("#proofing-message").wait_for(state="visible", timeout=30_000)

    plan = ChallengePlan.from_json(live_db.scalar(select(Challenge.plan)))
    expected = ["rgb({}, {}, {})".format(*rules.COLOUR_RGB[name]) for name in plan.colours]
    assert page.evaluate("window.seenColours") == expected
    assert reveals == list(plan.colours)
    # The capture times fit the steps the server revealed; but a fake camera shows no light reflected from the
    # screen, so the colour check refuses it.
    scores = live_db.scalar(select(Challenge.scores))
    assert "flash_timing" not in scores, scores
    assert scores["colour_ages_ms"][0] < rules.BOUNDARY_MS
    assert page.locator("#proofing-message").inner_text() == rules.REASON_MESSAGES[rules.COLOUR_MISMATCH]
    assert errors == []


def test_camera_missing_shows_what_to_do_instead_of_starting(browser, camera_browser, live_server, s001_user):
    # The plain browser has no (fake) camera at all: getUserMedia fails with NotFoundError.
    page, _errors = open_camera_page(camera_browser, live_server, s001_user, None, browser=browser)

    page.get_by_role("button", name="开始核验").click()
    message = page.locator("#proofing-message")
    message.wait_for(state="visible")

    assert "摄像头" in message.inner_text() and "其他方式" in message.inner_text()
    assert not page.get_by_role("button", name="重新核验").is_visible()
    shot(page, "proofing-no-camera-360")


def _queued_ahead(live_db, live_clock, n: int) -> None:
    """``n`` submissions of others already waiting in the queue (rows only: no worker will take them)."""
    citizen = factories.CitizenFactory(portrait=b"jpeg", portrait_encoding=b"\x00" * 1024)
    for i in range(n):
        live_db.add(Challenge(public_id=f"ahead-{i}", purpose="travel_id_apply", citizen_id=citizen.id,
                              plan='{"colours":["red"]}', checks="blink,match", status=QUEUED,
                              issued_at=live_clock.now(), expires_at=live_clock.now(), queued_at=live_clock.now(),
                              next_url="/", attempt=1))
    live_db.commit()


@pytest.mark.parametrize("live_workers", [0])
def test_the_page_says_how_many_are_ahead_while_queued_then_passes(camera_browser, live_server, live_db,
                                                                    live_clock, s001_user, live_workers):
    _queued_ahead(live_db, live_clock, 2)
    page, errors = open_camera_page(camera_browser, live_server, s001_user, "genuine_blink_meds_s001")

    page.get_by_role("button", name="开始核验").click()
    waiting = page.locator("#proofing-wait-text")
    waiting.wait_for(state="visible", timeout=30_000)
    wait_until(page, waiting, "e => e.textContent.includes('排队中，前面还有 2 人')")
    assert page.locator("#proofing-wait-progress").is_visible()
    shot(page, "proofing-queued-360")
    # The page keeps polling: reloading it shows the same state (never a frozen or blank screen).
    page.reload()
    wait_until(page, page.locator("#proofing-wait-text"), "e => e.textContent.includes('前面还有 2 人')")

    with ThreadConsumer(workers=1):  # the face workers come back: the page goes on by itself
        live_db.execute(update(Challenge).where(Challenge.public_id.like("ahead-%")).values(status="expired"))
        live_db.commit()
        page.wait_for_url(re.compile(r"/account/$"), timeout=60_000)
    assert page.get_by_text("实人认证成功").is_visible()
    assert errors == []


def test_a_new_challenge_is_refused_with_a_page_when_the_queue_is_too_long(camera_browser, live_server, live_db,
                                                                          live_clock, s001_user):
    _queued_ahead(live_db, live_clock, 20)  # one worker (test config) at 1.5 s: 21 x 1.5 = 31.5 s > 20 s
    browser = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(browser, live_server, permissions=["camera"])
    sign_in(page, s001_user.phone)
    page.goto("/account/")

    with page.expect_response(re.compile(r"/account/verify$")) as answer:
        page.get_by_role("link", name="实人认证（刷脸）").click()

    assert answer.value.status == 503 and answer.value.headers["retry-after"] == "32"
    assert page.get_by_text("当前核验人数较多，请约 32 秒后再试").is_visible()
    assert page.get_by_role("button", name="开始核验").count() == 0  # no camera, no frames sent
    shot(page, "proofing-busy-360")
    assert errors == []
