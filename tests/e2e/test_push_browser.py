"""消息推送 on the 消息 page in Chromium: with VAPID keys set the page offers it, the service worker is ready, and
clicking asks the browser's push service. Headless Chromium here has no push service to reach (no network), so
the page must say so in Chinese without a script error; the delivery itself (aes128gcm + VAPID) is tested over
HTTP against a loopback push endpoint (tests/http/test_account_variants_http.py)."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from tests import factories
from tests.e2e.conftest import open_page, shot, sign_in

pytestmark = [pytest.mark.e2e]


def _keys() -> dict:
    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    return {"SUISHEN_VAPID_PUBLIC_KEY": b64(public), "SUISHEN_VAPID_PRIVATE_KEY": b64(private)}


@pytest.fixture
def live_config():
    return {"SUISHEN_LIVENESS_CHECKS": "blink,match", **_keys()}


def test_the_messages_page_offers_push_and_reports_an_unreachable_push_service(browser, live_server, live_db):
    user = factories.UserFactory()
    live_db.commit()
    page, errors = open_page(browser, live_server, permissions=["notifications"])
    sign_in(page, user.phone)
    page.goto("/messages")
    button = page.get_by_role("button", name="开启消息推送")
    button.wait_for()
    assert page.get_by_text("开启后，审核结果等消息会推送到已安装的随身证应用").is_visible()
    button.click()
    # Either the push service answered (a networked machine) or the page says it failed; never a script error.
    page.locator("#push-state").filter(has_text="消息推送").wait_for()
    state = page.locator("#push-state").inner_text()
    assert state in ("已开启：审核结果等消息将推送到本机。", "开启消息推送失败，请稍后重试。消息仍会通过短信和本页通知您。")
    assert button.is_enabled()
    shot(page, "messages-push-360")
    assert not errors
    page.context.close()
