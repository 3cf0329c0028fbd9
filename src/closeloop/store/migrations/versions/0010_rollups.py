"""rollups: daily pre-aggregated rollups for the dashboard, and which days are up to date

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTS = (
    "volume", "analysed", "positive", "neutral", "negative", "complaints",
    "nps_responses", "promoters", "detractors", "csat_responses", "satisfied",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "insight_rollups",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=128), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_rollups")),
    )
    with op.batch_alter_table("insight_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_insight_rollups_facet_day", ["facet", "day"], unique=False)
    op.create_table(
        "insight_rollup_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_insight_rollup_days")),
    )


def downgrade() -> None:
    op.drop_table("insight_rollup_days")
    with op.batch_alter_table("insight_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_insight_rollups_facet_day")
    op.drop_table("insight_rollups")
