"""Travel-ID services on both databases, with the FrozenClock; the quota under concurrency on PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from webapp.db import make_engine, make_session_factory
from webapp.errors import QuotaExceeded
from webapp.registry.rules import InvalidIdNumber
from webapp.registry.services import IdentityMismatch
from webapp.travel_id import services
from webapp.travel_id.models import TravelCertificate
from tests.conftest import create_database, race
from tests.factories import CitizenFactory, UserFactory

GZ = (23.13, 113.26)


def issue(db_session, citizen, now):
    return services.issue(db_session, citizen=citizen, lat=GZ[0], lon=GZ[1], city="广东省广州市", now=now,
                          user_id=None, challenge_public_id=None)


def test_check_applicant_refuses_invalid_number_before_looking_it_up(db_session, clock):
    with pytest.raises(InvalidIdNumber):
        services.check_applicant(db_session, name="张三", id_number="110105194912310021", now=clock.now())


def test_check_applicant_refuses_when_name_and_number_do_not_match(db_session, clock):
    citizen = CitizenFactory()
    with pytest.raises(IdentityMismatch):
        services.check_applicant(db_session, name="李四", id_number=citizen.id_number, now=clock.now())
    assert services.check_applicant(db_session, name=citizen.name, id_number=citizen.id_number,
                                    now=clock.now()) is citizen


def test_fourth_application_in_a_month_is_refused_with_the_paper_route(db_session, clock):
    citizen = CitizenFactory()
    certs = [issue(db_session, citizen, clock.advance(hours=1).now()) for _ in range(3)]
    assert [c.slot for c in certs] == [1, 2, 3]
    with pytest.raises(QuotaExceeded, match="公安制证窗口"):
        services.check_applicant(db_session, name=citizen.name, id_number=citizen.id_number, now=clock.now())
    with pytest.raises(QuotaExceeded):
        issue(db_session, citizen, clock.now())
    assert db_session.scalar(select(func.count()).select_from(TravelCertificate)) == 3


def test_quota_returns_when_the_month_turns_at_midnight_beijing(db_session, clock):
    citizen = CitizenFactory()
    clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc))  # 23:00 Beijing, 30 Nov
    for _ in range(3):
        issue(db_session, citizen, clock.advance(minutes=10).now())
    clock.set(datetime(2026, 11, 30, 15, 59, 59, tzinfo=timezone.utc))
    with pytest.raises(QuotaExceeded):
        issue(db_session, citizen, clock.now())
    clock.advance(seconds=1)  # 00:00:00 Beijing, 1 Dec (still 30 Nov in UTC)
    cert = issue(db_session, citizen, clock.now())
    assert (cert.month_key, cert.slot) == ("2026-12", 1)


def test_quota_counts_by_id_number_whoever_applies(db_session, clock):
    """The quota is the citizen's (the ID number's), not the applicant's: a visitor with no account, the citizen's
    own account and another person's account applying for them all take from the same three."""
    citizen = CitizenFactory()
    own, someone_else = UserFactory(citizen=citizen), UserFactory()
    for user_id in (None, own.id, someone_else.id):
        services.issue(db_session, citizen=citizen, lat=GZ[0], lon=GZ[1], city="广州", now=clock.now(),
                       user_id=user_id, challenge_public_id=None)
    assert services.used_this_month(db_session, citizen.id, clock.now()) == 3
    for user_id in (None, own.id, someone_else.id):
        with pytest.raises(QuotaExceeded):
            services.issue(db_session, citizen=citizen, lat=GZ[0], lon=GZ[1], city="广州", now=clock.now(),
                           user_id=user_id, challenge_public_id=None)
    applicants = db_session.scalars(select(TravelCertificate.applicant_user_id)
                                    .where(TravelCertificate.citizen_id == citizen.id)).all()
    assert sorted(applicants, key=str) == sorted([None, own.id, someone_else.id], key=str)
    # Another citizen's quota is untouched by any of them.
    assert services.used_this_month(db_session, someone_else.citizen_id, clock.now()) == 0


def test_records_list_only_the_last_month_of_one_citizen(db_session, clock):
    a, b = CitizenFactory(), CitizenFactory()
    old = issue(db_session, a, clock.now() - timedelta(days=40))
    recent = issue(db_session, a, clock.now() - timedelta(days=3))
    issue(db_session, b, clock.now())
    assert services.records(db_session, a.id, clock.now()) == [recent]
    assert old not in services.records(db_session, a.id, clock.now())


def test_locate_refuses_without_coordinates_and_outside_the_service_area():
    with pytest.raises(services.LocationRequired):
        services.locate(None, None, frozenset())
    with pytest.raises(services.LocationRequired):
        services.locate("91", "0", frozenset())
    with pytest.raises(services.OutsideServiceArea, match="北京"):
        services.locate(*GZ, frozenset({"北京"}))
    with pytest.raises(services.OutsideServiceArea):
        services.locate(48.85, 2.35, frozenset())
    assert services.locate(*GZ, frozenset()).city == "广州"


def test_concurrent_applications_get_exactly_the_remaining_quota_on_postgresql(tmp_path_factory, clock):
    """20 simultaneous applications for one ID number, one committed beforehand: exactly 2 succeed."""
    url, drop = create_database("postgresql", tmp_path_factory)
    engine = make_engine(url, pool_size=20, max_overflow=5)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            from tests import factories
            factories.bind(session)
            citizen = CitizenFactory()
            issue(session, citizen, clock.now())
            session.commit()
            citizen_id = citizen.id
        def apply() -> str:
            with factory() as session:
                person = session.get(type(citizen), citizen_id)
                try:
                    issue(session, person, clock.now())
                    session.commit()
                    return "ok"
                except QuotaExceeded:
                    session.rollback()
                    return "quota"

        assert race(20, apply) == ["ok"] * 2 + ["quota"] * 18
        with factory() as session:
            slots = sorted(session.scalars(select(TravelCertificate.slot)))
        assert slots == [1, 2, 3]
    finally:
        engine.dispose()
        drop()
