from datetime import date

import pytest

from webapp.registry import rules

TODAY = date(2026, 11, 20)
VALID = "11010519491231002X"  # the GB 11643 example


def test_parse_reads_birth_date_and_sex_when_number_is_valid():
    rid = rules.parse_resident_id(VALID, TODAY)
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.sex == "F"  # sequence 002 is even
    assert rid.province == "北京市"


def test_parse_accepts_lower_case_x_and_spaces_when_typed_loosely():
    assert rules.parse_resident_id(" 110105 19491231 002x ", TODAY).number == VALID


@pytest.mark.parametrize("raw, fragment", [
    ("", "请输入"),
    ("1101051949123100", "18 位"),
    ("11010519491231002A", "格式"),
    ("110105194912310021", "校验位"),
    (rules.make_id_number("440106", date(1990, 1, 1), 123)[:10] + "1332" + "1230", "出生日期"),
    ("99" + rules.make_id_number("440106", date(1990, 1, 1), 123)[2:17] + "0", None),
])
def test_parse_refuses_with_a_reason_when_number_is_invalid(raw, fragment):
    with pytest.raises(rules.InvalidIdNumber) as err:
        rules.parse_resident_id(raw, TODAY)
    if fragment:
        assert fragment in str(err.value)


def test_parse_refuses_when_region_code_is_not_a_province():
    body = "990105" + "19900101" + "123"
    number = body + __import__("stdnum.cn.ric", fromlist=["x"]).calc_check_digit(body + "0")
    with pytest.raises(rules.InvalidIdNumber, match="地区码"):
        rules.parse_resident_id(number, TODAY)


def test_parse_refuses_when_birth_date_is_after_today():
    number = rules.make_id_number("440106", date(2026, 11, 21), 123)
    with pytest.raises(rules.InvalidIdNumber, match="晚于今天"):
        rules.parse_resident_id(number, TODAY)
    assert rules.parse_resident_id(number, date(2026, 11, 21)).birth_date == date(2026, 11, 21)


def test_parse_keeps_number_when_county_code_is_no_longer_in_the_table():
    # 510104 (成都市锦江区) is missing from stdnum's county snapshot but is on real cards.
    number = rules.make_id_number("510104", date(2010, 9, 9), 412)
    assert rules.parse_resident_id(number, TODAY).sex == "F"


@pytest.mark.parametrize("sequence, sex", [(1, "M"), (2, "F"), (999, "M"), (998, "F")])
def test_sex_follows_sequence_parity_when_number_is_built(sequence, sex):
    assert rules.parse_resident_id(rules.make_id_number("440106", date(2000, 2, 29), sequence), TODAY).sex == sex


@pytest.mark.parametrize("day, age", [
    (date(2020, 6, 14), 5), (date(2020, 6, 15), 6), (date(2020, 6, 16), 6),
])
def test_age_counts_completed_years_when_birthday_is_near(day, age):
    assert rules.age_on(date(2014, 6, 15), day) == age


def test_age_of_leap_day_birth_when_year_is_common():
    assert rules.age_on(date(2008, 2, 29), date(2022, 2, 28)) == 13
    assert rules.age_on(date(2008, 2, 29), date(2022, 3, 1)) == 14


def test_masks_keep_only_what_is_needed():
    assert rules.mask_id_number(VALID) == "1101**********002X"
    assert rules.mask_name("张三") == "张*"
    assert rules.mask_name("欧阳娜娜") == "欧***"
    assert rules.mask_phone("13800138000") == "138****8000"


@pytest.mark.parametrize("raw, ok", [("13800138000", True), ("+86 138-0013-8000", True), ("12800138000", False),
                                     ("1380013800", False), ("abc", False)])
def test_phone_validation_when_formats_vary(raw, ok):
    if ok:
        assert rules.validate_phone(raw) == "13800138000"
    else:
        with pytest.raises(ValueError):
            rules.validate_phone(raw)


@pytest.mark.parametrize("raw, ok", [("张三", True), ("买买提·艾力", True), ("", False), ("张3", False),
                                     ("<script>", False)])
def test_name_validation_when_input_varies(raw, ok):
    if ok:
        assert rules.validate_name(raw) == raw
    else:
        with pytest.raises(ValueError):
            rules.validate_name(raw)
