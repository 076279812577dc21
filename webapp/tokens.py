"""The 60-second window of both credentials' codes, and the e-licence barcode's numeric code (SPEC §6).

The QR carries a signed token that anyone can check offline with the published keys (``webapp.signing``). The
1-D barcode carries a shorter, all-digit code (:func:`issue_numeric`), checked online only: Code128 set C packs two
digits per symbol, so 22 digits are 156 modules, ~4 device pixels per module across a phone screen, where a long
token could not be scanned. It trades a signature for an 8-digit HMAC under the server's secret (a 1 in 10^8
guess per try, for a code that lives two minutes behind rate-limited verifiers) and names the credential by its
integer primary key. A code is accepted in its own window and for ``GRACE_WINDOWS`` windows after (a gate that
scanned it a moment before the refresh); older is a stale screenshot.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=60)
GRACE_WINDOWS = 1


@dataclass(frozen=True)
class TokenClaims:
    kind: str            # "travel_id" | "driving_licence"
    db_id: int           # the credential's integer primary key
    window: int


class TokenError(ValueError):
    """Why a token is refused: ``code`` is one of malformed, bad_signature, stale, future.

    ``claims`` is set when the signature was good but the window was not (stale, future): the credential is
    real and the verification can be logged on it.
    """

    def __init__(self, code: str, claims: TokenClaims | None = None):
        super().__init__(code)
        self.code = code
        self.claims = claims


def window_of(now: datetime) -> int:
    return int(now.timestamp() // WINDOW.total_seconds())


def seconds_left(now: datetime) -> float:
    """Seconds until the current window ends (the QR page's countdown)."""
    size = WINDOW.total_seconds()
    return size - (now.timestamp() % size)


def extract(text: str) -> str:
    """Accept the bare token or the full URL a phone camera would read (``<base>/v/<token>``)."""
    text = (text or "").strip()
    if "/v/" in text:
        text = text.rsplit("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0]
    return text


def _check_window(claims: TokenClaims, now: datetime, grace_windows: int) -> TokenClaims:
    current = window_of(now)
    if claims.window > current + 1:  # one window of skew between hosts' clocks
        raise TokenError("future", claims)
    if current - claims.window > grace_windows:
        raise TokenError("stale", claims)
    return claims


def is_numeric(text: str) -> bool:
    """Whether a scanned text is meant as the barcode's numeric code (digits, spaces and hyphens, as an officer
    may type it) rather than a QR token."""
    return bool(_NUMERIC_INPUT_RE.match(extract(text)))


# --- The numeric code of the 1-D barcode ------------------------------------------------------------------
# <kind 1><primary key 10, zero-padded><window mod 1000, 3><HMAC 8> = 22 digits: an even count, so Code128 set C
# encodes it with no odd digit left over.
# Only the e-licence shows a barcode (SPEC 5.3). Kind 1 was the travel ID's digit; no page ever showed such a code,
# so it is refused like any unknown kind (a numeric code is a second, shorter way in that the travel ID need not
# have: its QR carries the full token).
NUMERIC_KINDS = {"2": "driving_licence"}
NUMERIC_ID_DIGITS = 10
NUMERIC_WINDOW_DIGITS = 3
NUMERIC_MAC_DIGITS = 8
NUMERIC_LENGTH = 1 + NUMERIC_ID_DIGITS + NUMERIC_WINDOW_DIGITS + NUMERIC_MAC_DIGITS
_WINDOW_MOD = 10 ** NUMERIC_WINDOW_DIGITS
_NUMERIC_INPUT_RE = re.compile(r"^[0-9][0-9 \-]{0,60}$")


def _numeric_mac(secret: str, kind_digit: str, db_id: int, window: int) -> str:
    # A key of its own (not the QR signer's), so the two codes can never be swapped for one another.
    key = hashlib.sha256(b"suishen.code128.v1|" + secret.encode()).digest()
    digest = hmac.new(key, f"{kind_digit}|{db_id}|{window}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10 ** NUMERIC_MAC_DIGITS:0{NUMERIC_MAC_DIGITS}d}"


def issue_numeric(secret: str, kind: str, db_id: int, now: datetime) -> str:
    """The 22-digit code of a credential for the current window (the show page's Code128).

    :param db_id: the credential's integer primary key (1 to 10^10 - 1)
    """
    kind_digit = {v: k for k, v in NUMERIC_KINDS.items()}.get(kind)
    if kind_digit is None:
        raise ValueError(f"a {kind} has no numeric code")
    if not 0 < db_id < 10 ** NUMERIC_ID_DIGITS:
        raise ValueError(f"id {db_id} does not fit in {NUMERIC_ID_DIGITS} digits")
    window = window_of(now)
    return (f"{kind_digit}{db_id:0{NUMERIC_ID_DIGITS}d}{window % _WINDOW_MOD:0{NUMERIC_WINDOW_DIGITS}d}"
            f"{_numeric_mac(secret, kind_digit, db_id, window)}")


def _full_window(low_digits: int, current: int) -> int:
    """The window whose last digits are ``low_digits`` nearest the current one: up to half the cycle
    (500 windows, ~8 h) back, else ahead. An older code comes back as a wrong window, so as bad_signature."""
    back = (current - low_digits) % _WINDOW_MOD
    return current - back if back <= _WINDOW_MOD // 2 else current + (_WINDOW_MOD - back)


def check_numeric(secret: str, text: str, now: datetime, grace_windows: int = GRACE_WINDOWS) -> TokenClaims:
    """Check the barcode's numeric code (as typed, or in a ``/v/`` URL): 60 s window, grace, stale and future.

    :raises TokenError: malformed (not 22 digits, unknown kind, id 0), bad_signature, stale, future
    """
    code = re.sub(r"[ \-]", "", extract(text))
    if len(code) != NUMERIC_LENGTH or not (code.isascii() and code.isdigit()) or code[0] not in NUMERIC_KINDS:
        raise TokenError("malformed")
    kind_digit = code[0]
    db_id = int(code[1:1 + NUMERIC_ID_DIGITS])
    low = int(code[1 + NUMERIC_ID_DIGITS:1 + NUMERIC_ID_DIGITS + NUMERIC_WINDOW_DIGITS])
    mac = code[-NUMERIC_MAC_DIGITS:]
    if db_id == 0:
        raise TokenError("malformed")
    window = _full_window(low, window_of(now))
    if not hmac.compare_digest(mac, _numeric_mac(secret, kind_digit, db_id, window)):
        raise TokenError("bad_signature")
    claims = TokenClaims(kind=NUMERIC_KINDS[kind_digit], db_id=db_id, window=window)
    return _check_window(claims, now, grace_windows)


def group_digits(code: str, size: int = 4) -> str:
    """``2000000004251712345678`` → ``2000 0000 0425 1712 3456 78``: easier to read out and type."""
    return " ".join(code[i:i + size] for i in range(0, len(code), size))
