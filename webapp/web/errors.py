"""Error pages: every DomainError, HTTP error and database failure becomes a page (``errors/<code>.html``) or JSON
for ``/api/`` and JSON clients, never a bare 500."""
from __future__ import annotations

from flask import Flask, Response, g, jsonify, render_template, request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from webapp.errors import DomainError, TooSoon
from webapp.lazytext import _l


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


# Titles of the error pages (in the request's language); the page body says what to do next.
ERROR_TEXT = {
    400: (_l("请求有误"), _l("提交的内容无法处理，请返回上一页检查后重试。")),
    403: (_l("无权访问"), _l("您没有访问此页面的权限。如需办理，请使用有权限的账号登录。")),
    404: (_l("页面不存在"), _l("您访问的页面不存在或已失效。")),
    405: (_l("请求方式不支持"), _l("请返回上一页重试。")),
    413: (_l("上传内容过大"), _l("上传的文件或内容超过了大小限制，请压缩后重试。")),
    429: (_l("操作过于频繁"), _l("您的操作过于频繁，请稍后再试。")),
    500: (_l("系统繁忙"), _l("系统开小差了，请稍后再试。您的数据没有丢失。")),
    503: (_l("状态暂时无法确认"), _l("系统暂时无法连接数据库，当前无法确认状态，请稍后再试。")),
}


def _respond(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    if wants_json():
        resp = jsonify({"error": code, "message": message})
    else:
        title, default_message = ERROR_TEXT.get(status, ERROR_TEXT[400])
        template = f"errors/{status}.html" if status in ERROR_TEXT else "errors/400.html"
        resp = Response(
            render_template(template, title=title, message=message or default_message, status=status)
        )
    resp.status_code = status
    if retry_after is not None:
        resp.headers["Retry-After"] = str(max(1, retry_after))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        retry = int(exc.retry_after.total_seconds()) if isinstance(exc, TooSoon) else None
        return _respond(exc.status, exc.code, exc.user_message, retry)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 429: "rate_limited"}.get(status, "error")
        message = ERROR_TEXT.get(status, ERROR_TEXT[400])[1]
        if status == 400 and exc.description and "CSRF" in str(exc.description):
            message = _l("页面已过期或来源无法确认（CSRF 校验失败），请刷新页面后重新提交。")
        retry = None
        if status == 429:
            retry = 60
            limit = getattr(exc, "limit", None)   # Flask-Limiter's RateLimitExceeded
            if limit is not None:
                retry = int(limit.limit.get_expiry())
            elif isinstance(getattr(exc, "retry_after", None), int):   # TooManyRequests(retry_after=seconds)
                retry = exc.retry_after
        resp = _respond(status, code, message, retry)
        if status == 405 and exc.get_response().headers.get("Allow"):
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
        return resp

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(exc: Exception) -> Response:
        # When the database cannot answer we cannot tell valid from invalid: say so explicitly.
        app.logger.warning("database unavailable: %s", exc.__class__.__name__)
        return _respond(503, "status_unknown", ERROR_TEXT[503][1], 30)

    @app.errorhandler(DataError)
    def database_refused_a_value(exc: DataError) -> Response:
        # The last line of defence behind the input guard and the forms: a value the database cannot store (NUL in
        # text, a number out of range, an over-long string). The request was bad, so it gets a 400 and nothing of
        # it is committed (the session rolls back at teardown); but a view let it through, which is a bug to fix,
        # so it is logged with its traceback.
        app.logger.error("the database refused a value of %s %s", request.method, request.endpoint, exc_info=exc)
        session = g.get("db_session")
        if session is not None:
            session.rollback()  # PostgreSQL ends the transaction; the error page may still read (e.g. the user)
        return _respond(400, "bad_value", ERROR_TEXT[400][1])

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return _respond(500, "internal_error", ERROR_TEXT[500][1])
