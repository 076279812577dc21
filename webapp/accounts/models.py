from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts import rules
from webapp.db import Base, UTCDateTime
from webapp.registry.models import Citizen


class User(UserMixin, Base):
    """A citizen's account (passenger / driver). Officers are a separate table."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), unique=True)
    level: Mapped[str] = mapped_column(String(16), default=rules.LEVEL_UNVERIFIED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # How the account reached its level: registered | sms | liveness | id_card_review | face_to_face (面签).
    verified_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Written into the Flask session at login and compared on every request: raising it (logout, password reset,
    # 面签) ends every session opened before, on every device, whatever the cookie still says (SPEC 8).
    session_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # The language the holder last chose or signed in with ("en"; None = zh-CN, the default): SMS, in-app
    # messages and pushes sent to them later are written in it.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)

    citizen: Mapped[Citizen] = relationship(lazy="joined")

    def get_id(self) -> str:
        return f"u:{self.id}"

    @property
    def name(self) -> str:
        return self.citizen.name

    @property
    def id_number(self) -> str:
        return self.citizen.id_number

    @property
    def level_label(self) -> str:
        return rules.LEVEL_LABELS[self.level]

    @property
    def is_realperson(self) -> bool:
        """实人认证: the full level, which the e-licence and a prefilled travel-ID application ask for."""
        return rules.is_full_account(self.level)

    @property
    def is_officer(self) -> bool:
        return False


class LoginThrottle(Base):
    """Failed sign-ins per account identifier (citizen phone or ID number, officer username), whatever the IP.

    Keyed by a digest of the normalised identifier (``rules.throttle_key``), never by whether an account exists:
    a name nobody has gets the same row, the same count and the same answers (no enumeration), and the table
    never holds what was typed (a password entered in the name field, say).
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdentityReview(Base):
    """实人认证 by manual review: photos of both sides of the ID card, uploaded by a 实名 (limited) account and
    decided by a reviewer within 1 working day. One pending review per account (partial unique index)."""

    __tablename__ = "identity_reviews"
    __table_args__ = (
        Index("uq_identity_reviews_one_pending", "user_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    front: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # 人像面
    back: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)   # 国徽面
    face_distance: Mapped[float | None] = mapped_column(nullable=True)  # a hint for the reviewer, never a decision
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")
