"""The calendar the rules speak in: China Standard Time (Asia/Shanghai)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def to_local(instant: datetime) -> datetime:
    return instant.astimezone(LOCAL_TZ)


def local_date(instant: datetime) -> date:
    return to_local(instant).date()


def format_local(instant: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if instant is None else to_local(instant).strftime(fmt)
