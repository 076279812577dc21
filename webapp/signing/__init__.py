"""Credential tokens that any verifier can check offline with published keys (issue 17, SPEC §6 "Offline
verification", docs/offline.md).

The entry point for the web layer is :func:`make_token`: the token of a travel certificate or an e-licence now (what
the QR's ``/v/<token>`` carries). Verification reads a scanned token with ``credential_token.read``, given the key
ring (:func:`keyring`).

Beneath them: ``rules`` (claims, times, status packing; no I/O), ``keys`` (the key folder), ``credential_token``
(COSE/CWT through the ``cwt`` library), ``status_list`` (the signed list), ``views`` (``/.well-known/jwks.json``),
``cli`` (``keys init|list|rotate|prune``). This package reads no credential domain: a credential says what its
token carries itself (``token_facts``, on TravelCertificate and ElectronicLicence), and the status list's states
are read by verification, which serves ``/status-list`` (the domains' views make tokens, so they sit above this).
"""
from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

from webapp.config import PRODUCTION
from webapp.errors import ServiceUnavailable
from webapp.lazytext import _l
from webapp.signing import credential_token, rules
from webapp.signing.keys import KeyRing, NoSigningKey, signer_at

EXTENSION = "signing"
STATUS_LIST_PATH = "/status-list"


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = KeyRing(app.config["SUISHEN_SIGNING_KEYS"], app.config["SUISHEN_QR_GRACE_WINDOWS"])


def check_keys(app: Flask) -> None:
    """Refuse to serve in production without a key that can sign now (the QR pages would answer 503): `make run`
    creates one; elsewhere run `flask --app app keys init` once and give every web host the same folder.

    :raises RuntimeError: production, and no key in the folder can sign at the app clock's now
    """
    ring: KeyRing = app.extensions[EXTENSION]
    if app.config["SUISHEN_ENV"] == PRODUCTION and signer_at(ring.keys(), app.extensions["clock"].now()) is None:
        raise RuntimeError(f"No QR signing key in {ring.directory}: run `flask --app app keys init` (make run does) "
                           "or set SUISHEN_SIGNING_KEYS to the folder the other web hosts use.")


def keyring() -> KeyRing:
    return current_app.extensions[EXTENSION]


def status_list_uri() -> str:
    return current_app.config["BASE_URL"] + STATUS_LIST_PATH


def make_token(credential, now: datetime) -> str:
    """The signed token of a travel certificate or an e-licence (anything with ``token_facts(times)``:
    ``TravelCertificate``, ``ElectronicLicence``) for the current 60 s window: the QR text is
    ``f"{BASE_URL}/v/{token}"``.

    :raises ServiceUnavailable: no signing key can sign now (none was created: `flask --app app keys init`)
    """
    config = current_app.config
    try:
        return token_for(keyring(), credential, now, base_url=config["BASE_URL"],
                         grace_windows=config["SUISHEN_QR_GRACE_WINDOWS"])
    except NoSigningKey as exc:
        current_app.logger.error("%s", exc)
        raise ServiceUnavailable(_l("二维码暂时无法生成（签名密钥未配置），请稍后再试。")) from None


def token_for(ring: KeyRing, credential, now: datetime, *, base_url: str,
              grace_windows: int = rules.GRACE_WINDOWS) -> str:
    """:func:`make_token` without Flask: the key ring, BASE_URL and grace windows given.

    :raises NoSigningKey: no key of ``ring`` can sign at ``now``
    """
    times = rules.token_times(now, grace_windows)
    return credential_token.issue(ring.signer(now), credential.token_facts(times), times, issuer=base_url,
                                  status_uri=base_url + STATUS_LIST_PATH)

