"""Languages over HTTP (issue 16, SPEC §1): zh-CN by default with the SPEC's wording, English when the switch chose
it (a cookie, kept a year) or when Accept-Language prefers it; pages, flashes, form and validation messages, JSON
messages, error pages and the SMS and messages a holder receives follow, while the API's codes never change."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from
from tests.factories import CitizenFactory
from tests.http.test_licence_http import issue_directly, login, make_user
from tests.conftest import log_officer_in as login_officer
from tests.verification_support import make_officer
from webapp.accounts.models import User
from webapp.lazytext import _l
from webapp.notify.models import Message, SmsMessage

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def lang_of(resp) -> str:
    return re.search(r'<html lang="([^"]+)"', resp.get_data(as_text=True)).group(1)


def switch(client, lang: str, next_: str = "/"):
    return client.post("/account/language", data={"lang": lang, "next": next_})


def test_pages_are_in_chinese_when_nothing_is_chosen(client):
    resp = client.get("/")
    assert lang_of(resp) == "zh-CN"
    html = resp.get_data(as_text=True)
    assert "乘坐旅客列车临时身份证明" in html and "温馨服务" in html
    assert 'value="en" lang="en"' in html and ">English</button>" in html  # the switch offers the other language


@pytest.mark.parametrize("header, expected", [
    ("en-US,en;q=0.9", "en"), ("en", "en"), ("fr-FR,en;q=0.5", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh-TW,en;q=0.5", "zh-CN"), ("zh-HK", "zh-CN"), ("fr, de", "zh-CN"),
    ("", "zh-CN"), ("*", "zh-CN")])
def test_accept_language_picks_the_language_when_the_switch_was_not_used(client, header, expected):
    resp = client.get("/", headers={"Accept-Language": header})
    assert lang_of(resp) == expected
    assert ("Temporary ID for Train Travel" in resp.get_data(as_text=True)) is (expected == "en")


def test_pages_and_json_say_they_vary_by_language_for_caches(client):
    for resp in (client.get("/"), client.get("/offline"), client.post("/api/v1/verify", json={})):
        assert {"Accept-Language", "Cookie"} <= set(resp.vary), resp.vary


def test_switch_remembers_english_over_accept_language_and_returns_to_the_page(client):
    resp = switch(client, "en", "/travel-id/?from=switch")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/travel-id/?from=switch")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "Max-Age=31536000" in cookie and "HttpOnly" in cookie \
        and "SameSite=Lax" in cookie
    page = client.get("/travel-id/", headers={"Accept-Language": "zh-CN"})
    assert lang_of(page) == "en" and "Apply now" in page.get_data(as_text=True)
    back = switch(client, "zh-CN")
    assert back.headers["Set-Cookie"].startswith("lang=zh-CN;")
    assert lang_of(client.get("/", headers=ENGLISH)) == "zh-CN"


@pytest.mark.parametrize("data", [{"lang": "fr", "next": "/"}, {"next": "/"}, {"lang": "en" * 300}])
def test_switch_ignores_a_language_it_does_not_speak(client, data):
    resp = client.post("/account/language", data=data)
    assert resp.status_code == 303 and "Set-Cookie" not in resp.headers
    assert lang_of(client.get("/")) == "zh-CN"


@pytest.mark.parametrize("next_", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)"])
def test_switch_never_sends_the_browser_to_another_site(client, next_):
    resp = switch(client, "en", next_)
    assert resp.status_code == 303 and resp.headers["Location"] in ("/", "http://localhost/")


def test_signed_in_holder_gets_later_sms_and_messages_in_the_language_chosen(client, auth, db_session):
    user = make_user(db_session)
    licence = issue_directly(db_session, user)
    login(auth, user)
    switch(client, "en", "/licence/")
    db_session.expire_all()
    assert db_session.get(User, user.id).locale == "en"
    auth.logout()

    # A traffic officer working in Chinese records a seizure: the holder is told in English.
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    officer_client = client.application.test_client()
    login_officer(officer_client, officer)
    form = officer_client.get("/licence/officer/seize")
    assert lang_of(form) == "zh-CN"
    officer_client.post("/licence/officer/seize", data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                                        "id_number": user.citizen.id_number, "reason": "凭证 001"})
    message = db_session.scalars(select(Message).where(Message.citizen_id == user.citizen_id)
                                 .order_by(Message.id.desc())).first()
    assert message.body.startswith("Your driving licence has been withheld") and not HAN.search(message.body)
    sms = db_session.scalars(select(SmsMessage.body).where(SmsMessage.phone == user.citizen.phone)
                             .order_by(SmsMessage.id.desc())).first()
    assert sms == "【随身证】" + message.body
    assert licence.public_id  # the e-licence the holder saw is the one seized


def test_holder_who_never_chose_gets_chinese_messages_whatever_the_officer_reads(client, db_session):
    user = make_user(db_session)
    issue_directly(db_session, user)
    officer = make_officer(db_session, "traffic")
    db_session.commit()
    login_officer(client, officer)
    switch(client, "en", "/licence/officer/seize")  # an officer's choice changes no account
    form = client.get("/licence/officer/seize")
    assert lang_of(form) == "en" and "Record withholding" in form.get_data(as_text=True)
    client.post("/licence/officer/seize", data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                                "id_number": user.citizen.id_number, "reason": "No. 001"})
    body = db_session.scalars(select(Message.body).where(Message.citizen_id == user.citizen_id)
                              .order_by(Message.id.desc())).first()
    assert body == "您的机动车驾驶证已被公安交管部门扣留，电子驾驶证暂停使用。请按处罚决定书接受处理。"


def test_registration_and_sign_in_keep_the_language_of_the_form(client, auth, db_session):
    citizen = CitizenFactory()
    db_session.commit()
    switch(client, "en")
    resp = auth.register(citizen, phone="13900000031")
    assert resp.status_code == 302
    user = db_session.scalar(select(User).where(User.citizen_id == citizen.id))
    assert user.locale == "en"
    page = client.get(resp.headers["Location"])
    assert "Registered. Face verification unlocks every function." in page.get_data(as_text=True)  # the flash
    auth.logout()
    switch(client, "zh-CN")
    auth.login("13900000031")
    db_session.expire_all()
    assert db_session.get(User, user.id).locale == "zh_CN"


def test_form_and_validation_messages_follow_the_language(client):
    switch(client, "en")
    form = client.get("/account/login")
    resp = client.post("/account/login", data={"csrf_token": csrf_from(form.get_data(as_text=True)),
                                               "account": "1" * 70, "password": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code in (200, 400)
    assert "Field cannot be longer than 64 characters." in html  # WTForms' own message, in English
    assert "This field is required." in html  # ours
    assert not HAN.search(re.sub(r"<title>.*?</title>|随身证|lang=\"zh-CN\"[^>]*>[^<]*", "", html))


def test_csrf_failure_and_error_pages_are_in_english(client):
    switch(client, "en")
    resp = client.post("/account/login", data={"account": "x", "password": "y"})
    assert resp.status_code == 400 and "CSRF check failed" in resp.get_data(as_text=True)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)


def test_json_messages_follow_accept_language_and_codes_do_not(client):
    zh = client.post("/api/v1/verify", json={"qr": "not-a-token"}).get_json()
    en = client.post("/api/v1/verify", json={"qr": "not-a-token"}, headers=ENGLISH).get_json()
    assert zh["reason"] == en["reason"] == "malformed"
    assert zh["message"] == "无法识别的二维码，请扫描随身证页面上的二维码。"
    assert en["message"] == "Unrecognised QR code. Please scan the QR code on a 随身证 page."
    bad = client.post("/api/v1/verify", json={}, headers=ENGLISH).get_json()
    assert bad == {"error": "missing_qr", "message": "The qr field (the scanned QR code content) is missing."}


def test_english_json_is_the_translation_itself_not_its_html(app):
    """Lazy texts in JSON (jsonify, ``tojson``) are their translation as written: an apostrophe stays one (Flask's
    fallback for objects would write their HTML, ``&#39;``), and the Chinese characters of the ``str`` never show."""
    message = _l("本月申请次数已达上限（每人每自然月 %(quota)s 次）。%(paper)s", quota=3, paper=_l("；"))
    with app.test_request_context(headers=ENGLISH):
        assert json.loads(app.json.dumps({"m": [message]})) == {"m": [
            "You have reached this month's limit (3 per person per calendar month). ; "]}
    with app.test_request_context():
        assert json.loads(app.json.dumps({"m": message}))["m"] == "本月申请次数已达上限（每人每自然月 3 次）。；"


def test_scripts_get_the_translations_of_their_own_strings_only_in_english(client):
    zh = client.get("/travel-id/").get_data(as_text=True)
    assert 'id="i18n-messages"' not in zh
    switch(client, "en")
    en = client.get("/travel-id/").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="i18n-messages">(.*?)</script>', en, re.DOTALL).group(1)
    assert '"\\u6b63\\u5728\\u5b9a\\u4f4d\\u2026": "Locating\\u2026"' in block  # 正在定位… → Locating…


def test_a_registry_mismatch_is_told_in_english(client, db_session):
    citizen = CitizenFactory()
    db_session.commit()
    switch(client, "en")
    page = client.get("/travel-id/")
    resp = client.post("/travel-id/apply", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                 "name": citizen.name + "错", "id_number": citizen.id_number,
                                                 "latitude": "23.13", "longitude": "113.26"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "The name does not match the ID number, or this identity was not found" in html
    assert "人口库" not in html
