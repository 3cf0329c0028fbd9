"""The store: migrations build exactly the models' schema on both databases; SQLite runs in WAL mode."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from closeloop.store.migrate import current_revision, upgrade
from closeloop.store.models import Base
from closeloop.store.session import engine_for


def test_migrations_match_the_models(database_url):
    engine = engine_for(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current_revision(engine) is not None


def test_migrating_twice_is_harmless(database_url):
    upgrade(database_url)
    assert current_revision(engine_for(database_url)) is not None


def test_sqlite_uses_wal_and_foreign_keys(database_url):
    engine = engine_for(database_url)
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
