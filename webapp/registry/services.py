"""The registry behind one interface: look up citizens and licence records, import them, enrol (demo).

Services take the session and ``now``; they add and flush, never commit. A portrait is turned into the stored JPEG
and face encoding by the face engine, which the caller passes in (``prepare_portrait``: proofing's), so the registry,
which every domain reads, depends on none of them.
"""
from __future__ import annotations

import csv
import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db import add_unique
from webapp.errors import Conflict, DomainError, NotFound
from webapp.lazytext import _l
from webapp.normalise import normalise_id_number
from webapp.registry import rules
from webapp.registry.models import Citizen, LicenceRecord
from webapp.timeutil import local_date

CITIZEN_FIELDS = ("id_number", "name", "phone", "address", "photo")
LICENCE_FIELDS = ("id_number", "file_number", "class", "first_issued", "valid_from", "valid_until",
                  "issuing_authority", "status", "points")
MAX_PORTRAIT_BYTES = 5 * 1024 * 1024
#: Turns a portrait file into (stored JPEG, face encoding bytes), or raises ValueError with the reason to show.
PortraitPreparer = Callable[[bytes], tuple[bytes, bytes]]


class IdentityMismatch(DomainError):
    code = "identity_mismatch"


class AlreadyInRegistry(Conflict):
    """Demo enrolment was given an ID number the registry already holds (imported, demo, with or without an
    account): it only ever adds people, so it refuses rather than touch that record."""

    code = "already_in_registry"


ALREADY_IN_REGISTRY = (_l("该身份证号已在人口库中，演示登记只能新增人员，不能修改已有信息。"
                       "请不填身份证号，由系统生成一个演示号码。"))


class BadRow(ValueError):
    """One import row is wrong; the message says which field and why."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    records: list = field(default_factory=list)   # the rows written (Citizen or LicenceRecord), in file order


def find_citizen(session: Session, id_number: str) -> Citizen | None:
    return session.scalar(select(Citizen).where(Citizen.id_number == id_number))


def check_identity(session: Session, id_number: str, name: str, now: datetime) -> Citizen:
    """The 身份信息核验 step: the number must be valid and belong to a registry citizen with that name.

    :raises InvalidIdNumber: the number itself is invalid (checked before anything else)
    :raises IdentityMismatch: unknown number, or the name does not match
    """
    resident = rules.parse_resident_id(id_number, local_date(now))
    citizen = find_citizen(session, resident.number)
    if citizen is None or not rules.same_name(citizen.name, name):
        raise IdentityMismatch(_l("姓名与身份证号不匹配，或未在人口库中查询到该身份信息，请核对后重新输入。"))
    return citizen


def get_citizen(session: Session, citizen_id: int) -> Citizen:
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound(_l("未找到该人员信息。"))
    return citizen


def _prepared(data: bytes, prepare_portrait: PortraitPreparer) -> tuple[bytes, bytes]:
    """(stored JPEG, encoding) of a reference portrait: at most :data:`MAX_PORTRAIT_BYTES`, one face.

    :raises BadRow: too large, not an image, no face or several faces
    """
    if len(data) > MAX_PORTRAIT_BYTES:
        raise BadRow(_l("照片超过 5 MB"))
    try:
        return prepare_portrait(data)
    except ValueError as exc:
        raise BadRow(str(exc)) from None


def upsert_citizen(session: Session, *, id_number: str, name: str, phone: str, address: str,
                   portrait: bytes | None, now: datetime,
                   prepare_portrait: PortraitPreparer | None = None) -> tuple[Citizen, bool]:
    """Create or update a citizen by ID number (the registry import: idempotent, an imported row is updated).
    Returns (citizen, created). Never for anything a visitor sends: demo enrolment is :func:`enrol_demo_citizen`.

    :param prepare_portrait: the face engine's (needed when ``portrait`` is given)
    :raises InvalidIdNumber, ValueError: a field is invalid (nothing is written)
    """
    resident = rules.parse_resident_id(id_number, local_date(now))
    name = rules.validate_name(name)
    phone = rules.validate_phone(phone) if phone else ""
    portrait_jpeg = encoding = None
    if portrait is not None:
        portrait_jpeg, encoding = _prepared(portrait, prepare_portrait)
    citizen = find_citizen(session, resident.number)
    created = citizen is None
    if citizen is None:
        citizen = Citizen(id_number=resident.number, created_at=now, self_enrolled=False)
        session.add(citizen)
    citizen.name = name
    citizen.sex = resident.sex
    citizen.birth_date = resident.birth_date
    citizen.phone = phone
    citizen.address = (address or "").strip()[:255]
    citizen.updated_at = now
    if portrait_jpeg is not None:
        citizen.portrait = portrait_jpeg
        citizen.portrait_encoding = encoding
    session.flush()
    return citizen, created


def enrol_demo_citizen(session: Session, *, id_number: str | None, name: str, phone: str, address: str,
                       portrait: bytes, now: datetime, prepare_portrait: PortraitPreparer) -> Citizen:
    """Demo self-enrolment: add ONE NEW citizen, marked ``self_enrolled``, with the visitor's own portrait.

    It never changes a row that exists, whoever holds it: an imported citizen, one with an account, or another
    visitor's demo citizen. Overwriting the phone and portrait of an existing number was an identity takeover
    (issue 12: register with the new phone, pass 实名认证 by SMS to it and 实人核验 with one's own face). Without
    ``id_number`` a free demo number is generated (440106, born 1990–2014).

    :raises InvalidIdNumber, ValueError: a field is invalid
    :raises BadRow: the portrait is not one face in an image
    :raises AlreadyInRegistry: the number is in the registry — also when a concurrent enrolment of the same
        number wins the race (the unique constraint decides; nothing is overwritten, the transaction stays usable)
    """
    today = local_date(now)
    if id_number:
        number = rules.parse_resident_id(id_number, today).number
        if find_citizen(session, number) is not None:  # refuse before the costly face work
            raise AlreadyInRegistry(ALREADY_IN_REGISTRY)
    else:
        number = _free_demo_number(session)
    resident = rules.parse_resident_id(number, today)
    name = rules.validate_name(name)
    phone = rules.validate_phone(phone)
    portrait_jpeg, encoding = _prepared(portrait, prepare_portrait)
    citizen = Citizen(id_number=resident.number, name=name, sex=resident.sex, birth_date=resident.birth_date,
                      phone=phone, address=(address or "").strip()[:255], portrait=portrait_jpeg,
                      portrait_encoding=encoding, self_enrolled=True, created_at=now, updated_at=now)
    add_unique(session, citizen, ALREADY_IN_REGISTRY, code=AlreadyInRegistry.code)
    return citizen


def _free_demo_number(session: Session) -> str:
    """A valid resident ID number nobody in the registry has (about 9 million candidates; a few tries)."""
    for _ in range(20):
        number = rules.make_id_number("440106", date(1990, 1, 1) + timedelta(days=secrets.randbelow(9000)),
                                      secrets.randbelow(999) + 1)
        if find_citizen(session, number) is None:
            return number
    raise Conflict(_l("暂时无法生成演示身份证号，请稍后重试。"))


def _parse_date(raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRow(f"{label} 应为 YYYY-MM-DD 格式的日期") from None


def upsert_licence(session: Session, row: dict[str, str], now: datetime) -> tuple[LicenceRecord, bool]:
    """Create or update the licence record of a registry citizen, by ID number.

    :raises BadRow: a field is invalid or the citizen is unknown
    """
    number = normalise_id_number(row.get("id_number", ""))
    citizen = find_citizen(session, number)
    if citizen is None:
        raise BadRow(f"身份证号 {number or '(空)'} 不在人口库中，请先导入该人员")
    file_number = (row.get("file_number") or "").strip()
    if not file_number.isdigit() or not 6 <= len(file_number) <= 20:
        raise BadRow("档案编号应为 6–20 位数字")
    licence_class = (row.get("class") or "").strip().upper()
    codes = _split_classes(licence_class)
    if not codes:
        raise BadRow(f"准驾车型 {licence_class or '(空)'} 无效")
    first_issued = _parse_date(row.get("first_issued", ""), "first_issued")
    valid_from = _parse_date(row.get("valid_from", ""), "valid_from")
    raw_until = (row.get("valid_until") or "").strip()
    valid_until = None if raw_until in ("", "长期") else _parse_date(raw_until, "valid_until")
    if valid_until is not None and valid_until <= valid_from:
        raise BadRow("valid_until 应晚于 valid_from")
    if first_issued > valid_from:
        raise BadRow("first_issued 不应晚于 valid_from")
    authority = (row.get("issuing_authority") or "").strip()
    if not authority:
        raise BadRow("发证机关不能为空")
    status = (row.get("status") or "").strip() or rules.LICENCE_STATUS_NORMAL
    if status not in rules.LICENCE_STATUSES:
        raise BadRow(f"状态 {status} 无效，应为：{'、'.join(rules.LICENCE_STATUSES)}")
    try:
        points = int((row.get("points") or "0").strip())
    except ValueError:
        raise BadRow("points 应为整数") from None
    if not 0 <= points <= 99:
        raise BadRow("points 应在 0–99 之间")

    record = citizen.licence
    created = record is None
    if record is None:
        record = LicenceRecord(citizen=citizen)
        session.add(record)
    record.file_number = file_number
    record.licence_class = "".join(codes)
    record.first_issued = first_issued
    record.valid_from = valid_from
    record.valid_until = valid_until
    record.issuing_authority = authority
    record.status = status
    record.points = points
    record.updated_at = now
    session.flush()
    return record, created


def _split_classes(text: str) -> list[str]:
    """"A2D" → ["A2", "D"]; anything unknown → []."""
    codes: list[str] = []
    i = 0
    known = sorted(rules.LICENCE_CLASSES, key=len, reverse=True)
    while i < len(text):
        for code in known:
            if text.startswith(code, i):
                codes.append(code)
                i += len(code)
                break
        else:
            return []
    return codes


def read_rows(path: Path, fields: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV (line numbers as an editor shows them) or JSON list (item numbers from 1).

    :raises BadRow: the file itself cannot be read (wrong header, not JSON) — reported as line 0/1
    """
    text = path.read_bytes().decode("utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRow(f"JSON 无法解析：{exc.msg}（第 {exc.lineno} 行）") from None
        if not isinstance(items, list):
            raise BadRow("JSON 文件应为对象列表")
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield index, {"__error__": "该项不是对象"}
                continue
            yield index, {k: "" if item.get(k) is None else str(item.get(k)) for k in fields}
        return
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in fields if f not in header]
    if missing:
        raise BadRow(f"CSV 表头缺少 {', '.join(missing)}；应为 {','.join(fields)}")
    reader.fieldnames = header
    for row in reader:
        values = {k: (row.get(k) or "") for k in fields}
        if None in row:
            values["__error__"] = "列数多于表头"
        yield reader.line_num, values


def _import(session: Session, path: Path, fields: tuple[str, ...], upsert_row) -> ImportReport:
    """Each row in its own savepoint, so a bad row writes nothing and the others still land."""
    report = ImportReport()
    for line, row in read_rows(path, fields):
        try:
            with session.begin_nested():
                if "__error__" in row:
                    raise BadRow(row["__error__"])
                obj, created = upsert_row(row)
        except (BadRow, ValueError) as exc:
            report.errors.append((line, str(exc)))
            continue
        report.records.append(obj)
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report


def import_citizens(session: Session, path: Path, now: datetime, *,
                    prepare_portrait: PortraitPreparer) -> ImportReport:
    """Import citizens from CSV/JSON (``CITIZEN_FIELDS``); idempotent by ID number."""

    def upsert_row(row: dict[str, str]):
        portrait = _read_photo(path.parent, row["photo"]) if row["photo"].strip() else None
        return upsert_citizen(session, id_number=row["id_number"], name=row["name"], phone=row["phone"],
                              address=row["address"], portrait=portrait, now=now, prepare_portrait=prepare_portrait)

    return _import(session, path, CITIZEN_FIELDS, upsert_row)


def import_licences(session: Session, path: Path, now: datetime) -> ImportReport:
    """Import licence records from CSV/JSON (``LICENCE_FIELDS``); idempotent by ID number."""
    return _import(session, path, LICENCE_FIELDS, lambda row: upsert_licence(session, row, now))


def _read_photo(folder: Path, relative: str) -> bytes:
    photo = (folder / relative.strip()).resolve()
    if not photo.is_file():
        raise BadRow(f"照片文件不存在：{relative}")
    if photo.stat().st_size > MAX_PORTRAIT_BYTES:
        raise BadRow(f"照片超过 5 MB：{relative}")
    return photo.read_bytes()


def iter_demo_people(today: date) -> Iterable[dict[str, str]]:
    """Demo citizens: an adult driver, a normal adult, a teenager, a child, a driver with a seized licence."""
    people = [
        ("440106", date(1988, 3, 7), 123, "李明", "13800138001", "广东省广州市天河区体育西路 1 号"),
        ("110105", date(1992, 11, 2), 224, "王芳", "13800138002", "北京市朝阳区建国路 88 号"),
        ("310104", date(today.year - 15, 6, 1), 311, "张小雨", "13800138003", "上海市徐汇区漕溪北路 20 号"),
        ("510104", date(today.year - 8, 9, 9), 412, "陈乐乐", "13800138004", "四川省成都市锦江区红星路 3 号"),
        ("320102", date(1979, 1, 15), 517, "赵强", "13800138005", "江苏省南京市玄武区中山路 6 号"),
    ]
    for region, birth, seq, name, phone, address in people:
        yield {"id_number": rules.make_id_number(region, birth, seq), "name": name, "phone": phone,
               "address": address}


def demo_licences(today: date) -> list[dict[str, str]]:
    people = list(iter_demo_people(today))
    return [
        {"id_number": people[0]["id_number"], "file_number": "440100123456", "class": "C1",
         "first_issued": "2012-05-20", "valid_from": "2018-05-20", "valid_until": "2028-05-20",
         "issuing_authority": "广东省广州市公安局交通警察支队", "status": "正常", "points": "0"},
        {"id_number": people[1]["id_number"], "file_number": "110100654321", "class": "C2",
         "first_issued": "2016-08-01", "valid_from": "2022-08-01", "valid_until": "2032-08-01",
         "issuing_authority": "北京市公安局公安交通管理局", "status": "正常", "points": "3"},
        {"id_number": people[4]["id_number"], "file_number": "320100777888", "class": "A2D",
         "first_issued": "2001-03-10", "valid_from": "2017-03-10", "valid_until": None or "",
         "issuing_authority": "江苏省南京市公安局交通警察支队", "status": "扣留", "points": "12"},
    ]
