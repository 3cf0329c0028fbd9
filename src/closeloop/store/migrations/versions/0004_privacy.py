"""privacy: customers' contact fields encrypted, feedback keeps its redacted text and the encrypted original,
channels get a retention period

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from closeloop.privacy.crypto import keyring

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CONTACT_FIELDS = ("name", "email", "phone")


def _encrypt_contacts(seal) -> None:  # type: ignore[no-untyped-def]
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name, email, phone FROM customers")).all()
    for row in rows:
        values = {field: getattr(row, field) for field in CONTACT_FIELDS}
        if all(value is None for value in values.values()):
            continue
        sealed = {field: None if value is None else seal(value) for field, value in values.items()}
        connection.execute(
            sa.text("UPDATE customers SET name = :name, email = :email, phone = :phone WHERE id = :id"),
            {**sealed, "id": row.id},
        )


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for field in CONTACT_FIELDS:
            batch_op.alter_column(field, type_=sa.Text(), existing_nullable=True)
    _encrypt_contacts(keyring().seal)
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_original", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pii_kinds", sa.JSON(), nullable=True))
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_column("pii_kinds")
        batch_op.drop_column("text_original")
    _encrypt_contacts(keyring().open)  # decrypts: the older schema keeps contacts in clear
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("name", type_=sa.String(256), existing_nullable=True)
        batch_op.alter_column("email", type_=sa.String(320), existing_nullable=True)
        batch_op.alter_column("phone", type_=sa.String(64), existing_nullable=True)
