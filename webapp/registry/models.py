from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import Base, UTCDateTime


class Citizen(Base):
    """A person as the population registry (人口库) knows them."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    address: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    # The reference portrait as a resized JPEG, and its 128-d face encoding (float64 bytes) computed once.
    # Deferred: a citizen is joined into every signed-in request and every verification, and only the few
    # views that show or compare the face need these ~30 KB.
    portrait: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    portrait_encoding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    self_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    licence: Mapped["LicenceRecord | None"] = relationship(back_populates="citizen", uselist=False)


class LicenceRecord(Base):
    """A driving-licence record as the driver registry (驾驶人库) knows it. The licence number is the ID number."""

    __tablename__ = "licence_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), unique=True)
    file_number: Mapped[str] = mapped_column(String(20), unique=True)
    licence_class: Mapped[str] = mapped_column(String(32))
    first_issued: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # None = 长期
    issuing_authority: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    citizen: Mapped[Citizen] = relationship(back_populates="licence")
