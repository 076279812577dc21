"""Verify a 随身证 QR offline, with nothing but the published keys and the signed status list (docs/offline.md).

    # once, while online: keep the issuer's keys and status list
    python scripts/offline_verify.py --fetch https://suishen.example.cn --store ./trust
    # then, offline, for each scanned QR text (or bare token)
    python scripts/offline_verify.py --store ./trust 'https://suishen.example.cn/v/0oRDoQEm…'

It prints the verdict (有效 / 无效：reason / 无法确认) and what the token says, and exits 0 only when valid. A gate
would call :func:`verify` in-process. Needs only the ``cwt`` package (PyPI, on pyca/cryptography); it imports
nothing of this repository, so it can be copied as it is.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cbor2
from cwt import COSE, COSEKey, DecodeError, VerifyError

ISS, EXP, NBF, IAT, STATUS, STATUS_LIST, CREDENTIAL = 1, 4, 5, 6, 65535, 65533, -65537
SKEW = 60                       # seconds of clock skew allowed, as the issuer allows
BEIJING = timezone(timedelta(hours=8))
KINDS = {1: "电子临时乘车身份证明", 2: "电子驾驶证"}
TICKETS = {0: "免费乘车儿童", 1: "儿童优惠票", 2: "全价票"}
REASONS = {
    "malformed": "无法识别的二维码", "bad_signature": "签名无效（被篡改或伪造）", "unknown_key": "签名密钥不在已发布的密钥中",
    "stale": "二维码已过期（截图无效）", "future": "二维码时间异常", "expired": "证件已过有效期", "revoked": "证件已作废",
    "licence_status": "驾驶证状态异常（扣留、暂扣等）", "status_unknown": "状态列表过旧或缺失",
}


@dataclass
class Result:
    verdict: str                 # valid | invalid | unknown
    reason: str | None = None
    facts: dict = field(default_factory=dict)

    def __str__(self) -> str:
        head = {"valid": "有效（离线核验）", "unknown": "无法确认：" + REASONS.get(self.reason or "", ""),
                "invalid": "无效：" + REASONS.get(self.reason or "", "")}[self.verdict]
        return "\n".join([head] + [f"  {name}: {value}" for name, value in self.facts.items()])


class Trust:
    """The issuer's public keys (JWKS) and its status list token, as fetched."""

    def __init__(self, jwks: dict, status_list: bytes | None):
        self.keys = {k["kid"].encode(): COSEKey.from_jwk({n: k[n] for n in ("kty", "crv", "x", "y", "kid")}
                                                         | {"alg": "ES256"})
                     for k in jwks.get("keys", []) if k.get("kty") == "EC" and k.get("crv") == "P-256"}
        self.status_iat, self.status_bits, self.status = None, 2, b""
        if status_list:
            claims = self._verified(status_list)       # a list that does not check out is no list
            if claims is not None:
                self.status_iat = claims[IAT]
                self.status_bits = claims[STATUS_LIST]["bits"]
                self.status = zlib.decompress(claims[STATUS_LIST]["lst"])

    def _kid(self, raw: bytes) -> bytes | None:
        """The kid of a tagged ES256 COSE_Sign1 (protected header), else None."""
        try:
            message = cbor2.loads(raw)
            header = cbor2.loads(message.value[0]) if message.tag == 18 else None
        except (cbor2.CBORDecodeError, ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError):
            return None
        if not isinstance(header, dict) or header.get(1) != -7 or not isinstance(header.get(4), bytes):
            return None
        return header[4]

    def _verified(self, raw: bytes) -> dict | None:
        key = self.keys.get(self._kid(raw) or b"")
        try:
            claims = cbor2.loads(COSE.new().decode(raw, key)) if key else None
        except (VerifyError, DecodeError, cbor2.CBORDecodeError, ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    def state(self, idx: int) -> int:
        per_byte = 8 // self.status_bits
        if idx // per_byte >= len(self.status):
            return 0
        return (self.status[idx // per_byte] >> (idx % per_byte * self.status_bits)) & (2 ** self.status_bits - 1)


def verify(text: str, trust: Trust, now: float | None = None, status_max_age: float = 3600) -> Result:
    """The offline verdict on a scanned QR text (its URL or the bare token) at ``now`` (epoch seconds)."""
    now = time.time() if now is None else now
    token = text.strip().rsplit("/v/", 1)[-1].split("?")[0].split("#")[0]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return Result("invalid", "malformed")
    kid = trust._kid(raw)
    if kid is None:
        return Result("invalid", "malformed")
    fresh = trust.status_iat is not None and now - trust.status_iat <= status_max_age
    if kid not in trust.keys:
        return Result("invalid" if fresh else "unknown", "unknown_key" if fresh else "status_unknown")
    claims = trust._verified(raw)
    if claims is None:
        return Result("invalid", "bad_signature")
    try:
        code, name, until, details = claims[CREDENTIAL]
        idx = claims[STATUS]["status_list"]["idx"]
        facts = {"证件": KINDS[code], "持证人": name, "签发方": claims[ISS]}
    except (KeyError, TypeError, ValueError):
        return Result("invalid", "malformed")
    if code == 1:
        end = until
        facts["有效期至"] = datetime.fromtimestamp(until, BEIJING).strftime("%Y-%m-%d %H:%M")
        ticket = details if isinstance(details, int) else (details[0] if now < details[1] else details[2])
        facts["票种"] = TICKETS[ticket]
    else:
        end = None if until is None else (until + 1) * 86400 - 8 * 3600   # through its last day, Beijing time
        facts["有效期至"] = "长期" if until is None else str(datetime.fromtimestamp(until * 86400, UTC).date())
        facts["准驾车型"], facts["生成时状态"] = details
    if now < claims[NBF] - SKEW:
        return Result("invalid", "future", facts)
    if now >= claims[EXP]:
        return Result("invalid", "stale", facts)
    if end is not None and now >= end:
        return Result("invalid", "expired", facts)
    if not fresh:
        return Result("unknown", "status_unknown", facts)
    facts["状态更新于"] = datetime.fromtimestamp(trust.status_iat, BEIJING).strftime("%H:%M")
    state = trust.state(idx)
    if state:
        return Result("invalid", "revoked" if state == 1 else "licence_status", facts)
    return Result("valid", None, facts)


def fetch(base: str, store: Path) -> None:
    store.mkdir(parents=True, exist_ok=True)
    for path, name in (("/.well-known/jwks.json", "jwks.json"), ("/status-list", "status-list.cwt")):
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=10) as answer:
            (store / name).write_bytes(answer.read())


def load(store: Path) -> Trust:
    status = store / "status-list.cwt"
    return Trust(json.loads((store / "jwks.json").read_text()), status.read_bytes() if status.exists() else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="folder of jwks.json and status-list.cwt")
    parser.add_argument("--fetch", metavar="BASE_URL", help="fetch the keys and the status list first")
    parser.add_argument("--max-age", type=float, default=3600, help="seconds a status list stays good enough")
    parser.add_argument("--at", help="verify as of this ISO-8601 instant instead of now (tests)")
    parser.add_argument("qr", nargs="*", help="scanned QR texts (or bare tokens)")
    args = parser.parse_args(argv)
    if args.fetch:
        fetch(args.fetch, args.store)
    if not args.qr:
        return 0
    trust = load(args.store)
    now = datetime.fromisoformat(args.at).timestamp() if args.at else None
    results = [verify(text, trust, now, args.max_age) for text in args.qr]
    for result in results:
        print(result)
    return 0 if results and all(r.verdict == "valid" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
