"""The embedded worker: a thread in the web process (or the ``closeloop worker`` process) that drains the
event outbox and runs the periodic jobs (retention purge, survey invitations).

The same handlers run under Celery in the distributed setup; here a loop polls the database, so a
restart neither loses nor repeats work (events stay pending until their handlers succeed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from closeloop.jobs.events import process_pending
from closeloop.jobs.leases import acquire, release
from closeloop.jobs.retention import run_purge
from closeloop.settings import Settings

log = logging.getLogger("closeloop.jobs")


@dataclass(slots=True)
class PeriodicJob:
    """A job run every ``interval`` seconds (first at start) by whichever worker holds its lease."""

    name: str
    interval: float
    run: Callable[[], object]
    next_at: float = 0.0


def default_jobs(factory: sessionmaker[Session], settings: Settings) -> list[PeriodicJob]:
    """Retention purge always; survey invitations when an SMTP server is configured."""
    from closeloop.act.jobs import run_sla_check
    from closeloop.ask.invitations import run_invitations
    from closeloop.insight.alerts import run_alert_job
    from closeloop.insight.rollups import run_rollup_refresh
    from closeloop.notify.mailer import mailer_from_settings

    jobs = [
        PeriodicJob("retention", settings.purge_interval_seconds, lambda: run_purge(factory)),
        PeriodicJob("sla", 60, lambda: run_sla_check(factory)),
        PeriodicJob("alerts", 3600, lambda: run_alert_job(factory, settings)),  # idempotent per day
        PeriodicJob("community_prune", 3600, lambda: _prune_community(factory)),
        PeriodicJob("rollups", 60, lambda: run_rollup_refresh(factory)),  # the dashboard's dirty days
    ]
    mailer = mailer_from_settings(settings)
    if mailer is not None:
        from closeloop.act.digest import send_digests
        from closeloop.act.follow_up import send_follow_ups
        from closeloop.insight.reports import send_reports

        # Each team report once per week or month (claimed in the database: restart-safe).
        jobs.append(
            PeriodicJob(
                "reports", 3600, lambda: send_reports(factory, mailer, public_url=settings.public_url)
            )
        )
        jobs.append(
            PeriodicJob(
                "digests",
                3600,
                lambda: send_digests(
                    factory,
                    mailer,
                    public_url=settings.public_url,
                    period=timedelta(days=settings.digest_days),
                ),
            )
        )

        jobs.append(
            PeriodicJob(
                "follow_ups",
                settings.scheduler_interval_seconds,
                lambda: send_follow_ups(factory, mailer, public_url=settings.public_url),
            )
        )
        jobs.append(
            PeriodicJob(
                "invitations",
                settings.scheduler_interval_seconds,
                lambda: run_invitations(factory, mailer, public_url=settings.public_url),
            )
        )
        from closeloop.community.notifications import send_status_notifications

        jobs.append(
            PeriodicJob(
                "community_notifications",
                settings.scheduler_interval_seconds,
                lambda: send_status_notifications(factory, mailer, public_url=settings.public_url),
            )
        )
    return jobs


def _prune_community(factory: sessionmaker[Session]) -> None:
    from closeloop.community.moderation import prune

    with factory() as session:
        prune(session)
        session.commit()


class EmbeddedWorker:
    """Polls for pending events every ``interval`` seconds until stopped, and runs ``jobs`` when due."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        interval: float = 1.0,
        jobs: list[PeriodicJob] | None = None,
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.jobs = jobs or []
        self.last_beat = time.monotonic()  # when the loop last went round (readiness reports its age)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="closeloop-worker", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run_due_jobs(self) -> None:
        for job in self.jobs:
            if time.monotonic() < job.next_at:
                continue
            job.next_at = time.monotonic() + job.interval
            ttl = timedelta(seconds=max(job.interval * 2, 600))
            try:
                if not acquire(self.factory, job.name, ttl=ttl):
                    continue  # another worker runs it
                try:
                    job.run()
                finally:
                    release(self.factory, job.name)
            except Exception:
                log.exception("periodic job %s failed; next try in %s s", job.name, job.interval)

    def run(self) -> None:
        """The loop (in the calling thread); returns when ``stop`` is called."""
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            self._run_due_jobs()
            try:
                busy = process_pending(self.factory) > 0
                self.last_error = None
            except Exception as exc:  # the database may be briefly away: keep going
                log.exception("worker loop failed; retrying")
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                busy = False
            if not busy:
                self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
