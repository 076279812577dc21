"""The working-day calendar: the State Council schedule as data, the statutory holidays for other years, and
the coverage warning (issue 16: from 2027-01-01 chinese-calendar 1.11 silently fell back to Monday–Friday)."""
import json
from datetime import date

import pytest

from webapp import workdays

SCHEDULE_2027 = {"2027": {"holidays": {"2027-02-05": "春节", "2027-02-11": "春节"}, "workdays": ["2027-02-20"]}}


def test_shipped_schedule_covers_the_published_years_with_their_make_up_days():
    schedule = workdays.load_schedule(workdays.SHIPPED_SCHEDULE)
    assert {2024, 2025, 2026} <= schedule.years
    assert date(2026, 2, 28) in schedule.workdays and workdays.is_workday(date(2026, 2, 28), schedule)  # 调休 Saturday
    assert not workdays.is_workday(date(2026, 2, 20), schedule)  # a Friday off in the Spring Festival


def test_a_year_without_a_schedule_keeps_its_statutory_holidays_and_is_reported():
    schedule = workdays.load_schedule(workdays.SHIPPED_SCHEDULE)
    assert 2027 not in schedule.years
    assert not workdays.is_workday(date(2027, 2, 8), schedule)  # Spring Festival, a Monday
    report = workdays.coverage(date(2026, 12, 2), schedule)
    assert not report.ok and report.missing_years == (2027,) and "2027" in report.message


@pytest.mark.parametrize(("today", "ok"), [
    (date(2026, 11, 1), True),    # 2026-12-31 is the 60th day: still covered
    (date(2026, 11, 2), False),   # the 60th day is 2027-01-01
])
def test_coverage_looks_exactly_sixty_days_ahead(today, ok):
    assert workdays.coverage(today, workdays.load_schedule(workdays.SHIPPED_SCHEDULE)).ok is ok


def test_an_operator_file_adds_a_year_and_replaces_a_year_whole(tmp_path):
    extra = tmp_path / "schedule.json"
    extra.write_text(json.dumps({**SCHEDULE_2027, "2026": {"holidays": {"2026-01-01": "元旦"}, "workdays": []}}))
    schedule = workdays.load_schedule(workdays.SHIPPED_SCHEDULE).merged(workdays.load_schedule(extra))
    assert workdays.is_workday(date(2027, 2, 20), schedule)       # the make-up Saturday the notice names
    assert not workdays.is_workday(date(2027, 2, 11), schedule)
    assert workdays.coverage(date(2026, 12, 2), schedule).ok
    assert date(2026, 2, 28) not in schedule.workdays             # the operator's 2026 replaced the shipped one


@pytest.mark.parametrize(("doc", "problem"), [
    ({"2027": {"holidays": {"2026-12-31": "元旦"}}}, "is listed under 2027"),
    ({"2027": {"workdays": ["2027-02-22"]}}, "is not a weekend day"),
    ({"2027": {"holidays": {"2027-02-20": "春节"}, "workdays": ["2027-02-20"]}}, "both a day off and a working day"),
    ({"2027": {"holidays": {"2027-13-01": "春节"}}}, "not readable"),
    ({"twenty": {}}, "not readable"),
])
def test_a_mistyped_schedule_is_refused_with_the_entry(doc, problem):
    with pytest.raises(workdays.ScheduleError, match=problem):
        workdays.parse_schedule(doc, "ops.json")


def test_an_unreadable_schedule_file_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(workdays.ScheduleError):
        workdays.load_schedule(bad)
    with pytest.raises(workdays.ScheduleError):
        workdays.load_schedule(tmp_path / "missing.json")
