"""What offline verifiers fetch: the public keys (JWKS) and the signed status list. Public and cacheable."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from webapp import signing
from webapp.db import get_session
from webapp.errors import ServiceUnavailable
from webapp.signing import keys, rules, services, status_list
from webapp.web import edge

bp = Blueprint("signing", __name__)

JWKS_MAX_AGE = 300      # seconds; a new key is published SUISHEN_OFFLINE_STATUS_MAX_AGE before it signs


@bp.get("/.well-known/jwks.json")
def jwks():
    resp = jsonify(keys.jwks(signing.keyring().published(edge.now())))
    resp.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get(signing.STATUS_LIST_PATH)
def status():
    """The status list token as of now (its ``iat``), signed by the current key."""
    now = edge.now()
    try:
        key = signing.keyring().signer(now)
    except keys.NoSigningKey as exc:
        current_app.logger.error("%s", exc)
        raise ServiceUnavailable("状态列表暂时无法生成（签名密钥未配置）。") from None
    body = status_list.issue(key, services.status_states(get_session(), now), now, uri=signing.status_list_uri())
    resp = Response(body, mimetype=rules.STATUS_LIST_TYPE)
    resp.headers["Cache-Control"] = f"public, max-age={int(rules.STATUS_LIST_TTL.total_seconds())}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
