"""Engine and session for the configured database (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from closeloop.settings import get_settings


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (the driver closeloop installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # closeloop, not the driver, starts transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MB page cache: index pages of a large feedback table stay in memory during imports.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


READ_ONLY = {"sqlite_begin": "DEFERRED"}


WRITER_WAIT_SECONDS = 30
_LOCK_KEY = "closeloop_writer_lock"


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock when a transaction starts: a transaction that read first and writes later
    # would otherwise fail at once ("database is locked") whenever another writer committed meanwhile,
    # whatever the busy timeout. Sessions that only read ask for READ_ONLY: in WAL mode they never wait.
    #
    # Writers of this process queue on a Python lock first: SQLite's own busy handler polls with sleeps
    # of up to 100 ms, so under many concurrent writers most time went to sleeping (a load test of
    # single-item posts stalled at 170/s with the server half idle). Other processes (a separate worker)
    # still meet at SQLite's lock, with its busy timeout.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode == "IMMEDIATE":
        lock: threading.Lock = connection.engine.closeloop_writer_lock
        if not lock.acquire(timeout=WRITER_WAIT_SECONDS):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError("database is locked (writers queued too long)"),
            )
        connection.info[_LOCK_KEY] = lock
    try:
        connection.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        _release_writer(connection.info)
        raise


def _release_writer(info: dict) -> None:
    lock = info.pop(_LOCK_KEY, None)
    if lock is not None:
        lock.release()


def _sqlite_end(connection: Any) -> None:
    _release_writer(connection.info)


def _sqlite_checkin(_dbapi_connection: Any, record: Any) -> None:
    _release_writer(record.info)  # a connection returned without commit or rollback


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and a busy timeout."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        event.listen(engine.pool, "checkin", _sqlite_checkin)
        engine.closeloop_writer_lock = threading.Lock()  # type: ignore[attr-defined]
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One shared engine per database URL in this process."""
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session on ``engine`` that commits on success and rolls back on any error."""
    with transaction(session_factory(engine)) as session:
        yield session


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session from ``factory`` that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
