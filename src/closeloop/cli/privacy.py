"""``closeloop keys``, ``closeloop customer``, ``closeloop purge`` and ``closeloop channel retention``:
encryption keys, a customer's export and erasure, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from closeloop.accounts import audit
from closeloop.cli.common import err_console, fail, progress_bar, store_factory, store_session
from closeloop.privacy.crypto import KeyringError, generate_key, keyring
from closeloop.privacy.keys import encrypted_columns, rotate_keys
from closeloop.privacy.retention import purge_expired
from closeloop.privacy.subjects import UnknownCustomerError, erase_customer, export_customer
from closeloop.store.models import Channel

keys_app = typer.Typer(help="Encryption keys of personal data: generate, rotate.", no_args_is_help=True)
customer_app = typer.Typer(help="A customer's data: export, erase.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key. Put it first in CLOSELOOP_SECRET_KEYS, then run `closeloop keys rotate`."""
    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every encrypted value with the first key of CLOSELOOP_SECRET_KEYS (safe to re-run)."""
    from sqlalchemy import func, select

    factory = store_factory()
    with factory() as session:
        total = sum(
            session.scalar(select(func.count()).select_from(table).where(column.is_not(None))) or 0
            for table, column in encrypted_columns()
        )
    try:
        ring = keyring()
        with progress_bar("rotating") as bar:
            task = bar.add_task("rotate", total=total)
            rotated = rotate_keys(factory, ring, progress=lambda n: bar.advance(task, n))
    except KeyringError as exc:
        fail(str(exc))
    with store_session() as session:
        audit.record(session, "keys.rotated", actor="cli", target="store", detail={"rotated": rotated})
    err_console.print(f"re-encrypted {sum(rotated.values())} of {total} values with the newest key")
    typer.echo(json.dumps(rotated))


@customer_app.command("export")
def customer_export(
    external_id: Annotated[str, typer.Argument(help="The customer's external id.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")
    ] = None,
) -> None:
    """Everything stored about a customer as JSON (a data subject access request; audited)."""
    try:
        with store_session() as session:
            data = export_customer(session, external_id)
            audit.record(
                session,
                "customer.exported",
                actor="cli",
                target="customer",
                detail={"items": len(data["feedback"])},
            )
    except UnknownCustomerError as exc:
        fail(str(exc))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        err_console.print(f"wrote {output}")


@customer_app.command("erase")
def customer_erase(
    external_id: Annotated[str, typer.Argument(help="The customer's external id.")],
    delete_feedback: Annotated[
        bool, typer.Option(help="Delete their feedback items instead of anonymising them.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer: contact data, consent, and every copy of their feedback text (audited)."""
    if not yes:
        typer.confirm(f"erase customer {external_id} for good?", abort=True)
    try:
        with store_session() as session:
            report = erase_customer(session, external_id, delete_feedback=delete_feedback)
            audit.record(
                session,
                "customer.erased",
                actor="cli",
                target=f"customer:{report.customer_id}",
                detail=report.as_dict(),
            )
    except UnknownCustomerError as exc:
        fail(str(exc))
    typer.echo(json.dumps(report.as_dict()))


def purge(dry_run: Annotated[bool, typer.Option(help="Only count what would be purged.")] = False) -> None:
    """Delete feedback older than its channel's retention period (see `closeloop channel retention`)."""
    with store_session() as session:
        purged = purge_expired(session, datetime.now(UTC), dry_run=dry_run)
        if not dry_run:
            audit.record(
                session, "retention.purged", actor="cli", target="feedback", detail={"purged": purged}
            )
    typer.echo(json.dumps({"purged": purged, "dry_run": dry_run}))


def channel_retention(
    name: Annotated[str, typer.Argument(help="Channel name.")],
    days: Annotated[
        int | None, typer.Argument(help="Keep feedback this many days (omit with --forever).")
    ] = None,
    forever: Annotated[bool, typer.Option(help="Keep this channel's feedback without limit.")] = False,
) -> None:
    """Set how long a channel's feedback is kept; older feedback is purged automatically."""
    if (days is None) == (not forever):
        fail("give a number of days or --forever")
    if days is not None and days < 1:
        fail("days must be at least 1")
    with store_session() as session:
        channel = session.get(Channel, name)
        if channel is None:
            fail(f"no channel {name!r}")
        before = channel.retention_days
        channel.retention_days = days
        audit.record(
            session,
            "channel.retention_changed",
            actor="cli",
            target=f"channel:{name}",
            detail={"before": before, "after": days},
        )
    err_console.print(
        f"channel {name}: " + (f"feedback kept {days} days" if days else "feedback kept forever")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(customer_app, name="customer")
    app.command("purge")(purge)
    from closeloop.cli.store import channel_app

    channel_app.command("retention")(channel_retention)
