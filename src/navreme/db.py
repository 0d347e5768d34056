"""Engine, sessions and migrations. SQLite (WAL) embedded by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from navreme import clock
from navreme.config import Settings, get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC; refuses naive datetimes; always returns aware UTC (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use navreme.clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[Any]: JSON,
    }


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def id_column() -> Any:
    return mapped_column(primary_key=True, default=new_id)


def created_column() -> Any:
    return mapped_column(default=clock.now)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _WriterQueue:
    """One writer at a time inside this process, waiting in line on a lock.

    SQLite lets one transaction write; the others wait in its busy handler, which sleeps with
    growing back-off (up to 100 ms a try), so under a burst of concurrent requests latency
    explodes. Threads of this process queue here instead and reach SQLite one at a time; other
    processes (a CLI beside the server) still meet SQLite's busy_timeout.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def enter(self, connection: Any) -> None:
        if self._owner == threading.get_ident():
            return  # a second connection in the same thread: leave it to busy_timeout
        if self._lock.acquire(timeout=30):
            self._owner = threading.get_ident()
            connection.info["navreme_writer"] = True

    def leave(self, connection: Any) -> None:
        if connection.info.pop("navreme_writer", False):
            self._owner = None
            self._lock.release()


def _begin_immediate(queue: _WriterQueue) -> Any:
    def begin(connection: Any) -> None:
        """SQLite has one writer: take the write lock at BEGIN, so a transaction that reads and
        then writes waits its turn instead of failing with a stale snapshot.

        Execution option `sqlite_begin`: "immediate" (default), "deferred", or "none" (each
        statement commits on its own: for test helpers that must always read fresh data).
        """
        mode = connection.get_execution_options().get("sqlite_begin", "immediate")
        if mode == "none":
            return
        if mode != "immediate":
            connection.exec_driver_sql("BEGIN")
            return
        queue.enter(connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            queue.leave(connection)
            raise

    return begin


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        queue = _WriterQueue()
        event.listen(engine, "begin", _begin_immediate(queue))
        event.listen(engine, "commit", queue.leave)
        event.listen(engine, "rollback", queue.leave)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine(settings: Settings | None = None) -> Engine:
    return engine_for((settings or get_settings()).resolved_database_url)


@lru_cache(maxsize=8)
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    session = _sessionmaker(get_engine(settings))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"
