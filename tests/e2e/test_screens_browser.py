"""Screens at 360 x 780 (issue 16, SPEC §7), in Chromium: the e-licence 正页 shows its QR, its Code128 and both times
(生成时间, 当前时间) in the first view above the fixed tab bar, and both codes decode from a screenshot of that first
view; in 长辈模式 no number, date, time, ID, phone or code breaks inside (each `.nowrap` value lies on one line);
no page touched scrolls sideways, in normal and large-text mode, the reviewer queues included (424 px before).

The screenshots go to test-results/ for a person to look at."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from tests import factories
from tests.e2e.conftest import officer_sign_in, open_page, shot, sign_in, verify_api, wait_until
from tests.testdata import SEQUENCES, face, needs_testdata
from tests.verification_support import make_officer, read_claims
from webapp import tokens
from webapp.accounts import services as accounts
from webapp.driving_licence import services as licences
from tests.conftest import make_notifier

pytestmark = [pytest.mark.e2e, needs_testdata]

WIDTH, HEIGHT = 360, 780
SCREEN = {"viewport": {"width": WIDTH, "height": HEIGHT}}
GUANGZHOU = {"latitude": 23.13, "longitude": 113.26}

# Every visible `.nowrap` value: how many boxes the element has, how far apart the tops of its text's line boxes
# are (0 when the text is on one line), against its line height, and how far its text sticks out of the content
# box of the block it sits in (a nowrap value too long for its line overflows instead of wrapping).
NOWRAP_LINES = """els => els.filter(e => e.getClientRects().length && e.textContent.trim()).map(e => {
  const range = document.createRange(); range.selectNodeContents(e);
  const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => r.top);
  const lineHeight = parseFloat(getComputedStyle(e).lineHeight) || parseFloat(getComputedStyle(e).fontSize) * 1.6;
  let block = e;
  while (getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
  const right = block.getBoundingClientRect().right - parseFloat(getComputedStyle(block).paddingRight);
  const textRight = Math.max(...[...range.getClientRects()].map(r => r.right));
  return {text: e.textContent.trim(), boxes: e.getClientRects().length, spread: Math.max(...tops) - Math.min(...tops),
          height: e.getBoundingClientRect().height, lineHeight, overflow: textRight - right};
})"""


def use_large_text(page, live_server) -> None:
    """长辈模式, as the toggle on 首页/我的 leaves it (a cookie the server reads on every page)."""
    page.context.add_cookies([{"name": "large_text", "value": "1", "url": live_server.url}])


def assert_fits_360(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what}: {width} px wide at a {WIDTH} px viewport"


def assert_values_on_one_line(page, what: str, must_include: tuple[str, ...] = ()) -> list[str]:
    """Each visible `.nowrap` value (time, date, ID, phone, code) is on one line, and the named ones are among them."""
    values = page.locator(".nowrap").evaluate_all(NOWRAP_LINES)
    for v in values:
        assert v["boxes"] == 1 and v["spread"] < v["lineHeight"] / 2 and v["height"] < v["lineHeight"] * 1.5, \
            f"{what}: {v['text']!r} wraps inside ({v})"
        assert v["overflow"] <= 1, f"{what}: {v['text']!r} sticks out of its box by {v['overflow']:.1f} px"
    for selector in must_include:
        found = page.locator(selector).evaluate_all("els => els.map(e => e.classList.contains('nowrap'))")
        assert found and all(found), f"{what}: {selector} {found}"
    return [v["text"] for v in values]


def assert_above_tab_bar(page, selectors: tuple[str, ...]) -> None:
    assert page.evaluate("window.scrollY") == 0
    bar = page.locator(".tabbar").bounding_box()
    assert bar["y"] + bar["height"] == pytest.approx(HEIGHT, abs=1)
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box is not None and box["width"] > 0, selector
        assert 0 <= box["y"] and box["y"] + box["height"] <= bar["y"], \
            f"{selector} at {box['y']:.0f}..{box['y'] + box['height']:.0f}, the tab bar starts at {bar['y']:.0f}"


def open_licence(page, licence) -> None:
    page.goto(f"/licence/{licence.public_id}")
    page.locator("#qr-img[data-token]").wait_for()
    page.locator("#current-time").filter(has_text=re.compile(r"\d{2}:\d{2}:\d{2}")).wait_for()
    page.locator("#generated-at").filter(has_text=re.compile(r"\d{2}:\d{2}")).wait_for()
    page.evaluate("window.scrollTo(0, 0)")


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large-text"])
def test_licence_front_shows_both_codes_and_both_times_in_the_first_view(browser, live_server, live_clock,
                                                                         licence_holder, large):
    user, licence = licence_holder
    page, errors = open_page(browser, live_server, **SCREEN)
    if large:
        use_large_text(page, live_server)
    sign_in(page, user.phone)
    open_licence(page, licence)
    suffix = "-large-text" if large else ""
    assert page.evaluate("document.documentElement.classList.contains('large-text')") is large

    assert_above_tab_bar(page, ("#qr-img", "#barcode-img", "#generated-at", "#current-time"))
    # A scanner reads both codes from the first view, as it is on the screen (no scrolling, no cropping).
    first_view = shot(page, full_page=False, name=f"licence-front-first-view-360x780{suffix}")
    found = {c.format: c.text for c in zxingcpp.read_barcodes(Image.open(first_view))}
    assert set(found) == {zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128}, found
    qr_text, digits = found[zxingcpp.BarcodeFormat.QRCode], found[zxingcpp.BarcodeFormat.Code128]
    assert qr_text.endswith("/v/" + page.locator("#qr-img").get_attribute("data-token"))
    assert re.fullmatch(r"\d{22}", digits)
    # Both name the e-licence by its row id: the QR's signed token (status index) and the 22 digits.
    claims = read_claims(live_server.app, qr_text, live_clock.now())
    numeric = tokens.check_numeric(live_server.app.config["SECRET_KEY"], digits, live_clock.now())
    assert (claims.kind, claims.db_id) == (numeric.kind, numeric.db_id) == ("driving_licence", licence.id)
    for text in (qr_text, digits):
        assert verify_api(live_server, text)["valid"] is True

    assert_fits_360(page, "正页")
    shown = assert_values_on_one_line(page, "正页", ("#generated-at", "#current-time", "#barcode-text span"))
    assert user.citizen.id_number in shown and licence.record.file_number in shown
    shot(page, f"licence-front-360{suffix}")
    page.get_by_role("tab", name="副页").click()
    assert_fits_360(page, "副页")
    assert_values_on_one_line(page, "副页")
    shot(page, f"licence-back-360{suffix}")

    page.goto("/account/")
    assert_fits_360(page, "我的")
    assert_values_on_one_line(page, "我的", ("#main dd.mono",))
    page.goto("/licence/")
    assert_fits_360(page, "我的驾驶证")
    assert errors == []


def test_large_text_licence_keeps_numbers_dates_and_times_whole(browser, live_server, licence_holder):
    """The values issue 16 found broken (`10:4 / 3:20`, `44010619880 / 3071235`), each checked by name."""
    user, licence = licence_holder
    page, errors = open_page(browser, live_server, **SCREEN)
    use_large_text(page, live_server)
    sign_in(page, user.phone)
    open_licence(page, licence)
    for selector in ("#generated-at", "#current-time"):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", page.locator(selector).inner_text())
    wait_until(page, page.locator("#barcode-text"), "e => /^[0-9 ]{20,}$/.test(e.textContent)")
    for value in (page.locator("#page-front dd", has_text=user.citizen.id_number), page.locator("#barcode-text")):
        lines = value.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); "
                               "return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => x.top)).size; }")
        assert lines == 1, value
        box = value.bounding_box()
        assert box["x"] + box["width"] <= WIDTH
    shot(page, full_page=False, name="licence-large-text-first-view-360x780")
    assert errors == []


@pytest.fixture
def review_queues(live_db, live_clock, s001_portrait):
    """A reviewer, one e-licence application with an album photo waiting for review and one ID-card review."""
    jpeg, encoding = s001_portrait
    driver = factories.CitizenFactory(name="王相册", portrait=jpeg, portrait_encoding=encoding)
    factories.LicenceFactory(citizen=driver, licence_class="C1")
    driver_user = factories.UserFactory(citizen=driver, level="realperson")
    application = licences.apply(live_db, citizen=driver, user_id=driver_user.id, photo_source="album", photo=jpeg,
                                 now=live_clock.now(), cities=None, notifier=make_notifier())
    licences.proven(live_db, application, live_clock.now(), None, notifier=make_notifier())
    citizen = factories.CitizenFactory(name="欧阳审核", portrait=jpeg, portrait_encoding=encoding)
    user = factories.UserFactory(citizen=citizen, phone=citizen.phone, level="realname")
    back = io.BytesIO()
    Image.new("RGB", (856, 540), (205, 205, 215)).save(back, format="PNG")
    accounts.submit_id_card(live_db, user, front=face("meds-aa-S001-01.jpg"), back=back.getvalue(),
                            now=live_clock.now())
    reviewer = make_officer(live_db, "reviewer", now=live_clock.now())
    live_db.commit()
    return reviewer


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large-text"])
def test_reviewer_queues_fit_360px(browser, live_server, review_queues, large):
    page, errors = open_page(browser, live_server, **SCREEN)
    if large:
        use_large_text(page, live_server)
    officer_sign_in(page, review_queues.username)
    suffix = "-large-text" if large else ""
    for path, name, who in (("/licence/review", "licence-review-queue", "王相册"),
                            ("/officer/accounts/reviews", "id-review-queue", "欧阳审核")):
        page.goto(path)
        assert page.get_by_text(who).is_visible()
        assert_fits_360(page, path)
        assert_values_on_one_line(page, path)
        for img in page.locator("#main img").all():
            box = img.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
        shot(page, full_page=False, name=f"{name}-360x780{suffix}")
    assert errors == []


def test_travel_qr_and_result_pages_fit_360px_in_both_modes(camera_browser, live_server, live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    live_db.commit()
    browser = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(browser, live_server, permissions=["geolocation", "camera"], geolocation=GUANGZHOU,
                             **SCREEN)
    page.goto("/travel-id/")
    page.locator("#locate-city").filter(has_text="广州").wait_for()
    page.get_by_label("姓名").fill(citizen.name)
    page.get_by_label("身份证号").fill(citizen.id_number)
    page.get_by_role("button", name="立即申请").click()
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    page.get_by_role("button", name="开始核验").click()
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+/result$"), timeout=40_000)
    result_url = page.url
    qr_url = result_url.removesuffix("/result")
    for large in (False, True):
        suffix = "-large-text" if large else ""
        if large:
            use_large_text(page, live_server)
        page.goto(result_url)
        assert_fits_360(page, "审核结果")
        assert_values_on_one_line(page, "审核结果", ("dd.mono",))
        page.goto(qr_url)
        page.locator("#qr-img[data-token]").wait_for()
        assert_fits_360(page, "乘车身份证明")
        shown = assert_values_on_one_line(page, "乘车身份证明", ("dd.mono",))
        assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", t) for t in shown), shown
        shot(page, full_page=False, name=f"travel-qr-360x780{suffix}")
        page.goto("/travel-id/records")
        assert_fits_360(page, "申请记录")
        assert_values_on_one_line(page, "申请记录")
    assert errors == []


PUBLIC_PAGES = ("/", "/warm-services", "/business", "/offline", "/account/login", "/account/register",
                "/account/password", "/demo/enrol", "/travel-id/", "/travel-id/paper", "/officer/login",
                "/no-such-page", "/v/not-a-token")
HOLDER_PAGES = ("/account/", "/account/verify", "/account/id-card", "/messages", "/licence/", "/travel-id/records")
OFFICER_PAGES = {"police": ("/officer/", "/officer/scan", "/officer/paper", "/officer/accounts/face-to-face"),
                 "traffic": ("/officer/scan", "/licence/officer/seize"),
                 "admin": ("/officer/", "/officer/sms-outbox")}


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large-text"])
def test_every_page_fits_360px_and_keeps_values_whole(browser, live_server, live_db, live_clock, licence_holder,
                                                      large):
    """A sweep of the other pages (public, a driver's, each officer role's): no sideways scroll at 360 px and no
    `.nowrap` value broken, in both modes."""
    user, licence = licence_holder
    officers = {role: make_officer(live_db, role, now=live_clock.now()) for role in OFFICER_PAGES}
    live_db.commit()

    def visit(page, paths):
        for path in paths:
            page.goto(path)
            assert_fits_360(page, path)
            assert_values_on_one_line(page, path)

    page, errors = open_page(browser, live_server, **SCREEN)
    if large:
        use_large_text(page, live_server)
    visit(page, PUBLIC_PAGES)
    sign_in(page, user.phone)
    visit(page, HOLDER_PAGES)
    assert errors == []
    for role, paths in OFFICER_PAGES.items():
        desk, desk_errors = open_page(browser, live_server, **SCREEN)
        if large:
            use_large_text(desk, live_server)
        officer_sign_in(desk, officers[role].username, paths[0])
        visit(desk, paths)
        assert desk_errors == []
        desk.context.close()
