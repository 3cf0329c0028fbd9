"""Retention: feedback older than its channel's retention period is deleted, with all derived from it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from closeloop.insight.rollups import mark_items_changed
from closeloop.store.models import Channel, FeedbackItem

PURGE_CHUNK = 500


def expired_item_ids(
    session: Session, channel: str, cutoff: datetime, *, limit: int = PURGE_CHUNK
) -> list[int]:
    stmt = (
        select(FeedbackItem.id)
        .where(FeedbackItem.channel == channel, FeedbackItem.created_at < cutoff)
        .order_by(FeedbackItem.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def purge_expired(session: Session, now: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Delete feedback past each channel's retention (analyses, labels, embeddings cascade).

    Returns items purged (or, with ``dry_run``, that would be) per channel with a retention period.
    Runs in the caller's transaction; the background job commits per channel.
    """
    purged: dict[str, int] = {}
    channels = session.execute(
        select(Channel.name, Channel.retention_days).where(Channel.retention_days.is_not(None))
    ).all()
    for name, days in channels:
        cutoff = now - timedelta(days=days)
        if dry_run:
            purged[name] = (
                session.scalar(
                    select(func.count()).where(FeedbackItem.channel == name, FeedbackItem.created_at < cutoff)
                )
                or 0
            )
            continue
        count = 0
        while ids := expired_item_ids(session, name, cutoff):
            count += len(ids)
            mark_items_changed(session, ids)
            session.execute(delete(FeedbackItem).where(FeedbackItem.id.in_(ids)))
        purged[name] = count
    return purged
