"""12123 accounts in headless Chromium (SPEC 5.1): online registration with 实人认证 through the fake camera; 实名认证
with an SMS code read from the outbox; the ID-card upload approved by a reviewer in another browser; 面签 at the
window and the first password set by SMS."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import officer_sign_in, open_page, shot, sign_in
from tests.testdata import SEQUENCES, face, needs_testdata
from tests.verification_support import make_officer
from webapp.accounts.models import User
from webapp.notify.models import SmsMessage

pytestmark = [pytest.mark.e2e]


def latest_code(live_db, phone: str) -> str:
    live_db.expire_all()
    body = live_db.scalars(select(SmsMessage.body).where(SmsMessage.phone == phone)
                           .order_by(SmsMessage.id.desc())).first()
    return re.search(r"验证码 (\d{6})", body).group(1)


def register(page, citizen, phone: str, password: str = factories.PASSWORD) -> None:
    page.goto("/account/register")
    page.get_by_label("姓名").fill(citizen.name)
    page.get_by_label("身份证号").fill(citizen.id_number)
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_label("确认密码").fill(password)
    page.get_by_role("button", name="注册").click()
    page.get_by_text("注册成功").wait_for()


@needs_testdata
def test_online_registration_with_realperson_through_the_fake_camera(camera_browser, live_server, live_db,
                                                                     s001_portrait):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    live_db.commit()
    browser = camera_browser(SEQUENCES / "genuine_blink_meds_s001.y4m")
    page, errors = open_page(browser, live_server, console=True, permissions=["camera"])
    register(page, citizen, "13912345678")
    page.goto("/account/")
    assert page.locator(".level--unverified").inner_text() == "未认证"
    shot(page, "account-unverified-options-360")
    page.get_by_role("link", name="实人认证（刷脸）").click()
    page.get_by_role("button", name="开始核验").click()
    page.wait_for_url(re.compile(r"/account/$"), timeout=30_000)
    assert page.locator(".level--realperson").inner_text() == "实人认证"
    assert not errors


def test_realname_by_sms_then_limited_account(browser, live_server, live_db):
    citizen = factories.CitizenFactory()
    live_db.commit()
    page, errors = open_page(browser, live_server, console=True)
    register(page, citizen, citizen.phone)
    page.goto("/account/")
    page.get_by_role("link", name="实名认证（短信验证）").click()
    masked = citizen.phone[:3] + "****" + citizen.phone[-4:]
    assert page.get_by_text(masked).is_visible()
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text(f"验证码已发送至 {masked}").wait_for()
    resend = page.get_by_role("button", name=re.compile(r"重新获取（\d+ 秒）"))
    assert resend.is_disabled()
    shot(page, "account-realname-code-sent-360")

    page.get_by_label("短信验证码").fill(latest_code(live_db, citizen.phone))
    page.get_by_role("button", name="提交认证").click()
    page.get_by_text("实名认证成功").wait_for()
    assert page.locator(".level--realname").inner_text() == "实名认证（功能受限）"
    page.goto("/licence/")
    assert page.get_by_text("需要完成实人认证").is_visible()
    assert page.get_by_role("link", name="上传身份证照片人工审核").is_visible()
    shot(page, "account-realname-limited-licence-360")
    assert not errors


def png(colour=(205, 205, 215), size=(856, 540)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@needs_testdata
def test_id_card_upload_approved_by_a_reviewer_in_another_browser(browser, live_server, live_db, s001_portrait,
                                                                  tmp_path):
    jpeg, encoding = s001_portrait
    citizen = factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)
    factories.UserFactory(citizen=citizen, phone=citizen.phone, level="realname")
    reviewer = make_officer(live_db, "reviewer")
    live_db.commit()
    front, back = tmp_path / "front.jpg", tmp_path / "back.png"
    front.write_bytes(face("meds-aa-S001-01.jpg"))
    back.write_bytes(png())

    holder, errors = open_page(browser, live_server, console=True)
    sign_in(holder, citizen.phone)
    holder.goto("/account/")
    holder.get_by_role("link", name="上传身份证照片人工审核").click()
    holder.get_by_label("身份证人像面").set_input_files(str(front))
    holder.get_by_label("身份证国徽面").set_input_files(str(back))
    shot(holder, "account-id-card-upload-360")
    holder.get_by_role("button", name="提交人工审核").click()
    holder.get_by_text("身份证照片已提交").wait_for()
    assert holder.get_by_text("身份证照片人工审核中").is_visible()

    desk, desk_errors = open_page(browser, live_server, console=True)
    officer_sign_in(desk, reviewer.username)
    desk.get_by_role("link", name="身份证照片审核").click()
    assert desk.get_by_text(citizen.name).is_visible()
    assert desk.get_by_text("人像面照片与人口库照片相似").is_visible()
    shot(desk, "officer-id-card-review-360")
    desk.get_by_role("button", name="审核通过").click()
    desk.get_by_text("已审核通过，账号已实人认证").wait_for()

    holder.goto("/account/")
    assert holder.locator(".level--realperson").inner_text() == "实人认证"
    holder.goto("/messages")
    assert holder.get_by_text("您提交的身份证照片已审核通过").is_visible()
    shot(holder, "messages-360")
    assert not errors and not desk_errors


def test_face_to_face_at_the_window_then_the_holder_sets_a_password_by_sms(browser, live_server, live_db):
    citizen = factories.CitizenFactory()
    officer = make_officer(live_db, "traffic")
    live_db.commit()
    desk, desk_errors = open_page(browser, live_server, console=True)
    officer_sign_in(desk, officer.username)
    desk.get_by_role("link", name="面签注册").click()
    desk.get_by_label("姓名").fill(citizen.name)
    desk.get_by_label("身份证号").fill(citizen.id_number)
    desk.get_by_label("手机号码").fill("13788889999")
    desk.get_by_label("已核对申请人本人与身份证原件、人口库照片一致").check()
    shot(desk, "officer-face-to-face-360")
    desk.get_by_role("button", name="面签注册").click()
    desk.get_by_text("面签完成").wait_for()
    live_db.expire_all()
    assert live_db.scalars(select(User.level).where(User.phone == "13788889999")).one() == "realperson"

    holder, errors = open_page(browser, live_server, console=True)
    holder.goto("/account/login")
    holder.get_by_role("link", name="忘记密码").click()
    holder.get_by_label("手机号码").fill("13788889999")
    holder.get_by_role("button", name="获取验证码").click()
    holder.get_by_text("如该手机号已注册，验证码已发送").wait_for()
    holder.get_by_label("短信验证码").fill(latest_code(live_db, "13788889999"))
    holder.get_by_label("新密码", exact=True).fill("firstpassw0rd")
    holder.get_by_label("确认新密码").fill("firstpassw0rd")
    shot(holder, "account-set-password-360")
    holder.get_by_role("button", name="设置密码").click()
    holder.get_by_text("密码已设置").wait_for()
    holder.get_by_label("手机号或身份证号").fill("13788889999")
    holder.get_by_label("密码").fill("firstpassw0rd")
    holder.get_by_role("button", name="登录").click()
    holder.goto("/account/")
    assert holder.locator(".level--realperson").inner_text() == "实人认证"
    assert not errors and not desk_errors
