"""English in Chromium (issue 16, SPEC §1): zh-CN is the default; the switch on every page (a button, reachable by
keyboard) turns the app English and the browser remembers it; a browser that prefers English gets English on its
first visit; and every page in English shows no Chinese but names, addresses, place names and the app's name 随身证
(what the scripts write included: the camera page's prompts, the scan page's verdict). Screenshots of the main pages
in English at 360 × 780 go to test-results/ (long English words must not make a page scroll sideways)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import officer_sign_in, open_page, shot
from tests.e2e.test_screens_browser import (
    GUANGZHOU,
    HOLDER_PAGES,
    OFFICER_PAGES,
    PUBLIC_PAGES,
    SCREEN,
    assert_above_tab_bar,
    assert_fits_360,
    open_licence,
    review_queues,  # noqa: F401 - a fixture
)
from tests.testdata import SEQUENCES, needs_testdata
from tests.verification_support import make_certificate, make_officer, token_of
from webapp.notify.models import Message
from webapp.officer.models import PaperCertificate
from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import mask_name
from webapp.travel_id.models import TravelCertificate

pytestmark = [pytest.mark.e2e, needs_testdata]

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
APP_NAME = "随身证"
# Every text a person reads or hears on the page: the text nodes (hidden ones too: they show later), the accessible
# names and hints, the title. An element marked lang="zh-CN" (the switch's 中文) is Chinese on purpose.
PAGE_TEXT = """() => {
  const chinese = e => e && e.closest('[lang]:not([lang="en"])');
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent.closest('script, style, template') || chinese(parent)) continue;
    texts.push(node.nodeValue);
  }
  for (const e of document.body.querySelectorAll('[aria-label], [alt], [placeholder], [title], input[type=submit]')) {
    if (chinese(e)) continue;
    for (const a of ['aria-label', 'alt', 'placeholder', 'title', 'value']) {
      if (e.hasAttribute(a) && (a !== 'value' || e.type === 'submit')) texts.push(e.getAttribute(a));
    }
  }
  return texts.join('\\n');
}"""


def data_words(live_db) -> set[str]:
    """What the registry and the applications hold and pages show as they are: names, addresses, place names,
    authorities, stations, messages sent. Never translated."""
    words: set[str] = {APP_NAME}
    for name, address in live_db.execute(select(Citizen.name, Citizen.address)):
        words |= {name, mask_name(name), address or ""}
    words |= set(live_db.scalars(select(LicenceRecord.issuing_authority)))
    words |= set(live_db.scalars(select(TravelCertificate.located_city)))
    words |= set(live_db.scalars(select(PaperCertificate.issuing_station)))
    # Messages are kept as they were sent, in the language of the account then (these fixtures' holders had none).
    words |= set(live_db.scalars(select(Message.body)))
    return {w for w in words if w}


def chinese_left(page, words: set[str]) -> list[str]:
    text = page.evaluate(PAGE_TEXT)
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, "")
    return HAN.findall(text)


def use_english(page, live_server, large_text: bool = False) -> None:
    """English, as the switch leaves it (and 长辈模式 as its toggle does: the longest English words at 125 %)."""
    page.context.add_cookies([{"name": "lang", "value": "en", "url": live_server.url},
                              {"name": "large_text", "value": "1" if large_text else "0", "url": live_server.url}])


def assert_english(page, words: set[str], what: str) -> None:
    assert page.locator("html").get_attribute("lang") == "en", what
    left = chinese_left(page, words)
    assert not left, f"{what}: Chinese in the English page: {left}"
    assert_fits_360(page, what)


def test_chinese_by_default_and_english_from_the_switch_by_keyboard_remembered(browser, live_server):
    page, errors = open_page(browser, live_server, **SCREEN)
    page.goto("/travel-id/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("button", name="立即申请").is_visible()
    switch = page.get_by_role("button", name=re.compile("^English"))
    assert switch.get_attribute("lang") == "en" and switch.is_visible()
    # From the top of the page: the skip link, the back arrow, then the switch.
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('lang')") == "en":
            break
    assert page.evaluate("document.activeElement.textContent") == "English"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused switch shows its focus"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/travel-id/$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="Apply now").is_visible()
    assert page.get_by_role("heading", name="Temporary Travel ID").is_visible()

    # Remembered: another page, and a new tab of the same browser, in English with no switch pressed again.
    page.get_by_role("link", name="Home").click()
    assert page.get_by_text("Temporary ID for Train Travel").first.is_visible()
    tab = page.context.new_page()
    tab.goto("/business")
    assert tab.locator("html").get_attribute("lang") == "en" and tab.get_by_text("Driving licence services").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "lang")
    assert cookie["value"] == "en" and cookie["expires"] > 300 * 24 * 3600 + page.evaluate("Date.now() / 1000")

    tab.get_by_role("button", name=re.compile("^中文")).click()
    tab.wait_for_url(re.compile(r"/business$"))
    assert tab.locator("html").get_attribute("lang") == "zh-CN" and tab.get_by_text("驾驶证业务").is_visible()
    assert errors == []


@pytest.mark.parametrize("locale, lang, expected", [("en-US", "en", "Temporary ID for Train Travel"),
                                                    ("en-GB", "en", "Temporary ID for Train Travel"),
                                                    ("zh-TW", "zh-CN", "乘坐旅客列车临时身份证明"),
                                                    ("zh-CN", "zh-CN", "乘坐旅客列车临时身份证明")])
def test_first_visit_follows_the_browser_language(browser, live_server, locale, lang, expected):
    page, errors = open_page(browser, live_server, locale=locale, **SCREEN)
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_text(expected).first.is_visible()
    assert errors == []


def test_travel_id_in_english_from_apply_to_qr_page_and_the_officer_scan(camera_browser, browser, live_server,
                                                                       live_db, live_clock, s001_portrait):
    """The passenger's way in English with the real camera page (its prompts come from the script), then the QR
    page, and a station officer's scan page verifying that QR in English: screenshots of each at 360 × 780."""
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(name="欧阳明", portrait=jpeg, portrait_encoding=encoding)
    police = make_officer(live_db, "police", now=live_clock.now())
    live_db.commit()
    phone = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(phone, live_server, permissions=["geolocation", "camera"], geolocation=GUANGZHOU,
                             **SCREEN)
    use_english(page, live_server)
    words = data_words(live_db)

    page.goto("/")
    assert_english(page, words, "home")
    shot(page, full_page=False, name="en-home-360x780")
    page.goto("/travel-id/")
    page.locator("#locate-city").filter(has_text="广州").wait_for()
    assert_english(page, data_words(live_db) | {page.locator("#locate-city").inner_text()}, "apply")
    shot(page, full_page=False, name="en-apply-360x780")
    page.get_by_label("Name").fill(citizen.name)
    page.get_by_label("ID number").fill(citizen.id_number)
    page.get_by_role("button", name="Apply now").click()
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    assert_english(page, words, "face verification")
    page.get_by_role("button", name="Start").click()
    page.locator("#proofing-prompt").filter(has_text=re.compile("blink|face|Verifying", re.IGNORECASE)).wait_for()
    prompt = page.locator("#proofing-prompt").inner_text()
    assert not HAN.search(prompt), prompt
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+/result$"), timeout=40_000)
    words = data_words(live_db)
    assert_english(page, words, "result")
    page.goto(page.url.removesuffix("/result"))
    page.locator("#qr-img[data-token]").wait_for()
    page.locator("#reverify-note").filter(has_text="minutes").wait_for()
    assert_english(page, words, "QR page")
    shot(page, full_page=False, name="en-travel-qr-360x780")
    qr = page.locator("#qr-img").get_attribute("data-token")
    page.goto("/travel-id/records")
    assert_english(page, words, "records")
    assert errors == []

    desk, desk_errors = open_page(browser, live_server, **SCREEN)
    officer_sign_in(desk, police.username, "/officer/scan")
    use_english(desk, live_server)
    desk.reload()
    desk.get_by_text(re.compile("camera", re.IGNORECASE)).first.wait_for()
    assert_english(desk, words, "scan")
    desk.get_by_label("Enter by hand").fill(f"{live_server.url}/v/{qr}")
    desk.get_by_role("button", name="Verify", exact=True).click()
    desk.locator("#verdict").wait_for(state="visible")
    assert desk.locator("#verdict-mark").inner_text() == "Valid"
    assert desk.locator("#verdict-type").inner_text() == "Electronic Temporary Travel ID"
    assert_english(desk, words, "scan verdict")
    shot(desk, full_page=False, name="en-officer-scan-verdict-360x780")
    assert [e for e in desk_errors if "camera" not in e.lower()] == []


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large-text"])
def test_every_page_in_english_shows_no_chinese_but_names_and_places(browser, live_server, live_db, live_clock,
                                                                   licence_holder, review_queues, large):  # noqa: F811
    user, licence = licence_holder
    holder_cert = make_certificate(live_db, user.citizen, live_clock.now())
    officers = {role: make_officer(live_db, role, now=live_clock.now()) for role in OFFICER_PAGES}
    live_db.commit()
    words = data_words(live_db)

    suffix = "-large-text" if large else ""
    page, errors = open_page(browser, live_server, **SCREEN)
    use_english(page, live_server, large)
    token = token_of(live_server.app, holder_cert, live_clock.now())
    for path in (*PUBLIC_PAGES, f"/v/{token}", "/coming/licence"):
        page.goto(path)
        assert_english(page, words, path)
    page.goto("/account/login")
    page.get_by_label("Phone or ID number").fill(user.phone)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/account/login" not in url)
    assert page.get_by_text("Signed in.").is_visible()  # the flash
    for path in HOLDER_PAGES:
        page.goto(path)
        assert_english(page, words, path)
    open_licence(page, licence)
    assert_english(page, words, "licence main page")
    # As in Chinese: both codes and both times in the first view, above the tab bar (issue 16).
    shot(page, full_page=False, name=f"en-licence-front-first-view-360x780{suffix}")
    assert_above_tab_bar(page, ("#qr-img", "#barcode-img", "#generated-at", "#current-time"))
    shot(page, full_page=False, name=f"en-licence-front-360x780{suffix}")
    page.get_by_role("tab", name="Counterpart").click()
    assert page.locator("#record-status").inner_text() == "Valid"
    assert_english(page, words, "licence counterpart")
    assert errors == []

    for role, paths in {**OFFICER_PAGES, "reviewer": ("/licence/review", "/officer/accounts/reviews"),
                        "traffic": (*OFFICER_PAGES["traffic"], "/officer/")}.items():
        officer = officers.get(role) or review_queues
        desk, desk_errors = open_page(browser, live_server, **SCREEN)
        officer_sign_in(desk, officer.username, paths[0])  # (the helper reads the Chinese labels)
        use_english(desk, live_server, large)
        for path in paths:
            desk.goto(path)
            assert_english(desk, words, f"{role} {path}")
            if path == "/licence/review":
                shot(desk, full_page=False, name=f"en-licence-review-queue-360x780{suffix}")
            if path == "/officer/accounts/reviews":
                shot(desk, full_page=False, name=f"en-id-review-queue-360x780{suffix}")
        if role == "police":  # a paper certificate recorded and printed, in English
            desk.goto("/officer/paper")
            desk.get_by_label("Name").fill(user.citizen.name)
            desk.get_by_label("ID number").fill(user.citizen.id_number)
            desk.get_by_label("Issuing station").fill("广州南站")
            desk.get_by_role("button", name="Record and print").click()
            desk.wait_for_url(re.compile(r"/officer/paper/\w+"))
            shot(desk, f"en-paper-print-360{suffix}")
            assert_english(desk, data_words(live_db), "paper print")
        assert [e for e in desk_errors if "camera" not in e.lower()] == []
        desk.context.close()
