from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from webapp.audit.models import AuditEvent
from webapp.db import DirectStatement


def record(session: Session, action: str, now: datetime, *, actor_type: str = "system",
           actor_id: int | None = None, subject_type: str | None = None, subject_id: int | None = None,
           citizen_id: int | None = None, **detail: Any) -> AuditEvent:
    """Append one audit event in the caller's transaction (it is written exactly when the action is)."""
    event = AuditEvent(at=now, action=action, actor_type=actor_type, actor_id=actor_id,
                       subject_type=subject_type, subject_id=subject_id, citizen_id=citizen_id,
                       detail=detail)
    session.add(event)
    return event


_APPEND = DirectStatement(
    insert(AuditEvent.__table__).returning(AuditEvent.__table__.c.id),
    column_keys=["at", "action", "actor_type", "actor_id", "subject_type", "subject_id", "citizen_id", "detail"])


def append(session: Session, action: str, now: datetime, *, actor_type: str = "system", actor_id: int | None = None,
           subject_type: str | None = None, subject_id: int | None = None, citizen_id: int | None = None,
           **detail: Any) -> int:
    """:func:`record` for a hot path: one INSERT … RETURNING id now, in the caller's transaction, without the
    ORM's unit of work, and on PostgreSQL straight on the driver (db.DirectStatement). Returns the new id; no
    object is kept."""
    return _APPEND.first(
        session,
        {"at": now, "action": action, "actor_type": actor_type, "actor_id": actor_id, "subject_type": subject_type,
         "subject_id": subject_id, "citizen_id": citizen_id, "detail": detail},
    ).id
