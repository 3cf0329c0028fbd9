"""The one way into the store: validate, dedupe, link customers and write a batch of feedback atomically.

File import, the API, webhooks, the mailbox connector, demo data and (later) survey answers all end in
``write_batch``. It writes inside the caller's transaction, so a batch is whole or absent; re-sending the
same items (same channel and external id, or the same content without one) never duplicates them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from closeloop.collect.channels import UnknownChannelError
from closeloop.collect.records import (
    CUSTOMER_FIELDS,
    CustomerRef,
    FeedbackRecord,
    FieldError,
    validate_record,
)
from closeloop.insight.rollups import mark_customers_changed, mark_moments_changed
from closeloop.privacy.crypto import keyring
from closeloop.privacy.pii import redact
from closeloop.settings import get_settings
from closeloop.store.models import Channel, Customer, Event, FeedbackItem

FEEDBACK_CREATED = "feedback.created"
# Keep IN (...) lists under every database's bound-parameter limit.
_LOOKUP_CHUNK = 900


@dataclass(slots=True)
class BatchResult:
    """What a written batch did: new item ids, and how many records were already stored."""

    item_ids: list[int] = field(default_factory=list)
    duplicates: int = 0

    @property
    def imported(self) -> int:
        return len(self.item_ids)


@dataclass(slots=True)
class RecordError:
    """A record that was refused, with where it came from (row or index) and why."""

    position: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "field": self.field, "message": self.message}


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _chunks(values: Sequence[Any], size: int = _LOOKUP_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ChannelCache:
    """Channel defaults looked up once per import rather than once per row."""

    def __init__(self, session: Session) -> None:
        self._channels = {c.name: (c.default_kind, c.direction) for c in session.scalars(select(Channel))}
        self._names = sorted(self._channels)

    def defaults(self, name: str) -> tuple[str, str]:
        try:
            return self._channels[name]
        except KeyError:
            raise UnknownChannelError(name, self._names) from None


def validate_records(
    records: Sequence[FeedbackRecord], *, max_text_chars: int, channels: ChannelCache
) -> list[RecordError]:
    """Check every record; returns the problems (empty when all are fine), position = index in batch."""
    errors: list[RecordError] = []
    for position, record in enumerate(records):
        try:
            channels.defaults(record.channel)
            validate_record(record, max_text_chars=max_text_chars)
        except FieldError as exc:
            errors.append(RecordError(position, exc.field, exc.message))
        except UnknownChannelError as exc:
            errors.append(RecordError(position, "channel", str(exc)))
    return errors


def _link_customers(session: Session, refs: dict[str, CustomerRef]) -> dict[str, int]:
    """Customer ids for the external ids in ``refs``; new customers are created, known ones updated."""
    if not refs:
        return {}
    ids: dict[str, int] = {}
    columns = [getattr(Customer, name) for name in CUSTOMER_FIELDS]
    updates = []
    for chunk in _chunks(list(refs)):
        for external_id, customer_id, *stored in session.execute(
            select(Customer.external_id, Customer.id, *columns).where(Customer.external_id.in_(chunk))
        ):
            ids[external_id] = customer_id
            # A later source may know more (or newer) about a customer: fill in what it gives.
            ref = refs[external_id]
            given = {name: getattr(ref, name) for name in CUSTOMER_FIELDS}
            changed = {
                k: v for (k, v), old in zip(given.items(), stored, strict=True) if v is not None and v != old
            }
            if changed:
                updates.append((customer_id, changed))
    for customer_id, changed in updates:
        session.execute(update(Customer).where(Customer.id == customer_id).values(**changed))
    mark_customers_changed(session, [cid for cid, changed in updates if {"tier", "region"} & changed.keys()])
    now = datetime.now(UTC)
    new_rows = [
        {
            "external_id": key,
            **{name: getattr(ref, name) for name in CUSTOMER_FIELDS},
            "attributes": {},
            "created_at": now,
        }
        for key, ref in refs.items()
        if key not in ids
    ]
    if new_rows:
        stmt = _insert_for(session)(Customer).on_conflict_do_nothing(index_elements=["external_id"])
        session.execute(stmt, new_rows)
        for chunk in _chunks([row["external_id"] for row in new_rows]):
            rows = session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(chunk))
            )
            ids.update({external_id: cid for external_id, cid in rows})
    return ids


def _existing_keys(session: Session, channel: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        found.update(
            session.scalars(
                select(FeedbackItem.dedupe_key).where(
                    FeedbackItem.channel == channel, FeedbackItem.dedupe_key.in_(chunk)
                )
            )
        )
    return found


def _insert_items(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert item rows, skipping any a concurrent writer stored meanwhile; returns the new ids."""
    if session.get_bind().dialect.name == "sqlite":
        return _insert_items_sqlite(session, rows)
    table = FeedbackItem.__table__
    # ON CONFLICT DO NOTHING keeps two concurrent writers of the same item from failing each other.
    stmt = (
        _insert_for(session)(table)
        .on_conflict_do_nothing(index_elements=["channel", "dedupe_key"])
        .returning(table.c.id)
    )
    return list(session.execute(stmt, rows).scalars())


_SQLITE_ROWS_PER_STATEMENT = 500  # 21 columns × 500 rows stays under SQLite's 32,766 bound parameters


def _sqlite_time(value: datetime | None) -> str | None:
    # The text form SQLAlchemy's SQLite DateTime type stores (naive UTC), so reads and comparisons agree.
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _insert_items_sqlite(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """The same insert as the portable path, as multi-row statements with pre-converted values.

    Import speed is bound by per-value Python work on SQLite; this skips the ORM type layer for the
    one hot table while writing exactly what it would write.
    """
    columns = list(rows[0])
    times = [columns.index("created_at"), columns.index("received_at")]
    meta = columns.index("metadata")
    original = columns.index("text_original")
    kinds = columns.index("pii_kinds")
    seal = keyring().seal
    head = f"INSERT INTO feedback_items ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join("?" * len(columns)) + ")"
    tail = " ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id"
    connection = session.connection()
    inserted: list[int] = []
    for chunk in _chunks(rows, _SQLITE_ROWS_PER_STATEMENT):
        params: list[Any] = []
        for row in chunk:
            values = list(row.values())  # every row has the columns in the same order
            for index in times:
                values[index] = _sqlite_time(values[index])
            values[meta] = json.dumps(values[meta], ensure_ascii=False)
            values[kinds] = json.dumps(values[kinds]) if values[kinds] else "[]"
            if values[original] is not None:
                values[original] = seal(values[original])
            params.extend(values)
        sql = head + ", ".join([one] * len(chunk)) + tail
        inserted.extend(connection.exec_driver_sql(sql, tuple(params)).scalars())
    return inserted


def write_batch(
    session: Session,
    records: Sequence[FeedbackRecord],
    *,
    channels: ChannelCache | None = None,
    import_run_id: int | None = None,
    received_at: datetime | None = None,
    emit_event: bool = True,
    redact_pii: bool | None = None,
) -> BatchResult:
    """Write validated ``records`` in the caller's transaction, skipping ones already stored.

    Records must have passed ``validate_records``. Personal data in the text is redacted (unless
    ``CLOSELOOP_REDACT_PII`` is off) and the original kept encrypted. Emits one ``feedback.created``
    event listing the new ids.
    """
    if redact_pii is None:
        redact_pii = get_settings().redact_pii
    result = BatchResult()
    if not records:
        return result
    channels = channels or ChannelCache(session)
    received_at = received_at or datetime.now(UTC)

    # Dedupe within the batch first (first occurrence wins), then against the store; keep input order.
    keyed: list[tuple[str, FeedbackRecord]] = []
    seen: set[tuple[str, str]] = set()
    keys_by_channel: dict[str, list[str]] = {}
    for record in records:
        key = record.dedupe_key()
        if (record.channel, key) in seen:
            result.duplicates += 1
            continue
        seen.add((record.channel, key))
        keyed.append((key, record))
        keys_by_channel.setdefault(record.channel, []).append(key)
    stored = {
        (channel, key)
        for channel, keys in keys_by_channel.items()
        for key in _existing_keys(session, channel, keys)
    }
    result.duplicates += len(stored)
    fresh = [(key, record) for key, record in keyed if (record.channel, key) not in stored]
    if not fresh:
        return result

    customer_ids = _link_customers(
        session, {r.customer.external_id: r.customer for _, r in fresh if r.customer is not None}
    )
    rows = []
    for key, record in fresh:
        default_kind, default_direction = channels.defaults(record.channel)
        low, high = record.rating_scale if record.rating_scale else (None, None)
        redaction = redact(record.text) if redact_pii else None
        redacted = redaction is not None and bool(redaction.spans)
        rows.append(
            {
                "channel": record.channel,
                "kind": record.kind or default_kind,
                "direction": record.direction or default_direction,
                "external_id": record.external_id,
                "dedupe_key": key,
                "content_hash": record.content_hash() if record.external_id else key[2:],
                "text": redaction.text if redacted else record.text,
                "text_original": record.text if redacted else None,
                "pii_kinds": sorted({span.kind for span in redaction.spans}) if redacted else [],
                "rating": record.rating,
                "rating_scale_min": low if record.rating is not None else None,
                "rating_scale_max": high if record.rating is not None else None,
                "language": record.language,
                "created_at": record.created_at or received_at,
                "received_at": received_at,
                "product": record.product,
                "order_id": record.order_id,
                "customer_id": customer_ids.get(record.customer.external_id) if record.customer else None,
                "import_run_id": import_run_id,
                "metadata": record.metadata,
            }
        )
    inserted = _insert_items(session, rows)
    if inserted:
        mark_moments_changed(session, (row["created_at"] for row in rows))
    result.duplicates += len(rows) - len(inserted)
    result.item_ids = sorted(inserted)
    if emit_event and result.item_ids:
        session.execute(
            insert(Event),
            [
                {
                    "type": FEEDBACK_CREATED,
                    "payload": {"ids": result.item_ids},
                    "created_at": received_at,
                    "attempts": 0,
                }
            ],
        )
    return result
