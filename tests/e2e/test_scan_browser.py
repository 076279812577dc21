"""The officer scan page in Chromium: the fake camera shows a real certificate's QR (a .y4m made in the test),
jsQR decodes it in the page, the page asks /api/v1/verify with the officer session and shows 有效 / 无效."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import segno
from sqlalchemy import select

from webapp import tokens
from webapp.audit.models import AuditEvent
from webapp.verification import rules
from tests import factories
from tests.e2e.conftest import PHONE, shot
from tests.testdata import needs_testdata
from tests.verification_support import OFFICER_PASSWORD, make_certificate, make_officer

pytestmark = [pytest.mark.e2e, needs_testdata]

WIDTH, HEIGHT = 320, 240


def write_qr_y4m(text: str, path: Path, frames: int = 5) -> Path:
    """A YUV4MPEG2 clip (I420, full range) of the QR centred on white, big enough for jsQR to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    qr = segno.make(text, error="m")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
    size = len(matrix)
    scale = (HEIGHT - 8) // size
    left, top = (WIDTH - size * scale) // 2, (HEIGHT - size * scale) // 2
    y = bytearray(b"\xff" * (WIDTH * HEIGHT))
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + r * scale + dy) * WIDTH + left + c * scale
                    y[start:start + scale] = b"\x00" * scale
    chroma = b"\x80" * ((WIDTH // 2) * (HEIGHT // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F15:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + bytes(y) + chroma + chroma)
    return path


@pytest.fixture
def scene(live_server, live_db, live_clock, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(name="李晓华", portrait=jpeg, portrait_encoding=encoding)
    cert = make_certificate(live_db, citizen, live_clock.now())
    officer = make_officer(live_db, "railway", username="rail01", now=live_clock.now())
    live_db.commit()
    token = tokens.issue(live_server.app.config["SECRET_KEY"], "travel_id", cert.public_id, live_clock.now())
    return {"cert": cert, "officer": officer, "qr": f"{live_server.url}/v/{token}"}


def open_scan_page(browser, live_server, *, camera: bool, viewport: dict | None = None):
    options = {**PHONE, **({"viewport": viewport, "is_mobile": False, "has_touch": False} if viewport else {})}
    context = browser.new_context(base_url=live_server.url, **({"permissions": ["camera"]} if camera else {}),
                                  **options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/officer/scan")
    page.wait_for_url(re.compile(r"/officer/login\?next="))
    page.get_by_label("工号/用户名").fill("rail01")
    page.get_by_label("密码").fill(OFFICER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/officer/scan$"))
    return page, errors


def verification_rows(live_db):
    live_db.expire_all()
    return list(live_db.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                                .order_by(AuditEvent.id)))


def test_camera_reads_a_current_code_and_shows_valid_with_the_portrait(camera_browser, live_server, live_db, scene,
                                                                       tmp_path):
    browser = camera_browser(write_qr_y4m(scene["qr"], tmp_path / "src" / "qr-valid.y4m"))
    page, errors = open_scan_page(browser, live_server, camera=True)
    page.select_option("#scan-context", "entry")

    verdict = page.locator("#verdict")
    verdict.wait_for(state="visible")
    assert page.locator("#verdict-mark").inner_text() == "有效"
    assert page.locator("#verdict-name").inner_text() == "李晓华"
    assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", page.locator("#verdict-id").inner_text())
    assert "全价票" in page.locator("#verdict-ticket").inner_text()
    portrait = page.locator("#verdict-portrait")
    assert portrait.is_visible() and portrait.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert page.evaluate("document.getElementById('verdict-portrait').naturalWidth") > 0
    assert page.locator("#verdict-reason").is_hidden()
    # fits a 360 px phone: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "scan-valid-360")

    row = verification_rows(live_db)[-1]
    assert (row.actor_type, row.detail["role"], row.detail["context"], row.detail["valid"]) == (
        "officer", "railway", "entry", True)
    assert row.citizen_id == scene["cert"].citizen_id
    assert errors == []


def test_camera_reading_a_stale_screenshot_shows_invalid_with_the_stale_reason(camera_browser, live_server, live_db,
                                                                               live_clock, scene, tmp_path):
    browser = camera_browser(write_qr_y4m(scene["qr"], tmp_path / "src" / "qr-stale.y4m"))
    live_clock.advance(minutes=3)   # the code on the "screen" is now an old screenshot
    page, errors = open_scan_page(browser, live_server, camera=True)

    page.locator("#verdict").wait_for(state="visible")
    assert page.locator("#verdict-mark").inner_text() == "无效"
    reason = page.locator("#verdict-reason")
    assert reason.is_visible() and "二维码已过期" in reason.inner_text()
    assert page.locator("#verdict-body").is_hidden()
    shot(page, "scan-stale-360")
    assert verification_rows(live_db)[-1].detail["reason"] == "stale"
    assert errors == []


def test_manual_entry_works_without_a_camera(browser, live_server, live_db, scene):
    page, errors = open_scan_page(browser, live_server, camera=False)
    page.get_by_text("无法打开摄像头").or_(page.get_by_text("无法使用摄像头")).wait_for()
    page.get_by_label("手工输入").fill(scene["qr"])
    page.get_by_role("button", name="核验", exact=True).click()
    page.locator("#verdict").wait_for(state="visible")
    assert page.locator("#verdict-mark").inner_text() == "有效"
    assert page.locator("#verdict-name").inner_text() == "李晓华"
    shot(page, "scan-manual-360")

    page.get_by_role("button", name="继续扫码").click()
    assert page.locator("#verdict").is_hidden()
    page.get_by_label("手工输入").fill("http://example.com/not-ours")
    page.get_by_role("button", name="核验", exact=True).click()
    page.locator("#verdict").wait_for(state="visible")
    assert page.locator("#verdict-mark").inner_text() == "无效"
    assert "无法识别" in page.locator("#verdict-reason").inner_text()
    # the camera error is expected here (no device); nothing else may fail
    assert [e for e in errors if "camera" not in e.lower()] == []


def test_counter_pc_layout_shows_result_beside_the_camera(browser, live_server, scene):
    page, _errors = open_scan_page(browser, live_server, camera=False, viewport={"width": 1280, "height": 800})
    page.get_by_label("手工输入").fill(scene["qr"])
    page.get_by_role("button", name="核验", exact=True).click()
    page.locator("#verdict").wait_for(state="visible")
    verdict = page.locator("#verdict").bounding_box()
    camera = page.locator("#scan-camera").bounding_box()
    assert verdict["x"] > camera["x"] + camera["width"] - 1
    shot(page, "scan-counter-pc")


def test_camera_tracks_stop_when_the_page_is_left(camera_browser, live_server, scene, tmp_path):
    browser = camera_browser(write_qr_y4m("not a credential", tmp_path / "src" / "qr-other.y4m"))
    page, _errors = open_scan_page(browser, live_server, camera=True)
    # wait_for_function evaluates a string, which the CSP forbids; poll with evaluate instead
    for _ in range(100):
        if page.evaluate("document.getElementById('scan-video').srcObject !== null"):
            break
        page.wait_for_timeout(100)
    page.evaluate("window.__tracks = document.getElementById('scan-video').srcObject.getTracks()")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide', {persisted: false}))")
    assert page.evaluate("window.__tracks.every(t => t.readyState === 'ended')")
