from datetime import date, datetime, timedelta, timezone

import pytest

from webapp.travel_id import rules

UTC = timezone.utc


@pytest.mark.parametrize("instant, key", [
    (datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), "2026-11"),  # 23:59:59 Beijing, 30 Nov
    (datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC), "2026-12"),    # 00:00:00 Beijing, 1 Dec
    (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), "2027-01"),
])
def test_month_turns_at_midnight_beijing_time_when_utc_is_still_the_old_day(instant, key):
    assert rules.month_key(instant) == key


@pytest.mark.parametrize("after, state", [
    (timedelta(hours=23, minutes=59, seconds=59), "valid"),
    (timedelta(hours=24), "expired"),
    (timedelta(hours=24, seconds=1), "expired"),
])
def test_certificate_is_valid_for_24_hours_when_issued(after, state):
    issued = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert rules.state("valid", rules.expires_at(issued), issued + after) == state


def test_revoked_certificate_is_never_valid():
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert rules.state("revoked", now + timedelta(hours=1), now) == "revoked"


@pytest.mark.parametrize("after, needed", [
    (timedelta(minutes=29, seconds=59), False), (timedelta(minutes=30), True), (timedelta(minutes=31), True),
])
def test_qr_page_asks_for_reverification_at_30_minutes(after, needed):
    granted = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert rules.needs_reverify(granted, granted + after) is needed
    assert rules.needs_reverify(None, granted) is True


@pytest.mark.parametrize("now, since", [
    (datetime(2026, 11, 20, 2, 0, tzinfo=UTC), "2026-10-20"),
    (datetime(2026, 3, 31, 2, 0, tzinfo=UTC), "2026-02-28"),
    (datetime(2026, 1, 15, 2, 0, tzinfo=UTC), "2025-12-15"),
])
def test_records_cover_one_calendar_month_when_listed(now, since):
    assert rules.records_since(now).date().isoformat() == since


@pytest.mark.parametrize("birth, travel, code", [
    (date(2020, 6, 15), date(2026, 6, 14), "free"),   # 5 the day before the 6th birthday
    (date(2020, 6, 15), date(2026, 6, 15), "child"),  # 6 on the birthday
    (date(2012, 6, 15), date(2026, 6, 14), "child"),  # 13
    (date(2012, 6, 15), date(2026, 6, 15), "full"),   # 14
    (date(1990, 1, 1), date(2026, 6, 15), "full"),
])
def test_ticket_category_follows_age_on_travel_date(birth, travel, code):
    category = rules.ticket_category(birth, travel)
    assert category.code == code
    assert category.label == rules.TICKET_LABELS[code]


@pytest.mark.parametrize("adults, children, split", [(1, 1, (1, 0)), (1, 2, (1, 1)), (2, 3, (2, 1)), (0, 1, (0, 1))])
def test_one_free_child_per_paying_adult_when_several_children_travel(adults, children, split):
    assert rules.free_children_allowed(adults, children) == split


@pytest.mark.parametrize("city, country, cities, ok", [
    ("广州", "CN", frozenset(), True), ("广州", "CN", frozenset({"广州", "深圳"}), True),
    ("北京", "CN", frozenset({"广州"}), False), ("Paris", "FR", frozenset(), False),
    ("Tsim Sha Tsui", "HK", frozenset(), False),
])
def test_service_area_when_located_in_or_outside_it(city, country, cities, ok):
    assert rules.in_service_area(city, country, cities) is ok
