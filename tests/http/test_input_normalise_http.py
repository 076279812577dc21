"""Issue 16: what people type is normalised before validation on every form (spaces, dashes, full-width digits, a
lower-case x, +86), and names take what the resident ID system holds (extension B such as 𠮷, 〇, the middle dot of
minority names and its look-alikes) with a message that says what is refused. Over HTTP with CSRF on."""
from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from tests.conftest import csrf_from
from tests.factories import CitizenFactory
from webapp.accounts.models import User
from webapp.officer.models import PaperCertificate
from webapp.registry import rules as registry_rules
from webapp.proofing.services import prepare_portrait
from webapp.registry import services as registry

PORTRAIT = np.zeros(128, dtype=np.float64).tobytes()
GUANGZHOU = {"latitude": "23.13", "longitude": "113.26"}


def spaced(id_number: str) -> str:
    """As pasted from a note or a chat: groups of four with spaces, and a lower-case x."""
    return " ".join(id_number[i:i + 4] for i in range(0, 18, 4)).lower()


def full_width(text: str) -> str:
    return text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})


def post_form(client, path: str, **fields):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def test_no_identity_field_is_cut_by_the_browser_when_pasted_with_separators(client):
    for path in ("/travel-id/", "/account/register", "/account/login", "/account/password"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<input[^>]+>", html):
            length = re.search(r'maxlength="(\d+)"', tag)
            if re.search(r'name="(id_number|phone|account|name)"', tag):
                assert length is None or int(length.group(1)) >= 32, (path, tag)


def test_register_accepts_a_spaced_id_number_and_a_loosely_typed_phone_when_they_normalise(client, db_session):
    citizen = CitizenFactory(name="阿依古丽·买买提")
    db_session.commit()

    resp = post_form(client, "/account/register", name="阿依古丽•买买提", id_number=spaced(citizen.id_number),
                     phone="+86 139-0000-0001", password="passw0rd1", confirm="passw0rd1")

    assert resp.status_code == 302, resp.get_data(as_text=True)
    db_session.expire_all()
    user = db_session.scalar(select(User).where(User.citizen_id == citizen.id))
    assert user.phone == "13900000001"


def test_sign_in_takes_the_id_number_or_the_phone_as_typed_loosely(client, auth, db_session):
    citizen = CitizenFactory()
    db_session.commit()
    assert auth.register(citizen, phone="13900000002").status_code == 302
    auth.logout()

    assert auth.login(spaced(citizen.id_number)).status_code == 302
    auth.logout()
    assert auth.login(full_width("139 0000 0002")).status_code == 302


def test_travel_apply_takes_a_full_width_id_number_and_an_extension_b_name_when_they_match(client, db_session):
    citizen = CitizenFactory(name="𠮷田〇", portrait=b"jpeg", portrait_encoding=PORTRAIT)
    db_session.commit()

    token = csrf_from(client.get("/travel-id/").get_data(as_text=True))
    resp = client.post("/travel-id/apply", data={"csrf_token": token, "name": " 𠮷田〇 ",
                                                 "id_number": full_width(citizen.id_number), **GUANGZHOU})

    assert resp.status_code == 302 and "/proofing/" in resp.headers["Location"], resp.get_data(as_text=True)


@pytest.mark.parametrize("name, message", [
    ("张😀", "姓名中不能包含“😀”"),
    ("张3", "姓名不能包含数字。"),
    ("·买买提", "“·”只能用在两部分之间"),
    ("田中さん", "姓名中不能包含“さ”"),
])
def test_travel_apply_names_what_is_wrong_with_a_name_when_refused(client, db_session, name, message):
    citizen = CitizenFactory()
    db_session.commit()
    token = csrf_from(client.get("/travel-id/").get_data(as_text=True))

    resp = client.post("/travel-id/apply", data={"csrf_token": token, "name": name,
                                                 "id_number": citizen.id_number, **GUANGZHOU})

    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'id="name-err"[^>]*>[^<]*' + re.escape(message), html), html


def test_an_id_number_too_long_once_normalised_is_called_by_its_length_when_refused(client, db_session):
    token = csrf_from(client.get("/travel-id/").get_data(as_text=True))

    resp = client.post("/travel-id/apply", data={"csrf_token": token, "name": "张三",
                                                 "id_number": "4401 0619 8803 0712 3599", **GUANGZHOU})

    assert resp.status_code == 400
    assert "身份证号应为 18 位" in resp.get_data(as_text=True)


def test_the_registry_import_holds_extension_b_and_minority_names_when_normalised(db_session, clock, tmp_path):
    number_a = registry_rules.make_id_number("110105", date(1980, 1, 2), 11)
    number_b = registry_rules.make_id_number("650102", date(1985, 3, 4), 22)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("id_number,name,phone,address,photo\n"
                        f"{spaced(number_a)},𠮷野,+86 138 0000 1111,,\n"
                        f"{number_b},阿依古丽・买买提,13800002222,,\n", encoding="utf-8")

    report = registry.import_citizens(db_session, csv_file, clock.now(), prepare_portrait=prepare_portrait)

    assert report.errors == [] and report.created == 2
    assert registry.find_citizen(db_session, number_a).name == "𠮷野"
    assert registry.find_citizen(db_session, number_a).phone == "13800001111"
    assert registry.find_citizen(db_session, number_b).name == "阿依古丽·买买提"


def test_the_registry_import_says_which_character_of_a_name_it_refuses(db_session, clock, tmp_path):
    csv_file = tmp_path / "people.csv"
    number = registry_rules.make_id_number("110105", date(1980, 1, 2), 11)
    csv_file.write_text(f"id_number,name,phone,address,photo\n{number},李☆,,,\n", encoding="utf-8")

    report = registry.import_citizens(db_session, csv_file, clock.now(), prepare_portrait=prepare_portrait)

    assert report.created == 0 and "姓名中不能包含“☆”" in report.errors[0][1]


def test_a_paper_certificate_takes_an_extension_b_name_and_a_spaced_number(client, db_session, officer_login):
    citizen = CitizenFactory(name="𠮷田")
    db_session.commit()
    assert officer_login(client, "police").status_code == 302

    resp = post_form(client, "/officer/paper", name="𠮷田", id_number=spaced(citizen.id_number),
                     issuing_station="广州南站")

    assert resp.status_code == 302, resp.get_data(as_text=True)
    db_session.expire_all()
    paper = db_session.scalar(select(PaperCertificate))
    assert (paper.name, paper.id_number, paper.citizen_id) == ("𠮷田", citizen.id_number, citizen.id)
