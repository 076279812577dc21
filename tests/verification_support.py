"""Arrange helpers for the verifying tests: officers, API keys, travel certificates and their QR text."""
from __future__ import annotations

import secrets
from datetime import datetime

from werkzeug.security import generate_password_hash

from webapp import tokens
from webapp.officer import rules as officer_rules
from webapp.officer.models import Officer
from webapp.officer.services import create_api_key
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


def qr_text(secret: str, cert: TravelCertificate, now: datetime, base: str = "http://localhost") -> str:
    return f"{base}/v/{tokens.issue(secret, 'travel_id', cert.public_id, now)}"
