"""One guard in front of every route: characters no form, link or QR code of ours ever carries get a 400 before any
view, service or database sees them (SPEC §8: hostile input gets a 4xx, never a 5xx).

Refused: NUL and the other C0 control characters and DEL in the path and the query string; the same in form field
names, values and upload file names, except tab, CR and LF in values (a textarea sends its line breaks as CR LF);
the same and lone surrogates in the strings of a JSON body (JSON can escape one, UTF-8 cannot store it). PostgreSQL
refuses NUL in text (a DataError), a header refuses CR/LF (a ValueError), and none of them means anything here.

A route that bounds and checks its own body declares it with :func:`checks_own_body`: the guard then looks at its
path and query only and leaves the body unparsed, so the route's cheap limits run first. The verification API
(its JSON has a fixed shape: ``qr`` must match the token pattern, ``context`` one of the listed codes; it bounds
its body before parsing it) and the 实人核验 frames upload (ownership, rate limits and the content type before the
multipart body is parsed; it reads only the image parts, whose names it never uses) declare it.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, request

from webapp.errors import DomainError
from webapp.lazytext import _l
from webapp.web.declare import route_declaration

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MESSAGE = _l("提交的内容包含无效字符（如空字符、控制字符），请检查后重新输入。")


class HostileInput(DomainError):
    status = 400
    code = "bad_characters"


def hostile_line(value: str) -> bool:
    """A path or query value, a field name, a file name: no control character at all."""
    return bool(_CONTROL.search(value))


def hostile_text(value: str) -> bool:
    """A form value or JSON string: no control character but tab, CR and LF; no lone surrogate."""
    return bool(_CONTROL_IN_TEXT.search(value))


def _hostile_json(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return hostile_text(value)
    if depth > 20:
        return True
    if isinstance(value, dict):
        return any(hostile_text(str(k)) or _hostile_json(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_hostile_json(v, depth + 1) for v in value)
    return False


def where_hostile() -> str | None:
    """Which part of the current request carries a refused character (path, query, form, json), or None."""
    if hostile_line(request.path):
        return "path"
    if any(hostile_line(k) or hostile_line(v) for k, v in request.args.items(multi=True)):
        return "query"
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "checks_own_body", False):
        return None
    if request.mimetype in FORM_TYPES:
        if any(hostile_line(k) or hostile_text(v) for k, v in request.form.items(multi=True)):
            return "form"
        if any(hostile_line(k) or hostile_line(f.filename or "") for k, f in request.files.items(multi=True)):
            return "form"
    elif request.is_json:
        # Parsed once: the view's own get_json() gets the cached value. MAX_CONTENT_LENGTH bounds the body (413).
        if _hostile_json(request.get_json(silent=True)):
            return "json"
    return None


def checks_own_body(reason: str):
    """Declare that a route bounds and checks its own request body (``reason`` says how): the guard then checks
    its path and query only, and parses nothing of the body before the route's own limits run."""
    return route_declaration("checks_own_body", reason)


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_hostile_characters() -> None:
        part = where_hostile()
        if part is not None:
            app.logger.info("refused control characters in the %s of %s %s", part, request.method,
                            request.endpoint)
            raise HostileInput(MESSAGE)
