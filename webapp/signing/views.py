"""What offline verifiers fetch: the public keys (JWKS). Public and cacheable. (The signed status list, which reads
the credentials, is verification's: ``/status-list``.)"""
from __future__ import annotations

from flask import Blueprint, jsonify

from webapp import signing
from webapp.signing import keys
from webapp.web import edge

bp = Blueprint("signing", __name__)

JWKS_MAX_AGE = 300      # seconds; a new key is published SUISHEN_OFFLINE_STATUS_MAX_AGE before it signs


@bp.get("/.well-known/jwks.json")
def jwks():
    resp = jsonify(keys.jwks(signing.keyring().published(edge.now())))
    resp.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
