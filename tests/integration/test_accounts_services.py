import pytest

from webapp.accounts import services
from webapp.accounts.models import User
from webapp.errors import Conflict, DomainError
from webapp.registry.rules import InvalidIdNumber
from webapp.registry.services import IdentityMismatch
from tests.factories import CitizenFactory
from tests.conftest import make_notifier

NOTIFIER = make_notifier()


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


# --- per-identifier sign-in throttle (SPEC 8) ---------------------------------------------------------------
def test_a_burst_of_parallel_wrong_passwords_gets_no_more_tries_than_a_patient_guesser_on_postgresql(
        tmp_path_factory, clock):
    """Twelve simultaneous wrong passwords for one account (from anywhere): exactly five are compared and
    counted, the other seven are refused as locked without a comparison, and the lock holds for the right one."""
    from sqlalchemy import select

    from tests.conftest import create_database, race
    from tests.factories import PASSWORD, UserFactory, bind
    from webapp.accounts import rules
    from webapp.accounts.models import LoginThrottle
    from webapp.accounts.throttle import LoginLocked
    from webapp.db import make_engine, make_session_factory

    url, drop = create_database("postgresql", tmp_path_factory)
    engine = make_engine(url, pool_size=12, max_overflow=2)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            bind(session)
            phone = UserFactory().phone
            session.commit()

        def wrong() -> str:
            with factory() as session:
                try:
                    services.authenticate(session, account=phone, password="wrong-passw0rd9", now=clock.now())
                except services.BadCredentials:
                    outcome = "compared"
                except LoginLocked:
                    outcome = "locked"
                session.commit()  # as sign_in does: the count and the audit record are kept
                return outcome

        assert race(12, wrong) == ["compared"] * 5 + ["locked"] * 7
        with factory() as session:
            row = session.get(LoginThrottle, rules.throttle_key("citizen", phone))
            assert row.failures == 5 and row.locked_until == clock.now() + rules.ThrottlePolicy().base
            with pytest.raises(LoginLocked):
                services.authenticate(session, account=phone, password=PASSWORD, now=clock.now())
            assert session.scalar(select(User.last_login_at)) is None
    finally:
        engine.dispose()
        drop()


def test_known_and_unknown_identifiers_run_the_same_statements(app, engine, db_session, clock):
    """Sign-in and 忘记密码 must not tell who has an account by the work they do either: the same SQL, in the same
    order, for a registered phone and one nobody has."""
    import re

    from sqlalchemy import event

    from tests.factories import UserFactory

    user = UserFactory()
    db_session.flush()
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", statement))

    def run(action) -> list[str]:
        statements.clear()
        try:
            action()
        except DomainError:
            pass
        return list(statements)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with app.app_context():
            reset = [run(lambda p=phone: services.send_reset_code(db_session, p, clock.now(), notifier=NOTIFIER))
                     for phone in (user.phone, "13912345678")]
            again = [run(lambda p=phone: services.send_reset_code(db_session, p, clock.now(), notifier=NOTIFIER))
                     for phone in (user.phone, "13912345678")]
        wrong, locked = [], []
        for phone in (user.phone, "13912345678"):
            wrong.append([run(lambda p=phone: services.authenticate(db_session, account=p, password="x",
                                                                    now=clock.now())) for _ in range(5)])
            locked.append(run(lambda p=phone: services.authenticate(db_session, account=p, password="x",
                                                                    now=clock.now())))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert reset[0] == reset[1] and any("INSERT INTO sms_messages" in s for s in reset[0])
    assert again[0] == again[1]  # the cool-down answer
    assert wrong[0] == wrong[1] and any("INSERT INTO audit_events" in s for s in wrong[0][0])
    assert locked[0] == locked[1] and len(locked[0]) == 1  # one locked read, nothing else
