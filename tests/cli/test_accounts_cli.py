"""Accounts from the command line: add a user, set a password, create a token that then works over HTTP."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner

from closeloop.cli import app

runner = CliRunner()
PASSWORD = "a long enough password"


def test_user_and_token_from_the_cli(settings, live_server):
    added = runner.invoke(
        app,
        ["user", "add", "ops@example.com", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        app,
        ["user", "add", "ops@example.com", "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 2 and "already exists" in again.output
    weak = runner.invoke(
        app, ["user", "add", "x@example.com", "--role", "viewer", "--password-stdin"], input="123\n"
    )
    assert weak.exit_code == 2 and "at least" in weak.output
    bad_role = runner.invoke(
        app, ["user", "add", "y@example.com", "--role", "god", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output
    assert "ops@example.com" in runner.invoke(app, ["user", "list"]).output

    made = runner.invoke(app, ["token", "create", "ops@example.com", "--scope", "feedback:read"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.stdout)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live_server}/api/v1/feedback", headers=headers).status_code == 200
    assert (
        httpx.post(
            f"{live_server}/api/v1/feedback", headers=headers, json={"text": "x", "channel": "jd"}
        ).status_code
        == 403
    )
    too_much = runner.invoke(app, ["token", "create", "ops@example.com", "--scope", "users:admin"])
    assert too_much.exit_code == 2 and "cannot grant" in too_much.output
    reset = runner.invoke(
        app, ["user", "password", "ops@example.com", "--password-stdin"], input="another long one\n"
    )
    assert reset.exit_code == 0


def test_demo_creates_one_account_per_role_once(settings, live_server):
    first = json.loads(
        runner.invoke(app, ["demo", "--items", "50", "--json"]).stdout.strip().splitlines()[-1]
    )
    assert sorted(a["role"] for a in first["accounts"]) == ["admin", "agent", "analyst", "viewer"]
    admin = next(a for a in first["accounts"] if a["role"] == "admin")
    with httpx.Client(base_url=live_server, follow_redirects=False) as http:
        form = http.get("/login").text
        csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
        signed = http.post(
            "/login", data={"email": admin["email"], "password": admin["password"], "csrf_token": csrf}
        )
        assert signed.status_code == 303
        assert http.get("/").status_code == 200
    second = json.loads(
        runner.invoke(app, ["demo", "--items", "50", "--json"]).stdout.strip().splitlines()[-1]
    )
    assert second["accounts"] == []
