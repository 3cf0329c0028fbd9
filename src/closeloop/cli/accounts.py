"""``closeloop user`` and ``closeloop token``: accounts and API tokens from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from closeloop.accounts import audit
from closeloop.accounts.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from closeloop.accounts.users import AccountError, create_token, create_user, find_user, hash_password
from closeloop.cli.common import err_console, fail, store_session
from closeloop.store.models import User

user_app = typer.Typer(help="People who sign in: add, list.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts: create (shown once).", no_args_is_help=True)


def _read_password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="Their e-mail address (the sign-in name).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    team: Annotated[str | None, typer.Option(help="Team (agents see their team's cases).")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Add a user; the password is asked for (or read from stdin with --password-stdin)."""
    password = _read_password(password_stdin, "password")
    try:
        with store_session() as session:
            user = create_user(session, email=email, password=password, role=role, name=name, team=team)
            audit.record(session, "user.created", actor="cli", target=user.email, detail={"role": role})
    except AccountError as exc:
        fail(str(exc))
    err_console.print(f"user {email} ({role}) added")


@user_app.command("password")
def user_password(
    email: Annotated[str, typer.Argument(help="Whose password to set.")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Set a user's password (and lift a lock-out)."""
    password = _read_password(password_stdin, "new password")
    try:
        with store_session() as session:
            user = find_user(session, email)
            if user is None:
                fail(f"no user {email}")
            user.password_hash = hash_password(password)
            user.failed_logins, user.locked_until = 0, None
            audit.record(
                session, "user.changed", actor="cli", target=user.email, detail={"password": "changed"}
            )
    except AccountError as exc:
        fail(str(exc))
    err_console.print(f"password of {email} set")


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    table = Table("id", "email", "role", "team", "active")
    with store_session() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            table.add_row(
                str(user.id), user.email, user.role, user.team or "", "yes" if user.is_active else "no"
            )
    err_console.print(table)


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Argument(help="The user the token acts for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help=f"Repeatable; default: all of the user's role. Known: {', '.join(PERMISSIONS)}."),
    ] = None,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
) -> None:
    """Create an API token and print it once as JSON (it is stored only as a hash)."""
    try:
        with store_session() as session:
            user = find_user(session, email)
            if user is None:
                fail(f"no user {email}")
            created = create_token(
                session, user, name=name, scopes=scope or sorted(ROLE_PERMISSIONS[user.role])
            )
            audit.record(
                session,
                "token.created",
                actor="cli",
                target=f"token:{created.token.id}",
                detail={"user": user.email, "scopes": created.token.scopes},
            )
            out = {
                "id": created.token.id,
                "user": user.email,
                "scopes": created.token.scopes,
                "token": created.secret,
            }
    except (AccountError, ValueError) as exc:
        fail(str(exc))
    typer.echo(json.dumps(out))


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
