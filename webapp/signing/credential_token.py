"""Make and read a credential token: a COSE_Sign1 CWT (ES256, kid in the protected header), base64url without
padding, as the QR's ``<BASE_URL>/v/<token>`` carries it. The claims are described in ``signing/rules.py``.

Signing and checking go through the ``cwt`` library (on pyca/cryptography); the CBOR structure is looked at here
only to find the key id and to refuse anything that is not a COSE_Sign1 of ours before any key is tried.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import cbor2
from cwt import COSE, DecodeError, VerifyError

from webapp import tokens
from webapp.signing import rules
from webapp.signing.keys import KeyRing, SigningKey

COSE_SIGN1_TAG = 18
MAX_TOKEN_CHARS = 1024       # ~300 are used; the API takes up to 2048 characters of scanned text
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
COSE_CONTEXT = COSE.new(alg_auto_inclusion=False, kid_auto_inclusion=False)


@dataclass(frozen=True)
class ReadToken:
    """A token whose signature checked out: its times, id and what it says about the credential."""

    kid: str
    issuer: str
    iat: int
    nbf: int
    exp: int
    cti: bytes
    facts: rules.CredentialFacts

    @property
    def claims(self) -> tokens.TokenClaims:
        """The claims as the online verifier resolves them (by row id, like the barcode's numeric code)."""
        return tokens.TokenClaims(kind=self.facts.kind, db_id=self.facts.db_id,
                                  window=self.nbf // int(rules.WINDOW.total_seconds()))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: SigningKey, facts: rules.CredentialFacts, times: rules.TokenTimes, *, issuer: str,
          status_uri: str) -> str:
    """The token of ``facts`` signed with ``key``, good from ``times.nbf`` to ``times.exp``."""
    claims = {rules.ISS: issuer, rules.IAT: times.iat, rules.NBF: times.nbf, rules.EXP: times.exp,
              rules.CTI: secrets.token_bytes(rules.CTI_BYTES),
              rules.STATUS: {"status_list": {"idx": facts.status_index, "uri": status_uri}},
              rules.CREDENTIAL: rules.credential_claim(facts)}
    signed = COSE_CONTEXT.encode_and_sign(cbor2.dumps(claims), key.private_cose(),
                                   protected={rules.COSE_ALG: rules.ES256, rules.COSE_KID: key.kid_bytes},
                                   unprotected={})
    return b64encode(signed)


def _structure(raw: bytes) -> bytes:
    """The kid of a COSE_Sign1 (tagged 18, ES256); TokenError("malformed") for anything else."""
    try:
        message = cbor2.loads(raw)
        if not (isinstance(message, cbor2.CBORTag) and message.tag == COSE_SIGN1_TAG):
            raise ValueError("not a tagged COSE_Sign1")
        protected, unprotected, payload, signature = message.value
        header = cbor2.loads(protected)
        if not (isinstance(header, dict) and header.get(rules.COSE_ALG) == rules.ES256
                and isinstance(header.get(rules.COSE_KID), bytes) and isinstance(payload, bytes)
                and isinstance(signature, bytes) and isinstance(unprotected, dict)):
            raise ValueError("not an ES256 COSE_Sign1 with a protected kid")
    except (ValueError, TypeError, cbor2.CBORDecodeError, RecursionError):
        raise tokens.TokenError("malformed") from None
    return header[rules.COSE_KID]


def verify_signature(raw: bytes, key: SigningKey) -> dict:
    """The claims of ``raw`` if ``key`` signed it; TokenError("bad_signature") otherwise."""
    try:
        payload = COSE_CONTEXT.decode(raw, key.public_cose())
    except (VerifyError, DecodeError, ValueError):
        raise tokens.TokenError("bad_signature") from None
    try:
        claims = cbor2.loads(payload)
    except (ValueError, cbor2.CBORDecodeError):
        raise tokens.TokenError("malformed") from None
    if not isinstance(claims, dict):
        raise tokens.TokenError("malformed")
    return claims


def parse(text: str) -> tuple[bytes, bytes]:
    """(raw COSE bytes, kid) of a scanned text (the URL or the bare token); TokenError("malformed") otherwise."""
    token = tokens.extract(text)
    if not token or len(token) > MAX_TOKEN_CHARS or not _B64URL.match(token):
        raise tokens.TokenError("malformed")
    try:
        raw = b64decode(token)
    except (binascii.Error, ValueError):
        raise tokens.TokenError("malformed") from None
    return raw, _structure(raw)


def read(keyring: KeyRing, text: str, now: datetime, *, any_key_on_file: bool = False) -> ReadToken:
    """Check a scanned token against the published keys and the clock.

    :param any_key_on_file: also accept keys no longer published (an offline scan uploaded late)
    :raises tokens.TokenError: malformed, bad_signature (tampered, or a key that is not ours), stale, future; the
        last two carry the claims (the signature was good: the credential is real and the scan can be logged on it)
    """
    raw, kid = parse(text)
    key = keyring.by_kid(kid, now, any_on_file=any_key_on_file)
    if key is None:
        raise tokens.TokenError("bad_signature")
    claims = verify_signature(raw, key)
    try:
        facts = rules.facts_from_claims(claims)
        found = ReadToken(kid=key.kid, issuer=str(claims.get(rules.ISS, "")), iat=int(claims[rules.IAT]),
                          nbf=int(claims[rules.NBF]), exp=int(claims[rules.EXP]), cti=bytes(claims[rules.CTI]),
                          facts=facts)
    except (KeyError, TypeError, ValueError):
        raise tokens.TokenError("malformed") from None
    refusal = rules.time_refusal(found.nbf, found.exp, now)
    if refusal:
        raise tokens.TokenError(refusal, found.claims)
    return found
