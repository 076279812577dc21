"""The calendar the rules speak in: China Standard Time (Asia/Shanghai)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def to_local(instant: datetime) -> datetime:
    return instant.astimezone(LOCAL_TZ)


def local_date(instant: datetime) -> date:
    return to_local(instant).date()


def format_local(instant: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if instant is None else to_local(instant).strftime(fmt)


def format_deadline(due: datetime | None) -> str:
    """A review deadline is an exclusive instant (00:00 Beijing after the last working day); people read it as
    the last minute of that day: 2026-11-24 00:00 → "2026-11-23 23:59"."""
    return "" if due is None else format_local(due - timedelta(seconds=1))
