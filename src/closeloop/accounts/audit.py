"""The audit log: one row per security-relevant action, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closeloop.store.models import AuditEntry, utcnow


def record(
    session: Session,
    action: str,
    *,
    actor: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append an audit entry (``login.ok``, ``login.failed``, ``token.created``, ``user.role_changed`` …)."""
    entry = AuditEntry(
        action=action, actor=actor, target=target, ip=ip, detail=detail or {}, at=at or utcnow()
    )
    session.add(entry)
    session.flush()
    return entry


def count_since(session: Session, action: str, *, since: datetime, ip: str | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.at >= since)
    )
    if ip is not None:
        stmt = stmt.where(AuditEntry.ip == ip)
    return session.scalar(stmt) or 0
