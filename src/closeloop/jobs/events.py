"""The event outbox: claim pending domain events, run their handlers, record success or failure.

Events are written in the same transaction as their cause; handlers are idempotent (they may run again
after a crash), so delivery is at least once and nothing accepted is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.store.models import Event

log = logging.getLogger("closeloop.jobs")

Handler = Callable[[sessionmaker[Session], Event], None]
MAX_ATTEMPTS = 5

_handlers: dict[str, list[Handler]] = {}


def on(event_type: str) -> Callable[[Handler], Handler]:
    """Register a handler for an event type (decorator)."""

    def decorate(handler: Handler) -> Handler:
        _handlers.setdefault(event_type, []).append(handler)
        return handler

    return decorate


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers.get(event_type, []))


def _claim(session: Session, limit: int) -> list[Event]:
    stmt = (
        select(Event)
        .where(Event.processed_at.is_(None), Event.attempts < MAX_ATTEMPTS)
        .order_by(Event.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def process_pending(factory: sessionmaker[Session], *, limit: int = 20) -> int:
    """Run the handlers of up to ``limit`` pending events; returns how many were handled."""
    handled = 0
    with factory() as session:
        events = _claim(session, limit)
        for event in events:
            try:
                for handler in handlers_for(event.type):
                    handler(factory, event)
            except Exception as exc:  # a failing handler must not stop the others; it is retried
                log.exception("event %s (%s) failed", event.id, event.type)
                event.attempts += 1
                event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                event.processed_at = datetime.now(UTC)
                handled += 1
        session.commit()
    return handled
