import re
from datetime import date

import pytest

from webapp import normalise
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


# --- Normalising before validation (issue 16): one set of functions behind every form, the import and services ---
@pytest.mark.parametrize("typed", [
    "11010519491231002X", "11010519491231002x", " 110105 19491231 002x ", "110105-19491231-002X",
    "１１０１０５１９４９１２３１００２Ｘ", "１１０１０５　１９４９１２３１　００２ｘ", "110105–19491231—002X",
    "1101 0519 4912 3100 2X",
])
def test_id_numbers_are_normalised_when_typed_with_separators_full_width_or_lower_case(typed):
    assert normalise.normalise_id_number(typed) == VALID
    assert rules.parse_resident_id(typed, TODAY).number == VALID


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000",
                                   "+86-13800138000", "0086 13800138000", "8613800138000", "１３８００１３８０００",
                                   "(+86) 138 0013 8000", "１３８　００１３　８０００"])
def test_phones_are_normalised_when_typed_loosely(typed):
    assert rules.validate_phone(typed) == "13800138000"


def test_the_sign_in_identifier_is_a_phone_or_an_id_number_when_normalised():
    assert normalise.normalise_account(" +86 138-0013-8000 ") == "13800138000"
    assert normalise.normalise_account("1101 0519 4912 3100 2x") == VALID


@pytest.mark.parametrize("typed, name", [
    ("𠮷田", "𠮷田"),                        # CJK extension B (U+20BB7): one character, accepted as it is
    ("𪚥", "𪚥"),                             # extension B, U+2A6A5
    ("王〇", "王〇"),                         # 〇 (U+3007) is used in names
    ("阿依古丽·买买提", "阿依古丽·买买提"),
    ("阿依古丽•买买提", "阿依古丽·买买提"),      # bullet
    ("阿依古丽・买买提", "阿依古丽·买买提"),      # katakana middle dot (Japanese IME)
    ("阿依古丽･买买提", "阿依古丽·买买提"),      # half-width katakana middle dot
    ("阿依古丽.买买提", "阿依古丽·买买提"),      # a full stop typed for the dot
    ("阿依古丽．买买提", "阿依古丽·买买提"),      # full-width full stop
    ("阿依古丽 · 买买提", "阿依古丽·买买提"),    # spaces around the dot
    ("阿依古丽‧买买提", "阿依古丽·买买提"),      # hyphenation point (Taiwanese IMEs)
    (" 张 三 ", "张三"),
    ("张　三", "张三"),                        # ideographic space
    ("ＬＩ　Ｍｉｎｇ", "LI Ming"),
])
def test_names_are_accepted_and_normalised_when_the_id_system_would_hold_them(typed, name):
    assert rules.validate_name(typed) == name


@pytest.mark.parametrize("typed, fragment", [
    ("", "请输入姓名"),
    ("张3", "不能包含数字"),
    ("张３", "不能包含数字"),
    ("·买买提", "“·”只能用在两部分之间"),
    ("买买提·", "“·”只能用在两部分之间"),
    ("买买提··艾力", "“·”只能用在两部分之间"),
    ("张😀", "不能包含“😀”"),
    ("<script>", "不能包含“<”"),
    ("田中さん", "不能包含“さ”"),
    ("김철수", "不能包含“김”"),
    ("张\ue000", "私用区"),
    ("张" * 31, "最多 30 个字（现为 31 个）"),
])
def test_names_are_refused_with_what_is_wrong_when_the_id_system_would_not_hold_them(typed, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        rules.validate_name(typed)


def test_thirty_extension_b_characters_are_one_name_of_thirty_when_counted():
    assert rules.validate_name("𠮷" * 30) == "𠮷" * 30


def test_two_spellings_are_the_same_name_when_only_the_dot_differs():
    assert rules.same_name("阿依古丽•买买提", "阿依古丽·买买提")
    assert not rules.same_name("张三", "张四")
