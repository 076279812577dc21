"""Engine, one lazy Session per app context, and the declarative base.

flaskr's get_db/close_db pattern applied to SQLAlchemy: the session is created on first use, cached on ``g``,
and closed (rolling back anything uncommitted) at teardown. Views commit once, at the edge.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from webapp.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on every backend.

    PostgreSQL keeps the zone; SQLite stores text and hands back naive values, so we normalise both ways and
    refuse naive input (a naive datetime is a bug: every instant comes from the clock).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        _fix_pysqlite_transactions(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _fix_pysqlite_transactions(engine: Engine) -> None:
    """pysqlite's own BEGIN handling breaks SAVEPOINT and defers locks; let SQLAlchemy emit BEGIN itself.

    See the SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL" for pysqlite. BEGIN
    IMMEDIATE takes the write lock at the start, so two writers queue instead of failing half-way.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


SESSION_FACTORY = "session_factory"


def get_session() -> Session:
    """This request's session (or this app context's: a queue job, a command), created on first use."""
    return open_session(SESSION_FACTORY)


def open_session(factory: str) -> Session:
    """This request's session, made by the app's factory ``app.extensions[factory]`` on first use. The first call of
    the request decides: a request that has a session keeps it (the scan path asks for its own factory first,
    webapp/verification/scan.py)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[factory]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask, session_factory: sessionmaker[Session] | None) -> None:
    if session_factory is None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["engine"] = engine
        session_factory = make_session_factory(engine)
    app.extensions[SESSION_FACTORY] = session_factory
    app.teardown_appcontext(_close_session)


def add_unique(session: Session, obj: Base, conflict_message: str, *, code: str = "conflict") -> None:
    """Add and flush ``obj`` in a savepoint; when a unique constraint refuses it (a concurrent double submit
    that passed the caller's checks), raise :class:`Conflict` with the message and keep the transaction usable."""
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict_message, code=code) from None
