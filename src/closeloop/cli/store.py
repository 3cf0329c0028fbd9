"""Verbs that set up and run closeloop: init, serve, demo, channel, webhook."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from closeloop.cli.common import err_console, fail, store_factory, store_session
from closeloop.collect import webhooks
from closeloop.collect.channels import add_channel, ensure_default_channels
from closeloop.collect.records import MAPPABLE_FIELDS
from closeloop.settings import get_settings
from closeloop.store.migrate import upgrade

channel_app = typer.Typer(
    help="Channels: the named ways feedback arrives (taobao, wechat, survey …).", no_args_is_help=True
)
webhook_app = typer.Typer(
    help="Webhook sources that may post to /api/v1/webhooks/{source}.", no_args_is_help=True
)


def initialise_database() -> str:
    """Migrate the configured database to the newest schema and register default channels."""
    url = get_settings().database_url
    try:
        upgrade(url)
    except OperationalError as exc:
        fail(f"cannot open the database {url!r}: {exc.orig}")
    with store_session() as session:
        ensure_default_channels(session)
    return url


def init() -> None:
    """Create or migrate the database named by CLOSELOOP_DATABASE_URL (default: ./closeloop.db)."""
    url = initialise_database()
    err_console.print(f"database ready: {url}")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the web app and API (migrating the database first)."""
    import uvicorn

    initialise_database()
    err_console.print(f"closeloop on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        uvicorn.run("closeloop.app:create_app", factory=True, host=host, port=port, workers=workers)
    else:
        from closeloop.app import create_app

        uvicorn.run(create_app(), host=host, port=port)


def demo(
    items: Annotated[int, typer.Option(help="How many feedback items to generate.")] = 5000,
    days: Annotated[int, typer.Option(help="Spread over this many days up to today.")] = 180,
    seed: Annotated[int | None, typer.Option(help="Random seed (default CLOSELOOP_DEMO_SEED).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line with the counts.")] = False,
) -> None:
    """Fill the store with realistic synthetic feedback in Chinese and English (re-running adds nothing)."""
    from closeloop.demo.load import create_demo_accounts, load_demo

    initialise_database()
    with store_session() as session:
        accounts = create_demo_accounts(session)
    seed = get_settings().demo_seed if seed is None else seed
    summary = load_demo(store_factory(), items=items, days=days, seed=seed)
    summary["accounts"] = accounts
    from closeloop.demo.setup import load_demo_setup

    summary["setup"] = load_demo_setup(store_factory(), seed=seed)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    if accounts:
        err_console.print("demo accounts (passwords are shown only now):")
        for account in accounts:
            err_console.print(
                f"  {account['role']:<8} {account['email']:<22} {account['password']}", highlight=False
            )
    if summary["already_loaded"]:
        err_console.print("demo data is already loaded in this database; nothing to do")
    else:
        err_console.print(
            f"demo data: {summary['imported']} feedback items imported, "
            f"{summary['duplicates']} already there, "
            f"{summary['customers']} customers"
        )
        for story in summary["stories"]:
            err_console.print(f"  planted story: {story}")
    setup = summary["setup"]
    if setup["surveys"]:
        err_console.print(
            f"demo surveys: {setup['surveys']} (answers: {setup['responses']}), teams: {setup['teams']}, "
            f"routing rules: {setup['rules']} — answer one at /s/post-purchase-nps"
        )


@channel_app.command("list")
def channel_list() -> None:
    """List the registered channels."""
    from sqlalchemy import select

    from closeloop.store.models import Channel

    table = Table("name", "中文", "English", "default kind", "direction")
    with store_session() as session:
        for ch in session.scalars(select(Channel).order_by(Channel.name)):
            table.add_row(ch.name, ch.label_zh, ch.label_en, ch.default_kind, ch.direction)
    err_console.print(table)


@channel_app.command("add")
def channel_add(
    name: Annotated[str, typer.Argument(help="Channel name: letters, digits, - or _.")],
    label_zh: Annotated[str, typer.Option(help="Chinese display name.")] = "",
    label_en: Annotated[str, typer.Option(help="English display name.")] = "",
    kind: Annotated[str, typer.Option(help="Default kind of its items.")] = "review",
    direction: Annotated[str, typer.Option(help="direct or indirect.")] = "indirect",
) -> None:
    """Register a new channel."""
    try:
        with store_session() as session:
            add_channel(
                session,
                name=name,
                label_zh=label_zh,
                label_en=label_en,
                default_kind=kind,
                direction=direction,
            )
    except ValueError as exc:
        fail(str(exc))
    err_console.print(f"channel {name} ready")


@webhook_app.command("add")
def webhook_add(
    name: Annotated[str, typer.Argument(help="Source name, used in the URL /api/v1/webhooks/NAME.")],
    channel: Annotated[str, typer.Option(help="Channel its items belong to.")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field=json.path, e.g. text=message.content")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Kind of its items (default: the channel's).")] = None,
    secret: Annotated[str | None, typer.Option(help="Shared secret (default: a new random one).")] = None,
) -> None:
    """Register or update a webhook source; prints its secret once."""
    from closeloop.collect.importer import parse_map_options

    try:
        mapping = parse_map_options(map_ or [])
        with store_session() as session:
            source = webhooks.add_source(
                session, name=name, channel=channel, mapping=mapping, kind=kind, secret=secret
            )
            shown = source.secret
    except ValueError as exc:
        fail(str(exc))
    typer.echo(json.dumps({"source": name, "url": f"/api/v1/webhooks/{name}", "secret": shown}))


@webhook_app.command("list")
def webhook_list() -> None:
    """List webhook sources (secrets are not shown)."""
    table = Table("source", "channel", "kind", "mapping")
    with store_session() as session:
        for source in webhooks.list_sources(session):
            table.add_row(
                source.name, source.channel, source.kind or "", json.dumps(source.mapping, ensure_ascii=False)
            )
    err_console.print(table)
    err_console.print(f"mappable fields: {', '.join(MAPPABLE_FIELDS)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(serve)
    app.command()(demo)
    app.add_typer(channel_app, name="channel")
    app.add_typer(webhook_app, name="webhook")
