"""What people type, normalised before any validation: resident ID numbers, phone numbers, the sign-in identifier
and names (issue 16). Every form's fields (webapp/web/forms.py), the services and the registry import use these
functions, so "4401 0619 8803 0712 35", "４４０１…ｘ", "+86 138-0013-8000" and "阿依古丽・买买提" mean what the person
meant. Pure functions: no Flask, no I/O.
"""
from __future__ import annotations

import re
import unicodedata

from webapp.lazytext import _l

NAME_MAX = 30  # characters (code points): 𠮷 is one, although a browser's maxlength counts it as two
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")

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
        return _l("请输入姓名。")
    if len(name) > NAME_MAX:
        return _l("姓名最多 %(max)s 个字（现为 %(count)s 个）。", max=NAME_MAX, count=len(name))
    if any(c.isdigit() for c in name):
        return _l("姓名不能包含数字。")
    if name[0] == NAME_DOT or name[-1] == NAME_DOT or NAME_DOT * 2 in name:
        return _l("姓名中的“·”只能用在两部分之间（如：阿依古丽·买买提），不能在开头、结尾或连续使用。")
    for char in name:
        if not (_is_han(char) or char == NAME_DOT or char == " " or ("A" <= char <= "Z") or ("a" <= char <= "z")):
            if 0xE000 <= ord(char) <= 0xF8FF or 0xF0000 <= ord(char):
                return _l("姓名中有无法识别的字（私用区字符），请使用标准汉字输入；无法输入的生僻字请到窗口办理。")
            shown = char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"
            return _l("姓名中不能包含“%(char)s”：只能是汉字（含生僻字）、英文字母，少数民族姓名可含“·”。", char=shown)
    return None
