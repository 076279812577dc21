"""12123 account variants over HTTP with CSRF on (SPEC 5.1): 实名认证 by an SMS code to the phone on file (a limited
account), 忘记密码, the ID-card upload decided by a reviewer, 面签 by an officer, the 消息 list, the SMS outbox and
Web Push delivered (encrypted, VAPID-signed) to a push endpoint run by the test."""
from __future__ import annotations

import base64
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tests.factories import CitizenFactory, UserFactory
from tests.testdata import face, needs_testdata
from tests.verification_support import make_officer
from webapp.accounts.models import IdentityReview, User
from webapp.accounts.rules import LEVEL_REALNAME, LEVEL_REALPERSON, LEVEL_UNVERIFIED
from webapp.notify.models import Message, PushSubscription, SmsMessage

PASSWORD = "passw0rd1"


def sms_code(db_session, phone: str) -> str:
    body = db_session.scalars(select(SmsMessage.body).where(SmsMessage.phone == phone)
                              .order_by(SmsMessage.id.desc())).first()
    return re.search(r"验证码 (\d{6})", body).group(1)


def sms_count(db_session, phone: str | None = None) -> int:
    query = select(func.count(SmsMessage.id))
    if phone:
        query = query.where(SmsMessage.phone == phone)
    return db_session.scalar(query)


def unverified_user(db_session, *, same_phone: bool = True, level: str = LEVEL_UNVERIFIED, portrait=(None, None)):
    citizen = CitizenFactory(portrait=portrait[0], portrait_encoding=portrait[1])
    user = UserFactory(citizen=citizen, level=level, **({"phone": citizen.phone} if same_phone else {}))
    db_session.commit()
    return user


def post_form(client, path: str, data: dict, files: dict | None = None):
    page = client.get(path).get_data(as_text=True)
    # A page that shows no form (a refusal, a pending review) still needs the session's token to post to.
    token = csrf_from(page if 'name="csrf_token"' in page else client.get("/account/").get_data(as_text=True))
    payload = {"csrf_token": token, **data, **(files or {})}
    return client.post(path, data=payload, content_type="multipart/form-data" if files else None)


def login(auth, user, password=PASSWORD):
    assert auth.login(user.phone, password).status_code == 302


# --- 实名认证 by SMS ---------------------------------------------------------------------------------------------
def test_realname_by_sms_code_gives_a_limited_account(client, auth, db_session, clock):
    user = unverified_user(db_session)
    login(auth, user)
    page = client.get("/account/realname").get_data(as_text=True)
    assert user.phone[:3] + "****" + user.phone[-4:] in page and user.phone not in page

    assert post_form(client, "/account/realname", {"send": "1"}).status_code == 302
    assert sms_count(db_session, user.phone) == 1
    code = sms_code(db_session, user.phone)
    # The resend button waits for the cool-down: on the page, and on the server.
    assert 'data-cooldown="60"' in client.get("/account/realname").get_data(as_text=True)
    again = post_form(client, "/account/realname", {"send": "1"})
    assert again.status_code == 400 and "60 秒后再重新获取" in again.get_data(as_text=True)
    assert sms_count(db_session, user.phone) == 1

    wrong = post_form(client, "/account/realname", {"code": f"{(int(code) + 1) % 10**6:06d}", "submit": "1"})
    assert wrong.status_code == 400 and "验证码错误，还可尝试 4 次" in wrong.get_data(as_text=True)
    done = post_form(client, "/account/realname", {"code": code, "submit": "1"})
    assert done.status_code == 302 and done.headers["Location"] == "/account/"
    db_session.expire_all()
    assert (db_session.get(User, user.id).level, db_session.get(User, user.id).verified_by) == (LEVEL_REALNAME, "sms")

    # Limited: the e-licence still asks for 实人认证, and offers the ID-card review.
    licence = client.get("/licence/").get_data(as_text=True)
    assert "需要完成实人认证" in licence and 'href="/account/id-card"' in licence
    profile = client.get("/account/").get_data(as_text=True)
    assert "实名认证（功能受限）" in profile and "功能受限" in profile


def test_realname_is_refused_when_the_account_phone_is_not_the_phone_on_file(client, auth, db_session):
    user = unverified_user(db_session, same_phone=False)
    login(auth, user)
    page = client.get("/account/realname").get_data(as_text=True)
    assert "不一致" in page and 'name="code"' not in page
    resp = client.post("/account/realname", data={"csrf_token": auth.csrf("/account/"), "send": "1"})
    assert resp.status_code == 400 and sms_count(db_session) == 0


def test_a_code_request_without_csrf_writes_nothing(client, auth, db_session):
    user = unverified_user(db_session)
    login(auth, user)
    resp = client.post("/account/realname", data={"send": "1"})
    assert resp.status_code == 400 and "页面已过期" in resp.get_data(as_text=True)
    assert sms_count(db_session) == 0


# --- 忘记密码 ---------------------------------------------------------------------------------------------------
def _observed(resp, phone: str) -> tuple:
    """What the visitor sees: status, redirect and the page without its CSRF token and the echoed phone."""
    html = re.sub(r'value="[^"]{40,}"', "", resp.get_data(as_text=True)).replace(phone, "PHONE")
    return resp.status_code, resp.headers.get("Location"), html


def test_forgotten_password_answers_the_same_for_a_phone_without_an_account(app, db_session, clock):
    """Issue 12: the first request, a second one inside the cool-down, a wrong code and the quota answer must
    not tell a registered phone from one nobody has (each from its own browser, as an attacker would)."""
    user = unverified_user(db_session)
    seen = {}
    for n, phone in enumerate((user.phone, "13712340000")):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"  # the per-IP limit is not what is tested here
        steps = [post_form(browser, "/account/password", {"phone": phone, "send": "1"}),
                 post_form(browser, "/account/password", {"phone": phone, "send": "1"}),
                 post_form(browser, "/account/password", {"phone": phone, "code": "000000", "password": "newpassw0rd",
                                                          "confirm": "newpassw0rd", "submit": "1"})]
        for i in range(5):  # past the cool-down each time, until the hourly quota answers
            clock.advance(seconds=61)
            browser.environ_base["REMOTE_ADDR"] = f"10.0.{n + 1}.{i + 1}"
            steps.append(post_form(browser, "/account/password", {"phone": phone, "send": "1"}))
        seen[phone] = [_observed(r, phone) for r in steps]
    known, unknown = seen[user.phone], seen["13712340000"]
    assert [k[0] for k in known] == [200, 400, 400, 200, 200, 200, 200, 400]
    assert "秒后再重新获取" in known[1][2] and "验证码错误，还可尝试 4 次" in known[2][2]
    assert "请 1 小时后再试" in known[-1][2]
    assert known == unknown


def test_reset_password_with_an_sms_code(client, auth, db_session):
    user = unverified_user(db_session)
    unknown = post_form(client, "/account/password", {"phone": "13700000000", "send": "1"})
    known = post_form(client, "/account/password", {"phone": user.phone, "send": "1"})
    # The same answer either way: the page does not tell who has an account.
    assert unknown.status_code == known.status_code == 200
    assert "如该手机号已注册，验证码已发送" in unknown.get_data(as_text=True)
    assert "如该手机号已注册，验证码已发送" in known.get_data(as_text=True)
    # Each phone gets one SMS; the one without an account is told so, with no code in it.
    assert sms_count(db_session, "13700000000") == 1 and sms_count(db_session, user.phone) == 1
    no_account = db_session.scalars(select(SmsMessage.body).where(SmsMessage.phone == "13700000000")).one()
    assert "未注册" in no_account and not re.search(r"\d{6}", no_account)
    code = sms_code(db_session, user.phone)

    weak = post_form(client, "/account/password", {"phone": user.phone, "code": code, "password": "short",
                                                   "confirm": "short", "submit": "1"})
    assert weak.status_code == 400 and "密码至少 8 位" in weak.get_data(as_text=True)
    done = post_form(client, "/account/password", {"phone": user.phone, "code": code, "password": "newpassw0rd",
                                                   "confirm": "newpassw0rd", "submit": "1"})
    assert done.status_code == 302 and done.headers["Location"] == "/account/login"
    assert auth.login(user.phone, PASSWORD).status_code == 400
    assert auth.login(user.phone, "newpassw0rd").status_code == 302
    reuse = post_form(client, "/account/password", {"phone": user.phone, "code": code, "password": "other1pass",
                                                    "confirm": "other1pass", "submit": "1"})
    assert reuse.status_code == 400 and "验证码" in reuse.get_data(as_text=True)


# --- ID card for manual review ------------------------------------------------------------------------------
def plain_png(colour=(200, 200, 210), size=(640, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def upload(client, front: bytes, back: bytes, front_type="image/jpeg"):
    return post_form(client, "/account/id-card", {}, files={
        "front": (io.BytesIO(front), "front.jpg", front_type), "back": (io.BytesIO(back), "back.png", "image/png")})


class PushReceiver:
    """A push service endpoint on loopback: keeps what arrives (headers and the aes128gcm body)."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = b"0123456789abcdef"
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}/push/subscription-1"

    def subscription(self) -> dict:
        public = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
        b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push(app):
    from py_vapid import Vapid02

    from webapp.notify.gateway import WebPush
    from webapp.notify.rules import PushEndpointPolicy

    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    app.config.update(SUISHEN_VAPID_PUBLIC_KEY=b64(public), SUISHEN_VAPID_PRIVATE_KEY=b64(private))
    # The receiver is plain http on loopback, which the real policy refuses (tests/http/test_push_http.py):
    # this test is about delivery, so it loosens the policy in code; no setting can.
    app.extensions["notifier"].web_push = WebPush(app.config, policy=PushEndpointPolicy(
        allowed_hosts=(), schemes=("http",), ports=None, public_only=False))
    receiver = PushReceiver()
    receiver.vapid_public = b64(public)
    yield receiver
    receiver.close()


def subscribe(client, subscription: dict, with_csrf: bool = True):
    page = client.get("/messages").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    headers = {"X-CSRFToken": token} if with_csrf else {}
    return client.post("/messages/push", json=subscription, headers=headers)


@needs_testdata
def test_id_card_review_approved_by_a_reviewer_makes_a_full_account_and_tells_the_holder(
        client, auth, db_session, clock, s001_portrait, push, officer_login):
    user = unverified_user(db_session, level=LEVEL_REALNAME, portrait=s001_portrait)
    login(auth, user)
    page = client.get("/messages").get_data(as_text=True)
    assert f'data-key="{push.vapid_public}"' in page
    assert subscribe(client, push.subscription(), with_csrf=False).status_code == 400
    assert subscribe(client, push.subscription()).get_json() == {"subscribed": True}

    resp = upload(client, face("meds-aa-S001-01.jpg"), plain_png())
    assert resp.status_code == 302
    profile = client.get("/account/").get_data(as_text=True)
    # Friday 2026-11-20 10:00 Beijing → due by the end of Monday 11-23.
    assert "身份证照片人工审核中" in profile and "2026-11-23 23:59" in profile
    again = upload(client, face("meds-aa-S001-01.jpg"), plain_png())
    assert again.status_code == 409 and "正在审核中" in again.get_data(as_text=True)
    auth.logout()

    reviewer = make_officer(db_session, "reviewer")
    db_session.commit()
    assert officer_login(client, reviewer).status_code == 302
    queue = client.get("/officer/accounts/reviews").get_data(as_text=True)
    assert user.citizen.name in queue and "人像面照片与人口库照片相似" in queue and user.citizen.id_number not in queue
    review = db_session.scalars(select(IdentityReview)).one()
    token = csrf_from(queue)
    resp = client.post(f"/officer/accounts/reviews/{review.public_id}", data={"csrf_token": token, "approve": "1"})
    assert resp.status_code == 302
    db_session.expire_all()
    assert (db_session.get(User, user.id).level, db_session.get(User, user.id).verified_by) == (
        LEVEL_REALPERSON, "id_card_review")
    # Told three ways: in-app message, SMS to the phone on file, Web Push to the subscribed browser.
    assert "已审核通过" in db_session.scalars(select(Message.body)).one()
    assert "已审核通过" in db_session.scalars(select(SmsMessage.body).order_by(SmsMessage.id.desc())).first()
    (headers, body), = push.received
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=") and f"k={push.vapid_public}" in headers["authorization"]
    assert push.decrypt(body) == {"title": "随身证", "url": "/account/",
                                  "body": "您提交的身份证照片已审核通过，账号已完成实人认证，可使用全部功能。"}
    # A second decision on the same review is refused.
    resp = client.post(f"/officer/accounts/reviews/{review.public_id}",
                       data={"csrf_token": token, "reject": "1", "reason": "照片模糊"}, follow_redirects=True)
    assert "该申请已被审核" in resp.get_data(as_text=True)


@needs_testdata
def test_a_rejection_needs_a_reason_and_the_holder_can_upload_again(client, auth, db_session, s001_portrait, officer_login):
    user = unverified_user(db_session, level=LEVEL_REALNAME, portrait=s001_portrait)
    login(auth, user)
    assert upload(client, face("meds-aa-S029-01.jpg"), plain_png()).status_code == 302
    auth.logout()
    reviewer = make_officer(db_session, "reviewer")
    db_session.commit()
    officer_login(client, reviewer)
    queue = client.get("/officer/accounts/reviews").get_data(as_text=True)
    assert "差异较大" in queue  # S029's face on S001's account
    review = db_session.scalars(select(IdentityReview)).one()
    token = csrf_from(queue)
    no_reason = client.post(f"/officer/accounts/reviews/{review.public_id}", data={"csrf_token": token, "reject": "1"},
                            follow_redirects=True)
    assert "请填写不通过的原因" in no_reason.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(IdentityReview, review.id).status == "pending"
    client.post(f"/officer/accounts/reviews/{review.public_id}",
                data={"csrf_token": token, "reject": "1", "reason": "人像面照片与本人不符"})
    db_session.expire_all()
    assert db_session.get(IdentityReview, review.id).status == "rejected"
    assert db_session.get(User, user.id).level == LEVEL_REALNAME
    client.post("/officer/logout", data={"csrf_token": token})

    login(auth, user)
    assert "人像面照片与本人不符" in client.get("/account/").get_data(as_text=True)
    assert "人像面照片与本人不符" in client.get("/messages").get_data(as_text=True)
    assert upload(client, face("meds-aa-S001-01.jpg"), plain_png()).status_code == 302
    assert db_session.scalar(select(func.count(IdentityReview.id))) == 2


@pytest.mark.parametrize("front, front_type, message", [
    (b"%PDF-1.4 not an image", "image/jpeg", "照片无法识别"),
    (b"GIF89a....", "image/gif", "格式不支持"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image/jpeg", "照片无法识别"),  # a JPEG cut short
])
def test_unusable_id_card_photos_are_refused_and_nothing_is_queued(client, auth, db_session, front, front_type,
                                                                   message):
    user = unverified_user(db_session, level=LEVEL_REALNAME)
    login(auth, user)
    resp = upload(client, front, plain_png(), front_type=front_type)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db_session.scalar(select(func.count(IdentityReview.id))) == 0


def test_a_decompression_bomb_id_card_photo_is_refused(client, auth, db_session):
    user = unverified_user(db_session, level=LEVEL_REALNAME)
    login(auth, user)
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")  # ~50 KB on disk, 400 Mpx decoded
    resp = upload(client, out.getvalue(), plain_png())
    assert resp.status_code == 400 and "照片无法识别" in resp.get_data(as_text=True)
    assert db_session.scalar(select(func.count(IdentityReview.id))) == 0


def test_an_unverified_account_must_pass_realname_before_uploading(client, auth, db_session):
    user = unverified_user(db_session)
    login(auth, user)
    page = client.get("/account/id-card").get_data(as_text=True)
    assert "请先完成实名认证" in page and 'href="/account/realname"' in page
    resp = upload(client, plain_png(), plain_png())
    assert resp.status_code == 400 and db_session.scalar(select(func.count(IdentityReview.id))) == 0


# --- 面签 -----------------------------------------------------------------------------------------------------
def test_face_to_face_registration_creates_a_full_account_that_sets_its_password_by_sms(client, auth, db_session, officer_login):
    citizen = CitizenFactory()
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    officer_login(client, officer)
    home = client.get("/officer/").get_data(as_text=True)
    assert 'href="/officer/accounts/face-to-face"' in home
    form = {"name": citizen.name, "id_number": citizen.id_number, "phone": "13712345678"}
    unchecked = post_form(client, "/officer/accounts/face-to-face", form)
    assert unchecked.status_code == 400 and "请先核对" in unchecked.get_data(as_text=True)
    wrong = post_form(client, "/officer/accounts/face-to-face", {**form, "name": "王五", "checked": "y"})
    assert wrong.status_code == 400
    assert db_session.scalar(select(func.count(User.id))) == 0
    done = post_form(client, "/officer/accounts/face-to-face", {**form, "checked": "y"})
    assert done.status_code == 302
    user = db_session.scalars(select(User)).one()
    assert (user.level, user.verified_by, user.phone) == (LEVEL_REALPERSON, "face_to_face", "13712345678")
    assert "忘记密码" in db_session.scalars(select(SmsMessage.body).where(SmsMessage.phone == "13712345678")).one()
    client.post("/officer/logout", data={"csrf_token": csrf_from(home)})

    # No password works until the holder sets one with a code to that phone.
    assert auth.login("13712345678", "!").status_code == 400
    post_form(client, "/account/password", {"phone": "13712345678", "send": "1"})
    code = sms_code(db_session, "13712345678")
    post_form(client, "/account/password", {"phone": "13712345678", "code": code, "password": "firstpassw0rd",
                                            "confirm": "firstpassw0rd", "submit": "1"})
    assert auth.login("13712345678", "firstpassw0rd").status_code == 302
    assert "实人认证" in client.get("/account/").get_data(as_text=True)


def test_face_to_face_raises_an_existing_account_and_refuses_someone_elses_phone(client, db_session, officer_login):
    user = unverified_user(db_session)
    other = UserFactory()
    officer = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, officer)
    taken = post_form(client, "/officer/accounts/face-to-face", {
        "name": user.citizen.name, "id_number": user.citizen.id_number, "phone": other.phone, "checked": "y"})
    assert taken.status_code == 409 and "已被其他账号使用" in taken.get_data(as_text=True)
    ok = post_form(client, "/officer/accounts/face-to-face", {
        "name": user.citizen.name, "id_number": user.citizen.id_number, "phone": user.phone, "checked": "y"})
    assert ok.status_code == 302
    db_session.expire_all()
    assert db_session.get(User, user.id).level == LEVEL_REALPERSON
    assert db_session.scalar(select(func.count(User.id))) == 2


# --- 消息, the outbox, push subscriptions -----------------------------------------------------------------------
def test_messages_are_the_holders_own_and_opening_the_list_marks_them_read(client, auth, db_session, clock,
                                                                          notifier):
    mine, theirs = unverified_user(db_session), unverified_user(db_session)
    notifier.notify(db_session, mine.citizen, "给我的消息", clock.now())
    notifier.notify(db_session, theirs.citizen, "给别人的消息", clock.now())
    db_session.commit()
    login(auth, mine)
    assert "1 条未读" in client.get("/account/").get_data(as_text=True)
    page = client.get("/messages").get_data(as_text=True)
    assert "给我的消息" in page and "未读" in page and "给别人的消息" not in page
    assert "未读" not in client.get("/messages").get_data(as_text=True)
    assert "条未读" not in client.get("/account/").get_data(as_text=True)


def test_the_outbox_page_is_for_administrators(client, db_session, clock, notifier, officer_login):
    citizen = CitizenFactory()
    notifier.notify(db_session, citizen, "测试短信", clock.now())
    admin = make_officer(db_session, "admin")
    db_session.commit()
    officer_login(client, admin)
    page = client.get("/officer/sms-outbox").get_data(as_text=True)
    assert "【随身证】测试短信" in page and citizen.phone not in page  # masked unless searched by number
    assert citizen.phone in client.get(f"/officer/sms-outbox?phone={citizen.phone}").get_data(as_text=True)


@pytest.mark.parametrize("body", [None, [], {"endpoint": 5}, {"endpoint": "https://push.example/x"},
                                  {"endpoint": "ftp://x", "keys": {"p256dh": "a" * 87, "auth": "b" * 22}},
                                  {"endpoint": "https://push.example/x", "keys": {"p256dh": "a", "auth": "b"}}])
def test_bad_push_subscriptions_get_a_json_400_and_nothing_is_kept(client, auth, db_session, body):
    user = unverified_user(db_session)
    login(auth, user)
    headers = {"X-CSRFToken": auth.csrf("/account/")}
    resp = client.post("/messages/push", data=json.dumps(body), content_type="application/json", headers=headers)
    assert resp.status_code == 400 and resp.is_json and resp.get_json()["error"] == "bad_subscription"
    assert db_session.scalar(select(func.count(PushSubscription.id))) == 0
