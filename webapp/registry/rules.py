"""Identity registry rules: resident ID numbers (GB 11643-1999), names, phones, masking. No I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from webapp.lazytext import _l
from webapp.normalise import PHONE_PATTERN, name_problem, normalise_id_number, normalise_name, normalise_phone

ID_NUMBER_LENGTH = 18
SEX_LABELS = {"M": _l("男"), "F": _l("女")}
# GB/T 2260 province-level codes (the first two digits of every resident ID number).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82",
})

# Licence record statuses (SPEC 5.2). 正常 is the only one that allows an e-licence.
LICENCE_STATUS_NORMAL = "正常"
LICENCE_STATUSES = (
    LICENCE_STATUS_NORMAL, "扣留", "扣押", "暂扣", "吊销", "撤销", "注销",
    "逾期未换证", "逾期未体检", "逾期未审验", "公告停止使用",
)
#: How a page shows each status (the registry's own words are the data, and the zh-CN labels).
LICENCE_STATUS_LABELS = {
    "正常": _l("正常"), "扣留": _l("扣留"), "扣押": _l("扣押"), "暂扣": _l("暂扣"), "吊销": _l("吊销"),
    "撤销": _l("撤销"), "注销": _l("注销"), "逾期未换证": _l("逾期未换证"), "逾期未体检": _l("逾期未体检"),
    "逾期未审验": _l("逾期未审验"), "公告停止使用": _l("公告停止使用"),
}
assert set(LICENCE_STATUS_LABELS) == set(LICENCE_STATUSES)


def licence_status_label(status: str):
    """A record status as shown to people (in the request's language)."""
    return LICENCE_STATUS_LABELS.get(status, status)


LICENCE_CLASSES = ("A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P")


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident ID number; ``str(exc)`` is the user message."""


@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: date
    sex: str  # "M" or "F", from the parity of the sequence digits
    province: str | None

    @property
    def sex_label(self) -> str:
        return SEX_LABELS[self.sex]


def parse_resident_id(raw: str, today: date) -> ResidentId:
    """Validate a resident ID number and read birth date and sex from it.

    :param raw: what the user typed (spaces allowed, lower-case x accepted)
    :param today: the local date, to refuse birth dates in the future
    :raises InvalidIdNumber: with a message saying what is wrong
    """
    number = normalise_id_number(raw)
    if not number:
        raise InvalidIdNumber(_l("请输入身份证号。"))
    if len(number) != ID_NUMBER_LENGTH:
        raise InvalidIdNumber(_l("身份证号应为 18 位（仅支持居民身份证）。"))
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):  # ASCII only: \d would let other scripts' digits through
        raise InvalidIdNumber(_l("身份证号格式不正确：前 17 位应为数字，最后一位为数字或 X。"))
    try:
        birth = ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise InvalidIdNumber(_l("身份证号中的出生日期不正确。")) from None
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdNumber(_l("身份证号校验位不正确，请核对后重新输入。"))
    if number[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber(_l("身份证号前 6 位地区码不正确。"))
    try:
        province = ric.get_birth_place(number).get("province")
    except stdnum_errors.ValidationError:
        # stdnum's county table is a snapshot; codes of merged or renamed counties stay valid on old cards.
        province = None
    if birth > today:
        raise InvalidIdNumber(_l("身份证号中的出生日期晚于今天。"))
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, birth_date=birth, sex=sex, province=province)


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """Build a valid number (demo data and tests). ``sequence`` odd = male, even = female."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check character


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day`` (a person born on 29 Feb turns a year older on 1 Mar in common years)."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def validate_name(raw: str | None) -> str:
    """The normalised name, or :class:`ValueError` with :func:`name_problem`'s message."""
    name = normalise_name(raw)
    problem = name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def same_name(a: str | None, b: str | None) -> bool:
    """Whether two spellings are the same name once normalised (a registry row typed with "•" matches "·")."""
    return normalise_name(a) == normalise_name(b)


def validate_phone(raw: str | None) -> str:
    phone = normalise_phone(raw)
    if not phone:
        raise ValueError(_l("请输入手机号码。"))
    if not PHONE_PATTERN.fullmatch(phone):
        raise ValueError(_l("请输入 11 位中国大陆手机号码（1 开头）。"))
    return phone


def mask_id_number(number: str) -> str:
    """440106********123X style: region prefix and last four only."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the public sees only the first character."""
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)
