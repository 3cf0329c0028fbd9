"""Leases on periodic jobs: however many workers run, one at a time runs a given job."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closeloop.store.models import JobLease, utcnow

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def acquire(
    factory: sessionmaker[Session],
    name: str,
    *,
    ttl: timedelta,
    holder: str = HOLDER,
    now: datetime | None = None,
) -> bool:
    """Take (or extend) the lease on ``name`` for ``ttl``; False while another holder's lease runs."""
    now = now or utcnow()
    with factory() as session:
        if session.scalar(select(JobLease.name).where(JobLease.name == name)) is None:
            session.add(JobLease(name=name, holder=None, until=None))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
        taken = session.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(JobLease.until.is_(None), JobLease.until < now, JobLease.holder == holder),
            )
            .values(holder=holder, until=now + ttl)
        ).rowcount
        session.commit()
    return bool(taken)


def release(factory: sessionmaker[Session], name: str, *, holder: str = HOLDER) -> None:
    with factory() as session:
        session.execute(
            update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(until=None)
        )
        session.commit()
