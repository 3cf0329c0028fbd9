"""The embedded worker: a thread in the web process that drains the event outbox.

The same handlers run under Celery in the distributed setup; here a loop polls the database, so a
restart neither loses nor repeats work (events stay pending until their handlers succeed).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from closeloop.jobs.events import process_pending

log = logging.getLogger("closeloop.jobs")


class EmbeddedWorker:
    """Polls for pending events every ``interval`` seconds until stopped."""

    def __init__(self, factory: sessionmaker[Session], *, interval: float = 1.0) -> None:
        self.factory = factory
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import closeloop.jobs.analysis  # noqa: F401  (registers the analysis handlers)

        self._thread = threading.Thread(target=self._run, name="closeloop-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = process_pending(self.factory) > 0
            except Exception:  # the database may be briefly away: keep going
                log.exception("worker loop failed; retrying")
                busy = False
            if not busy:
                self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
