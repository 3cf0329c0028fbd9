"""community: community portal: boards, members, posts, votes, comments, followers, status changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "community_boards",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product", sa.String(length=256), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_boards")),
        sa.UniqueConstraint("slug", name=op.f("uq_community_boards_slug")),
    )
    op.create_table(
        "community_rate_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_rate_events")),
    )
    op.create_index(
        "ix_community_rate_events_action_at", "community_rate_events", ["action", "at"], unique=False
    )
    op.create_table(
        "community_members",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("unsubscribe_token", sa.String(length=64), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("banned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_community_members_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_members")),
        sa.UniqueConstraint("email_digest", name=op.f("uq_community_members_email_digest")),
        sa.UniqueConstraint("unsubscribe_token", name=op.f("uq_community_members_unsubscribe_token")),
    )
    op.create_table(
        "community_posts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("board_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pii_kinds", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("moderation_reasons", sa.JSON(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("merged_into_id", BIG_ID, nullable=True),
        sa.Column("feedback_item_id", BIG_ID, nullable=True),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column("plan_id", BIG_ID, nullable=True),
        sa.Column("changelog_note", sa.Text(), nullable=True),
        sa.Column("changelog_url", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"],
            ["community_boards.id"],
            name=op.f("fk_community_posts_board_id_community_boards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_community_posts_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_community_posts_feedback_item_id_feedback_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_posts_member_id_community_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["community_posts.id"],
            name=op.f("fk_community_posts_merged_into_id_community_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["action_plans.id"],
            name=op.f("fk_community_posts_plan_id_action_plans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_posts")),
    )
    op.create_index(
        "ix_community_posts_board_id_created_at", "community_posts", ["board_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_community_posts_member_id"), "community_posts", ["member_id"], unique=False)
    op.create_index(
        "ix_community_posts_visibility_status", "community_posts", ["visibility", "status"], unique=False
    )
    op.create_table(
        "community_tokens",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=True),
        sa.Column("next_path", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_tokens_member_id_community_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_community_tokens_token_hash")),
    )
    op.create_index(op.f("ix_community_tokens_member_id"), "community_tokens", ["member_id"], unique=False)
    op.create_table(
        "community_comments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=True),
        sa.Column("staff_email", sa.String(length=320), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("moderation_reasons", sa.JSON(), nullable=False),
        sa.Column("feedback_item_id", BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_community_comments_feedback_item_id_feedback_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_comments_member_id_community_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_community_comments_post_id_community_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_comments")),
    )
    op.create_index(op.f("ix_community_comments_post_id"), "community_comments", ["post_id"], unique=False)
    op.create_table(
        "community_followers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_followers_member_id_community_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_community_followers_post_id_community_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_followers")),
        sa.UniqueConstraint("post_id", "member_id", name="uq_community_followers_post_id_member_id"),
    )
    op.create_index(
        op.f("ix_community_followers_member_id"), "community_followers", ["member_id"], unique=False
    )
    op.create_index(op.f("ix_community_followers_post_id"), "community_followers", ["post_id"], unique=False)
    op.create_table(
        "community_status_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_community_status_changes_post_id_community_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_status_changes")),
    )
    op.create_index(
        op.f("ix_community_status_changes_notified_at"),
        "community_status_changes",
        ["notified_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_community_status_changes_post_id"), "community_status_changes", ["post_id"], unique=False
    )
    op.create_table(
        "community_votes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("post_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_votes_member_id_community_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["community_posts.id"],
            name=op.f("fk_community_votes_post_id_community_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_votes")),
        sa.UniqueConstraint("post_id", "member_id", name="uq_community_votes_post_id_member_id"),
    )
    op.create_index(op.f("ix_community_votes_member_id"), "community_votes", ["member_id"], unique=False)
    op.create_index(op.f("ix_community_votes_post_id"), "community_votes", ["post_id"], unique=False)
    op.create_table(
        "community_notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("change_id", BIG_ID, nullable=False),
        sa.Column("member_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skipped_reason", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["community_status_changes.id"],
            name=op.f("fk_community_notifications_change_id_community_status_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["community_members.id"],
            name=op.f("fk_community_notifications_member_id_community_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_notifications")),
        sa.UniqueConstraint("change_id", "member_id", name="uq_community_notifications_change_id_member_id"),
    )
    op.create_index(
        op.f("ix_community_notifications_member_id"), "community_notifications", ["member_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_community_notifications_member_id"), table_name="community_notifications")
    op.drop_table("community_notifications")
    op.drop_index(op.f("ix_community_votes_post_id"), table_name="community_votes")
    op.drop_index(op.f("ix_community_votes_member_id"), table_name="community_votes")
    op.drop_table("community_votes")
    op.drop_index(op.f("ix_community_status_changes_post_id"), table_name="community_status_changes")
    op.drop_index(op.f("ix_community_status_changes_notified_at"), table_name="community_status_changes")
    op.drop_table("community_status_changes")
    op.drop_index(op.f("ix_community_followers_post_id"), table_name="community_followers")
    op.drop_index(op.f("ix_community_followers_member_id"), table_name="community_followers")
    op.drop_table("community_followers")
    op.drop_index(op.f("ix_community_comments_post_id"), table_name="community_comments")
    op.drop_table("community_comments")
    op.drop_index(op.f("ix_community_tokens_member_id"), table_name="community_tokens")
    op.drop_table("community_tokens")
    op.drop_index("ix_community_posts_visibility_status", table_name="community_posts")
    op.drop_index(op.f("ix_community_posts_member_id"), table_name="community_posts")
    op.drop_index("ix_community_posts_board_id_created_at", table_name="community_posts")
    op.drop_table("community_posts")
    op.drop_table("community_members")
    op.drop_index("ix_community_rate_events_action_at", table_name="community_rate_events")
    op.drop_table("community_rate_events")
    op.drop_table("community_boards")
