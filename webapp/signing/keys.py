"""The signing keys of credential tokens: files outside the database, one per key, in a folder
(``SUISHEN_SIGNING_KEYS``, default ``instance/signing_keys``; `make run` creates the first one).

Each file ``<kid>.json`` (mode 600) holds the private key as a JWK (ES256, P-256) and two instants:
``created`` and ``not_before``, from when it signs. The key that signs at an instant is the newest whose
``not_before`` has come. A key is *published* (``/.well-known/jwks.json``) from its creation — `keys rotate`
creates the next key ahead of its ``not_before``, so verifiers that were offline for up to that long already hold
it — until the last token it can have signed has expired: its successor's ``not_before`` plus a token's longest
life. Its file may then go (`keys prune`); until then an offline scan uploaded late is still checked against it.

Several hosts share the folder (or a copy of it, like SECRET_KEY); each process re-reads it when it changes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cwt import COSEKey

from webapp.signing import rules

KEY_SUFFIX = ".json"
PUBLIC_MEMBERS = ("kty", "crv", "x", "y")
RELOAD_EVERY = timedelta(seconds=5)


class NoSigningKey(RuntimeError):
    """No key in the folder can sign now (none created, or only keys whose not_before is still ahead)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint_kid(public: dict) -> str:
    """The first 8 characters of the key's RFC 7638 thumbprint: stable, short (it rides in every QR)."""
    canonical = json.dumps({m: public[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())[:8]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    jwk: dict                  # the private JWK (with "d")
    created: datetime
    not_before: datetime
    _cose: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def public_jwk(self) -> dict:
        return {**{m: self.jwk[m] for m in PUBLIC_MEMBERS}, "kid": self.kid, "alg": "ES256", "use": "sig"}

    @property
    def kid_bytes(self) -> bytes:
        return self.kid.encode("ascii")

    def private_cose(self):
        if "private" not in self._cose:
            self._cose["private"] = COSEKey.from_jwk({**{m: self.jwk[m] for m in PUBLIC_MEMBERS + ("d",)},
                                                      "kid": self.kid, "alg": "ES256"})
        return self._cose["private"]

    def public_cose(self):
        if "public" not in self._cose:
            self._cose["public"] = COSEKey.from_jwk({**{m: self.jwk[m] for m in PUBLIC_MEMBERS},
                                                     "kid": self.kid, "alg": "ES256"})
        return self._cose["public"]


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("instant without a time zone")
    return value.astimezone(UTC)


def read_key(path: Path) -> SigningKey:
    data = json.loads(path.read_text(encoding="utf-8"))
    jwk = data["jwk"]
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or not jwk.get("d"):
        raise ValueError(f"{path}: not a private P-256 JWK")
    kid = thumbprint_kid(jwk)
    return SigningKey(kid=kid, jwk=jwk, created=_instant(data["created"]), not_before=_instant(data["not_before"]))


def new_key(now: datetime, not_before: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.private_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _b64(numbers.public_numbers.x.to_bytes(32, "big")),
           "y": _b64(numbers.public_numbers.y.to_bytes(32, "big")), "d": _b64(numbers.private_value.to_bytes(32, "big"))}
    return SigningKey(kid=thumbprint_kid(jwk), jwk=jwk, created=now, not_before=not_before)


def write_key(directory: Path, key: SigningKey) -> Path:
    """Write the key's file (mode 600) atomically: a process reading the folder sees all of it or nothing."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{key.kid}{KEY_SUFFIX}"
    temp = directory / f".{key.kid}.tmp"
    body = json.dumps({"jwk": key.jwk, "created": key.created.isoformat(), "not_before": key.not_before.isoformat()},
                      indent=1)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body + "\n")
    os.replace(temp, path)
    return path


def load_keys(directory: Path) -> list[SigningKey]:
    """Every key in the folder, oldest ``not_before`` first."""
    if not directory.is_dir():
        return []
    keys = [read_key(path) for path in sorted(directory.glob(f"*{KEY_SUFFIX}"))]
    return sorted(keys, key=lambda k: (k.not_before, k.created, k.kid))


def signer_at(keys: list[SigningKey], now: datetime) -> SigningKey | None:
    """The newest key whose not_before has come."""
    usable = [k for k in keys if k.not_before <= now]
    return usable[-1] if usable else None


def published_until(keys: list[SigningKey], key: SigningKey, grace_windows: int) -> datetime | None:
    """When ``key`` stops being published: its successor's not_before plus a token's longest life (None while
    no later key has been created)."""
    later = [k.not_before for k in keys if (k.not_before, k.created, k.kid) > (key.not_before, key.created, key.kid)]
    return min(later) + rules.max_token_life(grace_windows) if later else None


def published(keys: list[SigningKey], now: datetime, grace_windows: int) -> list[SigningKey]:
    """The keys a verifier needs now: every key created, until its last token has expired."""
    out = []
    for key in keys:
        until = published_until(keys, key, grace_windows)
        if key.created <= now and (until is None or now < until):
            out.append(key)
    return out


def jwks(keys: list[SigningKey]) -> dict:
    return {"keys": [k.public_jwk for k in keys]}


class KeyRing:
    """The folder's keys as one process sees them: re-read at most every RELOAD_EVERY when the folder changed
    (a rotation on another host, or by the admin command)."""

    def __init__(self, directory: str | os.PathLike, grace_windows: int = rules.GRACE_WINDOWS) -> None:
        self.directory = Path(directory)
        self.grace_windows = grace_windows
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._stamp: tuple | None = None
        self._checked: float = float("-inf")

    def _folder_stamp(self) -> tuple:
        try:
            entries = sorted((p.name, p.stat().st_mtime_ns) for p in self.directory.glob(f"*{KEY_SUFFIX}"))
        except FileNotFoundError:
            entries = []
        return tuple(entries)

    def keys(self) -> list[SigningKey]:
        moment = time.monotonic()
        if moment - self._checked >= RELOAD_EVERY.total_seconds() or self._stamp is None:
            with self._lock:
                stamp = self._folder_stamp()
                if stamp != self._stamp:
                    self._keys = load_keys(self.directory)
                    self._stamp = stamp
                self._checked = moment
        return self._keys

    def reload(self) -> None:
        self._stamp = None

    def signer(self, now: datetime) -> SigningKey:
        key = signer_at(self.keys(), now)
        if key is None:
            raise NoSigningKey(f"no signing key in {self.directory} can sign now "
                               "(create one: flask --app app keys init)")
        return key

    def published(self, now: datetime) -> list[SigningKey]:
        return published(self.keys(), now, self.grace_windows)

    def by_kid(self, kid: bytes, now: datetime, *, any_on_file: bool = False) -> SigningKey | None:
        """The key named by a token's kid: among the published ones, or (``any_on_file``, for an offline scan
        uploaded late) any key still in the folder."""
        pool = self.keys() if any_on_file else self.published(now)
        return next((k for k in pool if k.kid_bytes == kid), None)


# --- Administration (the `keys` command) ------------------------------------------------------------------------

class KeyAdminError(ValueError):
    """A key command that cannot be done as asked (the message says why)."""


@dataclass(frozen=True)
class KeyState:
    key: SigningKey
    state: str                        # pending | signing | retired | unpublished
    published_until: datetime | None


def key_states(keys: list[SigningKey], now: datetime, grace_windows: int) -> list[KeyState]:
    signing = signer_at(keys, now)
    out = []
    for key in keys:
        until = published_until(keys, key, grace_windows)
        if key.not_before > now:
            state = "pending"
        elif key is signing:
            state = "signing"
        elif until is not None and now < until:
            state = "retired"
        else:
            state = "unpublished"
        out.append(KeyState(key, state, until))
    return out


def init_keys(directory: Path, now: datetime) -> SigningKey | None:
    """Create the first key (signing at once) when the folder has none; None when it already has keys."""
    if load_keys(directory):
        return None
    key = new_key(now, now)
    write_key(directory, key)
    return key


def rotate(directory: Path, now: datetime, prepublish: timedelta, *, immediately: bool = False) -> SigningKey:
    """A new key, published now and signing from ``now + prepublish`` (verifiers that fetched the keys within
    that time already hold it), or at once (``immediately``: a key was exposed; verifiers offline since before
    now will refuse its tokens as unknown until they fetch the keys again).

    :raises KeyAdminError: a key created by an earlier rotation is still waiting to sign (unless ``immediately``)
    """
    keys = load_keys(directory)
    pending = [k for k in keys if k.not_before > now]
    if pending and not immediately:
        raise KeyAdminError(f"密钥 {pending[-1].kid} 已在等待启用（{pending[-1].not_before.isoformat()}），"
                            "无需再次轮换；确需立即更换请加 --now。")
    key = new_key(now, now if immediately or not keys else now + prepublish)
    if immediately:
        # A waiting key would take over from the new one later; it goes (it never signed anything).
        for old in pending:
            (directory / f"{old.kid}{KEY_SUFFIX}").unlink(missing_ok=True)
    write_key(directory, key)
    return key


def prune(directory: Path, now: datetime, grace_windows: int, keep_for: timedelta) -> list[str]:
    """Delete the files of keys unpublished for longer than ``keep_for`` (until then a late offline upload is
    still checked against them). Returns their kids."""
    gone = []
    for state in key_states(load_keys(directory), now, grace_windows):
        if state.state == "unpublished" and state.published_until is not None \
                and now >= state.published_until + keep_for:
            (directory / f"{state.key.kid}{KEY_SUFFIX}").unlink(missing_ok=True)
            gone.append(state.key.kid)
    return gone
