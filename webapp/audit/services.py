from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from webapp.audit.models import AuditEvent


def record(session: Session, action: str, now: datetime, *, actor_type: str = "system",
           actor_id: int | None = None, subject_type: str | None = None, subject_id: int | None = None,
           citizen_id: int | None = None, **detail: Any) -> AuditEvent:
    """Append one audit event in the caller's transaction (it is written exactly when the action is). (The scan
    path writes its row its own way: webapp/verification/scan.py.)"""
    event = AuditEvent(at=now, action=action, actor_type=actor_type, actor_id=actor_id,
                       subject_type=subject_type, subject_id=subject_id, citizen_id=citizen_id,
                       detail=detail)
    session.add(event)
    return event
