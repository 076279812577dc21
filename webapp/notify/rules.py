"""SMS verification codes and notifications (SPEC §5.1, §8). No I/O.

A code is 6 digits, single-use, valid for ``CODE_TTL``; a phone can ask again only after ``RESEND_COOLDOWN``
and at most ``MAX_PER_HOUR`` / ``MAX_PER_DAY`` times for one purpose; ``MAX_ATTEMPTS`` wrong entries burn it.
The defaults are the usual 12123 numbers; each is a named setting (``SUISHEN_SMS_*``).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_LENGTH = 6

PURPOSE_REALNAME = "realname"          # 实名认证: prove the phone on file belongs to the account holder
PURPOSE_RESET = "reset_password"       # 忘记密码 / 面签 accounts set their first password
PURPOSES = (PURPOSE_REALNAME, PURPOSE_RESET)
PURPOSE_LABELS = {PURPOSE_REALNAME: "实名认证", PURPOSE_RESET: "设置登录密码"}

_CODE_RE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class CodePolicy:
    ttl: timedelta = timedelta(minutes=5)
    resend_cooldown: timedelta = timedelta(seconds=60)
    max_per_hour: int = 5
    max_per_day: int = 10
    max_attempts: int = 5

    @classmethod
    def from_config(cls, config) -> "CodePolicy":
        return cls(ttl=timedelta(seconds=config["SUISHEN_SMS_CODE_TTL"]),
                   resend_cooldown=timedelta(seconds=config["SUISHEN_SMS_RESEND_COOLDOWN"]),
                   max_per_hour=config["SUISHEN_SMS_MAX_PER_HOUR"],
                   max_per_day=config["SUISHEN_SMS_MAX_PER_DAY"],
                   max_attempts=config["SUISHEN_SMS_MAX_ATTEMPTS"])


@dataclass(frozen=True)
class SendRefusal:
    code: str            # too_soon | quota_exceeded
    message: str
    retry_after: timedelta


def send_refusal(policy: CodePolicy, now: datetime, sent_at: list[datetime]) -> SendRefusal | None:
    """Whether one more code may go to a phone for a purpose, given when the earlier ones were sent (any order)."""
    if not sent_at:
        return None
    wait = resend_wait(policy, now, max(sent_at))
    if wait:
        return SendRefusal("too_soon", f"验证码已发送，请 {whole_seconds(wait)} 秒后再重新获取。", wait)
    hour = sorted(t for t in sent_at if now - t < timedelta(hours=1))
    if len(hour) >= policy.max_per_hour:
        wait = hour[0] + timedelta(hours=1) - now
        return SendRefusal("quota_exceeded", "获取验证码过于频繁，请 1 小时后再试。", wait)
    day = sorted(t for t in sent_at if now - t < timedelta(days=1))
    if len(day) >= policy.max_per_day:
        wait = day[0] + timedelta(days=1) - now
        return SendRefusal("quota_exceeded", "今日获取验证码次数已达上限，请明天再试。", wait)
    return None


def resend_wait(policy: CodePolicy, now: datetime, last_sent: datetime | None) -> timedelta:
    """How long the resend cool-down still runs after the last code (zero when a code may go now)."""
    if last_sent is None:
        return timedelta(0)
    return max(timedelta(0), policy.resend_cooldown - (now - last_sent))


def whole_seconds(delta: timedelta) -> int:
    """Seconds rounded up, at least 1: what a countdown shows for a wait that has not ended."""
    return max(1, int(-(-delta.total_seconds() // 1)))


def well_formed(code: str) -> bool:
    return bool(_CODE_RE.match(code or ""))


SMS_CODE_KEY_LABEL = b"suishen sms-code v1"


def derive_key(secret: str | bytes, label: bytes) -> bytes:
    """A key for one purpose, derived from the app secret (HKDF-Expand of RFC 5869 with the secret as the PRK, one
    block): a digest made with it says nothing about the secret's other uses (session cookies, QR tokens)."""
    prk = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(prk, label + b"\x01", hashlib.sha256).digest()


def code_key(secret: str | bytes) -> bytes:
    """The key of the SMS-code digests."""
    return derive_key(secret, SMS_CODE_KEY_LABEL)


def code_digest(key: bytes, phone: str, purpose: str, code: str) -> str:
    """What is stored instead of the code: an HMAC keyed by :func:`code_key` (a 6-digit code alone is guessable
    from a plain hash, so it must not be recoverable from a database dump)."""
    if isinstance(key, str):
        raise TypeError("code_digest takes the derived key (code_key(secret)), not the app secret")
    message = f"{purpose}:{phone}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def no_account_text(purpose: str) -> str:
    """What a phone without an account gets instead of a code (忘记密码): the same SMS traffic and the same
    answers as a registered phone, so neither the page nor its timing tells who has an account; only the phone's
    owner learns it."""
    return (f"【随身证】有人使用本手机号申请{PURPOSE_LABELS[purpose]}，但本手机号未注册随身证账号。"
            "如非本人操作，请忽略本短信。")


def code_text(code: str, purpose: str, ttl: timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return (f"【随身证】您正在进行{PURPOSE_LABELS[purpose]}，验证码 {code}，{minutes} 分钟内有效。"
            "工作人员不会向您索要验证码，请勿泄露。")

