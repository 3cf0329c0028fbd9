"""What the CLI verbs share: the store from settings, clean error exits, the stderr console."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker

from closeloop.settings import get_settings
from closeloop.store.session import engine_for, session_factory, session_scope

err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def store_factory() -> sessionmaker[Session]:
    """Sessions on the database named by ``CLOSELOOP_DATABASE_URL`` (which must be initialised)."""
    return session_factory(engine_for(get_settings().database_url))


def store_session() -> AbstractContextManager[Session]:
    """A committing session on the configured database."""
    return session_scope(engine_for(get_settings().database_url))


def progress_bar(label: str, *, transient: bool = False) -> Progress:
    """A counted progress bar on stderr (hidden when stderr is not a terminal)."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
        transient=transient,
    )
