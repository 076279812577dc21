"""Issue 16 in headless Chromium at 360 x 780: Back, Forward and reload land on a sensible page at every step of
both credentials' flows (apply, 实人核验, result, QR / licence, officer pages); what is pasted is normalised before
validation (an ID number with spaces is not cut at 18 by maxlength); a name of extension B (𠮷) and the middle dot
pass the forms; 刷新 shows that it refreshed; re-verification in a new browser says why. Screenshots of each step
land in test-results/ (history-*.png)."""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.e2e.conftest import officer_sign_in, open_page, shot
from tests.e2e.test_travel_browser import fill_and_apply
from tests.testdata import SEQUENCES, needs_testdata
from tests.verification_support import make_officer
from webapp.accounts.rules import LEVEL_UNVERIFIED
from webapp.travel_id import rules as travel_rules

pytestmark = [pytest.mark.e2e]

GUANGZHOU = {"latitude": 23.13, "longitude": 113.26}
SCREEN = {"viewport": {"width": 360, "height": 780}}
# What a page must never say when reached by Back, Forward or reload after a pass.
NOT_SENSIBLE = ("该核验已使用", "核验未通过", "确认重新提交表单", "ERR_CACHE_MISS", "申请已失效")
CAMERA = SEQUENCES / "genuine_blink_meds_s001.y4m"


def spaced(id_number: str) -> str:
    return " ".join(id_number[i:i + 4] for i in range(0, 18, 4)).lower()


def assert_sensible(page, path_pattern: str, name: str) -> None:
    """The page is the one expected, reached without an error or a resubmission prompt; screenshot it."""
    page.wait_for_load_state()
    assert re.search(path_pattern, page.url), (name, page.url)
    text = page.locator("body").inner_text()
    for words in NOT_SENSIBLE:
        assert words not in text, (name, words)
    shot(page, f"history-{name}", full_page=False)


def paste(page, label: str, text: str) -> None:
    """Put ``text`` into the field as a paste or an IME commit does (subject to maxlength, unlike fill())."""
    field = page.get_by_label(label)
    field.fill("")
    field.focus()
    page.keyboard.insert_text(text)


def pass_camera(page, next_url: str) -> None:
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    page.get_by_role("button", name="开始核验").click()
    page.wait_for_url(re.compile(next_url), timeout=40_000)


@pytest.fixture
def s001_citizen(live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(name="𠮷田·买买提", portrait=jpeg, portrait_encoding=encoding)
    live_db.commit()
    return citizen


@needs_testdata
def test_travel_id_walk_back_forward_and_reload_from_apply_to_the_qr(camera_browser, browser, live_server,
                                                                      s001_citizen):
    page, errors = open_page(camera_browser(CAMERA), live_server, permissions=["geolocation", "camera"],
                             geolocation=GUANGZHOU, **SCREEN)
    page.goto("/travel-id/")
    page.locator("#locate-city").filter(has_text="广州").wait_for()

    # A name refused for what it holds, with an ID number pasted with spaces and a lower-case x.
    paste(page, "姓名", "𠮷田😀")
    paste(page, "身份证号", spaced(s001_citizen.id_number))
    assert page.get_by_label("身份证号").input_value() == spaced(s001_citizen.id_number)  # not cut at 18
    page.get_by_role("button", name="立即申请").click()
    page.get_by_text("姓名中不能包含“😀”").wait_for()
    assert page.get_by_label("身份证号").input_value() == s001_citizen.id_number  # shown normalised
    assert_sensible(page, r"/travel-id/$", "travel-apply-error")  # the POST became GET /travel-id/ in history

    page.reload()  # a GET of the form page: no resubmission, the error is gone
    assert_sensible(page, r"/travel-id/$", "travel-apply-reloaded")
    assert not page.get_by_text("姓名中不能包含").is_visible()

    # The middle dot typed as a katakana dot (a Japanese IME) is the registry's "·".
    page.locator("#locate-city").filter(has_text="广州").wait_for()
    paste(page, "姓名", "𠮷田・买买提")
    paste(page, "身份证号", spaced(s001_citizen.id_number))
    page.get_by_role("button", name="立即申请").click()
    pass_camera(page, r"/travel-id/[A-Za-z0-9_-]+/result$")
    assert_sensible(page, r"/result$", "travel-result")
    result_url = page.url

    page.reload()
    assert_sensible(page, r"/result$", "travel-result-reloaded")
    page.get_by_role("link", name="查看乘车身份证明").click()
    page.wait_for_url(re.compile(r"/travel-id/[A-Za-z0-9_-]+$"))
    qr_url = page.url
    page.locator("#qr-img[data-token]").wait_for()

    # 刷新 says so: 正在刷新… then 已刷新 and the time, in the button (nothing moves).
    refresh = page.locator("#qr-refresh")
    box = refresh.bounding_box()
    refresh.click()
    page.locator("#qr-refresh[data-refreshed='ok']").wait_for()
    assert re.fullmatch(r"已刷新 \d{2}:\d{2}:\d{2}", refresh.inner_text())
    assert refresh.bounding_box() == box
    assert page.get_by_role("status").filter(has_text="已刷新").count() == 1
    shot(page, "history-travel-qr-refreshed", full_page=False)

    page.reload()
    assert_sensible(page, r"/travel-id/[A-Za-z0-9_-]+$", "travel-qr-reloaded")
    page.go_back()
    assert_sensible(page, re.escape(result_url) + "$", "travel-back-1-result")
    page.go_back()  # the camera page replaced itself: Back goes to the form, never to 该核验已使用
    assert_sensible(page, r"/travel-id/$", "travel-back-2-apply")
    page.go_forward()
    assert_sensible(page, re.escape(result_url) + "$", "travel-forward-1-result")
    page.go_forward()
    assert_sensible(page, re.escape(qr_url) + "$", "travel-forward-2-qr")
    page.locator("#qr-img[data-token]").wait_for()

    # The same QR page in another browser: 实人核验 first, saying why and that it costs no application.
    other, other_errors = open_page(browser, live_server, **SCREEN)
    other.goto(qr_url)
    other.get_by_text(travel_rules.REVERIFY_IN_NEW_BROWSER).wait_for()
    assert other.get_by_role("button", name="继续").is_visible()
    shot(other, "history-travel-reverify-new-browser", full_page=False)
    assert errors == [] and other_errors == []


@needs_testdata
def test_a_failed_try_reached_by_back_says_the_retry_passed_and_offers_the_way_on(camera_browser, live_server,
                                                                                   live_clock, s001_citizen):
    page, errors = open_page(camera_browser(CAMERA), live_server, permissions=["geolocation", "camera"],
                             geolocation=GUANGZHOU, **SCREEN)
    page.goto("/travel-id/")
    page.locator("#locate-city").filter(has_text="广州").wait_for()
    fill_and_apply(page, s001_citizen)
    page.wait_for_url(re.compile(r"/proofing/[A-Za-z0-9_-]+$"))
    first_try = page.url

    live_clock.advance(seconds=61)  # the challenge runs out before the frames arrive: this try fails
    page.get_by_role("button", name="开始核验").click()
    page.get_by_role("heading", name="核验未通过").wait_for(timeout=40_000)
    page.get_by_role("button", name="重新核验").click()
    pass_camera(page, r"/result$")

    page.go_back()
    assert page.url == first_try
    page.get_by_text("您随后已重新核验并通过").wait_for()
    assert not page.get_by_role("button", name="重新核验").is_visible()
    shot(page, "history-failed-try-then-passed", full_page=False)
    page.get_by_role("link", name="继续").click()
    page.wait_for_url(re.compile(r"/result$"))
    assert page.get_by_text("审核通过").is_visible()
    assert errors == []


@needs_testdata
def test_account_and_licence_walk_back_forward_and_reload(camera_browser, live_server, live_db, s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    factories.LicenceFactory(citizen=citizen, points=3)
    factories.UserFactory(citizen=citizen, level=LEVEL_UNVERIFIED)
    live_db.commit()
    page, errors = open_page(camera_browser(CAMERA), live_server, permissions=["camera"], **SCREEN)

    # Sign in with the ID number as pasted (spaces, lower-case x): the account field is normalised too.
    page.goto("/account/login")
    paste(page, "手机号或身份证号", spaced(citizen.id_number))
    page.get_by_label("密码").fill(factories.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/account/login" not in url)

    # 实人认证 from 我的: the camera page replaces itself; Back from 我的 is not the used challenge.
    page.goto("/account/")
    page.goto("/account/verify")  # what 我的's 实人认证 link opens
    pass_camera(page, r"/account/$")
    page.get_by_text("实人认证成功").wait_for()
    assert_sensible(page, r"/account/$", "account-verified")
    page.go_back()
    assert_sensible(page, r"/account/$", "account-back")

    # 我的驾驶证: apply, 实人核验, 正页; Back to 我的驾驶证, Forward to 正页; reload; 刷新.
    page.goto("/licence/")
    page.get_by_role("button", name="同意并申领").click()
    pass_camera(page, r"/licence/[A-Za-z0-9_-]{16}$")
    licence_url = page.url
    page.locator("#qr-img[data-token]").wait_for()
    assert_sensible(page, r"/licence/[A-Za-z0-9_-]{16}$", "licence-show")
    page.get_by_role("button", name="刷新").click()
    page.locator("#qr-refresh[data-refreshed='ok']").wait_for()
    shot(page, "history-licence-refreshed", full_page=False)
    page.reload()
    assert_sensible(page, re.escape(licence_url) + "$", "licence-reloaded")
    page.go_back()
    assert_sensible(page, r"/licence/$", "licence-back-index")
    page.go_forward()
    assert_sensible(page, re.escape(licence_url) + "$", "licence-forward-show")
    page.locator("#qr-img[data-token]").wait_for()

    # After 退出登录, Back shows no personal page: it asks to sign in.
    page.goto("/account/")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_load_state()
    page.go_back()
    assert_sensible(page, r"/account/login", "after-logout-back")
    assert errors == []


def test_officer_walk_back_forward_and_reload_never_asks_to_resubmit(browser, live_server, live_db):
    citizen = factories.CitizenFactory(name="𠮷田")
    make_officer(live_db, "police", username="police.li")
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)

    # A wrong password, then the right one: Back from the home page is the sign-in form, not a resubmission.
    page.goto("/officer/login")
    page.get_by_label("工号/用户名").fill("police.li")
    page.get_by_label("密码").fill("wrong-password-1")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("用户名或密码错误").first.wait_for()
    assert_sensible(page, r"/officer/login", "officer-login-error")
    officer_sign_in(page, "police.li")
    assert_sensible(page, r"/officer/$", "officer-home")
    page.go_back()
    assert_sensible(page, r"/officer/", "officer-back-from-home")
    page.go_forward()

    # 纸质证明: a refused number, reload (a GET of the form), then the right one pasted with spaces.
    page.goto("/officer/paper")
    page.get_by_label("姓名").fill("𠮷田")
    page.get_by_label("身份证号").fill("1234")
    page.get_by_label("发证车站").fill("广州南站")
    page.get_by_role("button", name="登记并打印").click()
    page.get_by_text("身份证号应为 18 位").wait_for()
    assert_sensible(page, r"/officer/paper$", "officer-paper-error")
    page.reload()
    assert_sensible(page, r"/officer/paper$", "officer-paper-reloaded")
    page.get_by_label("姓名").fill("𠮷田")
    paste(page, "身份证号", spaced(citizen.id_number))
    page.get_by_label("发证车站").fill("广州南站")
    page.get_by_role("button", name="登记并打印").click()
    page.wait_for_url(re.compile(r"/officer/paper/[A-Z0-9]+$"))
    assert page.get_by_text("𠮷田").first.is_visible()
    print_url = page.url
    page.go_back()
    assert_sensible(page, r"/officer/paper$", "officer-back-to-paper-form")
    page.go_forward()
    assert_sensible(page, re.escape(print_url) + "$", "officer-forward-to-print")
    page.goto("/officer/scan")
    page.go_back()
    assert_sensible(page, re.escape(print_url) + "$", "officer-back-from-scan")
    assert errors == []
