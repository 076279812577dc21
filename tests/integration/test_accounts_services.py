import pytest

from webapp.accounts import services
from webapp.accounts.models import User
from webapp.errors import Conflict, DomainError
from webapp.registry.rules import InvalidIdNumber
from webapp.registry.services import IdentityMismatch
from tests.factories import CitizenFactory


def test_register_creates_unverified_account_when_identity_matches(db_session, clock):
    citizen = CitizenFactory()
    user = services.register(db_session, phone="13900000001", password="abc12345", name=citizen.name,
                             id_number=citizen.id_number.lower(), now=clock.now())
    assert user.level == "unverified" and user.citizen_id == citizen.id
    assert user.password_hash != "abc12345"


def test_register_checks_number_before_registry_when_number_is_invalid(db_session, clock):
    with pytest.raises(InvalidIdNumber):
        services.register(db_session, phone="13900000001", password="abc12345", name="张三",
                          id_number="110105194912310021", now=clock.now())


def test_register_refuses_when_name_does_not_match(db_session, clock):
    citizen = CitizenFactory()
    with pytest.raises(IdentityMismatch):
        services.register(db_session, phone="13900000001", password="abc12345", name="别人",
                          id_number=citizen.id_number, now=clock.now())


def test_register_refuses_second_account_when_number_or_phone_is_taken(db_session, clock):
    a, b = CitizenFactory(), CitizenFactory()
    services.register(db_session, phone="13900000001", password="abc12345", name=a.name,
                      id_number=a.id_number, now=clock.now())
    with pytest.raises(Conflict, match="身份证号已注册"):
        services.register(db_session, phone="13900000002", password="abc12345", name=a.name,
                          id_number=a.id_number, now=clock.now())
    with pytest.raises(Conflict, match="手机号已注册"):
        services.register(db_session, phone="13900000001", password="abc12345", name=b.name,
                          id_number=b.id_number, now=clock.now())
    assert db_session.query(User).count() == 1


def test_register_refuses_weak_password(db_session, clock):
    citizen = CitizenFactory()
    with pytest.raises(DomainError, match="字母和数字"):
        services.register(db_session, phone="13900000001", password="12345678", name=citizen.name,
                          id_number=citizen.id_number, now=clock.now())


def test_authenticate_by_phone_or_id_number_when_password_is_right(db_session, clock):
    citizen = CitizenFactory()
    services.register(db_session, phone="13900000001", password="abc12345", name=citizen.name,
                      id_number=citizen.id_number, now=clock.now())
    assert services.authenticate(db_session, account="13900000001", password="abc12345", now=clock.now())
    user = services.authenticate(db_session, account=citizen.id_number, password="abc12345", now=clock.now())
    assert user.last_login_at == clock.now()
    for account, password in [("13900000001", "wrong1234"), ("13900000009", "abc12345")]:
        with pytest.raises(services.BadCredentials, match="账号或密码错误"):
            services.authenticate(db_session, account=account, password=password, now=clock.now())
