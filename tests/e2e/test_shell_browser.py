"""The shell in a real browser: register → log in → home → log out; PWA install bits; offline page."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.e2e.conftest import PHONE, LiveServer, shot, sign_in
from tests.factories import CitizenFactory
from tests.testdata import FACES, needs_testdata
from webapp.registry.models import Citizen

pytestmark = pytest.mark.e2e


def test_register_login_home_logout_when_identity_is_in_registry(phone_page, live_db):
    citizen = CitizenFactory()
    live_db.commit()
    page = phone_page
    page.goto("/")
    shot(page, "home-360")
    page.get_by_role("link", name="注册").first.click()
    page.get_by_label("姓名").fill(citizen.name)
    page.get_by_label("身份证号").fill(citizen.id_number)
    page.get_by_label("手机号码").fill("13900000001")
    page.get_by_label("密码", exact=True).fill("passw0rd1")
    page.get_by_label("确认密码").fill("passw0rd1")
    page.get_by_role("button", name="注册").click()
    page.wait_for_url("**/")
    assert "注册成功" in page.content()
    assert f"您好，{citizen.name}" in page.inner_text("main")

    page.get_by_role("link", name="我的", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/")
    assert "已退出登录" in page.content()

    sign_in(page, citizen.id_number, "passw0rd1")
    page.wait_for_url("**/")
    assert "登录成功" in page.content()
    page.goto("/account/")
    assert "未认证" in page.inner_text("main")
    shot(page, "profile-360")


def test_register_shows_the_reason_when_id_number_is_invalid(phone_page, live_db):
    page = phone_page
    page.goto("/account/register")
    page.get_by_label("姓名").fill("张三")
    page.get_by_label("身份证号").fill("110105194912310021")
    page.get_by_label("手机号码").fill("13900000001")
    page.get_by_label("密码", exact=True).fill("passw0rd1")
    page.get_by_label("确认密码").fill("passw0rd1")
    page.get_by_role("button", name="注册").click()
    error = page.locator(".field__error")
    assert "校验位" in error.inner_text()
    assert page.get_by_label("身份证号").get_attribute("aria-invalid") == "true"
    shot(page, "register-error-360")


def test_page_fits_a_360px_screen_when_rendered(phone_page):
    page = phone_page
    for path in ["/", "/warm-services", "/account/login", "/account/register", "/demo/enrol"]:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"


def test_large_text_mode_scales_text_when_toggled(phone_page):
    page = phone_page
    page.goto("/")
    before = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_role("button", name="长辈模式（大字版）").click()
    page.wait_for_load_state()
    after = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert after == pytest.approx(before * 1.25)
    shot(page, "home-large-text-360")


def test_manifest_is_valid_and_service_worker_serves_offline_page_when_server_stops(
        browser, e2e_database_url, e2e_engine, live_clock):
    # A server of its own, because this test stops it.
    from webapp import create_app
    from webapp.db import make_session_factory
    from tests.conftest import make_test_config

    app = create_app(make_test_config(e2e_database_url), clock=live_clock,
                     session_factory=make_session_factory(e2e_engine))
    server = LiveServer(app, live_clock)
    context = browser.new_context(base_url=server.url, **PHONE)
    page = context.new_page()
    try:
        page.goto("/")
        href = page.get_attribute("link[rel=manifest]", "href")
        manifest = json.loads(page.request.get(href).text())
        assert manifest["name"] and manifest["display"] == "standalone"
        for icon in manifest["icons"]:
            assert page.request.get(icon["src"]).headers["content-type"] == "image/png"
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # resolves once a worker is active
        page.reload()  # now controlled by the worker
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        caches = page.evaluate("caches.keys()")
        assert any(k.startswith("suishen-shell-") for k in caches)
        cached = page.evaluate("""async () => {
            const out = [];
            for (const key of await caches.keys()) {
                const cache = await caches.open(key);
                for (const req of await cache.keys()) out.push(new URL(req.url).pathname);
            }
            return out;
        }""")
        assert "/offline" in cached
        assert not [p for p in cached if p.startswith(("/account", "/api", "/travel-id", "/licence", "/v/"))]
    finally:
        server.stop()
    page.goto("/account/")
    assert "当前无法连接网络" in page.inner_text("main")
    shot(page, "offline-360")
    context.close()


@needs_testdata
def test_demo_enrolment_refuses_an_existing_number_and_enrols_a_new_person(phone_page, live_db):
    """Issue 12 in the browser at 360 px: an imported citizen's number is refused with the reason and what to do,
    the citizen is unchanged; the same form without a number enrols a new demo person."""
    victim = CitizenFactory()
    live_db.commit()
    page = phone_page
    page.goto("/demo/enrol")
    page.get_by_label("姓名").fill(victim.name)
    page.get_by_label("身份证号").fill(victim.id_number)
    page.get_by_label("手机号码").fill("13900000666")
    page.get_by_label("人像照片").set_input_files(str(FACES / "meds-aa-S029-01.jpg"))
    page.get_by_role("button", name="登记到演示人口库").click()
    page.get_by_text("该身份证号已在人口库中，演示登记只能新增人员").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "demo-enrol-refused-360")
    live_db.expire_all()
    assert live_db.get(Citizen, victim.id).phone == victim.phone
    page.get_by_label("身份证号").fill("")
    page.get_by_label("人像照片").set_input_files(str(FACES / "meds-aa-S029-01.jpg"))
    page.get_by_role("button", name="登记到演示人口库").click()
    page.wait_for_url("**/demo/enrolled")
    enrolled = live_db.scalar(select(Citizen).where(Citizen.phone == "13900000666"))
    assert enrolled.self_enrolled and enrolled.id_number in page.inner_text("main")
