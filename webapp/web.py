"""Cross-cutting web concerns: security headers, caching policy, template globals."""
from __future__ import annotations

from flask import Flask, Response, request

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


def init_app(app: Flask) -> None:
    from webapp import input_guard

    input_guard.init_app(app)

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        # Only static files may be cached; every page and API answer may carry personal data or a credential.
        if request.endpoint != "static" and "Cache-Control" not in resp.headers:
            resp.headers["Cache-Control"] = "no-store"
        return resp

    from webapp.registry.rules import mask_id_number, mask_name, mask_phone

    app.jinja_env.filters["mask_id"] = mask_id_number
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.filters["mask_phone"] = mask_phone

    @app.context_processor
    def template_globals() -> dict:
        return {
            "large_text": request.cookies.get(LARGE_TEXT_COOKIE) == "1",
            "demo_mode": app.config["SUISHEN_DEMO"],
        }
