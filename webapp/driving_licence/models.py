from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import Base, UTCDateTime
from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import mask_name
from webapp.signing import rules as signing_rules

# proofing: applied, waiting for 实人核验 · pending: waiting for a reviewer · active: issued
# rejected: a reviewer refused it · invalidated: the record changed (re-apply) · abandoned: replaced by a new
# application before 实人核验 was done.
PROOFING = "proofing"
PENDING = "pending"
ACTIVE = "active"
REJECTED = "rejected"
INVALIDATED = "invalidated"
ABANDONED = "abandoned"
OPEN_STATUSES = (PROOFING, PENDING, ACTIVE)


class ElectronicLicence(Base):
    """An application for, and then the issued, 电子驾驶证.

    The record's class, validity and issuing authority are copied at issue: when the registry record no longer
    matches, the e-licence is invalidated: by the change itself (services.invalidate_changed), and
    read as invalidated from current data until then (services.state). A citizen has at most one open application or
    e-licence: a partial unique index holds that under concurrent applications.
    """

    __tablename__ = "electronic_licences"
    __table_args__ = (
        Index("uq_electronic_licences_one_open", "citizen_id", unique=True,
              sqlite_where=text("status IN ('proofing', 'pending', 'active')"),
              postgresql_where=text("status IN ('proofing', 'pending', 'active')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    licence_record_id: Mapped[int] = mapped_column(ForeignKey("licence_records.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # Snapshot of the record at application.
    licence_class: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    issuing_authority: Mapped[str] = mapped_column(String(128))
    photo_source: Mapped[str] = mapped_column(String(8))
    photo: Mapped[bytes] = mapped_column(LargeBinary)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a camera/album photo last became the licence photo (None: still the system photo from the application).
    photo_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    citizen: Mapped[Citizen] = relationship(lazy="joined")
    record: Mapped[LicenceRecord] = relationship()

    def snapshot(self) -> dict[str, object]:
        return {"licence_class": self.licence_class, "valid_from": self.valid_from,
                "valid_until": self.valid_until, "issuing_authority": self.issuing_authority}

    def token_facts(self, times: signing_rules.TokenTimes) -> signing_rules.CredentialFacts:
        """What a signed token of this e-licence says (webapp.signing): its class, last valid day and record
        status now."""
        record = self.record
        return signing_rules.CredentialFacts(signing_rules.DRIVING_LICENCE, self.id, mask_name(self.citizen.name),
                                             record.valid_until, licence_class=record.licence_class,
                                             licence_status=record.status)
