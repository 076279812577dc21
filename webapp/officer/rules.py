"""Officer accounts, API keys and the paper certificate. No I/O. (The roles themselves: :mod:`webapp.roles`.)"""
from __future__ import annotations

import hashlib
import re

from webapp.accounts.rules import password_problem as _citizen_password_problem
from webapp.lazytext import _l

OFFICER_PASSWORD_MIN = 10
LOGIN_RATE_LIMIT = "10 per minute;50 per hour"

# API keys: "ssk_" + 43 url-safe characters (256 bits). Only the SHA-256 of the whole key is stored; a short
# prefix is kept to tell keys apart in listings and logs.
API_KEY_PREFIX = "ssk_"
API_KEY_BYTES = 32
API_KEY_DISPLAY_CHARS = 12
SCOPE_VERIFY = "verify"
SCOPES = (SCOPE_VERIFY,)
_USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")

# Paper temporary travel ID issued at the 公安制证窗口.
STATION_MAX = 64
PAPER_SERIAL_PREFIX = "ZM"


def officer_password_problem(password: str) -> str | None:
    """Why an officer password is too weak (stricter than a citizen's: at least 10 characters), or None."""
    if len(password) < OFFICER_PASSWORD_MIN:
        return _l("密码至少 %(n)s 位。", n=OFFICER_PASSWORD_MIN)
    return _citizen_password_problem(password)


def username_problem(username: str) -> str | None:
    if not _USERNAME_RE.match(username or ""):
        return _l("用户名须为 3–32 位小写字母、数字、点、下划线或连字符，并以字母开头。")
    return None


def hash_api_key(raw: str) -> str:
    """SHA-256 hex of a presented key. Keys are 256-bit random, so a plain hash is enough (no stretching)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def looks_like_api_key(raw: str) -> bool:
    return raw.startswith(API_KEY_PREFIX) and 20 <= len(raw) <= 80


def display_prefix(raw: str) -> str:
    return raw[:API_KEY_DISPLAY_CHARS]
