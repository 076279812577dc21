"""Arrange helpers for the verifying tests: officers, API keys, travel certificates and their QR text."""
from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from datetime import datetime
from pathlib import Path

from werkzeug.security import generate_password_hash

from webapp import signing, tokens
from webapp.officer import rules as officer_rules
from webapp.officer.models import Officer
from webapp.officer.services import create_api_key
from webapp.signing import credential_token
from webapp.signing import rules as signing_rules
from webapp.signing.keys import KeyRing
from webapp.travel_id import rules as travel_rules
from webapp.travel_id.models import TravelCertificate

OFFICER_PASSWORD = "Officer-passw0rd"
_FAST_HASH = generate_password_hash(OFFICER_PASSWORD, method="pbkdf2:sha256:1000")
# Not a real photo: the verification only passes the registry bytes through as a data: URI.
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-portrait\xff\xd9"


def make_officer(session, role: str, *, username: str | None = None, active: bool = True,
                 now: datetime | None = None) -> Officer:
    officer = Officer(username=username or f"{role}{secrets.token_hex(3)}", password_hash=_FAST_HASH, role=role,
                      active=active, created_at=now or datetime(2026, 1, 1).astimezone())
    session.add(officer)
    session.flush()
    return officer


def make_api_key(session, now: datetime, name: str = "闸机 1号") -> tuple[object, str]:
    return create_api_key(session, name=name, scope=officer_rules.SCOPE_VERIFY, now=now)


def make_certificate(session, citizen, now: datetime, *, status: str = travel_rules.STATUS_VALID,
                     slot: int = 1) -> TravelCertificate:
    cert = TravelCertificate(public_id=secrets.token_urlsafe(12), citizen=citizen, applicant_user_id=None,
                             month_key=travel_rules.month_key(now), slot=slot, issued_at=now,
                             expires_at=travel_rules.expires_at(now), status=status, latitude=23.13,
                             longitude=113.26, located_city="广州市")
    session.add(cert)
    session.flush()
    return cert


def signing_ring() -> KeyRing:
    """The test run's signing keys (tests/conftest.py makes the folder and names it in the environment)."""
    return KeyRing(os.environ["SUISHEN_SIGNING_KEYS"])


def signed_token(credential, now: datetime, *, ring: KeyRing | None = None, base: str = "http://localhost",
                 grace_windows: int = 1) -> str:
    """The signed QR token of a travel certificate or an e-licence at ``now``, as the app makes it."""
    return signing.token_for(ring or signing_ring(), credential, now, base_url=base, grace_windows=grace_windows)


def signed_qr(credential, now: datetime, *, base: str = "http://localhost", **kwargs) -> str:
    """The QR's text (``<base>/v/<token>``) of a credential at ``now``, signed with the test run's keys."""
    return f"{base}/v/{signed_token(credential, now, base=base, **kwargs)}"


def facts_token(facts: signing_rules.CredentialFacts, now: datetime, *, ring: KeyRing | None = None,
                base: str = "http://localhost") -> str:
    """A signed token saying ``facts`` (e.g. of a credential that does not exist)."""
    times = signing_rules.token_times(now)
    return credential_token.issue((ring or signing_ring()).signer(now), facts, times, issuer=base,
                                  status_uri=base + signing.STATUS_LIST_PATH)


def token_of(app, credential, now: datetime) -> str:
    """The signed QR token of a credential as this app makes it at ``now`` (its keys, BASE_URL and grace)."""
    return signed_token(credential, now, ring=app.extensions[signing.EXTENSION], base=app.config["BASE_URL"],
                        grace_windows=app.config["SUISHEN_QR_GRACE_WINDOWS"])


def read_claims(app, text: str, now: datetime) -> tokens.TokenClaims:
    """What the app reads from a scanned QR text or token at ``now`` (TokenError if it refuses it)."""
    return credential_token.read(app.extensions[signing.EXTENSION], text, now).claims


def qr_text(app, credential, now: datetime) -> str:
    """The QR's text (``<BASE_URL>/v/<token>``) of a credential at ``now``."""
    return f"{app.config['BASE_URL']}/v/{token_of(app, credential, now)}"


def load_offline_verifier():
    """scripts/offline_verify.py as a module (it is a standalone script, not part of the package)."""
    if "offline_verify" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "scripts" / "offline_verify.py"
        spec = importlib.util.spec_from_file_location("offline_verify", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["offline_verify"] = module
        spec.loader.exec_module(module)
    return sys.modules["offline_verify"]
