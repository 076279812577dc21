"""Issue 16 audit, re-run here: axe-core 4.14.1 (vendored for tests only, tests/vendor/) finds no WCAG 2.1 A/AA or
best-practice violation on the pages the audit and this issue touched, at 360 x 780: the public pages with the demo
banner, forms shown again with their errors (aria-describedby), the apply page's location box, the 实人核验 start
page, the e-licence 正页 and the officer forms."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import factories
from tests.e2e.conftest import officer_sign_in, open_page, sign_in
from tests.testdata import needs_testdata
from tests.verification_support import make_officer

pytestmark = [pytest.mark.e2e]

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SCREEN = {"viewport": {"width": 360, "height": 780}, "bypass_csp": True}  # the test injects axe's script
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
                          ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
                          "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))", TAGS)
    return found


def check(page, name: str, problems: dict) -> None:
    page.wait_for_load_state("networkidle")
    found = violations(page)
    if found:
        problems[name] = found


def test_touched_pages_have_no_axe_violations(browser, live_server, live_db):
    citizen = factories.CitizenFactory()
    make_officer(live_db, "police", username="police.li")
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)
    problems: dict[str, list] = {}

    for path in ("/", "/warm-services", "/business", "/travel-id/paper", "/account/login", "/account/register"):
        page.goto(path)
        check(page, path, problems)

    page.goto("/travel-id/")
    check(page, "apply", problems)
    page.get_by_label("姓名").fill("张😀")
    page.get_by_label("身份证号").fill("1234")
    page.get_by_role("button", name="获取定位").click()
    page.locator("#locate-city").filter(has_text="定位权限未开启").wait_for()
    check(page, "apply-location-refused", problems)

    page.goto("/account/register")
    page.get_by_label("姓名").fill("·张")
    page.get_by_role("button", name="注册").click()
    page.get_by_text("“·”只能用在两部分之间").wait_for()
    check(page, "register-with-errors", problems)

    page.goto("/account/login")
    page.get_by_label("手机号或身份证号").fill(citizen.phone)
    page.get_by_label("密码").fill("wrong-password-1")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("账号或密码错误").first.wait_for()
    check(page, "login-with-error", problems)

    officer_sign_in(page, "police.li")
    check(page, "officer-home", problems)
    page.goto("/officer/paper")
    page.get_by_role("button", name="登记并打印").click()
    page.locator(".field__error").first.wait_for()
    check(page, "officer-paper-with-errors", problems)

    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)
    assert errors == []


@needs_testdata
def test_the_licence_page_and_the_reverify_start_page_have_no_axe_violations(browser, live_server, live_db,
                                                                             live_clock, licence_holder):
    from webapp.travel_id import services as travel

    user, licence = licence_holder
    cert = travel.issue(live_db, citizen=live_db.merge(user.citizen), lat=23.13, lon=113.26, city="广东省广州市",
                        now=live_clock.now(), user_id=None, challenge_public_id=None)
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)
    problems: dict[str, list] = {}

    page.goto(f"/travel-id/{cert.public_id}")  # this browser never passed: the start page says why
    page.get_by_role("button", name="继续").wait_for()
    check(page, "reverify-start", problems)
    sign_in(page, user.phone)
    page.goto(f"/licence/{licence.public_id}")
    page.locator("#qr-img[data-token]").wait_for()
    check(page, "licence-front", problems)

    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)
    assert errors == []
