"""Chinese working days and the "within 1 working day" review deadline (SPEC 5.2), shared by the e-licence
review and the manual identity review. Pure; chinese_calendar knows holidays and make-up working days (调休).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

import chinese_calendar

from webapp.timeutil import LOCAL_TZ, local_date

def is_workday(day: date) -> bool:
    """A Chinese working day: chinese_calendar knows official holidays and make-up working days (调休).

    Outside the years the package knows (it raises NotImplementedError), Monday–Friday.
    """
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def review_due(submitted_at: datetime, workday: Callable[[date], bool] = is_workday) -> datetime:
    """When a review must be decided ("within 1 working day"): the end of the first working day *after* the
    Beijing day of submission, i.e. 00:00 Beijing of the day after that working day, as a UTC instant.

    Examples: Friday 2026-11-20 → end of Monday 11-23; Wednesday 2026-09-30 (before 国庆) → end of Thursday
    10-08 (10-01..07 are holidays); Friday 2026-10-09 → end of Saturday 10-10 (a make-up working day).
    A submission on a holiday also gets the whole next working day.
    """
    day = local_date(submitted_at) + timedelta(days=1)
    while not workday(day):
        day += timedelta(days=1)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=LOCAL_TZ)
    return end.astimezone(timezone.utc)
