"""factory_boy factories that flush on create (warehouse style); bound to the test's session."""
from __future__ import annotations

from datetime import date, datetime, timezone

import factory
from factory.alchemy import SQLAlchemyModelFactory
from werkzeug.security import generate_password_hash

from webapp.accounts import rules as account_rules
from webapp.accounts.models import User
from webapp.registry.models import Citizen, LicenceRecord
from webapp.registry.rules import make_id_number

CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
PASSWORD = "passw0rd1"
_FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


def bind(session) -> None:
    for cls in (CitizenFactory, LicenceFactory, UserFactory):
        cls._meta.sqlalchemy_session = session


class CitizenFactory(_Base):
    class Meta:
        model = Citizen

    # 28 birth days × 449 odd (male) sequence numbers: unique and 18 characters for the first 12 572 citizens of a
    # run (101 + 2n alone passed 999 after ~450 citizens, a 19-character number PostgreSQL refuses).
    id_number = factory.Sequence(
        lambda n: make_id_number("440106", date(1990, 1, 1 + n % 28), 101 + 2 * (n // 28 % 449)))
    name = factory.Sequence(lambda n: "测试" + "甲乙丙丁戊己庚辛壬癸"[n % 10] + "一二三四五六七八九十"[n // 10 % 10])
    sex = "M"
    birth_date = factory.LazyAttribute(lambda o: date(int(o.id_number[6:10]), int(o.id_number[10:12]),
                                                      int(o.id_number[12:14])))
    address = "广东省广州市天河区测试路 1 号"
    phone = factory.Sequence(lambda n: f"1380000{n:04d}")
    self_enrolled = False
    created_at = CREATED
    updated_at = CREATED


class LicenceFactory(_Base):
    class Meta:
        model = LicenceRecord

    citizen = factory.SubFactory(CitizenFactory)
    file_number = factory.Sequence(lambda n: f"4401{n:08d}")
    licence_class = "C1"
    first_issued = date(2015, 5, 1)
    valid_from = date(2021, 5, 1)
    valid_until = date(2031, 5, 1)
    issuing_authority = "广东省广州市公安局交通警察支队"
    status = "正常"
    points = 0
    updated_at = CREATED


class UserFactory(_Base):
    class Meta:
        model = User

    citizen = factory.SubFactory(CitizenFactory)
    phone = factory.Sequence(lambda n: f"1391111{n:04d}")
    password_hash = _FAST_HASH
    level = account_rules.LEVEL_UNVERIFIED
    created_at = CREATED
