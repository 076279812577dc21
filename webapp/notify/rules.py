"""SMS verification codes and notifications (SPEC §5.1, §8). No I/O.

A code is 6 digits, single-use, valid for ``CODE_TTL``; a phone can ask again only after ``RESEND_COOLDOWN``
and at most ``MAX_PER_HOUR`` / ``MAX_PER_DAY`` times for one purpose; ``MAX_ATTEMPTS`` wrong entries burn it.
The defaults are the usual 12123 numbers; each is a named setting (``SUISHEN_SMS_*``).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from webapp.lazytext import _l, render

CODE_LENGTH = 6

PURPOSE_REALNAME = "realname"          # 实名认证: prove the phone on file belongs to the account holder
PURPOSE_RESET = "reset_password"       # 忘记密码 / 面签 accounts set their first password
PURPOSES = (PURPOSE_REALNAME, PURPOSE_RESET)
SMS_SIGNATURE = "【随身证】"  # the sender's name before every SMS, the same in every language
PURPOSE_LABELS = {PURPOSE_REALNAME: _l("实名认证"), PURPOSE_RESET: _l("设置登录密码")}

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
        return SendRefusal("too_soon", _l("验证码已发送，请 %(seconds)s 秒后再重新获取。", seconds=whole_seconds(wait)), wait)
    hour = sorted(t for t in sent_at if now - t < timedelta(hours=1))
    if len(hour) >= policy.max_per_hour:
        wait = hour[0] + timedelta(hours=1) - now
        return SendRefusal("quota_exceeded", _l("获取验证码过于频繁，请 1 小时后再试。"), wait)
    day = sorted(t for t in sent_at if now - t < timedelta(days=1))
    if len(day) >= policy.max_per_day:
        wait = day[0] + timedelta(days=1) - now
        return SendRefusal("quota_exceeded", _l("今日获取验证码次数已达上限，请明天再试。"), wait)
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
    return _l("有人使用本手机号申请%(purpose)s，但本手机号未注册随身证账号。如非本人操作，请忽略本短信。",
              purpose=PURPOSE_LABELS[purpose])


def signed(body: str, locale: str | None = None) -> str:
    """An SMS as it is sent, written in ``locale`` (None: the request's language): the sender's signature (the app's
    name, the same in every language) before the text."""
    return SMS_SIGNATURE + render(body, locale)


def code_text(code: str, purpose: str, ttl: timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return _l("您正在进行%(purpose)s，验证码 %(code)s，%(minutes)s 分钟内有效。工作人员不会向您索要验证码，"
              "请勿泄露。", purpose=PURPOSE_LABELS[purpose], code=code, minutes=minutes)



# === Web Push endpoints (SPEC §8: outgoing requests only to public push services) ==========================
# Pure checks, no I/O: the URL a browser's PushSubscription names, and the addresses its host resolved to (the
# resolver lives in gateway.py and is injected, so these run without a network). A subscription is checked when
# it is stored and again right before every push, against fresh DNS (webapp.notify.gateway.WebPush).

# The push services browsers use: Chrome, Edge (Chromium), Opera, Samsung → FCM; Firefox → Mozilla autopush;
# Safari (macOS 13+, iOS 16.4+ home-screen apps) → web.push.apple.com (Apple documents *.push.apple.com);
# legacy Edge → WNS. "*.example.com" matches any sub-domain (not example.com itself); other entries match exactly.
DEFAULT_PUSH_HOSTS = ("fcm.googleapis.com", "updates.push.services.mozilla.com", "*.push.apple.com",
                      "*.notify.windows.com")
PUSH_ENDPOINT_MIN_LENGTH = 12      # "https://a.b/"
PUSH_ENDPOINT_MAX_LENGTH = 1000    # push_subscriptions.endpoint is String(1000)
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
BAD_PUSH_ENDPOINT = _l("推送订阅无效：只接受浏览器推送服务的 HTTPS 地址。请在浏览器中关闭后重新开启消息推送。")


class BadPushEndpoint(ValueError):
    """The endpoint is not one this server will send to; ``str(exc)`` is the user message, ``reason`` the log's."""

    def __init__(self, reason: str, message: str = BAD_PUSH_ENDPOINT) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PushEndpointPolicy:
    """Where pushes may go. The default is both checks: a host on the allow-list AND every address it resolves
    to public. ``allowed_hosts=()`` leaves only the address check (any public HTTPS host, e.g. a self-hosted
    push service). ``schemes``/``ports``/``public_only`` are loosened only by tests that deliver to a loopback
    receiver (there is deliberately no setting for that)."""

    allowed_hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    schemes: tuple[str, ...] = ("https",)
    ports: tuple[int, ...] | None = (443,)     # None: any port
    public_only: bool = True

    @classmethod
    def from_config(cls, config) -> "PushEndpointPolicy":
        raw = config.get("SUISHEN_PUSH_ALLOWED_HOSTS")
        hosts = DEFAULT_PUSH_HOSTS if raw is None else tuple(
            h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())
        return cls(allowed_hosts=hosts)


@dataclass(frozen=True)
class PushTarget:
    scheme: str
    host: str        # lower case, no trailing dot; an IP literal without brackets
    port: int


def push_target(endpoint: str, policy: PushEndpointPolicy) -> PushTarget:
    """Parse and check an endpoint URL (before any DNS).

    :raises BadPushEndpoint: too short/long, spaces or control characters, a scheme or port the policy refuses,
        user:password@, a fragment, a malformed host, or a host not on the allow-list
    """
    if not isinstance(endpoint, str) or not PUSH_ENDPOINT_MIN_LENGTH <= len(endpoint) <= PUSH_ENDPOINT_MAX_LENGTH:
        raise BadPushEndpoint("length")
    if _CONTROL_OR_SPACE.search(endpoint):
        raise BadPushEndpoint("control characters or spaces")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise BadPushEndpoint("unparsable") from None
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        raise BadPushEndpoint(f"scheme {scheme!r}")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise BadPushEndpoint("userinfo")
    if parts.fragment or "#" in endpoint:
        raise BadPushEndpoint("fragment")
    port = port if port is not None else {"https": 443, "http": 80}[scheme]
    if policy.ports is not None and port not in policy.ports:
        raise BadPushEndpoint(f"port {port}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadPushEndpoint("no host")
    literal = ip_literal(host)
    if literal is None and not _is_dns_name(host):
        raise BadPushEndpoint("host syntax")
    if policy.allowed_hosts and (literal is not None or not host_allowed(host, policy.allowed_hosts)):
        raise BadPushEndpoint(f"host {host} not on the allow-list")
    if literal is not None and policy.public_only and not is_public_address(literal):
        raise BadPushEndpoint(f"address {literal} is not public")
    return PushTarget(scheme, literal or host, port)


def ip_literal(host: str) -> str | None:
    """The address when ``host`` is an IP literal (as urlsplit gives it: IPv6 without brackets), else None.
    The shorthand forms inet_aton reads as IPv4 ("2130706433", "0x7f.1", "127.1", "0177.0.0.1") are not
    literals here; :func:`_is_dns_name` refuses them as names."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0] if ":" in host else host))
    except ValueError:
        return None


def _is_dns_name(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2:
        return False
    if not all(_HOST_LABEL.match(label) for label in labels):
        return False
    # A numeric top-level label is an IPv4 shorthand to inet_aton ("127.1", "0x7f.0.0.1"), never a real name.
    return not re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", labels[-1])


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def is_public_address(address: str) -> bool:
    """Whether a connection to ``address`` leaves for the public internet: a global unicast address.

    ``ipaddress.is_global`` alone is not enough (Python 3.11 calls multicast, 6to4 of 127.0.0.1 and fec0::
    global), so: no loopback, private, link-local, site-local, multicast, reserved, unspecified, shared/CGNAT
    (100.64/10, not global), and an IPv6 address that embeds an IPv4 one (mapped ::ffff:a.b.c.d, 6to4
    2002::/16, NAT64 64:ff9b::/96) is judged by the IPv4 address it reaches. Teredo and local NAT64 are refused.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(str(ip.ipv4_mapped))
        if ip.sixtofour is not None:
            return is_public_address(str(ip.sixtofour))
        if ip.teredo is not None or ip in _NAT64_LOCAL or ip.is_site_local:
            return False
        if ip in _NAT64:
            return is_public_address(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    elif ip in ipaddress.IPv4Network("100.64.0.0/10"):
        return False
    if ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_private:
        return False
    return ip.is_global and not ip.is_reserved


def check_push_addresses(target: PushTarget, addresses: list[str], policy: PushEndpointPolicy) -> str:
    """The address to connect to, given every address the host resolved to. All must be public: a resolver
    answering one public and one loopback address must not leave the choice to the socket library.

    :raises BadPushEndpoint: nothing resolved, or one of the addresses is not public
    """
    if not addresses:
        raise BadPushEndpoint(f"{target.host} did not resolve")
    if policy.public_only:
        for address in addresses:
            if not is_public_address(address):
                raise BadPushEndpoint(f"{target.host} resolves to {address}, not a public address")
    return addresses[0]
