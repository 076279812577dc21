"""Account rules: levels of identity assurance (12123 style) and password policy. No I/O."""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp.lazytext import _l

# Identity assurance of an account (SPEC 5.1).
LEVEL_UNVERIFIED = "unverified"  # registered, identity not yet proven
LEVEL_REALNAME = "realname"      # 实名认证: phone on file confirmed by SMS; limited functions
LEVEL_REALPERSON = "realperson"  # 实人认证: liveness + face match, or 面签 at a window; full account
LEVELS = (LEVEL_UNVERIFIED, LEVEL_REALNAME, LEVEL_REALPERSON)
LEVEL_LABELS = {
    LEVEL_UNVERIFIED: _l("未认证"),
    LEVEL_REALNAME: _l("实名认证（功能受限）"),
    LEVEL_REALPERSON: _l("实人认证"),
}

PASSWORD_MIN = 8
PASSWORD_MAX = 64
LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
REGISTER_RATE_LIMIT = "10 per hour"


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None."""
    if len(password) < PASSWORD_MIN:
        return _l("密码至少 %(n)s 位。", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _l("密码最多 %(n)s 位。", n=PASSWORD_MAX)
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return _l("密码须同时包含字母和数字。")
    return None


def is_full_account(level: str) -> bool:
    return level == LEVEL_REALPERSON


# How an account reached its level (User.verified_by).
BY_LIVENESS = "liveness"            # 实人认证 in the browser camera
BY_SMS = "sms"                      # 实名认证: SMS code to the phone on file
BY_ID_CARD = "id_card_review"       # both sides of the ID card, approved by a reviewer
BY_FACE_TO_FACE = "face_to_face"    # 面签 at a police window

# What a limited (实名) account may not do until it passes 实人认证 (SPEC 5.1).
FULL_ONLY_FUNCTIONS = {
    "licence": _l("电子驾驶证申领和出示"),
}

# Manual identity review of the ID card photos.
REVIEW_PENDING = "pending"
REVIEW_APPROVED = "approved"
REVIEW_REJECTED = "rejected"
ID_CARD_MAX_BYTES = 10 * 1024 * 1024
ID_CARD_STORED_WIDTH = 1024
# A 面签 account has no password until the holder sets one with an SMS code: this never matches a password.
UNUSABLE_PASSWORD = "!"


def realname_refusal(level: str, account_phone: str, phone_on_file: str) -> str | None:
    """Why 实名认证 by SMS cannot start, or None. The code goes to the phone on file (预留手机号), which must be
    the account's own phone."""
    if level != LEVEL_UNVERIFIED:
        return _l("您的账号已完成认证。")
    if not phone_on_file:
        return _l("公安机关未登记您的预留手机号，无法通过短信认证。请上传身份证照片人工审核或到窗口面签。")
    if account_phone != phone_on_file:
        return _l("注册手机号与您在公安机关登记的预留手机号不一致，无法通过短信认证。"
                  "请使用预留手机号注册，或到公安交管窗口办理面签。")
    return None


def id_card_refusal(level: str) -> str | None:
    """Only a 实名 (limited) account uploads its ID card: the SMS step proved the phone first."""
    if level == LEVEL_REALPERSON:
        return _l("您的账号已完成实人认证。")
    if level != LEVEL_REALNAME:
        return _l("请先完成实名认证（短信验证预留手机号），再上传身份证照片。")
    return None


# --- Per-account sign-in throttling (SPEC 8: wrong passwords slow the account down whatever the IP) -------------
@dataclass(frozen=True)
class ThrottlePolicy:
    """The ``max_failures``-th wrong password in a row locks the identifier for ``base``, and each further one
    (tried after the lock ended) doubles the lock, up to ``cap``. A failure older than ``memory`` is forgotten (the
    count starts again); a sign-in that succeeds clears it."""

    max_failures: int = 5
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)
    memory: timedelta = timedelta(hours=24)

    @classmethod
    def from_config(cls, config) -> "ThrottlePolicy":
        return cls(max_failures=config["SUISHEN_LOGIN_MAX_FAILURES"],
                   base=timedelta(seconds=config["SUISHEN_LOGIN_BACKOFF_BASE"]),
                   cap=timedelta(seconds=config["SUISHEN_LOGIN_BACKOFF_MAX"]),
                   memory=timedelta(seconds=config["SUISHEN_LOGIN_FAILURE_MEMORY"]))


def throttle_key(kind: str, identifier: str) -> str:
    """The row of an identifier: ``kind`` (citizen | officer) and a digest of what was typed, normalised as the
    sign-in looks it up. Whether an account has that identifier plays no part (no enumeration)."""
    return f"{kind}:" + hashlib.sha256((identifier or "").strip().upper().encode("utf-8")).hexdigest()


def lock_after(policy: ThrottlePolicy, failures: int) -> timedelta:
    """How long the identifier is locked after its ``failures``-th failure in a row: nothing before
    ``max_failures``, then base, 2 × base, 4 × base … never more than ``cap``."""
    over = failures - policy.max_failures
    if over < 0:
        return timedelta(0)
    return min(policy.cap, policy.base * (2 ** min(over, 30)))


def lock_left(locked_until: datetime | None, now: datetime) -> timedelta:
    """What remains of a lock (zero when a sign-in may be tried)."""
    if locked_until is None or now >= locked_until:
        return timedelta(0)
    return locked_until - now


def locked_message(left: timedelta) -> str:
    """One sentence for every identifier, known or not: whole minutes, rounded up."""
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    return _l("登录失败次数过多，请 %(minutes)s 分钟后再试。", minutes=minutes)
