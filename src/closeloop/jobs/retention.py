"""The retention job: apply every channel's retention period, and record what was purged."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from closeloop.accounts import audit
from closeloop.privacy.retention import purge_expired


def run_purge(factory: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    """Purge expired feedback in one transaction; an audit entry records the counts when any was purged."""
    now = now or datetime.now(UTC)
    with factory() as session:
        purged = purge_expired(session, now)
        if any(purged.values()):
            audit.record(
                session, "retention.purged", actor="system", target="feedback", detail={"purged": purged}
            )
        session.commit()
    return purged
