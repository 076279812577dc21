"""The scan's fast path (webapp/verification/scan.py), on an app with its own engines (no test transaction around
it), on both databases.

- ``scan.session()``: on PostgreSQL the API's scan runs on the autocommit engine (no BEGIN or COMMIT round trips)
  and its audit row is committed by the INSERT itself; SQLite keeps the ordinary session.
- The autocommit engine pings a pooled connection only when the server has spoken on it: a connection that
  PostgreSQL closed while it sat in the pool is replaced and the scan still succeeds; a quiet one is not pinged.
- ``scan.DirectStatement`` gives the same rows as the Core statement it is compiled from, runs the columns' own
  processors (UTC instants even when the server's time zone is not UTC, JSON), and turns driver errors into
  SQLAlchemy's, invalidating a lost connection.
"""
from __future__ import annotations

import time
from datetime import timezone

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy import exc as sa_exc

from tests.conftest import PG_ADMIN_URL, create_database, make_test_config
from tests.factories import CitizenFactory, bind
from tests.verification_support import make_api_key, make_certificate, qr_text
from webapp import create_app
from webapp.audit.models import AuditEvent
from webapp.db import make_engine, make_session_factory
from webapp.travel_id import rules as travel_rules
from webapp.verification import rules
from webapp.verification import scan as scan_path

URL = "/api/v1/verify"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_database(request, tmp_path_factory):
    url, drop = create_database(request.param, tmp_path_factory)
    engine = make_engine(url)
    yield url, make_session_factory(engine)
    engine.dispose()
    drop()


@pytest.fixture
def own_app(own_database, clock):
    url, _factory = own_database
    app = create_app(make_test_config(url), clock=clock)   # its own engines, as under gunicorn
    yield app
    for name in ("engine", "scan_engine"):
        if name in app.extensions:
            app.extensions[name].dispose()


@pytest.fixture
def arranged(own_database, clock):
    """A valid and a revoked certificate and an API key, committed (the app sees them from its own engine)."""
    _url, factory = own_database
    with factory() as session:
        bind(session)
        valid = make_certificate(session, CitizenFactory(name="王小明"), clock.now())
        revoked = make_certificate(session, CitizenFactory(), clock.now(), status=travel_rules.STATUS_REVOKED)
        _key, raw = make_api_key(session, clock.now())
        session.commit()
        return {"valid": valid, "revoked": revoked, "key": raw}


def scan(app, cert, raw_key, clock):
    body = {"qr": qr_text(app, cert, clock.now()), "context": "entry"}
    return app.test_client().post(URL, json=body, headers={"Authorization": f"Bearer {raw_key}"})


def audit_rows(factory, cert) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == rules.AUDIT_ACTION, AuditEvent.subject_id == cert.id,
            AuditEvent.subject_type == rules.TRAVEL_ID)))


def is_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


def test_an_api_scan_runs_without_a_transaction_on_postgresql_and_its_audit_row_is_committed(
        own_app, own_database, arranged, clock):
    url, factory = own_database
    if not is_postgresql(url):
        # SQLite has no such mode here: the scan gets the ordinary session (and is still logged, below).
        assert own_app.extensions[scan_path.SESSION_FACTORY] is own_app.extensions["session_factory"]
    seen: dict[str, list] = {"main": [], "autocommit": []}

    def watch(name):
        def listener(conn, _cursor, statement, *_args):
            seen[name].append((statement.split()[0].upper(), conn.connection.driver_connection.autocommit
                               if is_postgresql(url) else None))
        return listener

    engines = {"main": own_app.extensions["engine"], "autocommit": own_app.extensions.get("scan_engine")}
    for name, engine in engines.items():
        if engine is not None:
            event.listen(engine, "before_cursor_execute", watch(name))
    answer = scan(own_app, arranged["valid"], arranged["key"], clock)
    assert answer.status_code == 200 and answer.get_json()["valid"] is True
    assert len(audit_rows(factory, arranged["valid"])) == 1   # read from another connection: it is committed
    if is_postgresql(url):
        # The key (not cached yet in this new app), the certificate and the audit row: all in autocommit.
        assert seen["main"] == []
        assert [kind for kind, _ in seen["autocommit"]] == ["SELECT", "SELECT", "INSERT"]
        assert all(autocommit for _, autocommit in seen["autocommit"])


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


def _wait_gone(pid: int) -> None:
    """Until PostgreSQL no longer lists the terminated backend, so its socket is closed (bounded: it exits within
    milliseconds of the signal; this waits for that event, it does not time a rule)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for _ in range(200):
            listed = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            if not conn.execute(listed, {"pid": pid}).scalar_one():
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"backend {pid} did not exit")
    admin.dispose()


ON_POSTGRESQL = pytest.mark.parametrize("own_database", ["postgresql"], indirect=True)  # its engine only there


@pytest.fixture
def count_pings(own_app):
    engine = own_app.extensions["scan_engine"]
    pings = []
    original = engine.dialect.do_ping

    def counting(dbapi_connection):
        pings.append(1)
        return original(dbapi_connection)

    engine.dialect.do_ping = counting
    yield engine, pings
    engine.dialect.do_ping = original


@ON_POSTGRESQL
def test_a_connection_the_server_closed_in_the_pool_is_replaced_and_the_scan_succeeds(
        own_app, own_database, arranged, clock, count_pings):
    engine, pings = count_pings
    for _ in range(2):
        assert scan(own_app, arranged["valid"], arranged["key"], clock).get_json()["valid"] is True
    assert pings == []   # a quiet pooled connection is used without a round trip
    pid = _backend_pid(engine)
    _terminate(pid)
    _wait_gone(pid)
    answer = scan(own_app, arranged["valid"], arranged["key"], clock)
    assert answer.status_code == 200 and answer.get_json()["valid"] is True, answer.get_json()
    assert pings == [1]   # the closed socket was noticed, pinged, and the connection replaced
    assert _backend_pid(engine) != pid
    assert len(audit_rows(own_database[1], arranged["valid"])) == 3


def test_direct_statement_reads_what_the_core_statement_reads_in_utc(own_database, arranged, clock):
    url, factory = own_database
    with factory() as session:
        if is_postgresql(url):
            # psycopg hands instants back in the session's zone; the column's processor must make them UTC.
            session.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
        for cert in (arranged["valid"], arranged["revoked"]):
            for statement, key in ((scan_path._TRAVEL_BY_ID, cert.id),):
                direct = statement.first(session, {"key": key})
                core = session.execute(statement.statement, {"key": key}).first()
                assert tuple(direct) == tuple(core)
                assert direct.expires_at == cert.expires_at and direct.expires_at.tzinfo is timezone.utc
                assert (direct.id, direct.public_id, direct.status) == (cert.id, cert.public_id, cert.status)
                assert direct.citizen_id == cert.citizen_id and direct.birth_date == cert.citizen.birth_date
        assert scan_path.travel_row(session, 987_654_321) is None
        new_id = scan_path.append_audit(session, "test.direct", clock.now(), actor_type="apikey", actor_id=7,
                                        subject_type="travel_id", subject_id=arranged["valid"].id, valid=True,
                                        note="中文")
        session.commit()
    with factory() as session:
        row = session.get(AuditEvent, new_id)
        assert row.at == clock.now() and row.at.tzinfo is timezone.utc
        assert row.detail == {"valid": True, "note": "中文"} and (row.actor_type, row.actor_id) == ("apikey", 7)


def test_direct_statement_errors_are_sqlalchemy_errors(own_database, clock):
    _url, factory = own_database
    with factory() as session:
        with pytest.raises(sa_exc.IntegrityError):   # action is NOT NULL
            scan_path.append_audit(session, None, clock.now())
        session.rollback()
        assert session.scalar(select(AuditEvent).where(AuditEvent.action.is_(None))) is None


@ON_POSTGRESQL
def test_a_connection_lost_mid_request_is_invalidated_and_the_next_request_works(own_app, arranged, clock):
    session = own_app.extensions[scan_path.SESSION_FACTORY]()
    pid = session.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()   # checked out and held
    _terminate(pid)
    _wait_gone(pid)
    with pytest.raises(sa_exc.OperationalError) as raised:
        scan_path.append_audit(session, "test.lost", clock.now())
    assert raised.value.connection_invalidated
    session.close()
    assert scan(own_app, arranged["valid"], arranged["key"], clock).get_json()["valid"] is True
