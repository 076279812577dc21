"""Hypothesis properties of the pure rules modules, over whole input spaces rather than chosen boundaries.

The boundary examples live next to each module's unit tests (test_registry_rules, test_travel_rules,
test_licence_rules, test_tokens); these are the laws that must hold for *every* input: ID numbers round-trip and
every single-character error is refused with a message; quota months follow the Beijing calendar; the ticket
category never goes down with age; the review deadline ends a Chinese working day and is never before
submission; the 6-month photo rule is monotonic; eligibility says yes exactly when status, dates and region do.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from webapp import workdays
from webapp.driving_licence import rules as licence_rules
from webapp.registry import rules as registry_rules
from webapp.registry.rules import InvalidIdNumber, make_id_number, parse_resident_id
from webapp.timeutil import LOCAL_TZ, to_local
from webapp.travel_id import rules as travel_rules

TODAY = date(2026, 11, 20)
UTC = timezone.utc

# Province-level region codes with a real county part (the first two digits are what the rules check).
regions = st.sampled_from(["110105", "120101", "310104", "440106", "440305", "510104", "650102", "820000"])
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                        timezones=st.just(UTC))
# The published years (holidays and 调休) plus some without a schedule (statutory holidays only).
calendar_instants = st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2032, 12, 31),
                                 timezones=st.just(UTC))


@st.composite
def id_numbers(draw) -> tuple[str, date, int]:
    birth = draw(births)
    sequence = draw(sequences)
    return make_id_number(draw(regions), birth, sequence), birth, sequence


# --- resident ID numbers (GB 11643-1999) ------------------------------------------------------------------

@given(id_numbers())
def test_a_built_number_parses_back_to_its_birth_date_and_sex_when_valid(built):
    number, birth, sequence = built
    parsed = parse_resident_id(number, TODAY)
    assert parsed.number == number and parsed.birth_date == birth
    assert parsed.sex == ("M" if sequence % 2 else "F")


@given(id_numbers(), st.sampled_from(["lower", "spaces", "hyphens", "fullwidth"]))
def test_a_loosely_typed_number_is_the_same_number_when_normalised(built, style):
    number = built[0]
    typed = {
        "lower": number.lower(),
        "spaces": f" {number[:6]} {number[6:14]} {number[14:]} ",
        "hyphens": f"{number[:6]}-{number[6:14]}-{number[14:]}",
        # A Chinese IME in full-width mode: ４４０１…Ｘ.
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in number),
    }[style]
    assert parse_resident_id(typed, TODAY).number == number


@given(id_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_character_changed_is_refused_when_the_check_digit_no_longer_fits(built, position, char):
    number = built[0]
    assume(number[position] != char and (char != "X" or position == 17))
    changed = number[:position] + char + number[position + 1:]
    # MOD 11-2 catches every single substitution: the changed number can never pass.
    with pytest.raises(InvalidIdNumber) as refused:
        parse_resident_id(changed, TODAY)
    assert str(refused.value)  # a message for the user, whichever check caught it


@given(id_numbers(), st.integers(min_value=0, max_value=15))
def test_swapping_two_neighbouring_digits_is_refused_when_they_differ(built, position):
    number = built[0]
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2:]
    with pytest.raises(InvalidIdNumber):
        parse_resident_id(swapped, TODAY)


@given(st.text(max_size=40))
@example("٤٤٠١٠٦١٩٩٠٠١٠١٠٠٣X")  # Arabic-Indic digits: digits to \d, but not an ID number
@example("440106199001011235\n")
def test_any_text_is_either_a_valid_number_or_refused_with_a_message(raw):
    try:
        parsed = parse_resident_id(raw, TODAY)
    except InvalidIdNumber as refused:
        assert str(refused)
        return
    assert len(parsed.number) == 18 and parsed.number.isascii()
    assert parsed.number[:17].isdigit() and parsed.number[17] in "0123456789X"
    assert parsed.birth_date <= TODAY


@given(st.text(min_size=0, max_size=30))
def test_mask_never_shows_more_than_the_first_four_and_last_four(number):
    masked = registry_rules.mask_id_number(number)
    assert len(masked) == len(number)
    if len(number) >= 8:
        assert masked[:4] == number[:4] and masked[-4:] == number[-4:] and set(masked[4:-4]) <= {"*"}
    else:
        assert set(masked) <= {"*"}


@given(births, st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_age_is_completed_years_when_counted_on_any_day(birth, day):
    assume(day >= birth)
    age = registry_rules.age_on(birth, day)
    assert age >= 0
    # The birthday of year ``age`` is on or before the day; that of ``age + 1`` after it (29 Feb → 1 Mar).
    def birthday(years: int) -> date:
        try:
            return birth.replace(year=birth.year + years)
        except ValueError:
            return date(birth.year + years, 3, 1)
    assert birthday(age) <= day
    if birth.year + age + 1 <= 9999:
        assert birthday(age + 1) > day


# --- travel ID quota month (Asia/Shanghai) ----------------------------------------------------------------

@given(instants)
def test_quota_month_is_the_beijing_calendar_month_of_any_instant(instant):
    local = instant.astimezone(LOCAL_TZ)
    assert travel_rules.month_key(instant) == f"{local.year:04d}-{local.month:02d}"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)).map(lambda d: d.replace(day=1)))
def test_quota_month_turns_exactly_at_midnight_beijing_on_the_first(first):
    midnight = datetime.combine(first, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)
    before = midnight - timedelta(microseconds=1)
    assert travel_rules.month_key(midnight) == f"{first:%Y-%m}"
    assert travel_rules.month_key(before) == f"{first - timedelta(days=1):%Y-%m}"
    assert travel_rules.month_key(before) < travel_rules.month_key(midnight)  # "YYYY-MM" sorts by time


@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_quota_month_never_goes_back_when_time_moves_on(instant, later):
    assert travel_rules.month_key(instant) <= travel_rules.month_key(instant + later)


@given(instants)
def test_records_period_is_one_calendar_month_back_and_never_in_the_future(now):
    since = travel_rules.records_since(now)
    assert since <= now
    assert timedelta(days=28) <= now - since <= timedelta(days=31)
    assert to_local(since).time() == to_local(now).time()


@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_certificate_state_is_valid_exactly_for_24_hours(issued, after):
    state = travel_rules.state(travel_rules.STATUS_VALID, travel_rules.expires_at(issued), issued + after)
    assert state == ("valid" if after < timedelta(hours=24) else "expired")
    assert travel_rules.state(travel_rules.STATUS_REVOKED, travel_rules.expires_at(issued), issued + after) \
        == "revoked"


# --- ticket category by age on the travel date ------------------------------------------------------------

ORDER = {travel_rules.TICKET_FREE: 0, travel_rules.TICKET_CHILD: 1, travel_rules.TICKET_FULL: 2}


@given(births, st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20 * 366)))
def test_ticket_category_follows_the_age_bands_and_never_goes_down_with_time(birth, travel, later):
    assume(travel >= birth)
    category = travel_rules.ticket_category(birth, travel)
    age = registry_rules.age_on(birth, travel)
    expected = (travel_rules.TICKET_FREE if age < 6 else travel_rules.TICKET_CHILD if age < 14
                else travel_rules.TICKET_FULL)
    assert (category.code, category.age) == (expected, age)
    assert category.label == travel_rules.TICKET_LABELS[expected]
    if travel + later <= date(9999, 12, 31):
        assert ORDER[travel_rules.ticket_category(birth, travel + later).code] >= ORDER[category.code]


@given(st.integers(min_value=-3, max_value=20), st.integers(min_value=0, max_value=20))
def test_free_children_are_at_most_one_per_paying_adult_and_none_are_lost(adults, children):
    free, paying = travel_rules.free_children_allowed(adults, children)
    assert free + paying == children and 0 <= free <= max(adults, 0) and paying >= 0


# --- review deadline: the end of a Chinese working day ----------------------------------------------------

@given(calendar_instants)
@settings(max_examples=300)
def test_review_due_ends_a_working_day_after_submission_and_skips_only_rest_days(submitted):
    due = workdays.review_due(submitted)
    local_due = to_local(due)
    assert local_due.time() == time(0, 0)            # the end of a Beijing day
    last_day = local_due.date() - timedelta(days=1)  # the working day it ends
    assert workdays.is_workday(last_day)             # never a rest day or holiday
    assert due > submitted                           # never before "now"
    assert last_day > to_local(submitted).date()     # the whole next working day, never the same day
    between = [last_day - timedelta(days=n) for n in range(1, (last_day - to_local(submitted).date()).days)]
    assert not any(workdays.is_workday(day) for day in between)  # the *first* working day after submission
    assert due - submitted <= timedelta(days=15)     # the longest Chinese holiday run is well under this


@given(calendar_instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_review_due_never_moves_earlier_when_submitted_later(submitted, later):
    assert workdays.review_due(submitted) <= workdays.review_due(submitted + later)


@given(calendar_instants)
def test_review_due_with_a_weekday_calendar_is_at_most_three_days_and_a_weekday(submitted):
    due = workdays.review_due(submitted, workday=lambda d: d.weekday() < 5)
    assert (to_local(due).date() - timedelta(days=1)).weekday() < 5
    assert due - submitted <= timedelta(days=4)


# --- the 6-month photo rule -------------------------------------------------------------------------------

sources = st.sampled_from(licence_rules.PHOTO_SOURCES)


@given(instants, st.integers(min_value=0, max_value=36))
def test_add_months_lands_in_the_right_calendar_month_at_the_same_wall_time(instant, months):
    moved = to_local(licence_rules.add_months(instant, months))
    local = to_local(instant)
    assert (moved.year * 12 + moved.month) - (local.year * 12 + local.month) == months
    assert moved.time() == local.time() and moved.day <= local.day


@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)), st.integers(0, 24))
def test_add_months_is_monotonic_in_the_instant(instant, later, months):
    assert licence_rules.add_months(instant, months) <= licence_rules.add_months(instant + later, months)


@given(sources, st.one_of(st.none(), instants), instants,
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)))
def test_photo_replacement_time_is_monotonic_and_six_months_after_any_chosen_photo(source, changed, issued, later):
    replaceable = licence_rules.photo_replaceable_from(source, changed, issued)
    if source == licence_rules.PHOTO_SYSTEM and changed is None:
        assert replaceable == issued  # the system photo can be replaced at once
        return
    photo_at = changed or issued
    assert timedelta(days=181) <= replaceable - photo_at <= timedelta(days=184)  # 6 calendar months
    # A later photo (or a later issue when the photo is the issue's) never makes replacement come sooner.
    if changed is not None:
        assert licence_rules.photo_replaceable_from(source, changed + later, issued) >= replaceable
    else:
        assert licence_rules.photo_replaceable_from(source, None, issued + later) >= replaceable


# --- e-licence eligibility --------------------------------------------------------------------------------

AUTHORITIES = ["广东省广州市公安局交通警察支队", "北京市公安局公安交通管理局", "四川省成都市公安局交通管理局",
               "江苏省苏州市公安局交通警察支队", "车管所"]
records = st.builds(
    licence_rules.RecordFacts,
    status=st.sampled_from(registry_rules.LICENCE_STATUSES),
    valid_from=st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 1, 1)),
    valid_until=st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2045, 1, 1))),
    issuing_authority=st.sampled_from(AUTHORITIES),
)
regions_setting = st.sampled_from(["nationwide", "pilot3", "cities28", "广州,北京"])


@given(st.one_of(st.none(), records), st.dates(min_value=date(2000, 1, 1), max_value=date(2045, 1, 1)),
       regions_setting)
def test_eligible_exactly_when_status_dates_and_region_all_allow(record, today, setting):
    cities = licence_rules.enabled_cities(setting)
    refusal = licence_rules.eligibility(record, today, cities)
    if record is None:
        assert refusal.code == licence_rules.NO_RECORD
        return
    allowed = (licence_rules.usable(record.status, record.valid_from, record.valid_until, today)
               and licence_rules.in_region(record.issuing_authority, cities))
    assert (refusal is None) is allowed
    if refusal is not None:
        assert refusal.message
        # The status is named first whatever the dates; then the dates; the region last.
        if record.status != registry_rules.LICENCE_STATUS_NORMAL:
            assert refusal.code == licence_rules.BAD_STATUS and record.status in refusal.message
        elif not licence_rules.is_within_validity(record.valid_from, record.valid_until, today):
            assert refusal.code in (licence_rules.NOT_YET_VALID, licence_rules.EXPIRED)
        else:
            assert refusal.code == licence_rules.OUTSIDE_REGION
