"""临时乘车身份证明 in headless Chromium: a non-registered user with a fake camera (genuine blink of S001) and a
fake location (Guangzhou) applies, passes 实人核验, reaches the QR page; the QR is decoded from a screenshot
(zxing-cpp) and verified; the browser clock (Playwright ``page.clock``) and the server's FrozenClock move
together through the 60 s refresh and the 30-minute re-verification; the 4th application is refused."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from tests import factories
from tests.e2e.conftest import open_page, shot
from tests.testdata import SEQUENCES, needs_testdata
from tests.verification_support import read_claims
from webapp.travel_id import services as travel
from webapp.travel_id.models import TravelCertificate

pytestmark = [pytest.mark.e2e, needs_testdata]

GUANGZHOU = {"latitude": 23.13, "longitude": 113.26}


@pytest.fixture
def s001_citizen(live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    live_db.commit()
    return citizen


def decode_qr(page) -> str:
    png = page.locator("#qr-img").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} QR codes decoded"
    return found[0].text


def open_apply_page(page):
    page.goto("/")
    page.get_by_role("link", name="温馨服务").first.click()
    page.get_by_role("link", name="乘坐旅客列车临时身份证明").click()
    page.wait_for_url(re.compile(r"/travel-id/$"))


def fill_and_apply(page, citizen):
    page.get_by_label("姓名").fill(citizen.name)
    page.get_by_label("身份证号").fill(citizen.id_number)
    page.get_by_role("button", name="立即申请").click()


def test_apply_pass_and_show_a_rotating_qr_then_reverify_and_quota(camera_browser, live_server, live_db,
                                                                    live_clock, s001_citizen):
    browser = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(browser, live_server, permissions=["geolocation", "camera"], geolocation=GUANGZHOU)

    # 温馨服务 → 乘坐旅客列车临时身份证明: the located city, then 立即申请 is enabled.
    open_apply_page(page)
    page.locator("#locate-city").filter(has_text="广州").wait_for()  # allowed before: located without a click
    assert "已确认所在城市" in page.locator("#locate-help").inner_text()
    page.get_by_label("姓名").fill(s001_citizen.name)
    page.get_by_label("身份证号").fill(s001_citizen.id_number)
    shot(page, "travel-apply-360")
    page.get_by_role("button", name="立即申请").click()

    # 实人核验 with the fake camera, then 审核结果.
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    page.get_by_role("button", name="开始核验").click()
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+/result$"), timeout=40_000)
    assert page.get_by_text("审核通过").is_visible()
    shot(page, "travel-result-360")

    # The QR page, with the browser's clock under the test's control from its first script on.
    page.clock.install()
    page.get_by_role("link", name="查看乘车身份证明").click()
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+$"))
    public_id = page.url.rsplit("/", 1)[-1]
    img = page.locator("#qr-img")
    img.and_(page.locator("[data-token]")).wait_for()  # a locator wait: wait_for_function polls with eval, which the CSP forbids
    first = decode_qr(page)
    shot(page, "travel-qr-360")
    match = re.fullmatch(re.escape(live_server.url) + r"/v/(\S+)", first)
    assert match, first
    assert match.group(1) == img.get_attribute("data-token")
    claims = read_claims(live_server.app, first, live_clock.now())
    cert_id = claims.db_id
    assert claims.kind == "travel_id" and live_db.get(TravelCertificate, cert_id).public_id == public_id
    assert 0 <= int(page.locator("#qr-countdown").inner_text()) <= 60

    # The 60 s countdown elapses on both clocks: the page fetches a token of a new window by itself.
    live_server.clock.advance(seconds=61)
    page.clock.run_for(61_000)
    page.locator(f"#qr-img[data-token]:not([data-token='{match.group(1)}'])").wait_for()
    second = decode_qr(page)
    assert second != first
    second_claims = read_claims(live_server.app, second, live_clock.now())
    assert second_claims.db_id == cert_id and second_claims.window > claims.window

    # 刷新 asks for a token at once, without waiting for the countdown (a gate refused a stale code).
    live_server.clock.advance(seconds=60)
    with page.expect_response(re.compile(r"/token$")) as answered:
        page.get_by_role("button", name="刷新").click()
    assert answered.value.status == 200
    page.locator(f"#qr-img[data-token]:not([data-token='{second.rsplit('/v/', 1)[1]}'])").wait_for()
    third = decode_qr(page)
    assert read_claims(live_server.app, third, live_clock.now()).window > second_claims.window

    # 30 minutes on the page: 实人核验 again (not counted).
    live_server.clock.advance(minutes=30)
    page.clock.fast_forward("30:00")
    # The re-verify link is a GET anyone could open: it creates nothing until its page's 继续 is posted.
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+/reverify$"))
    page.get_by_role("button", name="继续").click()
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    assert page.get_by_role("button", name="开始核验").is_visible()
    assert travel.used_this_month(live_db, s001_citizen.id, live_clock.now()) == 1

    # Two more certificates this month for the same ID number (whoever applied): the 4th is refused.
    live_db.expire_all()
    for _ in range(2):
        travel.issue(live_db, citizen=live_db.merge(s001_citizen), lat=23.13, lon=113.26, city="广东省广州市",
                     now=live_clock.now(), user_id=None, challenge_public_id=None)
    live_db.commit()
    open_apply_page(page)
    page.locator("#locate-city").filter(has_text="广州").wait_for()
    fill_and_apply(page, s001_citizen)
    page.get_by_text("公安制证窗口").first.wait_for()
    assert "/proofing/" not in page.url  # refused before any camera step
    assert page.get_by_text("已达上限").is_visible()
    shot(page, "travel-refused-360")
    assert errors == []


def test_denied_location_explains_how_to_enable_it_and_keeps_apply_disabled(browser, live_server):
    page, errors = open_page(browser, live_server)  # no geolocation permission

    open_apply_page(page)
    help_text = page.locator("#locate-help")
    assert page.locator("#locate-city").inner_text() == "尚未定位"  # nothing asked on load (issue 16 audit)
    page.get_by_role("button", name="获取定位").click()
    page.locator("#locate-city").filter(has_text="定位权限未开启").wait_for()

    assert "定位" in help_text.inner_text() and "设置" in help_text.inner_text()
    assert page.get_by_role("button", name="重新定位").is_visible()
    assert page.get_by_role("button", name="立即申请").is_disabled()
    assert "广州" not in page.locator("#locate-city").inner_text()
    shot(page, "travel-location-denied-360")
    assert errors == []
