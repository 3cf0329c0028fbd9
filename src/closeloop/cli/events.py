"""``closeloop events``: import customer behaviour (orders, feature usage, any event) from CSV."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from closeloop.cli.common import err_console, fail, store_session

events_app = typer.Typer(
    help="Customer behaviour events 行为事件: orders (order_completed), feature use (feature_used) and more.",
    no_args_is_help=True,
)


@events_app.command("import")
def events_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: event_id,type,customer_id,occurred_at and optionally amount,currency,product,"
            "quantity,feature,payload (JSON),email,name,phone,tier,region."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import behaviour events from CSV 导入行为事件: all rows or none; re-running skips stored events."""
    from closeloop.ask.invitations import record_events
    from closeloop.collect.events import EventFileError, read_events_csv

    try:
        events = read_events_csv(file)
    except EventFileError as exc:
        fail(str(exc))
    with store_session() as session:
        stored, duplicates = record_events(session, events)
    summary = {
        "file": str(file),
        "rows": len(events),
        "stored": stored,
        "duplicates": duplicates,
        "types": dict(sorted(Counter(event.type for event in events).items())),
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        err_console.print(
            f"{file}: {len(events)} rows, {stored} stored 已导入, {duplicates} already there 已存在",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
