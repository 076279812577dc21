"""Hostile submissions to every POST route, table-driven from ``app.url_map``.

For each POST route: without the CSRF token → 400 with the CSRF message; missing fields and wrong types → 400
with a message; a body over MAX_CONTENT_LENGTH → 413; and for every upload field a non-image, a huge file, a PNG
decompression bomb (a 20000 × 20000 px PNG of a few KB) and a truncated JPEG → a clear 4xx, never a 500. In
every case nothing is written: the row count of every table is the same before and after.

A new POST route fails ``test_every_post_route_has_an_entry`` until it has an entry in ``POST_ROUTES``.
"""
from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

import webapp.models  # noqa: F401 - every table in the metadata
from tests.conftest import csrf_from, log_officer_in, make_notifier
from tests.factories import PASSWORD, CitizenFactory, LicenceFactory, UserFactory
from tests.verification_support import FAKE_JPEG, make_officer
from webapp.accounts.models import IdentityReview
from webapp.accounts.rules import LEVEL_REALNAME, LEVEL_REALPERSON
from webapp.db import Base
from webapp.driving_licence import services as licence_services
from webapp.proofing import services as proofing_services
from webapp.proofing.rules import Policy

# Small, so the oversized body costs little to send; the app's own default is SUISHEN_MAX_UPLOAD (8 MiB).
MAX_BODY = 512 * 1024
CSRF_MESSAGE = "CSRF"
REQUIRED = "此项为必填项"


# --- hostile files --------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 20000) -> bytes:
    """A valid 1-bit PNG of side × side pixels (400 Mpx, 50 MB of pixels) that is a few KB on the wire."""
    row = b"\x00" + b"\x00" * (side // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 500) for _ in range(side // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((320, 240), 60).convert("RGB").save(out, "JPEG", quality=90)
    data = out.getvalue()
    return data[: len(data) // 2]


HOSTILE_FILES = {
    "not_an_image": (b"MZ\x90\x00 this is not a picture at all" * 40, "photo.jpg", "image/jpeg"),
    "huge": (b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_BODY + 1024), "huge.jpg", "image/jpeg"),
    "png_bomb": (png_bomb(), "bomb.png", "image/png"),
    "truncated_jpeg": (truncated_jpeg(), "cut.jpg", "image/jpeg"),
}


# --- the world every route is tried in ------------------------------------------------------------------

@dataclass
class World:
    citizen_user: object  # 实人 account with an active e-licence
    applicant: object     # 实人 account with a licence record and no e-licence yet
    unverified: object    # a new account (实名认证 by SMS next)
    realname: object      # a 实名 account (limited; may upload its ID card for review)
    licence_public_id: str
    pending_public_id: str
    challenge_public_id: str
    officers: dict
    review_public_id: str = ""  # a pending manual identity review (ID-card photos) of another 实名 account


@pytest.fixture
def world(app, db_session, clock) -> World:
    now = clock.now()
    user = UserFactory(level=LEVEL_REALPERSON, citizen=CitizenFactory(portrait=FAKE_JPEG,
                                                                     portrait_encoding=b"\x00" * 1024))
    LicenceFactory(citizen=user.citizen)
    applicant = UserFactory(level=LEVEL_REALPERSON, citizen=CitizenFactory(portrait=FAKE_JPEG,
                                                                          portrait_encoding=b"\x00" * 1024))
    LicenceFactory(citizen=applicant.citizen)
    unverified = UserFactory()
    realname_citizen = CitizenFactory(portrait=FAKE_JPEG)
    realname = UserFactory(citizen=realname_citizen, phone=realname_citizen.phone, level=LEVEL_REALNAME)
    other = LicenceFactory(citizen=CitizenFactory(portrait=FAKE_JPEG))
    with app.app_context():  # issuing notifies the holder through the app's gateways
        licence = licence_services.apply(db_session, citizen=user.citizen, user_id=user.id, photo_source="system",
                                         photo=None, now=now, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, licence, now, None, notifier=make_notifier())
        pending = licence_services.apply(db_session, citizen=other.citizen, user_id=None, photo_source="album",
                                         photo=FAKE_JPEG, now=now, cities=None, notifier=make_notifier())
        licence_services.proven(db_session, pending, now, None, notifier=make_notifier())
    challenge = proofing_services.start(db_session, citizen=user.citizen, purpose="travel_id_view", now=now,
                                        policy=Policy.from_setting("blink,match", 0.6), next_url="/",
                                        fallback_url=None)
    officers = {role: make_officer(db_session, role) for role in ("traffic", "reviewer", "police")}
    reviewed = UserFactory(level=LEVEL_REALNAME)
    review = IdentityReview(public_id="review-pending-1", user=reviewed, status="pending", front=FAKE_JPEG,
                            back=FAKE_JPEG, submitted_at=now, due_at=now + timedelta(days=1))
    db_session.add(review)
    db_session.commit()
    return World(user, applicant, unverified, realname, licence.public_id, pending.public_id, challenge.public_id,
                 officers, review.public_id)


def _login(client, user) -> None:
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    resp = client.post("/account/login", data={"csrf_token": token, "account": user.phone, "password": PASSWORD})
    assert resp.status_code == 302


def as_citizen(client, world: World) -> None:
    _login(client, world.citizen_user)


def as_applicant(client, world: World) -> None:
    _login(client, world.applicant)


def as_unverified(client, world: World) -> None:
    _login(client, world.unverified)


def as_realname(client, world: World) -> None:
    _login(client, world.realname)


def as_officer(role: str) -> Callable:
    def sign_in(client, world: World) -> None:
        assert log_officer_in(client, world.officers[role]).status_code == 302
    return sign_in


def owns_challenge(client, world: World) -> None:
    with client.session_transaction() as session:
        session["proofing"] = [world.challenge_public_id]


def anonymous(client, world: World) -> None:
    pass


@dataclass
class Post:
    """How to submit one POST route: who, where, a well-formed body (without its CSRF token), and the bad ones.

    ``bad`` items are (what, form fields, files, message fragment expected in the answer); each must get a 400.
    ``uploads`` names the file fields that get the hostile files; ``json_errors`` marks an endpoint answering JSON.
    """

    url: str
    who: Callable = anonymous
    fields: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    bad: list = field(default_factory=list)
    uploads: dict = field(default_factory=dict)  # file field → extra form fields sent with it
    csrf_header: bool = False
    json_errors: bool = False
    json_body: bool = False  # the fields are sent as a JSON body (with the token in X-CSRFToken)
    csrf_exempt: str | None = None  # why, when the route takes no form


GOOD_JPEG = (FAKE_JPEG, "me.jpg", "image/jpeg")

POST_ROUTES: dict[str, Post] = {
    "accounts.login": Post(
        "/account/login", fields={"account": "13900000001", "password": "passw0rd1"},
        bad=[("missing", {}, {}, REQUIRED),
             ("too long", {"account": "1" * 300, "password": "p" * 300}, {}, "")]),
    "accounts.register": Post(
        "/account/register",
        fields={"name": "张三", "id_number": "11010519491231002X", "phone": "13900000009", "password": "passw0rd1",
                "confirm": "passw0rd1"},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"name": "张三", "id_number": "not-a-number", "phone": "phone", "password": "x",
                              "confirm": "y"}, {}, "两次输入的密码不一致")]),
    "accounts.logout": Post("/account/logout", who=as_citizen),
    "officer.login": Post(
        "/officer/login", fields={"username": "traffic1", "password": "Officer-passw0rd"},
        bad=[("missing", {}, {}, REQUIRED), ("too long", {"username": "u" * 300, "password": "p"}, {}, "")]),
    "officer.logout": Post("/officer/logout", who=as_officer("police")),
    "officer.paper": Post(
        "/officer/paper", who=as_officer("police"),
        fields={"name": "张三", "id_number": "11010519491231002X", "issuing_station": "北京西站"},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"name": "张三", "id_number": "ABCDEFGHIJKLMNOPQR", "issuing_station": "北京西站"}, {},
              "身份证号")]),
    "driving_licence.seize": Post(
        "/licence/officer/seize", who=as_officer("traffic"),
        fields={"id_number": "11010519491231002X", "reason": "扣留决定书 0001"},
        bad=[("missing", {}, {}, REQUIRED), ("wrong types", {"id_number": "12345", "reason": "x"}, {}, "身份证号")]),
    "driving_licence.decide": Post(
        "/licence/review/{pending}", who=as_officer("reviewer"), fields={"approve": "审核通过"},
        bad=[("missing", {}, {}, "请填写不通过的原因"),
             ("too long", {"reject": "不通过", "reason": "因" * 600}, {}, "最多 500 字")]),
    "driving_licence.apply": Post(
        "/licence/apply", who=as_applicant, fields={"photo_source": "system"},
        bad=[("wrong types", {"photo_source": "selfie"}, {}, "照片来源无效"),
             ("missing file", {"photo_source": "album"}, {}, "请选择或拍摄一张照片")],
        uploads={"album": {"photo_source": "album"}, "camera": {"photo_source": "camera"}}),
    "driving_licence.replace_photo": Post(
        "/licence/{licence}/photo", who=as_citizen, fields={"photo_source": "camera"}, files={"camera": GOOD_JPEG},
        bad=[("missing", {}, {}, "请选择或拍摄一张照片"),  # the source defaults to the camera
             ("wrong types", {"photo_source": "system"}, {}, "请选择照片来源并上传照片"),
             ("missing file", {"photo_source": "album"}, {}, "请选择或拍摄一张照片")],
        uploads={"album": {"photo_source": "album"}, "camera": {"photo_source": "camera"}}),
    "demo.enrol": Post(
        "/demo/enrol", fields={"name": "李四", "phone": "13900000077", "with_licence": "y"},
        files={"portrait": GOOD_JPEG},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"name": "李四", "phone": "not a phone", "id_number": "42"}, {"portrait": GOOD_JPEG},
              "身份证号")],
        uploads={"portrait": {"name": "李四", "phone": "13900000077"}}),
    "travel_id.apply": Post(
        "/travel-id/apply", fields={"name": "张三", "id_number": "11010519491231002X", "latitude": "23.13",
                                    "longitude": "113.26"},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"name": "张三", "id_number": "11010519491231002X", "latitude": "north",
                              "longitude": "[]"}, {}, "")]),
    "proofing.frames": Post(
        "/proofing/{challenge}/frames", who=owns_challenge, files={"blink": GOOD_JPEG}, csrf_header=True,
        json_errors=True,
        bad=[("missing", {}, {}, "没有收到画面"), ("wrong types", {"blink": "not a file"}, {}, "没有收到画面")],
        uploads={"blink": {}}),
    "proofing.flash": Post(
        "/proofing/{challenge}/flash", who=owns_challenge, json_body=True, json_errors=True, fields={"step": 0},
        bad=[("missing", {}, {}, "炫彩步骤无效"), ("wrong types", {"step": "0"}, {}, "炫彩步骤无效"),
             ("too long", {"step": 10 ** 40}, {}, "炫彩步骤无效")]),
    "proofing.retry": Post("/proofing/{challenge}/retry", who=owns_challenge),
    "proofing.start": Post(
        "/proofing/start", fields={"token": "not-pending"},
        bad=[("missing", {}, {}, "核验请求已失效"), ("wrong types", {"token": "x" * 5000}, {}, "核验请求已失效")]),
    "shell.toggle_large_text": Post("/settings/large-text", fields={"next": "/"}),
    "accounts.realname": Post(
        "/account/realname", who=as_unverified, fields={"code": "123456", "submit": "提交认证"},
        bad=[("wrong types", {"code": "1234567890", "submit": "提交认证"}, {}, "")]),
    "accounts.reset_password": Post(
        "/account/password", fields={"phone": "13900000001", "code": "123456", "password": "passw0rd1",
                                     "confirm": "passw0rd1", "submit": "设置密码"},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"phone": "13900000001", "password": "a", "confirm": "b"}, {}, "两次输入的密码不一致")]),
    "accounts.id_card": Post(
        "/account/id-card", who=as_realname, files={"front": GOOD_JPEG, "back": GOOD_JPEG},
        bad=[("missing", {}, {}, "请上传身份证人像面照片")],
        uploads={"front": {}, "back": {}}),
    "account_desk.face_to_face": Post(
        "/officer/accounts/face-to-face", who=as_officer("police"),
        fields={"name": "张三", "id_number": "11010519491231002X", "phone": "13900000055", "checked": "y"},
        bad=[("missing", {}, {}, REQUIRED),
             ("wrong types", {"name": "张三", "id_number": "12345", "phone": "13900000055", "checked": "y"}, {},
              "身份证号")]),
    "account_desk.decide": Post(
        "/officer/accounts/reviews/{review}", who=as_officer("reviewer"), fields={"approve": "审核通过"},
        bad=[("missing", {}, {}, "请填写不通过的原因"),
             ("too long", {"reject": "不通过", "reason": "因" * 600}, {}, "最多 500 字")]),
    "notify.subscribe": Post(
        "/messages/push", who=as_citizen, json_body=True, json_errors=True,
        fields={"endpoint": "https://push.example/1", "keys": {"p256dh": "k", "auth": "a"}},
        bad=[("missing", {}, {}, "推送订阅无效"), ("wrong types", {"endpoint": 5, "keys": []}, {}, "推送订阅无效")]),
    "notify.unsubscribe": Post(
        "/messages/push/delete", who=as_citizen, json_body=True, json_errors=True,
        fields={"endpoint": "https://push.example/1"},
        bad=[("missing", {}, {}, "推送订阅无效"), ("wrong types", {"endpoint": ["x"]}, {}, "推送订阅无效")]),
    "accounts.set_language": Post("/account/language", fields={"lang": "en", "next": "/"},
                              csrf_exempt="sets the language cookie only (and the signed-in holder's SMS language, but a "
                                          "cross-site post carries no session cookie): works on cached and public "
                                          "pages without a token; tests/http/test_language_http.py"),
    "api.verify": Post("/api/v1/verify", csrf_exempt="JSON only, no cookie form can post it; generated cases in "
                                                     "test_api_schemathesis.py"),
    "api.offline_scans": Post("/api/v1/verify/offline",
                              csrf_exempt="JSON only, like /api/v1/verify; malformed uploads in test_offline_http.py, "
                                          "generated cases in test_api_schemathesis.py"),
}


def _post_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}


def test_every_post_route_has_an_entry(app):
    missing = sorted(_post_endpoints(app) - set(POST_ROUTES))
    assert not missing, (f"POST routes without an entry in POST_ROUTES of {__file__}: {missing}. Add one saying who "
                         "submits it, a well-formed body, the bad submissions and its upload fields, so CSRF, "
                         "missing fields, wrong types, oversized bodies and hostile uploads are tested.")
    assert not set(POST_ROUTES) - _post_endpoints(app), "POST_ROUTES lists routes that no longer exist"


# --- helpers -------------------------------------------------------------------------------------------

_TABLES = Base.metadata.sorted_tables
# The row count of every table in one statement, built once (the fuzz test takes it before each of its cases).
_ROW_COUNTS = select(*(select(func.count()).select_from(table).scalar_subquery().label(table.name)
                       for table in _TABLES))


def row_counts(db_session) -> dict[str, int]:
    db_session.expire_all()
    return dict(zip((table.name for table in _TABLES), db_session.execute(_ROW_COUNTS).one()))


def prepare(app, client, world: World, entry: Post) -> tuple[str, str]:
    """Sign in as the entry's submitter; return (url, a CSRF token of this browser session)."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    entry.who(client, world)
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    url = entry.url.format(licence=world.licence_public_id, pending=world.pending_public_id,
                           challenge=world.challenge_public_id, review=world.review_public_id)
    return url, token


def submit(client, entry: Post, url: str, token: str | None, fields: dict, files: dict):
    data = dict(fields)
    headers = {}
    if entry.json_errors:
        headers["Accept"] = "application/json"
    if entry.json_body:
        if token is not None:
            headers["X-CSRFToken"] = token
        return client.post(url, json=fields, headers=headers)
    if token is not None:
        if entry.csrf_header:
            headers["X-CSRFToken"] = token
        else:
            data["csrf_token"] = token
    multipart = bool(files) or entry.csrf_header
    if not multipart:
        return client.post(url, data=data, headers=headers)
    # Encoded here, in memory: the test client spools a large multipart body to a temporary file that it never
    # closes when the app refuses the body (a ResourceWarning, an error under filterwarnings=error).
    fields_and_files = MultiDict(list(data.items()))
    for name, (content, filename, mimetype) in files.items():
        fields_and_files.add(name, FileStorage(io.BytesIO(content), filename, content_type=mimetype))
    boundary, body = encode_multipart(fields_and_files)
    return client.post(url, data=body, headers=headers, content_type=f"multipart/form-data; boundary={boundary}")


def message_of(resp) -> str:
    if resp.is_json:
        return resp.get_json().get("message", "")
    html = resp.get_data(as_text=True)
    found = re.findall(r'(?:role="alert"|class="flash[^"]*")[^>]*>([^<]+)<', html)
    found += re.findall(r'class="card error-page".*?</h2>\s*<p>([^<]+)</p>', html, re.S)  # errors/<code>.html
    return " ".join(text.strip() for text in found if text.strip())


def assert_refused(resp, status: int, fragment: str) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == status, f"{resp.status_code}: {body[:400]}"
    text = message_of(resp) or body
    assert fragment in text, f"expected {fragment!r} in the answer: {text[:400]}"
    assert resp.headers["Cache-Control"] == "no-store"


FORM_ROUTES = sorted(name for name, entry in POST_ROUTES.items() if entry.csrf_exempt is None)


# --- the tests -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", FORM_ROUTES)
def test_post_without_csrf_token_is_400_and_writes_nothing(app, client, db_session, world, endpoint):
    entry = POST_ROUTES[endpoint]
    url, _token = prepare(app, client, world, entry)
    before = row_counts(db_session)
    resp = submit(client, entry, url, None, entry.fields, entry.files)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:400]
    assert CSRF_MESSAGE in resp.get_data(as_text=True)
    assert row_counts(db_session) == before


BAD_CASES = [(name, index) for name in FORM_ROUTES for index in range(len(POST_ROUTES[name].bad))]


@pytest.mark.parametrize(("endpoint", "index"), BAD_CASES,
                         ids=[f"{name}-{POST_ROUTES[name].bad[i][0]}" for name, i in BAD_CASES])
def test_missing_fields_and_wrong_types_are_400_with_a_message_and_write_nothing(app, client, db_session, world,
                                                                                 endpoint, index):
    entry = POST_ROUTES[endpoint]
    _what, fields, files, fragment = entry.bad[index]
    url, token = prepare(app, client, world, entry)
    before = row_counts(db_session)
    resp = submit(client, entry, url, token, fields, files)
    assert_refused(resp, 400, fragment)
    assert message_of(resp), "the answer says what is wrong"
    assert row_counts(db_session) == before


@pytest.mark.parametrize("endpoint", sorted(POST_ROUTES))
def test_body_over_max_content_length_is_413_and_writes_nothing(app, client, db_session, world, endpoint):
    entry = POST_ROUTES[endpoint]
    url, token = prepare(app, client, world, entry)
    before = row_counts(db_session)
    if entry.url.startswith("/api/"):  # the JSON API: its own, smaller limit answers first (documented 413)
        resp = client.post(url, data=b'{"qr": "' + b"x" * MAX_BODY + b'"}', content_type="application/json")
        assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    else:
        resp = submit(client, entry, url, token, {**entry.fields, "padding": "x" * (MAX_BODY + 1)}, entry.files)
        resp.close()
        assert resp.status_code == 413, resp.get_data(as_text=True)[:300]
        assert ("too_large" if entry.json_errors else "上传内容过大") in resp.get_data(as_text=True)
    assert row_counts(db_session) == before


UPLOAD_CASES = [(name, upload, kind) for name in sorted(POST_ROUTES) for upload in POST_ROUTES[name].uploads
                for kind in HOSTILE_FILES]


@pytest.mark.parametrize(("endpoint", "upload", "kind"), UPLOAD_CASES,
                         ids=[f"{n}-{u}-{k}" for n, u, k in UPLOAD_CASES])
def test_hostile_upload_gets_a_clear_4xx_and_writes_nothing(app, client, db_session, world, endpoint, upload, kind):
    entry = POST_ROUTES[endpoint]
    url, token = prepare(app, client, world, entry)
    before = row_counts(db_session)
    resp = submit(client, entry, url, token, entry.uploads[upload], {**entry.files, upload: HOSTILE_FILES[kind]})
    body = resp.get_data(as_text=True)
    assert 400 <= resp.status_code < 500, f"{resp.status_code}: {body[:400]}"
    if kind == "huge":
        assert resp.status_code == 413
    assert message_of(resp), f"no message in the {resp.status_code} answer: {body[:400]}"
    assert row_counts(db_session) == before
