"""实人核验 over HTTP with CSRF on: the account upgrade start → camera page → frames → done, and every way
an upload can be wrong (a clear 400 JSON, never a 500, nothing written)."""
from __future__ import annotations

import io
import re

import numpy as np
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.factories import CitizenFactory, UserFactory
from tests.testdata import load_sequence, needs_testdata
from webapp.accounts.models import User
from webapp.proofing import rules
from webapp.proofing.models import FAILED, ISSUED, Challenge

# Any 128-d encoding does for tests that never reach the face match.
DUMMY_ENCODING = np.zeros(128, dtype=np.float64).tobytes()
PAGE_RE = re.compile(r"/proofing/([A-Za-z0-9_-]{40,})$")


def user_with_portrait(encoding: bytes = DUMMY_ENCODING, portrait: bytes | None = b"jpeg") -> User:
    return UserFactory(citizen=CitizenFactory(portrait=portrait, portrait_encoding=encoding))


def begin(client, auth, user) -> tuple[str, str]:
    """Log in through the form, start the upgrade; return (public id, CSRF token of the camera page)."""
    assert auth.login(user.phone).status_code == 302
    resp = client.get("/account/verify")
    assert resp.status_code == 302
    public_id = PAGE_RE.search(resp.headers["Location"]).group(1)
    page = client.get(f"/proofing/{public_id}")
    assert page.status_code == 200
    token = re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)
    return public_id, token


def jpeg_parts(frames: list[bytes], mimetype: str = "image/jpeg") -> list:
    return [(io.BytesIO(data), f"{i}.jpg", mimetype) for i, data in enumerate(frames)]


def post_frames(client, public_id, token, *, blink=(), colour=(), mimetype="image/jpeg"):
    # Encoded in memory: the test client spools a large body to a temporary file it never closes.
    fields = MultiDict(
        [("blink", FileStorage(io.BytesIO(data), f"b{i}.jpg", content_type=mimetype)) for i, data in enumerate(blink)]
        + [("colour", FileStorage(io.BytesIO(data), f"c{i}.jpg", content_type=mimetype))
           for i, data in enumerate(colour)]
        + [("sent", "1")])
    boundary, body = encode_multipart(fields)
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = token
    return client.post(f"/proofing/{public_id}/frames", data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def status_of(db_session, public_id: str) -> str:
    db_session.expire_all()
    return db_session.scalar(select(Challenge.status).where(Challenge.public_id == public_id))


def test_account_verify_opens_the_camera_page_when_not_yet_realperson(client, auth, db_session):
    user = user_with_portrait()
    assert "实人认证（刷脸）" in (auth.login(user.phone) and client.get("/account/").get_data(as_text=True))

    public_id, _token = begin(client, auth, user)

    html = client.get(f"/proofing/{public_id}").get_data(as_text=True)
    assert "开始核验" in html and "敏感个人信息" in html and "data-config=" in html
    assert "js/proofing.js" in html and "<script>" not in html  # CSP: no inline script
    challenge = db_session.scalar(select(Challenge).where(Challenge.public_id == public_id))
    assert (challenge.purpose, challenge.user_id, challenge.status) == ("account_realperson", user.id, ISSUED)
    assert challenge.next_url == f"/account/verify/done?c={public_id}"
    assert challenge.checks == "blink,colour,match"  # the test config's default policy


def test_account_verify_says_so_when_already_realperson(client, auth, db_session):
    user = user_with_portrait()
    user.level = "realperson"
    db_session.flush()
    auth.login(user.phone)

    resp = client.get("/account/verify", follow_redirects=True)

    assert "已完成实人认证" in resp.get_data(as_text=True)


def test_account_verify_explains_when_the_registry_has_no_portrait(client, auth, db_session):
    user = user_with_portrait(encoding=None, portrait=None)
    auth.login(user.phone)
    profile = client.get("/account/").get_data(as_text=True)
    assert "没有您的登记照片" in profile and "/demo/enrol" in profile

    resp = client.get("/account/verify", follow_redirects=True)

    assert "没有您的登记照片" in resp.get_data(as_text=True)
    assert db_session.scalar(select(Challenge)) is None


def test_frames_are_refused_with_a_clear_400_when_the_upload_is_bad(client, auth, db_session):
    public_id, token = begin(client, auth, user_with_portrait())
    url = f"/proofing/{public_id}/frames"
    json_headers = {"Accept": "application/json", "X-CSRFToken": token}
    cases = {
        "no frames": post_frames(client, public_id, token),
        "junk bytes": post_frames(client, public_id, token, blink=[b"\xff\xd8\xff junk"] * 12),
        "too many": post_frames(client, public_id, token, blink=[b"x"] * (rules.MAX_FRAMES + 1)),
        "not an image type": post_frames(client, public_id, token, blink=[b"x"] * 12, mimetype="text/plain"),
        "frame too big": post_frames(client, public_id, token, blink=[b"\xff" * (rules.MAX_FRAME_BYTES + 1)]),
        "json body": client.post(url, json={"blink": []}, headers=json_headers),
        "form body": client.post(url, data={"blink": "abc"}, headers=json_headers),
    }
    for name, resp in cases.items():
        assert resp.status_code == 400, name
        assert resp.is_json and resp.get_json()["message"], name
    assert status_of(db_session, public_id) == ISSUED  # nothing half-written: still answerable


def test_frames_are_refused_when_the_csrf_header_is_missing(client, auth, db_session):
    public_id, _token = begin(client, auth, user_with_portrait())

    resp = post_frames(client, public_id, None, blink=[b"x"] * 12)

    assert resp.status_code == 400 and "CSRF" in resp.get_json()["message"]
    assert status_of(db_session, public_id) == ISSUED


def test_another_browser_session_is_refused_the_challenge(app, client, auth, db_session):
    public_id, token = begin(client, auth, user_with_portrait())
    stranger = app.test_client()

    page = stranger.get(f"/proofing/{public_id}")
    upload = stranger.post(f"/proofing/{public_id}/frames", data={"blink": jpeg_parts([b"x"])},
                           headers={"Accept": "application/json", "X-CSRFToken": token})
    retry = stranger.post(f"/proofing/{public_id}/retry", headers={"Accept": "application/json"})

    assert page.status_code == 403 and "不属于当前浏览器" in page.get_data(as_text=True)
    assert upload.status_code in (400, 403)  # the stranger has no CSRF session either
    assert retry.status_code in (400, 403)


def test_unknown_challenge_is_refused_when_not_this_sessions(client, auth, db_session):
    begin(client, auth, user_with_portrait())
    assert client.get("/proofing/not-a-challenge").status_code == 403  # not this session's either way


def test_retry_starts_a_new_attempt_when_posted_with_csrf(client, auth, db_session):
    public_id, token = begin(client, auth, user_with_portrait())

    resp = client.post(f"/proofing/{public_id}/retry", data={"csrf_token": token})

    assert resp.status_code == 302
    new_id = PAGE_RE.search(resp.headers["Location"]).group(1)
    assert new_id != public_id and client.get(f"/proofing/{new_id}").status_code == 200
    assert status_of(db_session, public_id) == "expired"  # the abandoned one can no longer be answered
    new = db_session.scalar(select(Challenge).where(Challenge.public_id == new_id))
    assert new.attempt == 2 and new.next_url == f"/account/verify/done?c={new_id}"


def test_page_offers_the_fallback_when_max_failures_are_reached(client, auth, db_session, clock):
    user = user_with_portrait()
    public_id, _token = begin(client, auth, user)
    for challenge in db_session.scalars(select(Challenge)):
        challenge.status, challenge.decided_at, challenge.reason = FAILED, clock.now(), rules.NO_BLINK
    for _ in range(2):  # two more failed tries of this person (their account), each a challenge of its own
        db_session.add(Challenge(public_id=f"old-{_}", purpose="account_realperson", citizen_id=user.citizen_id,
                                 plan='{"colours":["red"]}', checks="blink,match", status=FAILED,
                                 issued_at=clock.now(), expires_at=clock.now(), decided_at=clock.now(),
                                 reason=rules.NO_BLINK, next_url="/", attempt=1, party=rules.user_party(user.id)))
    db_session.flush()

    html = client.get(f"/proofing/{public_id}").get_data(as_text=True)

    assert "改用其他方式办理" in html and 'id="proofing-fallback"\n' not in html
    assert "您已连续 3 次未通过人脸核验" in html
    assert re.search(r'id="proofing-fallback"[^>]*hidden', html) is None
    assert re.search(r'id="proofing-retry"[^>]*\s+hidden', html)
    # For an unverified account the fallback is 实名认证 by SMS (SPEC 5.1: when face recognition keeps failing).
    assert 'id="proofing-fallback-link" href="/account/realname"' in html


@needs_testdata
def test_genuine_frames_upgrade_the_account_when_posted(app, client, auth, db_session, s001_portrait):
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"  # what a camera without reflected light can do
    jpeg, encoding = s001_portrait
    user = user_with_portrait(encoding=encoding, portrait=jpeg)
    public_id, token = begin(client, auth, user)

    resp = post_frames(client, public_id, token, blink=load_sequence("genuine_blink_meds_s001")[:24])

    body = resp.get_json()
    assert resp.status_code == 200 and body["passed"] is True, body
    assert body["next_url"] == f"/account/verify/done?c={public_id}"
    replay = post_frames(client, public_id, token, blink=load_sequence("genuine_blink_meds_s001")[:24])
    assert replay.get_json()["reason"] == rules.USED
    done = client.get(body["next_url"], follow_redirects=True).get_data(as_text=True)
    assert "实人认证成功" in done and "实人认证" in done and "实人认证（刷脸）" not in done
    db_session.expire_all()
    assert db_session.get(User, user.id).level == "realperson"
    again = client.get(body["next_url"], follow_redirects=True).get_data(as_text=True)
    assert "已使用" in again or "已完成实人认证" in again


@needs_testdata
def test_static_photo_fails_with_the_no_blink_message_and_a_retry_url(app, client, auth, db_session,
                                                                      s001_portrait):
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"
    jpeg, encoding = s001_portrait
    public_id, token = begin(client, auth, user_with_portrait(encoding=encoding, portrait=jpeg))

    body = post_frames(client, public_id, token, blink=load_sequence("static_photo_meds_s001")[:15]).get_json()

    assert (body["passed"], body["reason"], body["next_url"]) == (False, rules.NO_BLINK, None)
    assert body["message"] == rules.REASON_MESSAGES[rules.NO_BLINK]
    assert body["retry_url"] == f"/proofing/{public_id}/retry" and body["failures"] == 1
    assert body["fallback_url"] is None


# --- Admission control (issue 13) and the failure cap across challenges (issue 12, point 5) ---------------------

def _fail_attempts(db_session, citizen_id: int, now, n: int, purpose: str = "account_realperson",
                   reason: str = rules.NO_BLINK, status: str = FAILED, party: str | None = None) -> None:
    for i in range(n):
        db_session.add(Challenge(public_id=f"{reason}-{i}-{citizen_id}-{party}", purpose=purpose,
                                 citizen_id=citizen_id, plan='{"colours":["red"]}', checks="blink,match",
                                 status=status, issued_at=now, expires_at=now, decided_at=now, queued_at=now,
                                 reason=reason, next_url="/", attempt=1, party=party))
    db_session.flush()


def _challenges(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(Challenge))


def test_a_fresh_challenge_from_the_calling_flow_is_refused_when_max_failures_are_reached(client, auth, db_session,
                                                                                         clock):
    user = user_with_portrait()
    # Three failed tries of this person (signed in to their account), each a challenge of its own.
    _fail_attempts(db_session, user.citizen_id, clock.now(), 3, party=rules.user_party(user.id))
    assert auth.login(user.phone).status_code == 302

    resp = client.get("/account/verify")

    html = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "核验失败次数过多" in html
    assert 'href="/account/realname"' in html  # the calling flow's fallback is offered
    assert _challenges(db_session) == 3


def test_system_failures_do_not_count_towards_the_cap_when_a_challenge_starts(client, auth, db_session, clock):
    from webapp.proofing.services import SYSTEM_BUSY

    user = user_with_portrait()
    _fail_attempts(db_session, user.citizen_id, clock.now(), 2, party=rules.user_party(user.id))
    _fail_attempts(db_session, user.citizen_id, clock.now(), 3, reason=SYSTEM_BUSY, party=rules.user_party(user.id))
    assert auth.login(user.phone).status_code == 302

    assert client.get("/account/verify").status_code == 302


def test_anonymous_get_of_a_reverify_link_creates_no_challenge_until_its_page_is_posted(client, db_session, clock):
    from webapp.travel_id import services as travel

    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=DUMMY_ENCODING)
    cert = travel.issue(db_session, citizen=citizen, lat=23.13, lon=113.26, city="广州", now=clock.now(),
                        user_id=None, challenge_public_id=None)
    db_session.flush()
    before = _challenges(db_session)

    pages = [client.get(f"/travel-id/{cert.public_id}/reverify") for _ in range(5)]

    assert {p.status_code for p in pages} == {200} and _challenges(db_session) == before
    assert pages[-1].mimetype == "text/html"   # a page the browser renders, with its 继续 button
    html = pages[-1].get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/proofing/start", data={"token": token}).status_code == 400  # CSRF
    started = client.post("/proofing/start", data={"csrf_token": csrf, "token": token})
    assert started.status_code == 302 and PAGE_RE.search(started.headers["Location"])
    assert _challenges(db_session) == before + 1
    again = client.post("/proofing/start", data={"csrf_token": csrf, "token": token})
    assert again.status_code == 400 and _challenges(db_session) == before + 1  # a pending start is used once


def test_challenge_creation_is_limited_per_browser_session(app, client, auth, db_session):
    app.config["SUISHEN_PROOFING_START_LIMIT_SESSION"] = "3 per minute"
    user = user_with_portrait()
    assert auth.login(user.phone).status_code == 302

    answers = [client.get("/account/verify").status_code for _ in range(4)]

    assert answers == [302, 302, 302, 429]
    refused = client.get("/account/verify")
    assert refused.headers["Retry-After"] and "过于频繁" in refused.get_data(as_text=True)


def test_challenge_creation_is_limited_per_citizen_across_browser_sessions(app, db_session):
    from tests.conftest import AuthActions

    app.config["SUISHEN_PROOFING_START_LIMIT_CITIZEN"] = "4 per minute"
    user = user_with_portrait()
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        assert AuthActions(browser).login(user.phone).status_code == 302

    answers = [browser.get("/account/verify").status_code for _ in range(3) for browser in browsers]

    assert answers == [302, 302, 302, 302, 429, 429]


def _fill_queue(db_session, clock, n: int) -> None:
    citizen = CitizenFactory(portrait=b"jpeg", portrait_encoding=DUMMY_ENCODING)
    _fail_attempts(db_session, citizen.id, clock.now(), n, purpose="travel_id_apply", reason=None, status="queued")


def test_a_new_challenge_is_refused_with_retry_after_when_the_expected_wait_is_too_long(app, client, auth,
                                                                                      db_session, clock):
    # One worker at the assumed 1.5 s per decision: 13 waiting → 21 s for the next one, over the 20 s default.
    user = user_with_portrait()
    _fill_queue(db_session, clock, 12)
    assert auth.login(user.phone).status_code == 302
    assert client.get("/account/verify").status_code == 302  # 12 waiting → 19.5 s: admitted
    before = _challenges(db_session)
    _fill_queue(db_session, clock, 1)

    page = client.get("/account/verify")
    api = client.get("/account/verify", headers={"Accept": "application/json"})

    assert page.status_code == 503 and page.headers["Retry-After"] == "21"
    assert "当前核验人数较多，请约 21 秒后再试" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.headers["Retry-After"] == "21"
    assert api.get_json()["error"] == "busy" and "请约 21 秒后再试" in api.get_json()["message"]
    assert _challenges(db_session) == before + 1  # nothing created by the refusals


def test_retry_is_refused_when_the_queue_is_too_long(client, auth, db_session, clock):
    public_id, token = begin(client, auth, user_with_portrait())
    _fill_queue(db_session, clock, 20)

    resp = client.post(f"/proofing/{public_id}/retry", data={"csrf_token": token})

    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) == 32
    assert status_of(db_session, public_id) == ISSUED


def _png(size: tuple[int, int], mode: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def _jpeg(size: tuple[int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (120, 110, 100)).save(out, "JPEG")
    return out.getvalue()


def test_frames_over_the_engines_needs_are_refused_from_their_headers_before_any_decode(client, auth, db_session):
    from tests.http.test_hostile_forms import png_bomb

    public_id, token = begin(client, auth, user_with_portrait())
    cases = {
        "48 large 1-bit PNGs": ([png_bomb(8000)] * 12, "image/png"),
        "1-bit PNG of camera size": ([_png((640, 480), "1")] * 12, "image/png"),
        "palette PNG": ([_png((640, 480), "P")] * 12, "image/png"),
        "JPEG over 1280x960": ([_jpeg((1600, 1200))] * 12, "image/jpeg"),
        "JPEG under 120 px": ([_jpeg((100, 80))] * 12, "image/jpeg"),
    }
    for name, (frames, mimetype) in cases.items():
        resp = post_frames(client, public_id, token, blink=frames, mimetype=mimetype)
        assert resp.status_code == 400 and resp.get_json()["message"], name
    assert status_of(db_session, public_id) == ISSUED
