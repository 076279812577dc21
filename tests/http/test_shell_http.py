"""The app shell over HTTP: health, PWA files, error pages (HTML and JSON), headers, configuration."""
import json

import pytest
from sqlalchemy.exc import OperationalError

from webapp import create_app
from tests.conftest import make_test_config


def test_healthz_says_ok_when_database_answers(client):
    resp = client.get("/healthz")
    # T0 is 2026-11-20: the 2027 schedule is not published yet, so a warning rides along (test_workdays_http).
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"


def test_healthz_says_503_when_database_is_unreachable(database_url, clock):
    app = create_app(make_test_config("postgresql+psycopg://nobody@127.0.0.1:1/none"), clock=clock)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"
    page = app.test_client().get("/account/register")
    assert page.status_code == 200  # no database needed to show a form


def test_pages_answer_503_with_message_when_database_is_unreachable(clock):
    app = create_app(make_test_config("postgresql+psycopg://nobody@127.0.0.1:1/none"), clock=clock)
    client = app.test_client()
    html = client.get("/account/login").get_data(as_text=True)
    token = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    resp = client.post("/account/login", data={"csrf_token": token, "account": "13900000001",
                                                "password": "passw0rd1"})
    assert resp.status_code == 503 and "无法确认状态" in resp.get_data(as_text=True)


def test_manifest_is_installable_when_fetched(client):
    with client.get("/manifest.webmanifest") as resp:
        assert resp.status_code == 200 and resp.mimetype == "application/manifest+json"
        manifest = json.loads(resp.get_data(as_text=True))
    assert manifest["display"] == "standalone" and manifest["start_url"].startswith("/")
    purposes = {icon["purpose"] for icon in manifest["icons"]}
    assert {"any", "maskable"} <= purposes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as png:
            assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(icon["sizes"] == "512x512" for icon in manifest["icons"])


def test_service_worker_is_served_from_root_uncached_with_versioned_cache(client, app):
    resp = client.get("/sw.js")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert f'suishen-shell-{app.config["ASSET_VERSION"]}' in body
    assert "/offline" in body and "clients.claim" in body
    assert client.get("/offline").status_code == 200


@pytest.mark.parametrize("path", ["/", "/account/login", "/healthz", "/offline"])
def test_security_headers_are_set_when_any_page_is_served(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP in tests
    # Public pages of an anonymous visitor may be kept but are revalidated (issue 16); the rest is no-store.
    assert resp.headers["Cache-Control"] == {"/offline": "no-cache", "/": "private, no-cache",
                                             "/account/login": "private, no-cache"}.get(path, "no-store")


def test_hsts_is_sent_when_request_came_over_https(client):
    resp = client.get("/", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(database_url, session_factory, clock):
    app = create_app(make_test_config(database_url, SESSION_COOKIE_SECURE=True), clock=clock,
                     session_factory=session_factory)
    resp = app.test_client().get("/account/login", base_url="https://localhost")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_not_found_is_a_page_for_browsers_and_json_for_the_api(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"


def test_oversized_body_is_refused_with_413_when_over_the_limit(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/account/login", data={"account": "x" * 4096})
    assert resp.status_code == 413 and "超过" in resp.get_data(as_text=True)


def test_large_text_mode_toggles_when_posted_with_csrf(client, auth):
    token = auth.csrf("/")
    resp = client.post("/settings/large-text", data={"csrf_token": token, "next": "/warm-services"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/warm-services"
    assert 'class="large-text"' in client.get("/").get_data(as_text=True)
    client.post("/settings/large-text", data={"csrf_token": token, "next": "https://evil.example"})
    assert 'class="large-text"' not in client.get("/").get_data(as_text=True)


def test_production_start_refuses_when_secret_key_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SUISHEN_ENV", "production")
    # An empty instance folder: a developer's instance/secret_key (make run) would be read (config.py).
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": "sqlite://"}, instance_path=str(tmp_path))


def test_unexpected_error_is_a_clean_500_when_a_view_fails(app, client):
    @app.get("/boom-for-test")
    def boom():
        raise OperationalError("SELECT 1", {}, Exception("gone"))

    resp = client.get("/boom-for-test")
    assert resp.status_code == 503


def test_home_shows_both_service_entries(client):
    html = client.get("/").get_data(as_text=True)
    assert "温馨服务" in html and "乘坐旅客列车临时身份证明" in html
    assert "我的驾驶证" in html and "业务中心" in html
    assert "演示模式" in html  # the test config runs in demo mode


@pytest.mark.parametrize("path, title", [
    ("/", "随身证"),                               # the home page names only the app (was `随身证 · 随身证`)
    ("/business", "业务中心 · 随身证"),
    ("/account/login", "登录 · 随身证"),
    ("/officer/login", "工作人员登录 · 随身证"),
    ("/no-such-page", "页面不存在 · 随身证"),
])
def test_page_title_is_page_then_app_name_when_served(client, path, title):
    html = client.get(path).get_data(as_text=True)
    assert html.count("<title>") == 1
    assert html.split("<title>")[1].split("</title>")[0] == title
