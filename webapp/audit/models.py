from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db import Base, UTCDateTime


class AuditEvent(Base):
    """Append-only log of issues, scans, status changes, reviews and sign-ins (SPEC 8)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(48))
    actor_type: Mapped[str] = mapped_column(String(16))  # user | officer | apikey | public | system
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    subject_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_id: Mapped[int | None] = mapped_column(nullable=True)
    citizen_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
