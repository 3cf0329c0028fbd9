"""``closeloop community``: add and list boards; send pending status-change e-mails once."""

from __future__ import annotations

from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.community.members import find_or_create_member
from closeloop.community.posts import board_by_slug, create_post, set_status

runner = CliRunner()


def test_boards_and_notify(settings, db, smtp_server, monkeypatch):
    added = runner.invoke(
        app,
        [
            "community",
            "board-add",
            "app",
            "--name-zh",
            "应用建议",
            "--name-en",
            "App ideas",
            "--product",
            "app",
        ],
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(app, ["community", "board-add", "app", "--name-zh", "x", "--name-en", "x"])
    assert again.exit_code == 2 and "exists already" in again.output
    listed = runner.invoke(app, ["community", "boards"])
    assert "应用建议" in listed.output and "App ideas" in listed.output

    assert runner.invoke(app, ["community", "notify"]).exit_code == 2  # no SMTP configured
    with db() as session:
        member = find_or_create_member(session, "mei@example.com")
        post = create_post(
            session,
            board=board_by_slug(session, "app"),
            member=member,
            kind="suggestion",
            title="希望支持深色模式",
            body="",
        )
        set_status(session, post, "planned", reason="下个版本做", actor="staff@example.com")
        session.commit()
    monkeypatch.setenv("CLOSELOOP_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CLOSELOOP_SMTP_PORT", str(smtp_server.port))
    from closeloop.settings import get_settings

    get_settings.cache_clear()
    sent = runner.invoke(app, ["community", "notify"])
    assert sent.exit_code == 0 and "sent 1," in sent.output
    assert [m["To"] for m in smtp_server.messages] == ["mei@example.com"]
    assert "sent 0," in runner.invoke(app, ["community", "notify"]).output
