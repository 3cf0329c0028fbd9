"""Engine and session for the configured database (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
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


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock when a transaction starts: a transaction that read first and writes later
    # would otherwise fail at once ("database is locked") whenever another writer committed meanwhile,
    # whatever the busy timeout. Writers queue for up to the busy timeout instead. Sessions that only
    # read ask for READ_ONLY: in WAL mode they never wait for a writer.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, foreign keys and a busy timeout."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
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
