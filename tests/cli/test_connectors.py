"""Connectors: e-mail exports import like any file; a third-party plugin adds a format, no core change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.collect.files import SourceRow
from closeloop.collect.plugins import FileConnector, file_connectors, hookimpl, plugin_manager
from closeloop.store.models import FeedbackItem

runner = CliRunner()


def message(i: int, text: str, charset: str = "utf-8") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"客户{i} <customer{i}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"订单问题 {i}"
    msg["Message-ID"] = f"<m{i}@example.com>"
    msg["Date"] = "Tue, 03 Nov 2026 10:00:00 +0800"
    msg.set_content(text + "\n\n> 之前的邮件内容\n", charset=charset)
    return bytes(msg)


def test_mbox_and_eml_folder_import(settings, db, tmp_path):
    mbox = tmp_path / "support.mbox"
    mbox.write_bytes(
        b"".join(
            b"From customer@example.com Tue Nov  3 10:00:00 2026\n"
            + message(i, f"第{i}封：退款还没到账")
            + b"\n"
            for i in range(3)
        )
    )
    result = runner.invoke(app, ["import", str(mbox), "--channel", "email", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["imported"] == 3
    folder = tmp_path / "eml"
    folder.mkdir()
    for i in (2, 3):  # message 2 is already stored through the mbox
        (folder / f"{i}.eml").write_bytes(message(i, f"第{i}封：退款还没到账"))
    result = runner.invoke(app, ["import", str(folder), "--channel", "email", "--format", "eml", "--json"])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["imported"], summary["duplicates"]) == (1, 1)
    with db() as session:
        item = session.scalars(select(FeedbackItem).where(FeedbackItem.external_id == "m1@example.com")).one()
        assert item.kind == "email" and "退款还没到账" in item.text and "之前的邮件" not in item.text
        assert item.text.startswith("订单问题 1") and item.customer.email == "customer1@example.com"


class PipeSeparatedConnector:
    """A stand-in third-party plugin: reads 'id|text' lines."""

    @hookimpl
    def closeloop_file_connectors(self) -> list[FileConnector]:
        return [FileConnector("pipes", (".pipes",), lambda path, _enc: PipeSource(path), "id|text lines")]


class PipeSource:
    format = "pipes"
    encoding = "utf-8"
    def __init__(self, path: Path) -> None:
        self.columns = ["external_id", "text"]
        self.lines = path.read_text(encoding="utf-8").splitlines()

    def __iter__(self) -> Iterator[SourceRow]:
        for number, line in enumerate(self.lines, start=1):
            ident, _, text = line.partition("|")
            yield SourceRow(number, {"external_id": ident, "text": text})

    def progress(self) -> tuple[int, int]:
        return 1, 1

    def __enter__(self) -> PipeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_plugin_adds_a_file_format(settings, db, tmp_path):
    plugin = PipeSeparatedConnector()
    manager = plugin_manager()
    assert {"csv", "jsonl", "xlsx", "eml", "mbox"} <= set(file_connectors())
    manager.register(plugin)
    try:
        path = tmp_path / "chat.pipes"
        path.write_text("q-1|机器人答非所问\nq-2|人工客服排队太久\n", encoding="utf-8")
        result = runner.invoke(app, ["import", str(path), "--channel", "chat", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.strip().splitlines()[-1])["imported"] == 2
    finally:
        manager.unregister(plugin)
    assert "pipes" not in file_connectors()
    with db() as session:
        assert sorted(session.scalars(select(FeedbackItem.external_id))) == ["q-1", "q-2"]
