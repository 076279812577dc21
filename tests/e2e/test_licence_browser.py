"""电子驾驶证 in headless Chromium: a 实人 account applies with the system photo through the fake camera (genuine
blink of S001), sees 正页 with a ticking clock and 副页, the QR and the Code128 are decoded from a screenshot
(zxing-cpp) and verified through the API; a 扣留 recorded by a traffic officer turns the page red within the 10 s state poll."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests import factories
from tests.e2e.conftest import open_page, read_code, shot, sign_in, verify_api
from tests.testdata import SEQUENCES, needs_testdata
from webapp import tokens
from tests.verification_support import read_claims
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp.driving_licence import services as licences
from webapp.driving_licence.models import ElectronicLicence
from tests.conftest import make_notifier

pytestmark = [pytest.mark.e2e, needs_testdata]


@pytest.fixture
def driver(live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    factories.LicenceFactory(citizen=citizen, points=3)
    user = factories.UserFactory(citizen=citizen, level=LEVEL_REALPERSON)
    live_db.commit()
    return user


def test_apply_show_front_and_back_verify_the_qr_then_seizure_turns_it_red(camera_browser, live_server, live_db,
                                                                           live_clock, driver):
    browser = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(browser, live_server, permissions=["camera"])

    sign_in(page, driver.phone)
    page.goto("/")
    page.get_by_role("link", name="我的驾驶证").click()
    page.wait_for_url(re.compile(r"/licence/$"))
    assert page.get_by_text("可更换驾驶证照片").is_visible()
    assert page.locator("#album-field").is_hidden()
    shot(page, "licence-apply-360")
    page.get_by_role("button", name="同意并申领").click()

    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    page.get_by_role("button", name="开始核验").click()
    page.wait_for_url(re.compile(r"/licence/[A-Za-z0-9_-]{16}$"), timeout=40_000)
    public_id = page.url.rsplit("/", 1)[1]

    # The show page with the browser clock under the test's control.
    page.clock.install()
    page.reload()
    page.locator("#qr-img[data-token]").wait_for()
    assert page.locator("#licence-state").inner_text() == "正常"
    first = page.locator("#current-time").inner_text()
    page.clock.run_for(2_000)
    assert page.locator("#current-time").inner_text() != first  # the clock ticks
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", page.locator("#generated-at").inner_text())
    shot(page, "licence-front-360")

    text = read_code(page, "#qr-img")
    assert text.startswith(f"{live_server.url}/v/")
    # The Code128 carries the 22-digit numeric code of the same licence and window, read here at 360 px.
    digits = read_code(page, "#barcode-img")
    numeric = tokens.check_numeric(live_server.app.config["SECRET_KEY"], digits, live_clock.now())
    assert (numeric.kind, numeric.window) == ("driving_licence", tokens.window_of(live_clock.now()))
    assert verify_api(live_server, digits)["valid"] is True
    claims = read_claims(live_server.app, text, live_clock.now())
    assert (claims.kind, claims.db_id) == ("driving_licence", numeric.db_id)
    assert live_db.get(ElectronicLicence, claims.db_id).public_id == public_id
    answer = verify_api(live_server, text)
    assert answer["valid"] is True and answer["credential"]["type"] == "driving_licence"

    page.get_by_role("tab", name="副页").click()
    assert page.locator("#page-front").is_hidden()
    assert page.get_by_text("准驾车型代号规定").is_visible()
    assert "3 分" in page.locator("#points").inner_text()
    shot(page, "licence-back-360")
    page.get_by_role("tab", name="正页").click()

    # A traffic officer records 扣留: the page turns red at the next state poll (≤ 10 s), the code disappears.
    licences.record_seizure(live_db, officer=SimpleNamespace(id=1, role="traffic"),
                            id_number=driver.citizen.id_number, reason="凭证 001", now=live_clock.now(), notifier=make_notifier())
    live_db.commit()
    page.clock.run_for(10_500)
    page.locator("#licence.licence--blocked").wait_for()
    assert page.locator("#licence-state").inner_text() == "扣留"
    assert page.locator("#qr-img").is_hidden() and page.locator("#codes-invalid").is_visible()
    shot(page, "licence-seized-360")
    assert verify_api(live_server, text)["valid"] is False
    assert errors == []
    page.context.close()
