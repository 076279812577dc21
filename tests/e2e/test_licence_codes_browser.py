"""The e-licence's codes in Chromium at 360 px: the Code128 on 正页 is decoded from a screenshot of the phone page
(zxing-cpp) and verified through the API; a traffic officer types its digits into the scan page and sees the
licence record (class, validity, issuing authority, file number, points, status); after a 扣留 the same scan says
无效 with 扣留 in red; railway staff scanning a licence see no licence record."""
from __future__ import annotations

import re

import pytest
import zxingcpp

from tests.e2e.conftest import officer_sign_in, open_page, read_code, shot, sign_in, verify_api
from tests.testdata import needs_testdata
from tests.verification_support import make_officer
from webapp import tokens
from webapp.driving_licence import services as licences
from webapp.registry.rules import mask_id_number
from tests.conftest import make_notifier

pytestmark = [pytest.mark.e2e, needs_testdata]


def citizen_login(page, user):
    sign_in(page, user.phone)
    page.wait_for_url(re.compile(r"/account/?$|/$"))


def officer_scan_page(browser, live_server, username):
    page, errors = open_page(browser, live_server)
    officer_sign_in(page, username, "/officer/scan")
    return page, errors


def decode_barcode(page) -> str:
    return read_code(page, "#barcode-img", zxingcpp.BarcodeFormat.Code128)


def scan_manually(page, text: str) -> None:
    if page.locator("#verdict").is_visible():
        page.get_by_role("button", name="继续扫码").click()
    page.get_by_label("手工输入").fill(text)
    page.get_by_role("button", name="核验", exact=True).click()
    page.locator("#verdict").wait_for(state="visible")


def test_barcode_decodes_at_360px_and_a_traffic_officer_sees_the_licence_record(browser, live_server, live_db,
                                                                                live_clock, licence_holder):
    user, licence = licence_holder
    officer = make_officer(live_db, "traffic", username="traffic01", now=live_clock.now())
    make_officer(live_db, "railway", username="rail01", now=live_clock.now())
    live_db.commit()

    # The holder shows 正页 on a 360 px phone; the barcode is read from a screenshot, as a scanner gun would.
    page, errors = open_page(browser, live_server)
    citizen_login(page, user)
    page.goto(f"/licence/{licence.public_id}")
    page.locator("#qr-img[data-token]").wait_for()
    assert page.locator("#barcode-img").bounding_box()["width"] <= 360
    digits = decode_barcode(page)
    assert re.fullmatch(r"\d{22}", digits)
    assert page.locator("#barcode-text").inner_text().replace(" ", "") == digits
    claims = tokens.check_numeric(live_server.app.config["SECRET_KEY"], digits, live_clock.now())
    assert (claims.kind, claims.db_id) == ("driving_licence", licence.id)
    answer = verify_api(live_server, digits)
    assert answer["valid"] is True and answer["credential"]["type"] == "driving_licence"
    shot(page, "licence-barcode-360")
    # At 1 device pixel per CSS pixel too (a cheap phone): ~1.8 px per module still decodes.
    flat, _ = open_page(browser, live_server, device_scale_factor=1)
    citizen_login(flat, user)
    flat.goto(f"/licence/{licence.public_id}")
    flat.locator("#qr-img[data-token]").wait_for()
    assert decode_barcode(flat) == digits
    assert errors == []

    # A traffic officer types the digits printed under the barcode (as shown, with spaces).
    scan, scan_errors = officer_scan_page(browser, live_server, officer.username)
    scan.select_option("#scan-context", "roadside")
    scan_manually(scan, page.locator("#barcode-text").inner_text())
    assert scan.locator("#verdict-mark").inner_text() == "有效"
    assert scan.locator("#verdict-name").inner_text() == "张驾驶"
    assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", scan.locator("#verdict-id").inner_text())
    record = user.citizen.licence
    expected = {"#licence-class": "C1", "#licence-validity": "2021-05-01 至 2031-05-01",
                "#licence-authority": "广东省广州市公安局交通警察支队", "#licence-file": record.file_number,
                "#licence-points": "3 分（记分周期 12 分）", "#licence-status": "正常"}
    for selector, text in expected.items():
        assert scan.locator(selector).inner_text() == text, selector
    assert scan.locator("#verdict-portrait").is_visible()
    assert scan.evaluate("document.getElementById('verdict-portrait').naturalWidth") > 0
    assert scan.locator("#verdict-until").is_hidden()  # 有效期限 of the licence replaces it
    assert scan.evaluate("document.documentElement.scrollWidth") <= 360
    shot(scan, "scan-licence-valid-360")

    # 扣留: the same code now reads 无效, the status in red.
    licences.record_seizure(live_db, officer=officer, id_number=user.citizen.id_number, reason="凭证 001",
                            now=live_clock.now(), notifier=make_notifier())
    live_db.commit()
    scan_manually(scan, digits)
    assert scan.locator("#verdict-mark").inner_text() == "无效"
    assert "扣留" in scan.locator("#verdict-reason").inner_text()
    assert scan.locator("#verdict-status").inner_text() == "扣留"
    assert scan.locator("#licence-status").inner_text() == "扣留"
    red = "rgb(198, 40, 40)"
    assert scan.locator("#licence-status").evaluate("e => getComputedStyle(e).color") == red
    assert scan.locator("#verdict-status").evaluate("e => getComputedStyle(e).color") == red
    shot(scan, "scan-licence-seized-360")
    assert [e for e in scan_errors if "camera" not in e.lower()] == []

    # Railway staff check travel IDs: of a licence they see its validity only (SPEC §6), as the public does.
    rail, _ = officer_scan_page(browser, live_server, "rail01")
    scan_manually(rail, digits)
    assert rail.locator("#verdict-mark").inner_text() == "无效"
    assert rail.locator("#verdict-name").inner_text() == "张**"
    assert rail.locator("#verdict-licence").is_hidden() and rail.locator("#verdict-portrait").is_hidden()
    assert rail.locator("#verdict-id").is_hidden() and mask_id_number(user.citizen.id_number) not in rail.content()
    assert record.file_number not in rail.content()
