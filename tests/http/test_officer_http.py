"""Officer pages over HTTP with CSRF on: every route × every role, a citizen and an anonymous visitor."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from webapp.audit.models import AuditEvent
from webapp import roles
from webapp.officer.models import PaperCertificate
from webapp.web.auth import access_table
from tests.conftest import csrf_from, log_officer_in
from tests.factories import CitizenFactory, UserFactory
from tests.verification_support import OFFICER_PASSWORD, make_certificate, make_officer, qr_text

PRINCIPALS = [*roles.ROLES, "citizen", "anonymous"]
# Who may open which officer page: what the routes must declare with officer_required, next to each route in its
# own domain (test_the_route_table_covers_every_officer_route compares). Every officer page but the sign-in is here.
ACCESS: dict[str, tuple[str, ...]] = {
    "officer.home": roles.ALL_ROLES,
    "officer.logout": roles.ALL_ROLES,
    "verification.scan": roles.SCAN_ROLES,
    "officer.paper": roles.PAPER_ROLES,
    "officer.paper_print": roles.PAPER_ROLES,
    "driving_licence.seize": (roles.ROLE_TRAFFIC,),
    "driving_licence.review_queue": (roles.ROLE_REVIEWER,),
    "driving_licence.decide": (roles.ROLE_REVIEWER,),
    "account_desk.reviews": (roles.ROLE_REVIEWER,),
    "account_desk.decide": (roles.ROLE_REVIEWER,),
    # 面签 is done at the 公安交管 window (and the station police window).
    "account_desk.face_to_face": (roles.ROLE_TRAFFIC, roles.ROLE_POLICE),
    "notify.outbox": (roles.ROLE_ADMIN,),
}
PUBLIC_ENDPOINTS = ("officer.login",)
# How to reach each route in ACCESS (method, path); "{serial}" is a paper certificate made by the test.
ROUTE_REQUESTS = {
    "officer.home": ("GET", "/officer/"),
    "officer.logout": ("POST", "/officer/logout"),
    "verification.scan": ("GET", "/officer/scan"),
    "officer.paper": ("GET", "/officer/paper"),
    "officer.paper_print": ("GET", "/officer/paper/{serial}"),
    "driving_licence.seize": ("GET", "/licence/officer/seize"),
    "driving_licence.review_queue": ("GET", "/licence/review"),
    "driving_licence.decide": ("POST", "/licence/review/no-such-application"),
    "account_desk.reviews": ("GET", "/officer/accounts/reviews"),
    "account_desk.decide": ("POST", "/officer/accounts/reviews/no-such-review"),
    "account_desk.face_to_face": ("GET", "/officer/accounts/face-to-face"),
    "notify.outbox": ("GET", "/officer/sms-outbox"),
}


def sign_in(client, auth, db_session, principal: str):
    if principal == "anonymous":
        return None
    if principal == "citizen":
        user = UserFactory()
        db_session.commit()
        assert auth.login(user.phone).status_code == 302
        return user
    officer = make_officer(db_session, principal)
    db_session.commit()
    assert log_officer_in(client, officer).status_code == 302
    return officer


def test_the_route_table_covers_every_officer_route(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("officer.")}
    assert endpoints <= set(ACCESS) | set(PUBLIC_ENDPOINTS)
    assert access_table(app) == ACCESS
    assert set(ROUTE_REQUESTS) == set(ACCESS)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("endpoint", sorted(ACCESS))
def test_officer_route_answers_by_role(client, auth, db_session, clock, endpoint, principal):
    police = make_officer(db_session, "police")
    paper = PaperCertificate(serial="ZM20261120ABCDEF01", name="张三", id_number="11010519491231002X",
                             issuing_station="北京西站", officer=police, issued_at=clock.now())
    db_session.add(paper)
    db_session.commit()
    sign_in(client, auth, db_session, principal)
    method, path = ROUTE_REQUESTS[endpoint]
    path = path.format(serial=paper.serial)
    if method == "POST":
        token = csrf_from(client.get("/officer/login").get_data(as_text=True))
        resp = client.post(path, data={"csrf_token": token})
    else:
        resp = client.get(path)

    if principal == "anonymous":
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/officer/login?next=")
    elif principal == "citizen" or principal not in ACCESS[endpoint]:
        assert resp.status_code == 403
        assert "无权访问" in resp.get_data(as_text=True)
    elif method == "POST":
        # logout → the sign-in page; a decision on an unknown application → 404 (or back to the queue)
        assert resp.status_code in (302, 404)
    else:
        assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"


def test_officer_login_lands_on_the_workbench_and_logs_the_sign_in(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    resp = officer_login(client, officer)
    assert resp.status_code == 302 and resp.headers["Location"] == "/officer/"
    page = client.get("/officer/").get_data(as_text=True)
    assert "铁路工作人员" in page and "扫码核验" in page and "纸质临时乘车身份证明" not in page
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "officer.login"))
    assert row.actor_id == officer.id


def test_officer_login_follows_a_safe_next_only(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    assert officer_login(client, officer, next="/officer/scan").headers["Location"] == "/officer/scan"
    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})
    assert officer_login(client, officer, next="//evil.example/").headers["Location"] == "/officer/"


def test_wrong_password_is_refused_with_one_message(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    resp = officer_login(client, officer, password="wrong-passw0rd")
    assert resp.status_code == 400 and "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/officer/").status_code == 302


def test_inactive_officer_cannot_sign_in(client, db_session, officer_login):
    officer = make_officer(db_session, "police", active=False)
    db_session.commit()
    assert officer_login(client, officer).status_code == 400


def test_deactivated_officer_is_signed_out_at_the_next_request(client, db_session, officer_login):
    officer = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, officer)
    officer.active = False
    db_session.commit()
    assert client.get("/officer/").status_code == 302


def test_citizen_credentials_do_not_open_the_officer_login(client, db_session):
    user = UserFactory()
    db_session.commit()
    token = csrf_from(client.get("/officer/login").get_data(as_text=True))
    resp = client.post("/officer/login", data={"csrf_token": token, "username": user.phone, "password": "passw0rd1"})
    assert resp.status_code == 400


def test_officer_login_without_csrf_token_is_refused(client, db_session):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    resp = client.post("/officer/login", data={"username": officer.username, "password": OFFICER_PASSWORD})
    assert resp.status_code == 400
    assert client.get("/officer/").status_code == 302


def test_officer_login_is_rate_limited(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    # The per-IP limit: ten different names from one address (one name alone is locked sooner, per account).
    statuses = [officer_login(client, SimpleNamespace(username=f"{officer.username}{i}"),
                              password="wrong-passw0rd").status_code for i in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_officer_session_cannot_open_citizen_records(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    officer_login(client, officer)
    assert client.get("/travel-id/records").status_code == 403


def test_scan_page_offers_the_contexts_of_the_role_and_loads_only_same_origin_scripts(client, db_session, officer_login):
    officer = make_officer(db_session, "railway")
    db_session.commit()
    officer_login(client, officer)
    resp = client.get("/officer/scan")
    page = resp.get_data(as_text=True)
    for label in ("售票/退票/改签", "实名制核验", "进站检票", "出站检票", "车上验票"):
        assert label in page
    assert "路面查验" not in page
    assert re.search(r'<script defer src="/static/vendor/jsQR-1\.4\.0\.js\?v=\w+"></script>', page)
    assert re.search(r'<script defer src="/static/vendor/zxing-library-0\.23\.0\.min\.js\?v=\w+"></script>', page)
    assert 'data-api="/api/v1/verify"' in page
    assert "<style" not in page and "onclick" not in page and "style=" not in page
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


def test_police_scan_page_offers_both_credentials_contexts(client, db_session, officer_login):
    officer = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, officer)
    page = client.get("/officer/scan").get_data(as_text=True)
    assert "进站检票" in page and "路面查验" in page and "事故处理" in page


def test_vendored_decoders_and_their_licences_are_served(client):
    for path, text in (("/static/vendor/jsQR-1.4.0.js", b"jsQR"),
                       ("/static/vendor/jsQR-1.4.0.LICENSE", b"Apache License"),
                       ("/static/vendor/zxing-library-0.23.0.min.js", b"Code128Reader"),
                       ("/static/vendor/zxing-library-0.23.0.LICENSE", b"ts-custom-error")):
        with client.get(path) as resp:
            assert resp.status_code == 200 and text in resp.data


def paper_form(client):
    return csrf_from(client.get("/officer/paper").get_data(as_text=True))


def test_police_records_a_paper_certificate_and_gets_a_printable_page(client, db_session, clock, officer_login):
    citizen = CitizenFactory()
    police = make_officer(db_session, "police", username="police01")
    db_session.commit()
    officer_login(client, police)
    resp = client.post("/officer/paper", data={"csrf_token": paper_form(client), "name": citizen.name,
                                                "id_number": citizen.id_number.lower(), "issuing_station": "广州南站"})
    assert resp.status_code == 302
    serial = resp.headers["Location"].rsplit("/", 1)[1]
    paper = db_session.scalar(select(PaperCertificate).where(PaperCertificate.serial == serial))
    assert (paper.citizen_id, paper.officer_id, paper.issuing_station) == (citizen.id, police.id, "广州南站")
    assert paper.issued_at == clock.now()
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    for text in ("临时乘车身份证明", citizen.name, citizen.id_number, "广州南站", "2026年11月20日 10:00", "police01",
                 serial, 'id="print-button"'):
        assert text in page
    assert "verify.css" in page and "<style" not in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("id_number", "440106199001011234", "校验位"),
    ("id_number", "12345", "18 位"),
    ("name", "别人", "姓名与身份证号不一致"),
    ("issuing_station", "", "必填"),
])
def test_paper_form_refuses_bad_input_with_a_field_message(client, db_session, field, value, message, officer_login):
    citizen = CitizenFactory()
    police = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, police)
    data = {"csrf_token": paper_form(client), "name": citizen.name, "id_number": citizen.id_number,
            "issuing_station": "广州南站", field: value}
    resp = client.post("/officer/paper", data=data)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert db_session.scalar(select(PaperCertificate.id)) is None


def test_paper_print_of_an_unknown_serial_is_404(client, db_session, officer_login):
    police = make_officer(db_session, "police")
    db_session.commit()
    officer_login(client, police)
    assert client.get("/officer/paper/ZM00000000NOPE").status_code == 404


def test_holder_records_show_their_paper_certificate_and_who_checked_them(client, auth, db_session, clock, app, officer_login):
    user = UserFactory()
    other = CitizenFactory()
    cert = make_certificate(db_session, user.citizen, clock.now())
    other_cert = make_certificate(db_session, other, clock.now())
    railway = make_officer(db_session, "railway", username="railway-secret-name")
    police = make_officer(db_session, "police")
    db_session.commit()

    officer_login(client, railway)
    client.post("/api/v1/verify", json={"qr": qr_text(app, cert, clock.now()), "context": "entry"})
    client.post("/api/v1/verify", json={"qr": qr_text(app, other_cert, clock.now()), "context": "exit"})
    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})
    officer_login(client, police)
    client.post("/officer/paper", data={"csrf_token": paper_form(client), "name": user.citizen.name,
                                        "id_number": user.citizen.id_number, "issuing_station": "深圳北站"})
    client.post("/officer/logout", data={"csrf_token": csrf_from(client.get("/officer/").get_data(as_text=True))})
    clock.advance(minutes=5)
    client.get("/v/" + qr_text(app, cert, clock.now()).rsplit("/v/", 1)[1])

    auth.login(user.phone)
    page = client.get("/travel-id/records").get_data(as_text=True)
    assert "纸质临时乘车身份证明" in page and "深圳北站" in page
    checks = page.split("核验记录", 1)[1]
    assert checks.index("公众扫码") < checks.index("铁路工作人员")
    assert "进站检票" in checks and "出站检票" not in checks   # the other holder's check is not shown
    assert "railway-secret-name" not in page


@pytest.mark.parametrize(("role", "shown", "hidden"), [
    ("traffic", ["扣留驾驶证", "扫码核验"], ["电子驾驶证审核", "纸质临时乘车身份证明"]),
    ("reviewer", ["电子驾驶证审核"], ["扣留驾驶证", "扫码核验"]),
    ("police", ["扫码核验", "纸质临时乘车身份证明"], ["扣留驾驶证", "电子驾驶证审核"]),
])
def test_workbench_links_only_the_tools_of_the_role(client, auth, db_session, role, shown, hidden):
    sign_in(client, auth, db_session, role)
    page = client.get("/officer/").get_data(as_text=True)
    assert all(text in page for text in shown) and not any(text in page for text in hidden)
