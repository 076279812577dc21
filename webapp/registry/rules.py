"""Identity registry rules: resident ID numbers (GB 11643-1999), names, phones, masking. No I/O."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

ID_NUMBER_LENGTH = 18
NAME_MAX = 30  # characters (code points): 𠮷 is one, although a browser's maxlength counts it as two
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
SEX_LABELS = {"M": "男", "F": "女"}
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


# --- Normalising what people type, before any validation (every form, the CLI import, the services) -------
# NFKC first: a Chinese IME in full-width mode types "４４０１…Ｘ", "１３８"; those are the same characters as ASCII.
# Then the separators people put in numbers: any white space (NFKC makes U+3000 a space) and the dashes of
# keyboards and IMEs.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\ufe58\ufe63\uff0d()（）]")
#: Typed or pasted in place of the middle dot of minority names (阿依古丽·买买提): bullet, hyphenation point,
#: katakana and half-width middle dots, operators, Greek ano teleia, the Latin sinological dot and a full stop.
#: U+00B7 is what the ID card and the registry use.
NAME_DOT = "\u00b7"
_NAME_DOT_VARIANTS = re.compile("[\u2022\u2027\u2219\u22c5\u30fb\u0387\u1427\u2e31\u2e33\ua78f\u2024.]")


def _nfkc(raw: str | None) -> str:
    return unicodedata.normalize("NFKC", raw or "")


def normalise_number(raw: str | None) -> str:
    """Digits as typed by anyone: full-width to ASCII, spaces, dashes and brackets dropped, upper case
    (the X of an ID number). Idempotent."""
    return _SEPARATORS.sub("", _nfkc(raw)).upper()


def normalise_id_number(raw: str | None) -> str:
    """A resident ID number as typed or pasted: ``４４０１０６ 1988-0307 123x`` becomes ``44010619880307123X``."""
    return normalise_number(raw)


def normalise_phone(raw: str | None) -> str:
    """A mainland mobile number as typed or pasted: full-width digits, spaces, dashes, brackets and a leading
    +86 / 0086 dropped (``+86 138-0013-8000`` → ``13800138000``)."""
    phone = normalise_number(raw)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            return phone[len(prefix):]
    if len(phone) == 13 and phone.startswith("86"):
        return phone[2:]
    return phone


def normalise_account(raw: str | None) -> str:
    """The sign-in identifier (手机号或身份证号): a phone number when it reads as one, else an ID number."""
    phone = normalise_phone(raw)
    return phone if PHONE_PATTERN.fullmatch(phone) else normalise_id_number(raw)


def normalise_name(raw: str | None) -> str:
    """A name as typed: NFKC (full-width letters, compatibility ideographs), every middle-dot look-alike made the
    registry's U+00B7, no space around a dot or between two Chinese characters, other runs of spaces made one."""
    name = _NAME_DOT_VARIANTS.sub(NAME_DOT, _nfkc(raw))
    name = re.sub(r"\s+", " ", name).strip()
    name = re.sub(r" ?\u00b7 ?", NAME_DOT, name)
    # 张 三 → 张三: a space only separates words of Latin letters.
    return re.sub(r"(?<=[^A-Za-z ]) | (?=[^A-Za-z ])", "", name)


def parse_resident_id(raw: str, today: date) -> ResidentId:
    """Validate a resident ID number and read birth date and sex from it.

    :param raw: what the user typed (spaces allowed, lower-case x accepted)
    :param today: the local date, to refuse birth dates in the future
    :raises InvalidIdNumber: with a message saying what is wrong
    """
    number = normalise_id_number(raw)
    if not number:
        raise InvalidIdNumber("请输入身份证号。")
    if len(number) != ID_NUMBER_LENGTH:
        raise InvalidIdNumber("身份证号应为 18 位（仅支持居民身份证）。")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):  # ASCII only: \d would let other scripts' digits through
        raise InvalidIdNumber("身份证号格式不正确：前 17 位应为数字，最后一位为数字或 X。")
    try:
        birth = ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise InvalidIdNumber("身份证号中的出生日期不正确。") from None
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidIdNumber("身份证号校验位不正确，请核对后重新输入。")
    if number[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber("身份证号前 6 位地区码不正确。")
    try:
        province = ric.get_birth_place(number).get("province")
    except stdnum_errors.ValidationError:
        # stdnum's county table is a snapshot; codes of merged or renamed counties stay valid on old cards.
        province = None
    if birth > today:
        raise InvalidIdNumber("身份证号中的出生日期晚于今天。")
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


def _is_han(char: str) -> bool:
    """A Chinese character of the national standard (GB 18030-2022), which the resident ID system writes names
    in: the CJK Unified Ideographs and every extension (A to I, e.g. 𠮷 U+20BB7 of extension B), the
    compatibility ideographs that NFKC leaves as they are (﨑), and 〇."""
    cp = ord(char)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F
            or 0x30000 <= cp <= 0x323AF or 0xF900 <= cp <= 0xFAFF or cp == 0x3007)


def name_problem(name: str) -> str | None:
    """Why a normalised name (:func:`normalise_name`) is not one the ID system could hold, or None. Each refusal
    names what is wrong, so the person knows what to change."""
    if not name:
        return "请输入姓名。"
    if len(name) > NAME_MAX:
        return f"姓名最多 {NAME_MAX} 个字（现为 {len(name)} 个）。"
    if any(c.isdigit() for c in name):
        return "姓名不能包含数字。"
    if name[0] == NAME_DOT or name[-1] == NAME_DOT or NAME_DOT * 2 in name:
        return "姓名中的“·”只能用在两部分之间（如：阿依古丽·买买提），不能在开头、结尾或连续使用。"
    for char in name:
        if not (_is_han(char) or char == NAME_DOT or char == " " or ("A" <= char <= "Z") or ("a" <= char <= "z")):
            if 0xE000 <= ord(char) <= 0xF8FF or 0xF0000 <= ord(char):
                return "姓名中有无法识别的字（私用区字符），请使用标准汉字输入；无法输入的生僻字请到窗口办理。"
            shown = char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
            return f"姓名中不能包含“{shown}”：只能是汉字（含生僻字）、英文字母，少数民族姓名可含“·”。"
    return None


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
        raise ValueError("请输入手机号码。")
    if not PHONE_PATTERN.fullmatch(phone):
        raise ValueError("请输入 11 位中国大陆手机号码（1 开头）。")
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
