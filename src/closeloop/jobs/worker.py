"""The embedded worker: a thread in the web process that drains the event outbox.

The same handlers run under Celery in the distributed setup; here a loop polls the database, so a
restart neither loses nor repeats work (events stay pending until their handlers succeed).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from closeloop.jobs.events import process_pending
from closeloop.jobs.retention import run_purge

log = logging.getLogger("closeloop.jobs")


class EmbeddedWorker:
    """Polls for pending events every ``interval`` seconds until stopped; purges expired feedback every
    ``purge_interval`` seconds (first at start)."""

    def __init__(
        self, factory: sessionmaker[Session], *, interval: float = 1.0, purge_interval: float = 3600.0
    ) -> None:
        self.factory = factory
        self.interval = interval
        self.purge_interval = purge_interval
        self._next_purge = 0.0
        self.last_beat = time.monotonic()  # when the loop last went round (readiness reports its age)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="closeloop-worker", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + self.purge_interval
                try:
                    run_purge(self.factory)
                except Exception:
                    log.exception("retention purge failed; next try in %s s", self.purge_interval)
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
