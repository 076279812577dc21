from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import roles
from webapp.db import Base, UTCDateTime
from webapp.officer import rules
from webapp.registry.models import Citizen


class Officer(Base):
    """A person who checks credentials or works the back office. Not a citizen account: separate table,
    separate login, session id "o:<id>"."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # As User.session_generation: raised by logging out, which ends every earlier session of this officer.
    session_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    # Flask-Login's interface, without UserMixin's get_id (ours carries the "o:" prefix).
    is_authenticated = True
    is_anonymous = False
    is_officer = True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"o:{self.id}"

    @property
    def role_label(self) -> str:
        return roles.ROLE_LABELS[self.role]


class ApiKey(Base):
    """A key for gates and third parties. Only the SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PaperCertificate(Base):
    """A paper 临时乘车身份证明 issued at the station's 公安制证窗口, recorded by a police officer."""

    __tablename__ = "paper_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), nullable=True, index=True)
    issuing_station: Mapped[str] = mapped_column(String(rules.STATION_MAX))
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())

    officer: Mapped[Officer] = relationship(lazy="joined")
    citizen: Mapped[Citizen | None] = relationship()
