"""Background work from the command line: ``worker`` drains events, ``reanalyze`` re-runs a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select

from closeloop.cli.common import err_console, progress_bar, store_factory
from closeloop.store.models import Analysis, FeedbackItem


def worker(
    once: Annotated[bool, typer.Option(help="Handle what is pending, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 1.0,
) -> None:
    """Run the background worker: analyse new feedback, send due survey invitations, apply retention."""
    from closeloop.jobs.events import process_pending
    from closeloop.jobs.worker import EmbeddedWorker, default_jobs
    from closeloop.settings import get_settings

    factory = store_factory()
    if once:
        handled = 0
        while count := process_pending(factory):
            handled += count
        err_console.print(f"handled {handled} events")
        return
    EmbeddedWorker(factory, interval=interval, jobs=default_jobs(factory, get_settings())).run()


def reanalyze(
    model: Annotated[
        Path | None, typer.Option("--model", help="Model directory (default: the active model).")
    ] = None,
    fast: Annotated[bool, typer.Option(help="Use the fast throughput mode.")] = False,
) -> None:
    """Analyse every stored item that has no result from this model version (resumable)."""
    from closeloop.jobs.analysis import active_model_dir, load_engine, reanalyse

    factory = store_factory()
    if model is None:
        with factory() as session:
            model = active_model_dir(session)
    engine = load_engine(str(model) if model else None, fast)
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


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(reanalyze)
