"""实人核验 in headless Chromium, the fake camera playing the shared test sequences.

A fake camera cannot show light reflected from the screen, so these run with the policy ``blink,match``
(``live_config``'s default); the colour check is covered by the engine's integration tests.
"""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.e2e.conftest import open_page, shot, sign_in
from tests.testdata import SEQUENCES, needs_testdata
from webapp.proofing import rules

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


@pytest.mark.parametrize("live_config", [{"SUISHEN_LIVENESS_CHECKS": "blink,colour,match"}])
def test_colour_flash_paints_the_planned_colours_when_the_policy_asks_for_it(camera_browser, live_server,
                                                                              s001_user, live_config):
    page, errors = open_camera_page(camera_browser, live_server, s001_user, "genuine_blink_meds_s001")
    plan = page.evaluate("JSON.parse(document.getElementById('proofing').dataset.config).plan")
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

    expected = ["rgb({}, {}, {})".format(*rules.COLOUR_RGB[name]) for name in plan["colours"]]
    assert page.evaluate("window.seenColours") == expected
    # A fake camera shows no light reflected from the screen, so the colour check must refuse it.
    assert page.locator("#proofing-message").inner_text() == rules.REASON_MESSAGES[rules.COLOUR_MISMATCH]
    assert errors == []


def test_camera_missing_shows_what_to_do_instead_of_starting(browser, camera_browser, live_server, s001_user):
    # The plain browser has no (fake) camera at all: getUserMedia fails with NotFoundError.
    page, errors = open_camera_page(camera_browser, live_server, s001_user, None, browser=browser)

    page.get_by_role("button", name="开始核验").click()
    message = page.locator("#proofing-message")
    message.wait_for(state="visible")

    assert "摄像头" in message.inner_text() and "其他方式" in message.inner_text()
    assert not page.get_by_role("button", name="重新核验").is_visible()
    shot(page, "proofing-no-camera-360")
