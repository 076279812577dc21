"""The scan path: what ``POST /api/v1/verify`` (every gate, for every passenger) runs, fenced in this module.

It exists because a scan is the hot path and the ordinary machinery was a large share of its cost
(bench/RESULTS.md): BEGIN/COMMIT round trips, SQLAlchemy's execution of a small statement, a pool ping on every
checkout, an ORM object per row. So on PostgreSQL a scan runs on a second, small engine in autocommit
(:func:`init_app`, :func:`session`) whose pooled connections are pinged only when the server spoke on them; it reads
a travel ID as one joined row and writes its audit row as one ``INSERT … RETURNING``, both straight on psycopg
(:class:`DirectStatement`, compiled from the same Core statements, with the columns' own processors). What it may do
is exactly that: read the credential a token names and append that one audit row, which commits itself; nothing
else writes here, and nothing outside the scan path uses any of it (SQLite runs the same statements the ordinary
way, on the ordinary session).
"""
from __future__ import annotations

import select
from collections import namedtuple
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import Engine, bindparam, event, exc, insert
from sqlalchemy import select as select_rows
from sqlalchemy.orm import Session, sessionmaker

from webapp import db
from webapp.audit.models import AuditEvent
from webapp.registry.models import Citizen
from webapp.travel_id.models import TravelCertificate

#: ``app.extensions`` key of the scan's session factory (the ordinary one on SQLite and in tests).
SESSION_FACTORY = "scan_session_factory"


def init_app(app: Flask) -> None:
    """On PostgreSQL with the app's own engine: a second engine in autocommit for scans, with its own small pool
    (2 connections, 3 more at peak; count them when sizing ``max_connections``), so a connection is not switched in
    and out of autocommit on every checkout. Elsewhere the scan uses the ordinary session factory."""
    engine = app.extensions.get("engine")
    factory = app.extensions[db.SESSION_FACTORY]
    if engine is not None and engine.dialect.name == "postgresql":
        scan_engine = db.make_engine(app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT", pool_size=2,
                                     max_overflow=3, pool_pre_ping=False)
        _ping_when_the_server_spoke(scan_engine)
        app.extensions["scan_engine"] = scan_engine
        factory = sessionmaker(scan_engine, expire_on_commit=False)
    app.extensions[SESSION_FACTORY] = factory


def session() -> Session:
    """The scan request's session: every statement commits by itself (no BEGIN, no COMMIT) on PostgreSQL. The first
    session of the request decides (webapp.db.open_session), so ask for this one first."""
    return db.open_session(SESSION_FACTORY)


def _ping_when_the_server_spoke(engine: Engine) -> None:
    """``pool_pre_ping`` without its round trip on every checkout, for the scan engine (PostgreSQL).

    An idle connection has nothing to read unless the server said something: it closed the connection (a
    restart, an idle timeout, a proxy that went away) or sent a notice. So the socket is polled without waiting,
    and only a readable or broken one is pinged; a failed ping raises ``DisconnectionError``, on which the pool
    replaces the connection and tries again (SQLAlchemy, "Custom / Legacy Pessimistic Ping"). What this does not
    notice is a peer that vanished without a word (a cut cable): the statement then fails, the request answers
    503 and the pool is renewed, as it would be for any connection lost mid-request. The ping was ~8 % of a scan.
    """
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, _record, _proxy):
        try:
            if dbapi_connection.broken or dbapi_connection.closed:
                raise exc.DisconnectionError("connection closed while idle")
            idle = select.poll()   # poll, not select(): any descriptor number, however many files are open
            idle.register(dbapi_connection.fileno(), select.POLLIN)
            if idle.poll(0) and not engine.dialect.do_ping(dbapi_connection):
                raise exc.DisconnectionError("ping failed")
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error


class DirectStatement:
    """A fixed Core statement that runs on psycopg's own connection on PostgreSQL, the ordinary way elsewhere.

    For the statements of a scan, the hot path (bench/RESULTS.md): SQLAlchemy's execution of one small
    statement (execution context, cache key, result metadata) costs as much Python again as psycopg's own, and
    that was a sixth of a scan. Nothing else changes: the SQL is the Core statement compiled once per dialect,
    so the query has one definition; the columns' own bind and result processors still run (UTC instants,
    JSON); it runs in the session's transaction (or autocommit); a driver error becomes SQLAlchemy's exception
    and a lost connection is invalidated, as in an ordinary execution; and ``before_cursor_execute`` listeners
    (echo, tests that count statements) still see it.

    :param column_keys: for an INSERT, the columns its parameters name (as ``Compiled(column_keys=…)``)
    """

    def __init__(self, statement, *, column_keys: list[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = column_keys
        self._compiled: tuple | None = None   # for PostgreSQL, the only dialect it runs on directly

    def _compile(self, dialect) -> tuple:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                 for name, bind in compiled.binds.items()}
        columns = list(self.statement.exported_columns)
        results = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
        return str(compiled), binds, results, row

    def first(self, session: Session, params: dict):
        """The first row (attributes named as the statement's columns), or None."""
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name != "postgresql":
            return session.execute(self.statement, params).first()
        if self._compiled is None:
            self._compiled = self._compile(dialect)
        sql, binds, results, row_type = self._compiled
        values = {name: binds[name](value) if binds.get(name) else value for name, value in params.items()}
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, None, sql, values, None, False)
        dbapi = dialect.loaded_dbapi
        try:
            row = connection.connection.driver_connection.execute(sql, values).fetchone()
        except dbapi.Error as error:
            lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(sql, values, error, dbapi.Error, connection_invalidated=lost,
                                          dialect=dialect) from error
        if row is None:
            return None
        return row_type(*(convert(value) if convert else value for convert, value in zip(results, row)))


# A travel ID as one row (certificate joined to its holder) rather than two ORM objects: loading them cost ~0.1 ms
# more per scan, measured in-process.
_CERT, _CITIZEN = TravelCertificate.__table__, Citizen.__table__
_TRAVEL_ROW = (
    select_rows(_CERT.c.id, _CERT.c.public_id, _CERT.c.status, _CERT.c.expires_at,
                _CITIZEN.c.id.label("citizen_id"), _CITIZEN.c.name, _CITIZEN.c.id_number, _CITIZEN.c.sex,
                _CITIZEN.c.birth_date)
    .join(_CITIZEN, _CITIZEN.c.id == _CERT.c.citizen_id)
)
_TRAVEL_BY_ID = DirectStatement(_TRAVEL_ROW.where(_CERT.c.id == bindparam("key")))


def travel_row(session: Session, cert_id: int):
    """The certificate and its holder as one row (attributes: id, public_id, status, expires_at, citizen_id, name,
    id_number, sex, birth_date), by the integer id the QR's signed token names; or None."""
    return _TRAVEL_BY_ID.first(session, {"key": cert_id})


_APPEND = DirectStatement(
    insert(AuditEvent.__table__).returning(AuditEvent.__table__.c.id),
    column_keys=["at", "action", "actor_type", "actor_id", "subject_type", "subject_id", "citizen_id", "detail"])


def append_audit(session: Session, action: str, now: datetime, *, actor_type: str = "system",
                 actor_id: int | None = None, subject_type: str | None = None, subject_id: int | None = None,
                 citizen_id: int | None = None, **detail: Any) -> int:
    """The scan's audit row (``audit.services.record``'s row, for the hot path): one INSERT … RETURNING id now, in
    the caller's transaction (or autocommit), without the ORM's unit of work. Returns the new id."""
    return _APPEND.first(
        session,
        {"at": now, "action": action, "actor_type": actor_type, "actor_id": actor_id, "subject_type": subject_type,
         "subject_id": subject_id, "citizen_id": citizen_id, "detail": detail},
    ).id
