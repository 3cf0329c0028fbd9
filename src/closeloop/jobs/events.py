"""The event outbox: claim pending domain events, run their handlers, record success or failure.

Events are written in the same transaction as their cause; handlers are idempotent (they may run again
after a crash), so delivery is at least once and nothing accepted is lost.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.store.models import Event, utcnow

log = logging.getLogger("closeloop.jobs")

Handler = Callable[[sessionmaker[Session], Event], None]
BatchHandler = Callable[[sessionmaker[Session], list[Event]], None]
MAX_ATTEMPTS = 5

_handlers: dict[str, list[Handler]] = {}
_batch_handlers: dict[str, list[BatchHandler]] = {}


def on(event_type: str) -> Callable[[Handler], Handler]:
    """Register a handler for an event type (decorator)."""

    def decorate(handler: Handler) -> Handler:
        _handlers.setdefault(event_type, []).append(handler)
        return handler

    return decorate


# Modules whose import registers handlers. Loaded before any event is handled, so an event is never
# marked done by a process that happens not to have imported its handler.
HANDLER_MODULES = ("closeloop.jobs.analysis", "closeloop.act.jobs")


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def on_batch(event_type: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register a handler that takes all claimed events of a type at once (one model call for many
    single-item events, say). If it fails, each of those events is retried."""

    def decorate(handler: BatchHandler) -> BatchHandler:
        _batch_handlers.setdefault(event_type, []).append(handler)
        return handler

    return decorate


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers.get(event_type, []))


LEASE = timedelta(minutes=10)


def _claim(factory: sessionmaker[Session], limit: int, now: datetime) -> list[Event]:
    """Lease up to ``limit`` pending events to this worker (a short transaction of its own)."""
    with factory() as session:
        stmt = (
            select(Event)
            .where(
                Event.processed_at.is_(None),
                Event.attempts < MAX_ATTEMPTS,
                or_(Event.claimed_until.is_(None), Event.claimed_until < now),
            )
            .order_by(Event.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        events = list(session.scalars(stmt))
        for event in events:
            event.claimed_until = now + LEASE
        session.commit()
    return events


def _finish(factory: sessionmaker[Session], event_id: int, error: Exception | None) -> None:
    with factory() as session:
        event = session.get(Event, event_id)
        if event is None:
            return
        event.claimed_until = None
        if error is None:
            event.processed_at = utcnow()
        else:
            event.attempts += 1
            event.last_error = f"{type(error).__name__}: {error}"[:2000]
        session.commit()


def _run_batches(factory: sessionmaker[Session], events: list[Event]) -> set[int]:
    """Run the batch handlers; returns the ids of events whose batch handler failed."""
    failed: set[int] = set()
    by_type: dict[str, list[Event]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event)
    for event_type, group in by_type.items():
        for handler in _batch_handlers.get(event_type, []):
            try:
                handler(factory, group)
            except Exception as exc:
                log.exception("batch of %d %s events failed", len(group), event_type)
                for event in group:
                    if event.id not in failed:
                        failed.add(event.id)
                        _finish(factory, event.id, exc)
    return failed


def process_pending(factory: sessionmaker[Session], *, limit: int = 100, now: datetime | None = None) -> int:
    """Run the handlers of up to ``limit`` pending events; returns how many succeeded.

    Handlers run outside any transaction of the dispatcher and open their own sessions.
    """
    load_handlers()
    handled = 0
    events = _claim(factory, limit, now or utcnow())
    failed = _run_batches(factory, events)
    for event in events:
        if event.id in failed:
            continue
        try:
            for handler in handlers_for(event.type):
                handler(factory, event)
        except Exception as exc:  # a failing handler must not stop the others; it is retried
            log.exception("event %s (%s) failed", event.id, event.type)
            _finish(factory, event.id, exc)
        else:
            _finish(factory, event.id, None)
            handled += 1
    return handled
