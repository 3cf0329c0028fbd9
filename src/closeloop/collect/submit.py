"""Accepting feedback records from the API and webhooks: all of a batch or none of it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from closeloop.collect.ingest import BatchResult, ChannelCache, RecordError, validate_records, write_batch
from closeloop.collect.records import FeedbackRecord


class RecordsRejectedError(ValueError):
    """One or more records of a batch are invalid; nothing of the batch was written."""

    def __init__(self, errors: list[RecordError]) -> None:
        first = errors[0]
        super().__init__(f"item {first.position}, field {first.field!r}: {first.message}")
        self.errors = errors


def submit_records(
    session: Session, records: Sequence[FeedbackRecord], *, max_text_chars: int
) -> BatchResult:
    """Validate every record, then write them all in the session's transaction; raises if any is invalid."""
    channels = ChannelCache(session)
    errors = validate_records(records, max_text_chars=max_text_chars, channels=channels)
    if errors:
        raise RecordsRejectedError(errors)
    return write_batch(session, records, channels=channels)
