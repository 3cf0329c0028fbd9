"""The distributed engine of the job system: the embedded worker's task functions as Celery tasks.

Configured from ``CLOSELOOP_BROKER_URL`` (Redis); when it is unset nothing here runs and all background
work stays in-process. Every task calls the same function as the embedded worker (``analyse_items``,
``process_pending``, the ``default_jobs``), takes ids, and opens its own sessions.

Delivery is at least once: tasks are acknowledged after they finish (``acks_late``), one at a time
(prefetch 1), and a task held by a worker that died goes to another worker after the broker's visibility
timeout. Exactly once is the database's job: ``analyses`` has a unique (feedback_id, model_version) and
``analyse_items`` skips what a version already analysed, inside the writing transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from closeloop.settings import Settings, get_settings
from closeloop.store.models import Analysis

log = logging.getLogger("closeloop.jobs")

ANALYSE_BATCH = "closeloop.analyse_batch"
DRAIN_EVENTS = "closeloop.drain_events"
RUN_PERIODIC = "closeloop.run_periodic"
QUEUE = "closeloop"
# Reanalysis batches queue apart, so the outbox drain and the periodic jobs never wait behind millions
# of them: workers take from both queues in turn.
BULK_QUEUE = "closeloop.bulk"
# How often beat asks a worker to drain the event outbox (new feedback waits at most this long).
DRAIN_EVERY_SECONDS = 2.0
RACE_RETRIES = 3


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings from closeloop's: late acks, one task at a time, redelivery after the timeout."""
    timeout = settings.broker_visibility_timeout_seconds
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": QUEUE,
        "task_routes": {ANALYSE_BATCH: {"queue": BULK_QUEUE}},
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": timeout,
            # Sweep for abandoned tasks often enough that a dead worker's batch is not left waiting.
            "unacked_restore_interval": max(1, min(10, timeout // 4)),
            "unacked_restore_throttle": 1,
        },
        "beat_schedule": beat_schedule(settings),
        "timezone": "UTC",
    }


class SettingsConfig(Mapping[str, Any]):
    """Celery's configuration, read from closeloop's settings when Celery first needs it (not at import)."""

    def _config(self) -> dict[str, Any]:
        if not hasattr(self, "_values"):
            self._values = celery_config(get_settings())
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._config()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._config())

    def __len__(self) -> int:
        return len(self._config())


celery_app = Celery("closeloop", set_as_current=False)
celery_app.config_from_object(SettingsConfig())


def worker_factory() -> sessionmaker[Session]:
    """Sessions on the configured store, one engine per worker process (created after the fork)."""
    from closeloop.store.session import engine_for, session_factory

    return session_factory(engine_for(get_settings().database_url))


@celery_app.task(name=ANALYSE_BATCH, bind=True, max_retries=None, default_retry_delay=5)
def analyse_batch(task: Any, item_ids: list[int], model_dir: str | None, fast: bool = False) -> int:
    """Analyse a batch of items with the model in ``model_dir``; returns how many this call analysed."""
    from sqlalchemy.exc import OperationalError

    try:
        done = analyse_batch_now(worker_factory(), item_ids, model_dir, fast)
    except OperationalError as exc:  # the database is briefly away: try again later, nothing is lost
        raise task.retry(exc=exc) from exc
    log.info("worker %s analysed %d items of a batch of %d", task.request.hostname, done, len(item_ids))
    return done


def analyse_batch_now(
    factory: sessionmaker[Session], item_ids: list[int], model_dir: str | None, fast: bool = False
) -> int:
    """The body of ``analyse_batch``: ``analyse_items`` again when another worker wrote the same items first.

    The unique (feedback_id, model_version) refuses the loser's transaction; the next try skips what the
    winner stored, so every item ends up analysed once per version however tasks are redelivered.
    """
    from closeloop.jobs.analysis import analyse_items, load_engine

    engine = load_engine(model_dir, fast)
    for attempt in range(RACE_RETRIES):
        try:
            done = analyse_items(factory, item_ids, engine)
        except IntegrityError:
            if attempt == RACE_RETRIES - 1:
                raise
            log.info("batch raced another worker; retrying what is still missing")
            continue
        return done
    return 0


@celery_app.task(name=DRAIN_EVENTS)
def drain_events(limit: int = 100, rounds: int = 20) -> int:
    """Run the handlers of pending outbox events (as the embedded worker's loop does); returns how many."""
    from closeloop.jobs.events import process_pending

    factory = worker_factory()
    handled = 0
    for _ in range(rounds):
        count = process_pending(factory, limit=limit)
        handled += count
        if count == 0:
            break
    return handled


@celery_app.task(name=RUN_PERIODIC)
def run_periodic(name: str) -> bool:
    """Run the periodic job ``name`` if no other worker holds its lease; True when it ran here."""
    return run_periodic_now(worker_factory(), get_settings(), name)


def run_periodic_now(factory: sessionmaker[Session], settings: Settings, name: str) -> bool:
    """The body of ``run_periodic``: the embedded worker's job, under the same lease."""
    from closeloop.jobs.leases import acquire, release
    from closeloop.jobs.worker import default_jobs

    jobs = {job.name: job for job in default_jobs(factory, settings)}
    job = jobs.get(name)
    if job is None:
        raise ValueError(f"no periodic job named {name!r} (known: {', '.join(sorted(jobs))})")
    if not acquire(factory, name, ttl=timedelta(seconds=max(job.interval * 2, 600))):
        return False
    try:
        job.run()
    finally:
        release(factory, name)
    return True


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What ``celery beat`` sends: an outbox drain every few seconds and each periodic job at its interval."""
    from closeloop.jobs.worker import default_jobs
    from closeloop.store.session import engine_for, session_factory

    schedule: dict[str, dict[str, Any]] = {
        "drain-events": {"task": DRAIN_EVENTS, "schedule": DRAIN_EVERY_SECONDS},
    }
    # The factory is only captured by the jobs' closures: building the list opens no connection.
    factory = session_factory(engine_for(settings.database_url))
    for job in default_jobs(factory, settings):
        schedule[f"job-{job.name}"] = {"task": RUN_PERIODIC, "schedule": job.interval, "args": (job.name,)}
    return schedule


# --- reanalysis fanned out to the workers ---------------------------------------------------------


@dataclass(slots=True)
class ReanalysisPlan:
    """What ``enqueue_reanalysis`` sent: how many items in how many batches."""

    items: int = 0
    batches: int = 0


def pending_batches(
    factory: sessionmaker[Session], version: str, *, batch_size: int, page: int = 10_000
) -> Iterator[list[int]]:
    """The ids still lacking an analysis by ``version``, in id order, cut into batches."""
    from closeloop.jobs.analysis import pending_item_ids

    after = 0
    while True:
        with factory() as session:
            ids = pending_item_ids(session, version, after_id=after, limit=page)
        if not ids:
            return
        for start in range(0, len(ids), batch_size):
            yield ids[start : start + batch_size]
        after = ids[-1]


def enqueue_reanalysis(
    factory: sessionmaker[Session],
    version: str,
    *,
    model_dir: str | None,
    fast: bool,
    batch_size: int = 200,
    send: Callable[[list[int], str | None, bool], object] | None = None,
) -> ReanalysisPlan:
    """Send every item not yet analysed by ``version`` to the workers, ``batch_size`` ids a task.

    Resumable: it looks at the database, not at what was sent before, so re-running after a crash sends
    only what is still missing (a batch sent twice is analysed once: the workers skip what is done).
    """
    send = send or (lambda ids, directory, quick: analyse_batch.apply_async((ids, directory, quick)))
    plan = ReanalysisPlan()
    for batch in pending_batches(factory, version, batch_size=batch_size):
        send(batch, model_dir, fast)
        plan.items += len(batch)
        plan.batches += 1
    return plan


def analysed_count(factory: sessionmaker[Session], version: str) -> int:
    """How many items have an analysis by ``version``."""
    with factory() as session:
        return session.scalar(select(func.count()).where(Analysis.model_version == version)) or 0


def all_analysed(factory: sessionmaker[Session], version: str) -> bool:
    """True when no analysable item lacks an analysis by ``version``."""
    from closeloop.jobs.analysis import pending_item_ids

    with factory() as session:
        return not pending_item_ids(session, version, limit=1)


class StalledError(RuntimeError):
    """The workers made no progress for too long (none running, or all failing)."""


def wait_for_reanalysis(
    factory: sessionmaker[Session],
    version: str,
    *,
    on_progress: Callable[[int], None] | None = None,
    stall_seconds: float = 1200.0,
    poll_seconds: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait until every item is analysed by ``version``, reporting the analysed count as it grows.

    Progress is counted in the database, so it includes work of any worker. Raises ``StalledError``
    when the count does not move for ``stall_seconds`` (re-running the reanalysis then resumes it).
    """
    last = analysed_count(factory, version)
    if on_progress:
        on_progress(last)
    moved_at = clock()
    pause = poll_seconds
    while not all_analysed(factory, version):
        sleep(pause)
        checked_at = clock()
        count = analysed_count(factory, version)
        # At millions of items a count takes seconds: poll less often rather than load the store.
        pause = max(poll_seconds, 4 * (clock() - checked_at))
        if count != last:
            last, moved_at = count, clock()
            if on_progress:
                on_progress(count)
        elif clock() - moved_at > stall_seconds:
            raise StalledError(f"no analysis by {version} for {stall_seconds:.0f} s; are workers running?")
    return last
