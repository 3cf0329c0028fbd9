"""scale: trigram index for text search on PostgreSQL (distributed analysis needs no table of its own)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEX = "ix_feedback_items_text_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {INDEX} ON feedback_items USING gin (text gin_trgm_ops)")
    else:
        # SQLite has no trigram index: an empty placeholder keeps the schema equal to the models'.
        op.execute(f"CREATE INDEX {INDEX} ON feedback_items (text) WHERE 0")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
