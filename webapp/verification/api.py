"""The stable verification API for gates and third parties (SPEC §6), documented in openapi.json."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask import session as web_session
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from webapp import signing
from webapp.db import get_session
from webapp.errors import DomainError, ServiceUnavailable
from webapp.extensions import csrf, limiter, seconds_blocked, seconds_over_limit
from webapp.lazytext import _l, joined
from webapp.officer import rules as officer_rules
from webapp.officer import services as officer_services
from webapp.roles import SCAN_ROLES
from webapp.timeutil import format_local
from webapp.verification import rules, scan, services
from webapp.web import edge
from webapp.web.input_guard import checks_own_body, hostile_text

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# No cookie-authenticated form can reach this API: it answers only application/json bodies (a cross-site page
# cannot send those without a CORS preflight, which we never grant), so Flask-WTF's form token is not needed.
csrf.exempt(bp)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
MAX_QR_LENGTH = 2048
API_KEY_CACHE = "api_key_cache"


@bp.record_once
def _make_api_key_cache(state) -> None:
    ttl = timedelta(seconds=state.app.config["SUISHEN_API_KEY_CACHE_SECONDS"])
    state.app.extensions[API_KEY_CACHE] = officer_services.ApiKeyCache(ttl)


# The licence record a traffic officer sees (SPEC §5 item 7: full status); resolver facts, at the detail level only.
LICENCE_DETAIL_FIELDS = ("licence_class", "valid_from", "valid_until", "issuing_authority", "file_number", "points",
                         "record_status", "first_issued")


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _client_ip() -> str:
    return "ip:" + (get_remote_address() or "")


def _rate_bucket() -> tuple[str, str, str]:
    """(limit, scope, key) this request counts against, decided from the request alone (no database):

    - an API key: SUISHEN_API_RATE_LIMIT per key (a gate behind NAT shares an IP with others); a presented value
      that is not a key is also counted per IP by :func:`_viewer`;
    - an officer session (the scan page): SUISHEN_API_RATE_LIMIT per officer, a station's officers share an IP;
    - anyone else: SUISHEN_PUBLIC_VERIFY_RATE_LIMIT per client IP, like the public /v/ page.
    """
    config = current_app.config
    raw = _bearer()
    if raw is not None:
        return (config["SUISHEN_API_RATE_LIMIT"], "api.verify",
                "key:" + hashlib.sha256(raw.encode()).hexdigest()[:24])
    # Flask-Login's id in the signed session cookie ("o:<id>" for officers, auth.load_principal); whether that
    # session is still good is checked by _viewer, this only picks the bucket.
    principal = str(web_session.get("_user_id") or "")
    if principal.startswith("o:"):
        return config["SUISHEN_API_RATE_LIMIT"], "api.verify", "officer:" + principal[2:]
    return config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"], "api.verify.public", _client_ip()


# Values sent as a bearer key that are not one count against the public limit per IP, so guessing keys is
# throttled like anonymous scanning.
BAD_KEY_SCOPE = "api.verify.bad_key"


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    resp = jsonify({"error": code, "message": message})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.update(headers)
    return resp


def _viewer() -> services.Viewer | Response:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return _error(401, "unauthorized", _l("请使用 Authorization: Bearer <API 密钥>。"),
                          **{"WWW-Authenticate": 'Bearer realm="suishen"'})
        cache = current_app.extensions[API_KEY_CACHE]
        now = edge.now()
        key = cache.cached(value, scope=officer_rules.SCOPE_VERIFY, now=now)
        if key is None:
            # Not a key this worker saw pass within the last seconds: a gate's first scan, or a guess. A client
            # that has sent too many wrong keys is refused before the lookup, whatever it sends now, so a guess
            # that happens to be right tells it nothing either.
            public_limit = current_app.config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"]
            retry_after = seconds_blocked(public_limit, BAD_KEY_SCOPE, _client_ip())
            if retry_after is not None:
                raise TooManyRequests(retry_after=retry_after)
            try:
                key = cache.find(get_session(), value, scope=officer_rules.SCOPE_VERIFY, now=now)
            except officer_services.BadApiKey as exc:
                retry_after = seconds_over_limit(public_limit, BAD_KEY_SCOPE, _client_ip())
                if retry_after is not None:
                    raise TooManyRequests(retry_after=retry_after) from None
                return _error(401, exc.code, exc.user_message,
                              **{"WWW-Authenticate": 'Bearer realm="suishen", error="invalid_token"'})
        return services.Viewer.api_key(key)
    authenticated = current_user.is_authenticated
    if g.get("principal_unavailable"):
        raise ServiceUnavailable(_l("系统暂时无法连接数据库，当前无法确认状态，请稍后再试。"))
    if authenticated and getattr(current_user, "is_officer", False):
        if current_user.role not in SCAN_ROLES:
            return _error(403, "forbidden", _l("您的角色无核验权限。"))
        return services.Viewer.officer(current_user)
    return services.Viewer.public()


def _instant(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def to_json(result: services.VerificationResult) -> dict:
    """The answer, cut to what the viewer may see (rules.VIEWER_FIELDS) and nothing more."""
    body: dict = {"valid": result.valid, "reason": result.reason, "message": result.message,
                  "checked_at": result.checked_at.isoformat(), "credential": None}
    if result.holder is None:
        return body
    seen = result.fields
    holder: dict = {}
    if rules.NAME in seen:
        holder["name"] = result.holder.name
    elif rules.NAME_MASKED in seen:
        holder["name"] = result.holder.name_masked
    if rules.ID_NUMBER_MASKED in seen:
        holder["id_number_masked"] = result.holder.id_number_masked
    credential: dict = {"type": result.credential_type, "holder": holder}
    if rules.VALID_UNTIL in seen:
        credential["valid_until"] = _instant(result.valid_until)
    if rules.STATUS in seen:
        credential["status"] = result.status
    body["credential"] = credential
    if rules.PORTRAIT in seen:
        detail: dict = {
            "credential_label": result.credential_label,
            "status_label": result.status_label,
            "valid_until_text": (format_local(result.valid_until, "%Y-%m-%d %H:%M")
                                 if isinstance(result.valid_until, datetime)
                                 else str(result.valid_until or _l("长期"))),
            "sex": result.holder.sex_label,
            "age": result.holder.age,
            "portrait": result.holder.portrait,
        }
        category = result.facts.get("ticket_category")
        if rules.TICKET_CATEGORY in seen and category is not None:
            detail["ticket_category"] = {"code": category.code, "label": category.label, "age": category.age}
        if rules.LICENCE_RECORD in seen and result.credential_type == rules.DRIVING_LICENCE:
            detail["licence"] = {name: result.facts.get(name) for name in LICENCE_DETAIL_FIELDS}
        body["detail"] = detail
    return body


@bp.post("/verify")
@checks_own_body("SUISHEN_API_MAX_BODY before parsing; a JSON object of fixed shape, qr matched to the token "
                 "pattern, context one of the listed codes")
@limiter.exempt  # its limit is counted below; Flask-Limiter then need not resolve this route's limits
def verify():
    retry_after = seconds_over_limit(*_rate_bucket())
    if retry_after is not None:
        raise TooManyRequests(retry_after=retry_after)
    limit = current_app.config["SUISHEN_API_MAX_BODY"]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, "too_large", _l("请求体不能超过 %(limit)s 字节。", limit=limit))
    request.max_content_length = limit  # also bounds a chunked body without Content-Length
    if request.mimetype != "application/json":
        return _error(400, "wrong_content_type", _l("请求须为 JSON（Content-Type: application/json）。"))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "malformed_json", _l("请求体不是有效的 JSON 对象。"))
    qr, context = data.get("qr"), data.get("context")
    if not isinstance(qr, str) or not qr.strip():
        return _error(400, "missing_qr", _l("缺少 qr 字段（扫描到的二维码内容）。"))
    if len(qr) > MAX_QR_LENGTH:
        return _error(400, "qr_too_long", _l("qr 字段过长。"))
    if context == "":
        context = None
    if context is not None and (not isinstance(context, str) or not rules.is_context(context)):
        return _error(400, "bad_context", _l("context 无效，可选值：%(values)s。", values=joined(rules.CONTEXT_LABELS)))
    session = scan.session()  # first, so the whole scan runs on it (autocommit on PostgreSQL)
    viewer = _viewer()
    if isinstance(viewer, Response):
        return viewer
    result = services.verify(session, qr, now=edge.now(),
                             grace_windows=current_app.config["SUISHEN_QR_GRACE_WINDOWS"],
                             secret=current_app.config["SECRET_KEY"],
                             keyring=signing.keyring(), viewer=viewer, context=context)
    edge.commit()
    resp = jsonify(to_json(result))
    resp.headers["Cache-Control"] = "no-store"
    return resp


OFFLINE_MAX_BODY = 32768   # 20 scans of a ~340-character QR text each, with room to spare
_SCAN_FIELDS = {"id", "qr", "context", "scanned_at", "valid", "reason"}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _offline_scan(item) -> services.OfflineScan | str:
    """The scan an entry of the upload describes, or why it cannot be read (the upload is then refused whole:
    the page makes every entry itself, so a malformed one is a bug or a forgery, never worth a retry)."""
    if not isinstance(item, dict) or not _SCAN_FIELDS >= set(item) or not {"id", "qr", "scanned_at"} <= set(item):
        return _l("每条记录须含 id、qr、scanned_at（可选 context、valid、reason），不含其他字段。")
    scan_id, qr, scanned_at = item["id"], item["qr"], item["scanned_at"]
    context, valid, reason = item.get("context"), item.get("valid", False), item.get("reason")
    if not isinstance(scan_id, str) or not 1 <= len(scan_id) <= 64:
        return _l("id 须为 1 至 64 个字符。")
    if not isinstance(qr, str) or not qr.strip() or len(qr) > MAX_QR_LENGTH:
        return _l("qr 须为扫描到的二维码内容。")
    if not isinstance(valid, bool) or not (reason is None or (isinstance(reason, str) and len(reason) <= 32)):
        return _l("valid 须为布尔值，reason 须为原因代码或 null。")
    if context == "":
        context = None
    if context is not None and (not isinstance(context, str) or not rules.is_context(context)):
        return _l("context 无效，可选值：%(values)s。", values=joined(rules.CONTEXT_LABELS))
    try:
        at = (datetime.fromisoformat(scanned_at.upper())
              if isinstance(scanned_at, str) and _RFC3339.fullmatch(scanned_at) else None)
    except ValueError:
        at = None
    if at is None:
        return _l("scanned_at 须为带时区的 ISO-8601 时间。")
    return services.OfflineScan(id=scan_id, qr=qr, context=context, scanned_at=at, valid=valid, reason=reason)


@bp.post("/verify/offline")
@checks_own_body("OFFLINE_MAX_BODY before parsing; a JSON object of fixed shape; an entry with a control character "
                 "or a lone surrogate in its text is refused alone (bad_characters) before anything is written")
@limiter.exempt  # counted below, in the same bucket as /verify
def offline_scans():
    """Scans an officer's page (or a gate) verified offline, uploaded when it is online again: each is logged at
    the time it was made, so the holder's 核验记录 shows it. Answers which were recorded, which had been already,
    and which were refused and why (those are never retried)."""
    retry_after = seconds_over_limit(*_rate_bucket())
    if retry_after is not None:
        raise TooManyRequests(retry_after=retry_after)
    if request.content_length is not None and request.content_length > OFFLINE_MAX_BODY:
        return _error(413, "too_large", _l("请求体不能超过 %(limit)s 字节。", limit=OFFLINE_MAX_BODY))
    request.max_content_length = OFFLINE_MAX_BODY
    if request.mimetype != "application/json":
        return _error(400, "wrong_content_type", _l("请求须为 JSON（Content-Type: application/json）。"))
    data = request.get_json(silent=True)
    items = data.get("scans") if isinstance(data, dict) and set(data) == {"scans"} else None
    if not isinstance(items, list) or not 1 <= len(items) <= rules.OFFLINE_UPLOAD_MAX_SCANS:
        return _error(400, "malformed_json",
                      _l('请求体须为 {"scans": [...]}，含 1 至 %(max)s 条记录。', max=rules.OFFLINE_UPLOAD_MAX_SCANS))
    scans = [_offline_scan(item) for item in items]
    bad = next(((i, why) for i, why in enumerate(scans) if isinstance(why, str)), None)
    if bad is not None:
        return _error(400, "malformed_scan", _l("第 %(n)s 条记录：%(why)s", n=bad[0] + 1, why=bad[1]))
    session = get_session()   # one transaction for the whole upload
    viewer = _viewer()
    if isinstance(viewer, Response):
        return viewer
    if viewer.kind == rules.VIEWER_PUBLIC:
        return _error(401, "unauthorized", _l("上传离线核验记录须使用工作人员账号或 API 密钥。"),
                      **{"WWW-Authenticate": 'Bearer realm="suishen"'})
    now = edge.now()
    recorded, duplicates, refused = [], [], []
    for item in scans:
        if any(hostile_text(text) for text in (item.id, item.qr, item.context or "", item.reason or "")):
            refused.append({"id": None if hostile_text(item.id) else item.id, "error": "bad_characters",
                            "message": "记录含无效字符（控制字符等），不予接收。"})
            continue
        try:
            new = services.record_offline_scan(session, item, viewer=viewer, now=now, keyring=signing.keyring())
        except DomainError as exc:
            refused.append({"id": item.id, "error": exc.code, "message": exc.user_message})
            continue
        (recorded if new else duplicates).append(item.id)
    edge.commit()
    resp = jsonify({"recorded": recorded, "duplicates": duplicates, "refused": refused})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/openapi.json")
def openapi():
    document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    document["servers"] = [{"url": current_app.config["BASE_URL"]}]
    resp = jsonify(document)
    resp.headers["Cache-Control"] = "no-cache"
    return resp
