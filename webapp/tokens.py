"""The rotating QR token of both credentials (SPEC §6).

A token is ``<kind>.<credential public id>.<window>.<signature>``: an itsdangerous HMAC over the credential
and the current 60-second window of the server clock. Nothing is stored: any host with the secret can issue
and check it. A token is accepted in its own window and for ``GRACE_WINDOWS`` windows after (a gate that
scanned it a moment before the refresh); older is a stale screenshot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer

WINDOW = timedelta(seconds=60)
GRACE_WINDOWS = 1
KINDS = {"T": "travel_id", "L": "driving_licence"}
_TOKEN_RE = re.compile(r"^(?P<kind>[TL])\.(?P<cid>[A-Za-z0-9_-]{6,32})\.(?P<window>\d{1,12})\.(?P<sig>[A-Za-z0-9_-]{10,64})$")
MAX_TOKEN_LENGTH = 120


class TokenError(ValueError):
    """Why a token is refused: ``code`` is one of malformed, bad_signature, stale, future."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class TokenClaims:
    kind: str            # "travel_id" | "driving_licence"
    credential_id: str   # the credential's public id
    window: int


def window_of(now: datetime) -> int:
    return int(now.timestamp() // WINDOW.total_seconds())


def seconds_left(now: datetime) -> float:
    """Seconds until the current window ends (the QR page's countdown)."""
    size = WINDOW.total_seconds()
    return size - (now.timestamp() % size)


def _signer(secret: str) -> Signer:
    return Signer(secret, salt="suishen.qr.v1", sep=".", digest_method=None)


def issue(secret: str, kind: str, credential_id: str, now: datetime) -> str:
    prefix = {v: k for k, v in KINDS.items()}[kind]
    payload = f"{prefix}.{credential_id}.{window_of(now)}"
    return _signer(secret).sign(payload).decode()


def extract(text: str) -> str:
    """Accept the bare token or the full URL a phone camera would read (``<base>/v/<token>``)."""
    text = (text or "").strip()
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0]
    return text


def check(secret: str, text: str, now: datetime, grace_windows: int = GRACE_WINDOWS) -> TokenClaims:
    """Parse and check a scanned token against the server clock.

    :raises TokenError: malformed, bad_signature, stale (older than its window plus the grace), future
    """
    token = extract(text)
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_RE.match(token):
        raise TokenError("malformed")
    try:
        payload = _signer(secret).unsign(token).decode()
    except BadSignature:
        raise TokenError("bad_signature") from None
    prefix, cid, window = payload.split(".")
    window_no = int(window)
    current = window_of(now)
    if window_no > current + 1:  # one window of skew between hosts' clocks
        raise TokenError("future")
    if current - window_no > grace_windows:
        raise TokenError("stale")
    return TokenClaims(kind=KINDS[prefix], credential_id=cid, window=window_no)
