"""Demo self-enrolment (demo mode only): a visitor puts their own portrait into the registry."""
import io

from sqlalchemy import select

from webapp.registry.models import Citizen
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
