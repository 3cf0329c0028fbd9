"""reports: scheduled team reports (report_subscriptions)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_subscriptions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filter_query", sa.Text(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_period_sent", sa.String(length=10), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team"],
            ["teams.name"],
            name=op.f("fk_report_subscriptions_team_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_subscriptions")),
    )
    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_subscriptions_team"), ["team"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_subscriptions_team"))

    op.drop_table("report_subscriptions")
