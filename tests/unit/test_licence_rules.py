"""E-licence rules: eligibility per status, regions and presets, the working-day review deadline across 国庆 and a
make-up working day, the 6-month photo rule at its boundaries, invalidation triggers, the 32×22 mm crop."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from webapp.driving_licence import rules
from webapp.registry.rules import LICENCE_STATUSES
from webapp.timeutil import LOCAL_TZ

TODAY = date(2026, 11, 20)
GUANGZHOU = "广东省广州市公安局交通警察支队"


def record(status="正常", valid_from=date(2021, 5, 1), valid_until=date(2031, 5, 1), authority=GUANGZHOU):
    return rules.RecordFacts(status=status, valid_from=valid_from, valid_until=valid_until,
                             issuing_authority=authority)


def beijing(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def test_normal_record_within_validity_is_eligible():
    assert rules.eligibility(record(), TODAY, None) is None
    assert rules.eligibility(record(valid_until=None), TODAY, None) is None  # 长期


@pytest.mark.parametrize("status", [s for s in LICENCE_STATUSES if s != "正常"])
def test_refusal_names_the_status_and_what_to_do_when_status_blocks(status):
    refusal = rules.eligibility(record(status=status), TODAY, None)
    assert refusal.code == rules.BAD_STATUS
    assert f"“{status}”" in refusal.message
    assert rules.STATUS_ADVICE[status] in refusal.message


def test_every_blocking_status_has_distinct_advice():
    assert len(set(rules.STATUS_ADVICE.values())) == len(rules.BLOCKING_STATUSES) == len(LICENCE_STATUSES) - 1


@pytest.mark.parametrize(("until", "code"), [
    (TODAY, None),                                 # the last day of validity still counts
    (TODAY - timedelta(days=1), rules.EXPIRED),    # the day after: renew first
])
def test_validity_boundary_when_valid_until_is_today_or_yesterday(until, code):
    refusal = rules.eligibility(record(valid_until=until), TODAY, None)
    assert (refusal.code if refusal else None) == code
    if refusal:
        assert "换证" in refusal.message


def test_refused_when_not_yet_valid_or_no_record():
    assert rules.eligibility(record(valid_from=TODAY + timedelta(days=1)), TODAY, None).code == rules.NOT_YET_VALID
    assert rules.eligibility(None, TODAY, None).code == rules.NO_RECORD


def test_status_is_named_before_the_dates_when_both_block():
    assert rules.eligibility(record(status="吊销", valid_until=date(2020, 1, 1)), TODAY, None).code == rules.BAD_STATUS


@pytest.mark.parametrize(("authority", "city"), [
    ("广东省广州市公安局交通警察支队", "广州"),
    ("北京市公安局公安交通管理局", "北京"),
    ("重庆市公安局交通巡逻警察总队", "重庆"),
    ("四川省成都市公安局交通管理局", "成都"),
    ("江苏省苏州市公安局交通警察支队", "苏州"),
    ("宁夏回族自治区银川市公安局交通警察支队", "银川"),
    ("黑龙江省大庆市公安局交通警察支队", "大庆"),
    ("四川省凉山彝族自治州公安局交通警察支队", "凉山彝族"),
    ("车管所", None),
])
def test_city_is_read_from_the_issuing_authority(authority, city):
    assert rules.licence_city(authority) == city


def test_region_presets_and_lists():
    assert rules.enabled_cities(None) is None
    assert rules.enabled_cities("nationwide") is None
    assert rules.enabled_cities("pilot3") == {"天津", "成都", "苏州"}
    assert len(rules.enabled_cities("cities28")) == 28
    assert rules.enabled_cities("广州市, 深圳，北京") == {"广州", "深圳", "北京"}
    with pytest.raises(ValueError):
        rules.enabled_cities(" , ")


def test_refused_outside_enabled_region_with_the_city_and_the_list():
    refusal = rules.eligibility(record(), TODAY, rules.enabled_cities("pilot3"))
    assert refusal.code == rules.OUTSIDE_REGION
    assert "广州" in refusal.message and "成都" in refusal.message
    assert rules.eligibility(record(), TODAY, rules.enabled_cities("cities28")) is None
    assert rules.eligibility(record(authority="天津市公安局交通警察总队"), TODAY,
                             rules.enabled_cities("pilot3")) is None


@pytest.mark.parametrize(("submitted", "due"), [
    # Friday → end of Monday.
    (beijing(2026, 11, 20, 10, 0), beijing(2026, 11, 24, 0, 0)),
    # Wednesday 09-30 before 国庆 (10-01..10-07 holidays) → end of Thursday 10-08.
    (beijing(2026, 9, 30, 23, 59), beijing(2026, 10, 9, 0, 0)),
    # During the holiday → the first working day after it.
    (beijing(2026, 10, 3, 9, 0), beijing(2026, 10, 9, 0, 0)),
    # Friday 10-09 → Saturday 10-10 is a make-up working day (调休): due at its end.
    (beijing(2026, 10, 9, 8, 0), beijing(2026, 10, 11, 0, 0)),
    # Saturday 10-10 (make-up working day) → Sunday 10-11 is a rest day → end of Monday 10-12.
    (beijing(2026, 10, 10, 8, 0), beijing(2026, 10, 13, 0, 0)),
    # 00:30 Beijing on a Thursday is still Wednesday in UTC: the Beijing day counts.
    (beijing(2026, 11, 19, 0, 30), beijing(2026, 11, 21, 0, 0)),
])
def test_review_due_is_end_of_next_working_day_on_the_chinese_calendar(submitted, due):
    assert rules.review_due(submitted) == due


def test_calendar_facts_the_due_time_tests_rely_on():
    assert not rules.is_workday(date(2026, 10, 1)) and not rules.is_workday(date(2026, 10, 7))
    assert rules.is_workday(date(2026, 10, 10))  # Saturday, make-up working day
    assert not rules.is_workday(date(2026, 10, 11))


def test_workday_outside_the_published_years_still_knows_the_statutory_holidays():
    # 2027 has no published schedule in the shipped file: the Spring Festival must not count as working days
    # (chinese-calendar 1.11 silently fell back to Monday–Friday here).
    assert not rules.is_workday(date(2027, 2, 8))   # a Monday in the Spring Festival
    assert not rules.is_workday(date(2027, 10, 1))  # National Day, a Friday
    assert rules.is_workday(date(2027, 3, 1)) and not rules.is_workday(date(2027, 3, 6))


ISSUED = beijing(2026, 3, 31, 10, 0)


def test_system_photo_can_be_replaced_at_once():
    assert rules.photo_replaceable_from(rules.PHOTO_SYSTEM, None, ISSUED) == ISSUED


@pytest.mark.parametrize("source", [rules.PHOTO_ALBUM, rules.PHOTO_CAMERA])
def test_camera_or_album_photo_only_after_six_calendar_months(source):
    # 31 March + 6 months = 30 September (clamped to the month's end), same Beijing time.
    at = rules.photo_replaceable_from(source, ISSUED, ISSUED)
    assert at == beijing(2026, 9, 30, 10, 0)
    assert at - timedelta(seconds=1) < at  # one second earlier is refused by the service (now < at)


def test_a_replacement_restarts_the_six_months_even_after_a_system_photo():
    replaced = beijing(2026, 8, 15, 12, 0)
    assert rules.photo_replaceable_from(rules.PHOTO_SYSTEM, replaced, ISSUED) == beijing(2027, 2, 15, 12, 0)
    assert rules.add_months(beijing(2026, 8, 31, 0, 30), 6) == beijing(2027, 2, 28, 0, 30)


SNAPSHOT = {"licence_class": "C1", "valid_from": date(2021, 5, 1), "valid_until": date(2031, 5, 1),
            "issuing_authority": GUANGZHOU}


@pytest.mark.parametrize(("change", "fields", "word"), [
    ({"licence_class": "B2"}, ["licence_class"], "准驾车型"),
    ({"valid_from": date(2027, 5, 1), "valid_until": date(2037, 5, 1)}, ["valid_from", "valid_until"], "有效期"),
    ({"valid_until": None}, ["valid_until"], "有效期"),
    ({"issuing_authority": "北京市公安局公安交通管理局"}, ["issuing_authority"], "发证机关"),
])
def test_invalidation_triggers_when_class_validity_or_authority_change(change, fields, word):
    changed = rules.changed_fields(SNAPSHOT, {**SNAPSHOT, **change})
    assert changed == fields
    message = rules.invalidation_message(changed)
    assert word in message and "重新申领" in message
    assert message.count("有效期") <= 1


def test_status_or_points_changes_do_not_invalidate():
    assert rules.changed_fields(SNAPSHOT, {**SNAPSHOT, "status": "扣留", "points": 6}) == []


def test_crop_gives_a_22_by_32_frame_with_the_head_in_range():
    crop = rules.plan_crop((600, 480), chin_y=383, brow_y=162, jaw_left=126, jaw_right=364)
    assert crop is not None
    assert abs(crop.width / crop.height - 22 / 32) < 0.01
    assert rules.HEAD_HEIGHT_MM[0] <= crop.head_height_mm <= rules.HEAD_HEIGHT_MM[1]
    assert rules.head_width_ok(crop.head_width_mm)


def test_no_crop_when_the_head_touches_the_top_edge():
    assert rules.plan_crop((600, 480), chin_y=300, brow_y=60, jaw_left=126, jaw_right=364) is None


@pytest.mark.parametrize(("mm", "ok"), [(12.9, False), (13.0, True), (17.0, True), (17.1, False)])
def test_head_width_tolerance_boundaries(mm, ok):
    assert rules.head_width_ok(mm) is ok
