"""Key rotation: re-encrypt every encrypted column of the store with the newest key."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Column, Table, Text, literal, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from closeloop.privacy.crypto import EncryptedText, Keyring
from closeloop.store.models import Base

ROTATE_BATCH = 1_000


def encrypted_columns() -> Iterator[tuple[Table, Column]]:
    """Every (table, column) stored encrypted, found from the schema so a new one is never missed."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column


def rotate_keys(
    factory: sessionmaker[Session], ring: Keyring, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Re-encrypt values not sealed by the newest key; one transaction per batch, safe to re-run."""
    rotated: dict[str, int] = {}
    for table, column in encrypted_columns():
        key = table.primary_key.columns.values()[0]
        raw = type_coerce(column, Text)
        count, after = 0, None
        while True:
            with factory() as session:
                stmt = select(key, raw).where(column.is_not(None)).order_by(key).limit(ROTATE_BATCH)
                if after is not None:
                    stmt = stmt.where(key > after)
                rows = session.execute(stmt).all()
                if not rows:
                    session.commit()
                    break
                for row_id, token in rows:
                    if not ring.is_current(token):
                        session.execute(
                            update(table)
                            .where(key == row_id)
                            .values({column.name: literal(ring.rotate(token), Text)})
                        )
                        count += 1
                session.commit()
                after = rows[-1][0]
                if progress:
                    progress(len(rows))
        rotated[f"{table.name}.{column.name}"] = count
    return rotated
