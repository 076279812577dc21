"""The app shell: home, service entries, PWA files, health check, display settings."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import text

from webapp import workdays
from webapp.assets import SCAN_FILES, SCAN_MODULES, SHELL_FILES, asset_url
from webapp.db import get_session
from webapp.lazytext import _l
from webapp.timeutil import local_date
from webapp.web import LARGE_TEXT_COOKIE, edge
from webapp.web.forms import EmptyForm
from webapp.web.urls import next_target

bp = Blueprint("shell", __name__)


@bp.get("/")
def home():
    return render_template("shell/home.html")


@bp.get("/warm-services")
def warm_services():
    """12306 首页 → 温馨服务."""
    return render_template("shell/warm_services.html")


@bp.get("/business")
def business_centre():
    """12123 业务中心."""
    return render_template("shell/business.html")


@bp.get("/coming/<string:feature>")
def coming(feature: str):
    titles = {"travel-id": _l("临时乘车身份证明"), "licence": _l("驾驶证电子版")}
    if feature not in titles:
        return render_template("errors/404.html", title=_l("页面不存在"), message=_l("您访问的页面不存在。")), 404
    return render_template("shell/coming.html", title=titles[feature])


@bp.get("/offline")
def offline():
    resp = current_app.make_response(render_template("shell/offline.html"))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/sw.js")
def service_worker():
    # Served from the root so its scope is the whole app; no-cache so a new version is picked up at once.
    version = current_app.config["ASSET_VERSION"]
    shell = [url_for("shell.offline")] + [asset_url(f) for f in SHELL_FILES]
    # The scan page asks for its files as the page names them (?v=) and, for the modules they import, without.
    scan_files = [asset_url(f) for f in SCAN_FILES] + [url_for("static", filename=f) for f in SCAN_MODULES]
    body = render_template("shell/sw.js", version=version, shell=shell, offline_url=url_for("shell.offline"),
                           scan_url=url_for("verification.scan"), scan_files=scan_files,
                           trust_urls=[url_for("signing.jwks"), url_for("verification.status_list")],
                           logout_url=url_for("officer.logout"))
    resp = Response(body, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@bp.get("/manifest.webmanifest")
def manifest():
    resp = send_from_directory(current_app.static_folder, "manifest.webmanifest",
                               mimetype="application/manifest+json", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/healthz")
def healthz():
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to answer means "not healthy", with the reason
        current_app.logger.warning("healthz: database unavailable: %s", exc.__class__.__name__)
        return jsonify({"status": "unavailable", "reason": "database_unreachable"}), 503
    body: dict = {"status": "ok"}
    # Still "ok" (the database answers, gates keep working); the operator is told what will go wrong later.
    schedule = workdays.coverage(local_date(edge.now()))
    if not schedule.ok:
        body["warnings"] = [{"code": "workday_schedule_missing", "years": list(schedule.missing_years),
                             "message": schedule.message}]
    return jsonify(body)


@bp.post("/settings/large-text")
def toggle_large_text():
    form = EmptyForm()
    resp = redirect(next_target(url_for("shell.home")))
    if form.validate_on_submit():
        on = request.cookies.get(LARGE_TEXT_COOKIE) != "1"
        resp.set_cookie(LARGE_TEXT_COOKIE, "1" if on else "0", max_age=365 * 24 * 3600, samesite="Lax",
                        httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return resp
