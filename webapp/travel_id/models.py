from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import Base, UTCDateTime
from webapp.registry.models import Citizen
from webapp.registry.rules import mask_name
from webapp.signing import rules as signing_rules
from webapp.travel_id import rules
from webapp.travel_id.rules import MONTHLY_QUOTA


class TravelCertificate(Base):
    """An issued 电子临时乘车身份证明.

    The monthly quota is held by the database: each certificate takes slot 1..MONTHLY_QUOTA of its
    citizen's month, and (citizen, month, slot) is unique, so concurrent applications cannot both take
    the last slot (see services.issue).
    """

    __tablename__ = "travel_certificates"
    __table_args__ = (
        UniqueConstraint("citizen_id", "month_key", "slot"),
        CheckConstraint(f"slot >= 1 AND slot <= {MONTHLY_QUOTA}", name="slot_in_quota"),
        Index("ix_travel_certificates_citizen_issued", "citizen_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    applicant_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    month_key: Mapped[str] = mapped_column(String(7))
    slot: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="valid")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    located_city: Mapped[str] = mapped_column(String(64))
    challenge_public_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    citizen: Mapped[Citizen] = relationship(lazy="joined")

    def token_facts(self, times: signing_rules.TokenTimes) -> signing_rules.CredentialFacts:
        """What a signed token of this certificate says (webapp.signing): its validity end and the ticket
        category over the token's life."""
        ticket, changes = rules.ticket_over(self.citizen.birth_date, times)
        return signing_rules.CredentialFacts(signing_rules.TRAVEL_ID, self.id, mask_name(self.citizen.name),
                                             self.expires_at, ticket=ticket, ticket_changes_at=changes)
