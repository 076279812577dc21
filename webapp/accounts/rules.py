"""Account rules: levels of identity assurance (12123 style) and password policy. No I/O."""
from __future__ import annotations

import re

# Identity assurance of an account (SPEC 5.1).
LEVEL_UNVERIFIED = "unverified"  # registered, identity not yet proven
LEVEL_REALNAME = "realname"      # 实名认证: phone on file confirmed by SMS; limited functions
LEVEL_REALPERSON = "realperson"  # 实人认证: liveness + face match, or 面签 at a window; full account
LEVELS = (LEVEL_UNVERIFIED, LEVEL_REALNAME, LEVEL_REALPERSON)
LEVEL_LABELS = {
    LEVEL_UNVERIFIED: "未认证",
    LEVEL_REALNAME: "实名认证（功能受限）",
    LEVEL_REALPERSON: "实人认证",
}

PASSWORD_MIN = 8
PASSWORD_MAX = 64
LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
REGISTER_RATE_LIMIT = "10 per hour"


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None."""
    if len(password) < PASSWORD_MIN:
        return f"密码至少 {PASSWORD_MIN} 位。"
    if len(password) > PASSWORD_MAX:
        return f"密码最多 {PASSWORD_MAX} 位。"
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return "密码须同时包含字母和数字。"
    return None


def is_full_account(level: str) -> bool:
    return level == LEVEL_REALPERSON


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths may be used as a post-login redirect (microblog's netloc guard)."""
    from urllib.parse import urlsplit

    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return parts.netloc == "" and parts.scheme == ""
