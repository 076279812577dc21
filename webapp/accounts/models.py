from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
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
    def is_officer(self) -> bool:
        return False
