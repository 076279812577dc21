"""Demo self-enrolment (demo mode only): a visitor puts their own portrait into the registry."""
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.accounts.models import User
from webapp.accounts.rules import LEVEL_UNVERIFIED
from webapp.extensions import limiter
from webapp.notify.models import SmsMessage
from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import make_id_number
from tests.conftest import AuthActions, create_database, csrf_from, make_test_config, race
from tests.factories import CitizenFactory, UserFactory
from tests.testdata import FACES, needs_testdata


def _post(client, auth, **fields):
    token = auth.csrf("/demo/enrol")
    data = {"csrf_token": token, "name": "演示用户", "id_number": "", "phone": "13900000001",
            "address": "", "with_licence": "y"}
    data.update(fields)
    return client.post("/demo/enrol", data=data, content_type="multipart/form-data")


@needs_testdata
def test_enrol_stores_portrait_and_shows_the_number_only_to_this_browser(client, auth, db_session):
    resp = _post(client, auth, portrait=(io.BytesIO((FACES / "meds-aa-S001-02.jpg").read_bytes()), "me.jpg"))
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    citizen = db_session.scalar(select(Citizen))
    assert citizen.self_enrolled and citizen.portrait_encoding and citizen.licence.status == "正常"
    assert citizen.id_number in page and "演示" in page
    other = client.application.test_client()
    assert citizen.id_number not in other.get("/demo/enrolled", follow_redirects=True).get_data(as_text=True)


@needs_testdata
def test_enrol_refuses_a_group_photo_and_writes_nothing(client, auth, db_session):
    resp = _post(client, auth, portrait=(io.BytesIO((FACES / "two_people.jpg").read_bytes()), "us.jpg"))
    assert resp.status_code == 400 and "多张人脸" in resp.get_data(as_text=True)
    assert db_session.scalar(select(Citizen)) is None


def test_enrol_refuses_a_file_that_is_not_an_image(client, auth, db_session):
    resp = _post(client, auth, portrait=(io.BytesIO(b"%PDF-1.4 not an image"), "doc.jpg"))
    assert resp.status_code == 400 and "无法识别" in resp.get_data(as_text=True)
    resp = _post(client, auth, portrait=(io.BytesIO(b"x"), "doc.exe"))
    assert resp.status_code == 400 and "仅支持" in resp.get_data(as_text=True)
    assert db_session.scalar(select(Citizen)) is None


def test_enrol_page_does_not_exist_when_demo_mode_is_off(client, app):
    app.config["SUISHEN_DEMO"] = False
    assert client.get("/demo/enrol").status_code == 404


# --- Issue 12: demo enrolment only ever adds new people ------------------------------------------------------
ATTACKER_PHONE = "13900000666"


def _attacker_face():
    return (io.BytesIO((FACES / "meds-aa-S029-01.jpg").read_bytes()), "me.jpg")


def _victim(db_session, s001_portrait, kind: str) -> Citizen:
    """A citizen someone else holds: imported, imported with an account, or demo-enrolled by another visitor."""
    citizen = CitizenFactory(portrait=s001_portrait[0], portrait_encoding=s001_portrait[1],
                             self_enrolled=kind == "demo")
    if kind == "account":
        UserFactory(citizen=citizen, phone=citizen.phone)
    db_session.commit()
    return citizen


def _as_stored(db_session, citizen_id: int) -> tuple:
    db_session.expire_all()
    c = db_session.get(Citizen, citizen_id)
    return c.name, c.phone, c.address, c.portrait, c.portrait_encoding, c.updated_at, c.self_enrolled


@needs_testdata
@pytest.mark.parametrize("kind", ["imported", "account", "demo"])
def test_the_takeover_sequence_of_issue_12_fails_at_every_step(client, auth, db_session, s001_portrait, kind):
    victim = _victim(db_session, s001_portrait, kind)
    before = _as_stored(db_session, victim.id)
    citizens = db_session.scalar(select(func.count(Citizen.id)))
    # 1. Enrol with the victim's number (typed with spaces and a lower-case check letter: the same number) and
    #    name, the attacker's phone and face.
    typed = f"{victim.id_number[:6]} {victim.id_number[6:].lower()}"
    resp = _post(client, auth, name=victim.name, id_number=typed, phone=ATTACKER_PHONE, portrait=_attacker_face())
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "该身份证号已在人口库中，演示登记只能新增人员，不能修改已有信息" in body and "请不填身份证号" in body
    assert _as_stored(db_session, victim.id) == before
    assert db_session.scalar(select(func.count(Citizen.id))) == citizens
    assert db_session.scalar(select(func.count(LicenceRecord.id))
                             .where(LicenceRecord.citizen_id == victim.id)) == 0
    # 2. Register with the attacker's phone: either refused (the number has an account) or an unverified
    #    account whose 实名认证 cannot start, because the code would go to the victim's phone on file, not theirs.
    resp = auth.register(victim, phone=ATTACKER_PHONE)
    if kind == "account":
        assert resp.status_code in (400, 409) and "已注册" in resp.get_data(as_text=True)
        return
    assert resp.status_code == 302
    auth.login(ATTACKER_PHONE)
    page = client.get("/account/realname").get_data(as_text=True)
    assert "与您在公安机关登记的预留手机号不一致" in page and 'name="send"' not in page
    resp = client.post("/account/realname", data={"csrf_token": auth.csrf("/account/"), "send": "获取验证码"})
    assert resp.status_code == 400
    assert db_session.scalar(select(func.count(SmsMessage.id)).where(SmsMessage.phone == ATTACKER_PHONE)) == 0
    db_session.expire_all()
    assert db_session.scalar(select(User.level).where(User.phone == ATTACKER_PHONE)) == LEVEL_UNVERIFIED


@needs_testdata
def test_a_fresh_demo_enrolment_still_works_end_to_end(client, auth, db_session):
    resp = _post(client, auth, name="演示新人", phone="13900000777", portrait=_attacker_face())
    assert resp.status_code == 302
    citizen = db_session.scalar(select(Citizen).where(Citizen.phone == "13900000777"))
    assert citizen.self_enrolled and citizen.portrait_encoding and citizen.licence.licence_class == "C1"
    assert citizen.id_number in client.get("/demo/enrolled").get_data(as_text=True)
    # The number it made works for registration, and 实名认证 sends the code to the enrolled phone.
    assert auth.register(citizen, phone="13900000777").status_code == 302
    auth.login("13900000777")
    page = client.get("/account/realname").get_data(as_text=True)
    resp = client.post("/account/realname", data={"csrf_token": csrf_from(page), "send": "获取验证码"})
    assert resp.status_code == 302
    assert "实名认证" in db_session.scalar(select(SmsMessage.body).where(SmsMessage.phone == "13900000777"))
    # A second enrolment of the number it was given is refused like any other existing number.
    again = _post(client, auth, name="演示新人", id_number=citizen.id_number, phone="13900000778",
                  portrait=_attacker_face())
    assert again.status_code == 409
    assert _as_stored(db_session, citizen.id)[1] == "13900000777"


def test_enrolment_posts_are_rate_limited_per_ip_refusals_included(client, auth, app, db_session):
    app.config["SUISHEN_DEMO_ENROL_RATE_LIMIT"] = "3 per hour"
    statuses = [_post(client, auth, portrait=(io.BytesIO(b"not an image"), "x.jpg")).status_code for _ in range(3)]
    assert statuses == [400, 400, 400]
    resp = _post(client, auth, portrait=(io.BytesIO(b"not an image"), "x.jpg"))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "操作过于频繁" in resp.get_data(as_text=True)
    assert client.get("/demo/enrol").status_code == 200   # the page itself is not limited
    assert db_session.scalar(select(func.count(Citizen.id))) == 0


def test_the_default_enrolment_limit_is_the_documented_one(app):
    assert app.config["SUISHEN_DEMO_ENROL_RATE_LIMIT"] == "5 per hour;20 per day"


@needs_testdata
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_simultaneous_enrolments_of_one_number_one_wins_and_nothing_is_overwritten(backend, tmp_path_factory,
                                                                                 clock):
    """Three browsers enrol the same new number at once, each through the app with its own connection: the
    unique constraint lets exactly one in, the others get the 409 page, and the row keeps the winner's phone."""
    from webapp import create_app
    from webapp.db import make_engine, make_session_factory

    url, drop = create_database(backend, tmp_path_factory)
    engine = make_engine(url, pool_size=4)
    try:
        app = create_app(make_test_config(url), clock=clock, session_factory=make_session_factory(engine))
        limiter.reset()
        number = make_id_number("440106", date(1995, 5, 5), 321)
        portrait = (FACES / "meds-aa-S001-02.jpg").read_bytes()
        phones = iter(["13900000801", "13900000802", "13900000803"])
        prepared = []
        for _ in range(3):
            browser = app.test_client()
            prepared.append((browser, AuthActions(browser).csrf("/demo/enrol"), next(phones)))
        queue = list(prepared)

        def enrol() -> str:
            browser, token, phone = queue.pop()
            resp = browser.post("/demo/enrol", content_type="multipart/form-data", data={
                "csrf_token": token, "name": "同号", "id_number": number, "phone": phone,
                "portrait": (io.BytesIO(portrait), "me.jpg")})
            return f"{resp.status_code}:{phone}"

        outcomes = race(3, enrol)
        assert sorted(o.split(":")[0] for o in outcomes) == ["302", "409", "409"]
        winner = next(o.split(":")[1] for o in outcomes if o.startswith("302"))
        with make_session_factory(engine)() as session:
            rows = session.execute(select(Citizen.phone, Citizen.self_enrolled)
                                   .where(Citizen.id_number == number)).all()
        assert rows == [(winner, True)]
    finally:
        engine.dispose()
        drop()
