"""Background work from the command line: ``worker`` drains events (in-process or as a Celery worker),
``reanalyze`` re-runs a model (in-process, or fanned out to the Celery workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.cli.common import err_console, fail, progress_bar, store_factory
from closeloop.store.models import Analysis, FeedbackItem


def worker(
    once: Annotated[bool, typer.Option(help="Handle what is pending, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 1.0,
    celery: Annotated[
        bool, typer.Option("--celery", help="Run a Celery worker on CLOSELOOP_BROKER_URL (distributed).")
    ] = False,
    beat: Annotated[
        bool, typer.Option(help="With --celery: also schedule the periodic jobs (run one beat per cluster).")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option(help="With --celery: processes analysing at once (default: CPU count).")
    ] = None,
    pool: Annotated[str, typer.Option(help="With --celery: prefork, solo or threads.")] = "prefork",
    name: Annotated[
        str | None, typer.Option(help="With --celery: this worker's node name (default celery@host).")
    ] = None,
) -> None:
    """Run the background worker: analyse new feedback, send due survey invitations, apply retention."""
    from closeloop.jobs.events import process_pending
    from closeloop.jobs.worker import EmbeddedWorker, default_jobs
    from closeloop.settings import get_settings

    if celery:
        run_celery_worker(beat=beat, concurrency=concurrency, pool=pool, name=name)
        return
    factory = store_factory()
    if once:
        handled = 0
        while count := process_pending(factory):
            handled += count
        err_console.print(f"handled {handled} events")
        return
    EmbeddedWorker(factory, interval=interval, jobs=default_jobs(factory, get_settings())).run()


def run_celery_worker(*, beat: bool, concurrency: int | None, pool: str, name: str | None) -> None:
    """Start a Celery worker process on the configured broker (blocks until it is stopped)."""
    import tempfile

    from closeloop.jobs.distributed import BULK_QUEUE, QUEUE, celery_app
    from closeloop.settings import get_settings

    if not get_settings().broker_url:
        fail("set CLOSELOOP_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a Celery worker")
    argv = ["worker", "--loglevel", "INFO", "--pool", pool, "--queues", f"{QUEUE},{BULK_QUEUE}"]
    argv += ["--without-gossip", "--without-mingle"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if name:
        argv += ["--hostname", name]
    with tempfile.TemporaryDirectory(prefix="closeloop-beat-") as beat_dir:
        if beat:  # a fresh schedule, as the embedded worker: each job at start, then at its interval
            argv += ["--beat", "--schedule", str(Path(beat_dir) / "celerybeat-schedule")]
        celery_app.worker_main(argv)


def reanalyze(
    model: Annotated[
        Path | None, typer.Option("--model", help="Model directory (default: the active model).")
    ] = None,
    fast: Annotated[bool, typer.Option(help="Use the fast throughput mode.")] = False,
    batch_size: Annotated[
        int, typer.Option(help="Items a task when fanned out to Celery workers (CLOSELOOP_BROKER_URL).")
    ] = 200,
    wait: Annotated[
        bool, typer.Option(help="With a broker: follow progress until every item is analysed.")
    ] = True,
) -> None:
    """Analyse every stored item that has no result from this model version (resumable).

    With CLOSELOOP_BROKER_URL set, the items are sent in batches to the Celery workers.
    """
    from closeloop.jobs.analysis import active_model_dir, load_engine, reanalyse
    from closeloop.settings import get_settings

    factory = store_factory()
    if model is None:
        with factory() as session:
            model = active_model_dir(session)
    engine = load_engine(str(model) if model else None, fast)
    if get_settings().broker_url:
        _reanalyze_on_workers(factory, engine.version, str(model) if model else None, fast, batch_size, wait)
        return
    with factory() as session:
        total = session.scalar(select(func.count()).select_from(FeedbackItem)) or 0
        done = (
            session.scalar(
                select(func.count()).select_from(Analysis).where(Analysis.model_version == engine.version)
            )
            or 0
        )
    with progress_bar(f"analysing with {engine.version}") as progress:
        task = progress.add_task("reanalyze", total=total, completed=done)
        count = reanalyse(factory, engine, progress=lambda n: progress.advance(task, n))
    err_console.print(f"analysed {count} items with model {engine.version}")


def _reanalyze_on_workers(
    factory: sessionmaker[Session],
    version: str,
    model_dir: str | None,
    fast: bool,
    batch_size: int,
    wait: bool,
) -> None:
    """Fan the missing items out to the Celery workers, then follow the count in the database."""
    from closeloop.jobs.distributed import (
        StalledError,
        analysed_count,
        enqueue_reanalysis,
        wait_for_reanalysis,
    )
    from closeloop.settings import get_settings

    if batch_size < 1:
        fail("--batch-size must be at least 1")
    before = analysed_count(factory, version)
    plan = enqueue_reanalysis(factory, version, model_dir=model_dir, fast=fast, batch_size=batch_size)
    err_console.print(
        f"sent {plan.items} items in {plan.batches} batches to the workers (model {version}); "
        f"{before} already analysed"
    )
    if not wait or not plan.items:
        return
    with progress_bar(f"analysing with {version}") as progress:
        task = progress.add_task("reanalyze", total=before + plan.items, completed=before)
        try:
            final = wait_for_reanalysis(
                factory,
                version,
                on_progress=lambda count: progress.update(task, completed=count),
                stall_seconds=2 * get_settings().broker_visibility_timeout_seconds + 60,
            )
        except StalledError as exc:
            fail(f"{exc} Re-run `closeloop reanalyze` to resume.")
    err_console.print(f"analysed {final - before} items with model {version} on the workers")


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(reanalyze)
