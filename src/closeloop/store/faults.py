"""What a database error means for the caller: try again soon (unavailable), or storage is full."""

from __future__ import annotations

import enum

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, TimeoutError

# PostgreSQL SQLSTATE class 53: insufficient resources (53100 disk_full, 53200 out_of_memory …).
_PG_DISK_FULL = "53100"


class StoreFault(enum.StrEnum):
    unavailable = "unavailable"  # unreachable, restarting, locked too long: retry later
    full = "full"  # the disk or the database file is full: free space, then retry


def classify(exc: BaseException) -> StoreFault | None:
    """The fault a database exception signals, or None for an ordinary error (a bug, a bad query)."""
    if isinstance(exc, TimeoutError | DisconnectionError):
        return StoreFault.unavailable
    if not isinstance(exc, DBAPIError):
        return None
    original = exc.orig
    message = str(original).lower()
    if getattr(original, "sqlstate", None) == _PG_DISK_FULL or "database or disk is full" in message:
        return StoreFault.full
    if "no space left on device" in message:
        return StoreFault.full
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return StoreFault.unavailable
    return None
