"""Issue 16 audit: static files compressed, versioned URLs cached for a year, other static URLs revalidated;
public pages of an anonymous visitor not no-store (they may enter the back/forward cache), personal ones still
no-store. Over the real WSGI stack (WhiteNoise in front of Flask)."""
from __future__ import annotations

import gzip

from webapp.assets import UNVERSIONED_CACHE, VERSIONED_CACHE


def test_a_versioned_static_url_is_cached_a_year_and_sent_gzipped_when_accepted(app, client):
    version = app.config["ASSET_VERSION"]

    resp = client.get(f"/static/css/app.css?v={version}", headers={"Accept-Encoding": "gzip, br"}, buffered=True)

    assert resp.status_code == 200 and resp.headers["Cache-Control"] == VERSIONED_CACHE
    assert resp.headers["Content-Encoding"] in ("gzip", "br") and "Accept-Encoding" in resp.headers["Vary"]
    if resp.headers["Content-Encoding"] == "gzip":
        body = gzip.decompress(resp.get_data())
        plain = client.get(f"/static/css/app.css?v={version}", headers={"Accept-Encoding": "identity"}, buffered=True)
        assert body == plain.get_data() and len(resp.get_data()) < len(body) / 2
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_static_url_of_no_or_another_version_is_revalidated(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        resp = client.get(url, buffered=True)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == UNVERSIONED_CACHE
        again = client.get(url, headers={"If-None-Match": resp.headers["ETag"]}, buffered=True)
        assert again.status_code == 304


def test_the_pages_link_their_assets_at_the_current_version(app, client):
    html = client.get("/").get_data(as_text=True)

    assert f"/static/css/app.css?v={app.config['ASSET_VERSION']}" in html


def test_public_pages_may_be_kept_but_revalidated_when_nobody_is_signed_in(client):
    for path in ("/", "/warm-services", "/business", "/travel-id/paper", "/account/login"):
        resp = client.get(path)
        assert resp.headers["Cache-Control"] == "private, no-cache", path


def test_pages_stay_no_store_when_personal_or_signed_in(client, auth, db_session):
    from tests.factories import CitizenFactory

    assert client.get("/travel-id/").headers["Cache-Control"] == "no-store"  # not on the public list
    assert client.get("/no-such-page").headers["Cache-Control"] == "no-store"
    auth.register(CitizenFactory())
    db_session.commit()
    assert auth.login("13900000001").status_code == 302
    assert client.get("/").headers["Cache-Control"] == "no-store"  # 您好，<name>
