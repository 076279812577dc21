"""Engine, one lazy Session per app context, and the declarative base.

flaskr's get_db/close_db pattern applied to SQLAlchemy: the session is created on first use, cached on ``g``,
and closed (rolling back anything uncommitted) at teardown. Views commit once, at the edge.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

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


def _ping_when_the_server_spoke(engine: Engine) -> None:
    """``pool_pre_ping`` without its round trip on every checkout, for the scan engine (PostgreSQL).

    An idle connection has nothing to read unless the server said something: it closed the connection (a
    restart, an idle timeout, a proxy that went away) or sent a notice. So the socket is polled without waiting,
    and only a readable or broken one is pinged; a failed ping raises ``DisconnectionError``, on which the pool
    replaces the connection and tries again (SQLAlchemy, "Custom / Legacy Pessimistic Ping"). What this does not
    notice is a peer that vanished without a word (a cut cable): the statement then fails, the request answers
    503 and the pool is renewed, as it would be for any connection lost mid-request. The ping was ~8 % of a scan.
    """
    import select

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


def get_session(*, autocommit: bool = False) -> Session:
    """This request's session, created on first use.

    ``autocommit=True`` asks for one whose every statement commits by itself (no BEGIN, no COMMIT: two fewer
    round trips), for a request that writes at most one row, as a scan writes its audit row. It is a request
    for speed, not a change of meaning: the first call of the request decides, so a request that already has
    a session keeps it, and SQLite, which has no such mode here, always gets the ordinary one.
    """
    if "db_session" not in g:
        factory = "autocommit_session_factory" if autocommit else "session_factory"
        g.db_session = current_app.extensions[factory]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask, session_factory: sessionmaker[Session] | None) -> None:
    autocommit_factory = session_factory
    if session_factory is None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["engine"] = engine
        session_factory = autocommit_factory = make_session_factory(engine)
        if engine.dialect.name == "postgresql":
            # Its own small pool, so a connection is not switched in and out of autocommit on every checkout.
            autocommit_engine = make_engine(app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT",
                                            pool_size=2, max_overflow=3, pool_pre_ping=False)
            _ping_when_the_server_spoke(autocommit_engine)
            app.extensions["autocommit_engine"] = autocommit_engine
            autocommit_factory = make_session_factory(autocommit_engine)
    app.extensions["session_factory"] = session_factory
    app.extensions["autocommit_session_factory"] = autocommit_factory
    app.teardown_appcontext(_close_session)


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
        from collections import namedtuple

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


def add_unique(session: Session, obj: Base, conflict_message: str, *, code: str = "conflict") -> None:
    """Add and flush ``obj`` in a savepoint; when a unique constraint refuses it (a concurrent double submit
    that passed the caller's checks), raise :class:`Conflict` with the message and keep the transaction usable."""
    from sqlalchemy.exc import IntegrityError

    from webapp.errors import Conflict

    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        raise Conflict(conflict_message, code=code) from None
