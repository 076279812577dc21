"""Chinese working days and the "within 1 working day" review deadline (SPEC 5.2), shared by the e-licence
review and the manual identity review. Pure apart from reading the schedule file once.

Two sources, because neither alone is right:
- the State Council's yearly schedule (国务院办公厅部分节假日安排): the days off *and the make-up working days*
  (调休上班) of one year, published each November for the next. It is data, not code: ``webapp/data/
  workday_schedule.json`` ships the published years and an operator adds a new year (or overrides one) with
  ``SUISHEN_WORKDAY_SCHEDULE`` pointing at a file of the same shape, without a release;
- the ``holidays`` package, maintained, which computes the statutory holidays (Spring Festival etc.) of any
  year. For a year without a published schedule it is the best estimate there is (it cannot know the 调休),
  and that year is *reported* (``/healthz`` and ``flask workdays check``), never silently Monday–Friday.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from webapp.timeutil import LOCAL_TZ, local_date

#: The schedule shipped with the code; published years only.
SHIPPED_SCHEDULE = Path(__file__).parent / "data" / "workday_schedule.json"
#: How far ahead the published schedule must reach before the health check and the CLI warn.
COVERAGE_HORIZON = timedelta(days=60)


class ScheduleError(ValueError):
    """A schedule file that cannot be read; the message names the file and the entry."""


@dataclass(frozen=True)
class Schedule:
    """Published years: days off and make-up working days (weekend days that are worked)."""

    holidays: dict[date, str] = field(default_factory=dict)
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    def merged(self, other: "Schedule") -> "Schedule":
        """``other``'s years replace this schedule's same years whole (an operator's correction wins)."""
        keep_h = {d: n for d, n in self.holidays.items() if d.year not in other.years}
        keep_w = {d for d in self.workdays if d.year not in other.years}
        return Schedule({**keep_h, **other.holidays}, frozenset(keep_w | other.workdays), self.years | other.years)


def parse_schedule(doc: dict, source: str = "schedule") -> Schedule:
    """Read ``{"2026": {"holidays": {"2026-01-01": "元旦", …}, "workdays": ["2026-01-04", …]}, …}``.

    Keys starting with ``_`` are comments. A date outside its year, or a make-up working day on a weekday, is
    refused: both are transcription errors that would silently move review deadlines.

    :raises ScheduleError: with the file and the offending entry.
    """
    holidays: dict[date, str] = {}
    workdays: set[date] = set()
    years: set[int] = set()
    for key, entry in doc.items():
        if key.startswith("_"):
            continue
        try:
            year = int(key)
            raw_holidays = entry.get("holidays", {})
            raw_workdays = entry.get("workdays", [])
            days = {date.fromisoformat(d): str(n) for d, n in raw_holidays.items()}
            extra = {date.fromisoformat(d) for d in raw_workdays}
        except (AttributeError, TypeError, ValueError) as exc:
            raise ScheduleError(f"{source}: year {key!r} is not readable: {exc}") from None
        for day in [*days, *extra]:
            if day.year != year:
                raise ScheduleError(f"{source}: {day.isoformat()} is listed under {year}")
        for day in extra:
            if day.weekday() < 5:
                raise ScheduleError(f"{source}: make-up working day {day.isoformat()} is not a weekend day")
            if day in days:
                raise ScheduleError(f"{source}: {day.isoformat()} is both a day off and a working day")
        holidays.update(days)
        workdays |= extra
        years.add(year)
    return Schedule(holidays, frozenset(workdays), frozenset(years))


def load_schedule(path: Path) -> Schedule:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScheduleError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ScheduleError(f"{path}: expected a JSON object of years")
    return parse_schedule(doc, str(path))


_schedule: Schedule | None = None


def configure(extra_path: str | Path | None) -> Schedule:
    """Load the shipped schedule plus the operator's file (``SUISHEN_WORKDAY_SCHEDULE``); done by create_app.

    :raises ScheduleError: an unreadable file stops the start, rather than computing wrong deadlines.
    """
    global _schedule
    schedule = load_schedule(SHIPPED_SCHEDULE)
    if extra_path:
        schedule = schedule.merged(load_schedule(Path(extra_path)))
    _schedule = schedule
    return schedule


def current_schedule() -> Schedule:
    if _schedule is None:
        return configure(None)
    return _schedule


@functools.lru_cache(maxsize=64)
def _statutory(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.China(years=year, categories=("public",)).keys())


def is_workday(day: date, schedule: Schedule | None = None) -> bool:
    """A Chinese working day. In a published year: not a day off, and a weekday or a make-up working day. In a
    year without a published schedule: a weekday that is not a statutory holiday (an estimate, reported by
    :func:`coverage`)."""
    schedule = schedule or current_schedule()
    if day.year in schedule.years:
        if day in schedule.workdays:
            return True
        return day.weekday() < 5 and day not in schedule.holidays
    return day.weekday() < 5 and day not in _statutory(day.year)


@dataclass(frozen=True)
class Coverage:
    """Whether the published schedule reaches ``COVERAGE_HORIZON`` past ``today``."""

    today: date
    missing_years: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.missing_years

    @property
    def message(self) -> str | None:
        if self.ok:
            return None
        years = "、".join(str(y) for y in self.missing_years)
        return (f"{years} 年的国务院节假日安排尚未录入：审核期限按法定节假日估算，不含调休。"
                f"请在通知发布后增补工作日安排文件（SUISHEN_WORKDAY_SCHEDULE）。")


def coverage(today: date, schedule: Schedule | None = None, horizon: timedelta = COVERAGE_HORIZON) -> Coverage:
    schedule = schedule or current_schedule()
    years = range(today.year, (today + horizon).year + 1)
    return Coverage(today, tuple(y for y in years if y not in schedule.years))


def review_due(submitted_at: datetime, workday: Callable[[date], bool] = is_workday) -> datetime:
    """When a review must be decided ("within 1 working day"): the end of the first working day *after* the
    Beijing day of submission, i.e. 00:00 Beijing of the day after that working day, as a UTC instant.

    Examples: Friday 2026-11-20 → end of Monday 11-23; Wednesday 2026-09-30 (before 国庆) → end of Thursday
    10-08 (10-01..07 are days off); Friday 2026-10-09 → end of Saturday 10-10 (a make-up working day).
    A submission on a holiday also gets the whole next working day.
    """
    day = local_date(submitted_at) + timedelta(days=1)
    while not workday(day):
        day += timedelta(days=1)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=LOCAL_TZ)
    return end.astimezone(timezone.utc)
