"""Offline verification in headless Chromium (issue 17): a live QR read off the holder's real page verifies with
only the published keys after the server has stopped; the officer scan page, with the network cut, verifies here
(WebCrypto + the vendored CBOR decoder), refuses tampered, stale, future, wrong-key and revoked codes with their
reason, and uploads its scans when the network is back so the holder's 核验记录 shows them."""
from __future__ import annotations

import base64
import http.client
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import PHONE, make_licence_holder, officer_sign_in, open_page, shot, sign_in, wait_until
from tests.verification_support import (
    FAKE_JPEG,
    load_offline_verifier,
    make_certificate,
    make_officer,
    qr_text,
    signed_qr,
)
from webapp.audit.models import AuditEvent
from webapp.registry.rules import mask_name
from webapp.signing import keys
from webapp.signing.keys import KeyRing
from webapp.timeutil import format_local
from webapp.verification import rules

pytestmark = pytest.mark.e2e
JSQR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "jsQR-1.4.0.js"


@pytest.fixture
def holder(live_db, live_clock):
    """A driver with an active e-licence (issued directly) and the account to show it; no real face needed."""
    return make_licence_holder(live_db, live_clock.now(), FAKE_JPEG)


def jsqr_read(browser, png: bytes, width: int | None = None) -> dict:
    """Decode a PNG with the vendored jsQR in a blank page, as the scan page does (optionally drawn ``width`` px
    wide first): {"text", "ms", "width"}."""
    context = browser.new_context()
    page = context.new_page()
    page.add_script_tag(path=str(JSQR))
    found = page.evaluate("""async ([b64, width]) => {
        const img = new Image();
        img.src = "data:image/png;base64," + b64;
        await img.decode();
        const w = width || img.naturalWidth, h = Math.round(img.naturalHeight * w / img.naturalWidth);
        const canvas = document.createElement("canvas");
        canvas.width = w; canvas.height = h;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
        ctx.drawImage(img, 0, 0, w, h);
        const data = ctx.getImageData(0, 0, w, h);
        const start = performance.now();
        const code = jsQR(data.data, w, h, { inversionAttempts: "dontInvert" });
        return { text: code ? code.data : null, ms: performance.now() - start, width: w };
    }""", [base64.b64encode(png).decode(), width])
    context.close()
    return found


def test_live_qr_of_the_real_page_verifies_with_only_the_published_keys_after_the_server_stopped(
        browser, live_server, holder, tmp_path):
    user, licence = holder
    verifier = load_offline_verifier()
    store = tmp_path / "trust"
    verifier.fetch(live_server.url, store)   # what a gate keeps while it is online

    page, errors = open_page(browser, live_server, device_scale_factor=3)
    sign_in(page, user.phone)
    page.goto(f"/licence/{licence.public_id}")
    page.locator("#qr-img[data-token]").wait_for()
    qr = page.locator("#qr-img")
    qr.evaluate("e => e.scrollIntoView({block: 'center'})")
    png = qr.screenshot()
    # The vendored jsQR reads it off the phone screen, at the screenshot's size and drawn 320 px wide (half of the
    # scan page's 640 px frame: a phone held at arm's length).
    at_screen = jsqr_read(browser, png)
    at_frame = jsqr_read(browser, png, width=320)
    token = page.locator("#qr-img").get_attribute("data-token")
    assert at_screen["text"] == at_frame["text"] == f"{live_server.url}/v/{token}", (at_screen, at_frame)
    page.context.close()

    live_server.stop()
    probe = http.client.HTTPConnection("127.0.0.1", int(live_server.url.rsplit(":", 1)[1]), timeout=3)
    try:
        with pytest.raises(OSError):   # refused, or reset: nothing answers any more
            probe.request("GET", "/healthz")
            probe.getresponse()
    finally:
        probe.close()   # else the reset socket is left to the garbage collector (a ResourceWarning)
    result = verifier.verify(at_frame["text"], verifier.load(store))
    assert (result.verdict, result.reason) == ("valid", None), result
    assert result.facts["持证人"] == "张**" and result.facts["准驾车型"] == "C1" and result.facts["生成时状态"] == "正常"
    assert errors == []


def _scan(page, text: str) -> str:
    page.get_by_label("手工输入").fill(text)
    page.get_by_role("button", name="核验", exact=True).click()
    verdict = page.locator("#verdict")
    verdict.wait_for(state="visible")
    mark = page.locator("#verdict-mark").text_content()
    return mark


def _next(page) -> None:
    page.get_by_role("button", name="继续扫码").click()
    page.locator("#verdict").wait_for(state="hidden")


#: What the service worker keeps for the scan page offline (templates/shell/sw.js).
KEPT = """async () => Boolean(await caches.match("/officer/scan"))
                     && Boolean(await caches.match("/status-list"))
                     && Boolean(await caches.match("/.well-known/jwks.json"))"""


def wait_kept(page) -> None:
    """Until the service worker controls the page and has kept the scan page, its keys and status list. Installing
    fetches the whole shell: on a loaded CI machine that took more than the 10 s once allowed (seen twice)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # a worker is active (Playwright's 30 s)
    wait_until(page, page, "navigator.serviceWorker.controller !== null", tries=300)
    wait_until(page, page, KEPT, tries=300)


def test_scan_page_verifies_offline_with_the_network_cut_and_uploads_its_scans_when_back(
        browser, live_server, live_db, live_clock, holder, tmp_path):
    _user, licence = holder
    owner = factories.UserFactory()
    cert = make_certificate(live_db, owner.citizen, live_clock.now())
    withdrawn = make_certificate(live_db, factories.CitizenFactory(), live_clock.now(), status="revoked")
    make_officer(live_db, "police", username="police01", now=live_clock.now())
    live_db.commit()
    app = live_server.app
    real_now = live_clock.now()

    # The officer opened the scan page two hours ago, online: the service worker keeps it, its decoders, the keys
    # and the status list of that time.
    live_clock.set(real_now - timedelta(hours=2))
    page, errors = open_page(browser, live_server, console=True)
    officer_sign_in(page, "police01", "/officer/scan")
    wait_kept(page)
    live_clock.set(real_now)
    context = page.context

    # Network cut, the list two hours old (the setting is one hour): a good code cannot be confirmed.
    context.set_offline(True)
    page.reload()
    assert _scan(page, qr_text(app, cert, real_now)) == "无法确认"
    assert "状态列表过旧" in page.locator("#verdict-reason").inner_text()
    _next(page)

    # Back online for a moment: the page takes a fresh list (and uploads what it queued); then the network goes.
    context.set_offline(False)
    page.reload()
    fresh = format_local(real_now, "%H:%M")
    page.locator("#scan-trust").filter(has_text=fresh).wait_for()
    page.locator("#scan-pending").wait_for(state="hidden")
    context.set_offline(True)
    page.reload()
    page.locator("#scan-trust").filter(has_text=f"本机证件状态列表更新于 {fresh}").wait_for()

    good = qr_text(app, cert, real_now)
    keys.init_keys(tmp_path / "other", real_now)
    cases = [
        (good, f"有效（离线核验，状态更新于 {fresh}）"),
        (good[:90] + ("A" if good[90] != "A" else "B") + good[91:], "无效：签名无效"),
        (qr_text(app, cert, real_now - timedelta(minutes=3)), "无效：二维码已过期"),
        (qr_text(app, cert, real_now + timedelta(minutes=5)), "无效：二维码时间异常"),
        (signed_qr(cert, real_now, base=live_server.url, ring=KeyRing(tmp_path / "other")), "无效：签名密钥未知"),
        (qr_text(app, withdrawn, real_now), "无效：证件已作废"),
        (qr_text(app, licence, real_now), f"有效（离线核验，状态更新于 {fresh}）"),
    ]
    for index, (text, expected) in enumerate(cases):
        assert _scan(page, text) == expected, (index, expected)
        if index == 0:
            assert page.locator("#verdict-name").inner_text() == mask_name(owner.citizen.name)
            assert page.locator("#verdict-offline").is_visible()   # no portrait offline: it says so
            assert page.locator("#verdict-portrait").is_hidden()
            assert "全价票" in page.locator("#verdict-ticket").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            shot(page, "scan-offline-valid-360")
        if index == 1:
            shot(page, "scan-offline-invalid-360")
        if index == len(cases) - 1:
            assert page.locator("#verdict-class").inner_text() == "C1"
            assert page.locator("#verdict-name").inner_text() == "张**"
        _next(page)
    # The barcode's digits are an online check only.
    assert _scan(page, "2" + "0" * 21) == "状态无法确认"
    assert "条形码只能联网核验" in page.locator("#verdict-reason").inner_text()
    _next(page)
    assert page.locator("#scan-pending").inner_text().startswith(f"离线核验 {len(cases)} 条待上传")

    # Nothing of a credential or a scan result was kept by the service worker.
    cached = page.evaluate("""async () => {
        const urls = [];
        for (const name of await caches.keys()) {
            for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
        }
        return urls;
    }""")
    assert "/officer/scan" in cached and not [u for u in cached if u.startswith(("/api", "/v/", "/travel-id",
                                                                                  "/licence"))]

    # The network is back: the page uploads the queued scans; the holder's record shows them at their time.
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.locator("#scan-pending").wait_for(state="hidden")
    live_db.expire_all()
    rows = list(live_db.scalars(select(AuditEvent).where(AuditEvent.action == rules.AUDIT_ACTION)
                                .order_by(AuditEvent.id)))
    offline_rows = [r for r in rows if r.detail.get("offline")]
    assert len(offline_rows) == len(cases) + 1   # and the 无法确认 one from before
    mine = [r for r in offline_rows if r.citizen_id == cert.citizen_id]
    assert [(r.detail["valid"], r.detail["reason"]) for r in mine] == [
        (False, "status_unknown"), (True, None), (False, "stale"), (False, "future")]
    assert all(r.detail["role"] == "police" for r in offline_rows)
    assert [e for e in errors if "Failed to load resource" not in e and "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_logging_out_drops_the_kept_scan_page(browser, live_server, live_db, live_clock):
    make_officer(live_db, "railway", username="rail02", now=live_clock.now())
    live_db.commit()
    page, _errors = open_page(browser, live_server, **{k: v for k, v in PHONE.items() if k != "viewport"})
    officer_sign_in(page, "rail02", "/officer/scan")
    wait_kept(page)  # kept first: otherwise "dropped" below would hold without any logout doing it
    page.goto("/officer/")
    page.get_by_role("button", name=re.compile("退出")).click()
    page.wait_for_url(re.compile(r"/officer/login"))
    assert page.evaluate('async () => !(await caches.match("/officer/scan"))')
