"""Issue 16 in headless Chromium at 360 x 780: Back, Forward and reload land on a sensible page at every step of
both credentials' flows (apply, 实人核验, result, QR / licence, officer pages) and of the ID-card upload, password
reset, 面签, the reviewers' decisions and the licence photo replacement, never sending a form again (moved()); what is pasted is normalised before
validation (an ID number with spaces is not cut at 18 by maxlength); a name of extension B (𠮷) and the middle dot
pass the forms; 刷新 shows that it refreshed; re-verification in a new browser says why. Screenshots of each step
land in test-results/ (history-*.png)."""
from __future__ import annotations

import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests import factories
from tests.conftest import make_notifier
from tests.e2e.conftest import officer_sign_in, open_page, shot, sign_in
from tests.e2e.test_accounts_browser import latest_code
from tests.e2e.test_travel_browser import fill_and_apply
from tests.testdata import SEQUENCES, needs_testdata
from tests.verification_support import make_officer
from webapp.accounts import services as accounts
from webapp.accounts.models import IdentityReview, User
from webapp.accounts.rules import LEVEL_REALNAME, LEVEL_UNVERIFIED
from webapp.driving_licence import services as licences
from webapp.driving_licence.models import ACTIVE, ElectronicLicence
from webapp.notify.models import SmsMessage
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


# --- The remaining steps: ID-card upload, password reset, 面签, the reviewers' decisions, licence photo -------------
def moved(page, how: str) -> None:
    """page.reload(), go_back() or go_forward(), and prove the browser sent no form again: no navigation request other
    than GET (a POST entry left in the history would be re-posted, or held behind a resubmission prompt)."""
    posts: list[str] = []

    def seen(request) -> None:
        if request.is_navigation_request() and request.method != "GET":
            posts.append(f"{request.method} {request.url}")

    page.on("request", seen)
    try:
        getattr(page, how)()
        page.wait_for_load_state()
    finally:
        page.remove_listener("request", seen)
    assert posts == [], (how, posts)


def sms_count(live_db, phone: str) -> int:
    live_db.expire_all()
    return live_db.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.phone == phone))


def image_file(path, size=(856, 540), colour=(205, 205, 215)) -> str:
    """A plain picture (JPEG or PNG by the suffix) to upload where no face is checked."""
    Image.new("RGB", size, colour).save(path)
    return str(path)


def test_id_card_upload_walk_reload_and_back_never_resubmit_the_photos(browser, live_server, live_db, tmp_path):
    citizen = factories.CitizenFactory()
    user = factories.UserFactory(citizen=citizen, phone=citizen.phone, level=LEVEL_REALNAME)
    live_db.commit()
    not_a_photo = tmp_path / "id.txt"
    not_a_photo.write_text("not a photo")
    page, errors = open_page(browser, live_server, **SCREEN)
    sign_in(page, citizen.phone)
    page.goto("/account/")
    page.goto("/account/id-card")

    # A file that is not a picture: the form again, with why, as GET /account/id-card in the history.
    page.get_by_label("身份证人像面").set_input_files(str(not_a_photo))
    page.get_by_label("身份证国徽面").set_input_files(image_file(tmp_path / "back.png"))
    page.get_by_role("button", name="提交人工审核").click()
    page.locator(".alert--danger, .field__error, .form__errors").first.wait_for()
    assert_sensible(page, r"/account/id-card$", "id-card-refused")
    moved(page, "reload")
    assert_sensible(page, r"/account/id-card$", "id-card-refused-reloaded")
    assert page.get_by_role("button", name="提交人工审核").is_visible()

    page.get_by_label("身份证人像面").set_input_files(image_file(tmp_path / "front.jpg"))
    page.get_by_label("身份证国徽面").set_input_files(image_file(tmp_path / "back.png"))
    page.get_by_role("button", name="提交人工审核").click()
    page.wait_for_url(re.compile(r"/account/$"))
    page.get_by_text("身份证照片已提交").wait_for()
    assert_sensible(page, r"/account/$", "id-card-submitted")
    moved(page, "reload")
    assert_sensible(page, r"/account/$", "id-card-submitted-reloaded")
    moved(page, "go_back")  # the form page, now saying the photos are being reviewed (no second submission possible)
    assert_sensible(page, r"/account/id-card$", "id-card-back")
    page.get_by_text("正在审核中").wait_for()
    assert not page.get_by_role("button", name="提交人工审核").is_visible()
    moved(page, "go_forward")
    assert_sensible(page, r"/account/$", "id-card-forward")
    live_db.expire_all()
    assert live_db.scalar(select(func.count()).select_from(IdentityReview)
                          .where(IdentityReview.user_id == user.id)) == 1
    assert errors == []


def test_password_reset_walk_reload_never_sends_another_code(browser, live_server, live_db):
    citizen = factories.CitizenFactory()
    factories.UserFactory(citizen=citizen, phone=citizen.phone)
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)
    page.goto("/account/login")
    page.get_by_role("link", name="忘记密码").click()
    page.wait_for_url(re.compile(r"/account/password$"))

    # 获取验证码 answers the form itself (a POST): reload is a GET of the form and sends no second SMS.
    page.get_by_label("手机号码").fill(citizen.phone)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("如该手机号已注册，验证码已发送").wait_for()
    assert_sensible(page, r"/account/password$", "reset-code-sent")
    assert sms_count(live_db, citizen.phone) == 1
    moved(page, "reload")
    assert_sensible(page, r"/account/password$", "reset-code-sent-reloaded")
    assert sms_count(live_db, citizen.phone) == 1

    code = latest_code(live_db, citizen.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for attempt, typed in (("wrong", wrong), ("right", code)):
        page.get_by_label("手机号码").fill(citizen.phone)
        page.get_by_label("短信验证码").fill(typed)
        page.get_by_label("新密码", exact=True).fill("newpassw0rd1")
        page.get_by_label("确认新密码").fill("newpassw0rd1")
        page.get_by_role("button", name="设置密码").click()
        if attempt == "wrong":
            page.locator(".field__error").first.wait_for()
            assert_sensible(page, r"/account/password$", "reset-wrong-code")
            moved(page, "reload")
            assert_sensible(page, r"/account/password$", "reset-wrong-code-reloaded")
    page.wait_for_url(re.compile(r"/account/login$"))
    page.get_by_text("密码已设置").wait_for()
    assert_sensible(page, r"/account/login$", "reset-done")
    moved(page, "reload")
    assert_sensible(page, r"/account/login$", "reset-done-reloaded")
    moved(page, "go_back")
    assert_sensible(page, r"/account/password$", "reset-back-to-form")
    moved(page, "go_forward")
    assert_sensible(page, r"/account/login$", "reset-forward-to-login")
    assert sms_count(live_db, citizen.phone) == 1  # the one code: nothing was sent again
    sign_in(page, citizen.phone, "newpassw0rd1")
    assert errors == []


def test_face_to_face_walk_reload_and_back_never_register_twice(browser, live_server, live_db):
    citizen = factories.CitizenFactory()
    officer = make_officer(live_db, "traffic", username="traffic.wang")
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)
    officer_sign_in(page, officer.username)
    page.goto("/officer/accounts/face-to-face")

    def fill(check: bool) -> None:
        page.get_by_label("姓名").fill(citizen.name)
        paste(page, "身份证号", spaced(citizen.id_number))
        page.get_by_label("手机号码").fill("13788889999")
        if check:
            page.get_by_label("已核对申请人本人与身份证原件、人口库照片一致").check()
        page.get_by_role("button", name="面签注册").click()

    fill(check=False)  # not confirmed: the form again, with why
    page.get_by_text("请先核对申请人本人").first.wait_for()
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-refused")
    moved(page, "reload")
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-refused-reloaded")
    fill(check=True)
    page.get_by_text("面签完成").wait_for()
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-done")
    moved(page, "reload")  # a GET of the empty form for the next person: nothing registered again, the notice gone
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-done-reloaded")
    assert not page.get_by_text("面签完成").is_visible()
    moved(page, "go_back")
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-back")
    moved(page, "go_forward")
    assert_sensible(page, r"/officer/accounts/face-to-face$", "f2f-forward")
    live_db.expire_all()
    assert live_db.scalar(select(func.count()).select_from(User).where(User.phone == "13788889999")) == 1
    assert sms_count(live_db, "13788889999") == 1  # the one 设置密码 SMS
    assert errors == []


def test_reviewer_walk_reject_and_approve_then_back_forward_and_reload(browser, live_server, live_db, live_clock,
                                                                       tmp_path):
    from io import BytesIO

    def jpeg(colour) -> bytes:
        out = BytesIO()
        Image.new("RGB", (330, 480), colour).save(out, format="JPEG")
        return out.getvalue()

    driver = factories.CitizenFactory(name="王相册", portrait=jpeg((180, 170, 160)))
    factories.LicenceFactory(citizen=driver, licence_class="C1")
    driver_user = factories.UserFactory(citizen=driver, level="realperson")
    application = licences.apply(live_db, citizen=driver, user_id=driver_user.id, photo_source="album",
                                 photo=jpeg((200, 190, 180)), now=live_clock.now(), cities=None,
                                 notifier=make_notifier())
    licences.proven(live_db, application, live_clock.now(), None, notifier=make_notifier())
    holder = factories.CitizenFactory(name="欧阳审核")
    holder_user = factories.UserFactory(citizen=holder, phone=holder.phone, level="realname")
    accounts.submit_id_card(live_db, holder_user, front=jpeg((120, 130, 140)), back=jpeg((205, 205, 215)),
                            now=live_clock.now())
    reviewer = make_officer(live_db, "reviewer", username="reviewer.zhao", now=live_clock.now())
    live_db.commit()
    page, errors = open_page(browser, live_server, **SCREEN)
    officer_sign_in(page, reviewer.username)

    # ID cards: 不通过 without a reason is refused (the queue again, as GET); reload; then with a reason.
    page.goto("/officer/accounts/reviews")
    page.get_by_role("button", name="不通过").click()
    page.get_by_text("请填写不通过的原因").first.wait_for()
    assert_sensible(page, r"/officer/accounts/reviews$", "review-id-refused")
    moved(page, "reload")
    assert_sensible(page, r"/officer/accounts/reviews$", "review-id-refused-reloaded")
    page.get_by_label("不通过原因（不通过时必填，申请人将收到）").fill("照片模糊，请重新拍摄")
    page.get_by_role("button", name="不通过").click()
    page.get_by_text("已退回，申请人将收到不通过原因").wait_for()
    assert_sensible(page, r"/officer/accounts/reviews$", "review-id-rejected")
    moved(page, "reload")
    assert_sensible(page, r"/officer/accounts/reviews$", "review-id-rejected-reloaded")
    assert page.get_by_text("暂无待审核的身份证照片").is_visible()

    # Licence photos: 审核通过, then Back to the ID-card queue and Forward again; nothing is decided twice.
    page.goto("/licence/review")
    assert page.get_by_text("王相册").first.is_visible()
    page.get_by_role("button", name="审核通过").click()
    page.get_by_text("已审核通过。").wait_for()
    assert_sensible(page, r"/licence/review$", "review-licence-approved")
    moved(page, "reload")
    assert_sensible(page, r"/licence/review$", "review-licence-approved-reloaded")
    moved(page, "go_back")
    assert_sensible(page, r"/licence/review$", "review-licence-back-queue")
    moved(page, "go_back")
    assert_sensible(page, r"/officer/accounts/reviews$", "review-back-to-id-queue")
    moved(page, "go_forward")
    moved(page, "go_forward")
    assert_sensible(page, r"/licence/review$", "review-forward-to-licence-queue")
    for text in ("该申请已被审核", "已处理"):
        assert text not in page.locator("body").inner_text()
    live_db.expire_all()
    assert live_db.get(ElectronicLicence, application.id).status == ACTIVE
    review = live_db.scalars(select(IdentityReview).where(IdentityReview.user_id == holder_user.id)).one()
    assert review.status == "rejected" and review.reason == "照片模糊，请重新拍摄"
    assert errors == []


@needs_testdata
def test_licence_photo_replacement_walk_refused_then_replaced(camera_browser, live_server, live_db, live_clock,
                                                              licence_holder, tmp_path, monkeypatch):
    from tests.e2e.test_licence_photo_browser import SEQUENCE, take_shot, write_y4m
    from webapp.driving_licence import rules as licence_rules

    monkeypatch.setattr(licence_rules, "BACKGROUND_MIN_LUMA", 70.0)  # the MEDS wall is grey (see that module)
    user, licence = licence_holder
    browser = camera_browser(write_y4m(SEQUENCES / f"frames_{SEQUENCE}", tmp_path / "src" / "s001-640.y4m"))
    page, errors = open_page(browser, live_server, permissions=["camera"], **SCREEN)
    sign_in(page, user.phone)
    page.goto("/licence/")
    show_url = f"/licence/{licence.public_id}"
    page.goto(show_url)
    form = page.locator("form", has=page.get_by_role("button", name="更换照片"))

    # Not a picture: the 正页 again with why (a 4xx answer to POST …/photo), as the 正页's GET in the history.
    not_a_photo = tmp_path / "photo.txt"
    not_a_photo.write_text("not a photo")
    form.get_by_role("radio", name="从相册选择").check()
    form.locator('input[type="file"][name="album"]').set_input_files(str(not_a_photo))
    form.get_by_role("button", name="更换照片").click()
    page.get_by_text("照片格式不支持").first.wait_for()
    assert_sensible(page, re.escape(show_url) + "$", "licence-photo-refused")
    moved(page, "reload")
    assert_sensible(page, re.escape(show_url) + "$", "licence-photo-refused-reloaded")
    assert not page.get_by_text("照片格式不支持").is_visible()
    page.locator("#qr-img[data-token]").wait_for()

    # A camera shot: replaced, back on the 正页 (PRG); reload, Back and Forward send nothing again.
    form = page.locator("form", has=page.get_by_role("button", name="更换照片"))
    form.get_by_role("button", name="打开摄像头").click()
    take_shot(page, "form:has(#replace-camera-field)")
    form.get_by_role("button", name="更换照片").click()
    page.get_by_text("照片已更换。").wait_for()
    assert_sensible(page, re.escape(show_url) + "$", "licence-photo-replaced")
    moved(page, "reload")
    assert_sensible(page, re.escape(show_url) + "$", "licence-photo-replaced-reloaded")
    assert "后可更换" in page.get_by_text("当前照片：").inner_text()  # no form to send again for 6 months
    # The history holds the 正页 three times (opened, refused, replaced): each Back is the 正页 until 我的驾驶证.
    for step in (1, 2):
        moved(page, "go_back")
        assert_sensible(page, re.escape(show_url) + "$", f"licence-photo-back-{step}")
    moved(page, "go_back")
    assert_sensible(page, r"/licence/$", "licence-photo-back-to-index")
    for step in (1, 2, 3):
        moved(page, "go_forward")
        assert_sensible(page, re.escape(show_url) + "$", f"licence-photo-forward-{step}")
    page.locator("#qr-img[data-token]").wait_for()
    live_db.expire_all()
    assert live_db.get(ElectronicLicence, licence.id).photo_source == licence_rules.PHOTO_CAMERA
    assert errors == []
