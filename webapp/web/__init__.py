"""The web layer: what every domain's views share, and nothing about any one domain.

- :mod:`.auth` — who is signed in (the login loader, ``current_citizen``), the citizen and officer guards (each
  domain names its own routes' roles), sign-in and sign-out;
- :mod:`.edge` — the request's ``now()`` and its one ``commit()``;
- :mod:`.forms` — the base form, the empty CSRF form, shared fields;
- :mod:`.urls` — safe-next;
- :mod:`.review` — a reviewer's decision POST;
- :mod:`.input_guard` — hostile characters refused before any view, routes declaring what they check themselves;
- :mod:`.errors` — error pages and JSON errors;
- :mod:`.declare` — how a route declares something to the layer, next to the route;
- :mod:`.i18n` — the request's language (zh-CN or English), Flask-Babel, the scripts' translations.

This module adds the security headers, the caching policy and the template globals. Domains import from here;
this package imports from no domain (``create_app`` wires the domain-specific parts in: the loaders, the filters).
"""
from __future__ import annotations

from flask import Flask, Response, request
from flask_login import current_user

from webapp.web import auth, errors, i18n, input_guard

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

LARGE_TEXT_COOKIE = "large_text"
#: Pages that hold nothing personal when nobody is signed in: they may be kept by the browser (and its back/forward
#: cache) but are revalidated on every load ("private, no-cache"); everything else is no-store (issue 16 audit).
PUBLIC_PAGES = frozenset({
    "shell.home", "shell.warm_services", "shell.business_centre", "shell.coming", "travel_id.paper",
    "accounts.login", "accounts.register", "officer.login",
})
PUBLIC_PAGE_CACHE = "private, no-cache"


def init_app(app: Flask) -> None:
    i18n.init_app(app)
    input_guard.init_app(app)
    errors.register_error_handlers(app)
    auth.init_app(app)

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Only static files and the public pages of an anonymous visitor may be kept; every other page and API
        # answer may carry personal data or a credential.
        if request.endpoint != "static" and "Cache-Control" not in resp.headers:
            public = (request.method == "GET" and resp.status_code == 200 and request.endpoint in PUBLIC_PAGES
                      and not current_user.is_authenticated)
            resp.headers["Cache-Control"] = PUBLIC_PAGE_CACHE if public else "no-store"
            if public:
                resp.vary.add("Cookie")
        return resp

    @app.context_processor
    def template_globals() -> dict:
        return {
            "large_text": request.cookies.get(LARGE_TEXT_COOKIE) == "1",
            "demo_mode": app.config["SUISHEN_DEMO"],
        }
