"""The mailbox connector: .eml files, folders of them and .mbox exports become feedback rows."""

from __future__ import annotations

import base64
import mailbox
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from closeloop.collect.files import FileFormatError, resolve_mapping, split_fields
from closeloop.collect.mailbox import (
    MAILBOX_MAPPING,
    decode_bytes,
    html_to_text,
    read_mailbox,
    strip_reply_history,
)
from closeloop.collect.records import record_from_fields


def gbk_message(*, message_id: str = "<r1@shop.example.cn>") -> bytes:
    """A Chinese mail as Foxmail/Outlook in China send it: declared gb2312, holding a GBK-only character."""
    body = (
        "你们的快递太慢了，喆喆等了一周。\r\n\r\n"
        "在 2024年3月4日 10:00，客服 写道：\r\n> 您好，请问有什么问题？\r\n"
        "-- \r\n张喆\r\n"
    )
    subject = base64.b64encode("投诉：物流太慢".encode("gbk")).decode()
    name = base64.b64encode("张喆".encode("gbk")).decode()
    head = (
        f"From: =?gb2312?B?{name}?= <zhang@example.cn>\r\n"
        "To: support@shop.example.cn\r\n"
        f"Subject: =?gb2312?B?{subject}?=\r\n"
        f"Message-ID: {message_id}\r\n"
        "Date: Tue, 05 Mar 2024 10:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="gb2312"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode("ascii") + body.encode("gbk")


def html_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ana Lima <ana@example.com>"
    message["Subject"] = "App keeps crashing"
    message["Message-ID"] = "<h1@example.com>"
    message["Date"] = "Wed, 06 Mar 2024 08:30:00 +0000"
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body><p>The app crashes on login.</p>"
        "<div>Please fix &amp; reply.</div><blockquote>Earlier: we are looking into it</blockquote>"
        "</body></html>",
        subtype="html",
    )
    return message


def test_single_gbk_eml(tmp_path: Path) -> None:
    path = tmp_path / "complaint.eml"
    path.write_bytes(gbk_message())
    rows = list(read_mailbox(path))
    assert len(rows) == 1
    row = rows[0]
    assert row.error is None and row.row_number == 1 and row.values is not None
    assert row.values["text"] == "你们的快递太慢了，喆喆等了一周。"  # no quoted history, no signature
    assert row.values["title"] == "投诉：物流太慢"
    assert row.values["customer_name"] == "张喆"
    assert row.values["customer_email"] == "zhang@example.cn"
    assert row.values["external_id"] == "r1@shop.example.cn"
    assert row.values["created_at"] == datetime(2024, 3, 5, 2, 0, tzinfo=UTC)
    assert row.values["kind"] == "email"
    assert row.values["to"] == "support@shop.example.cn"
    assert row.values["source_file"] == "complaint.eml"


def test_html_only_message_becomes_text(tmp_path: Path) -> None:
    path = tmp_path / "html.eml"
    path.write_bytes(html_message().as_bytes())
    (row,) = read_mailbox(path)
    assert row.values is not None
    assert row.values["text"] == "The app crashes on login.\n\nPlease fix & reply."


def test_plain_part_preferred_and_attachments_ignored(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "bo@example.com"
    message["Subject"] = "Invoice"
    message.set_content("Plain words.")
    message.add_alternative("<p>HTML words.</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4 binary", maintype="application", subtype="pdf", filename="invoice.pdf")
    path = tmp_path / "mixed.eml"
    path.write_bytes(message.as_bytes())
    (row,) = read_mailbox(path)
    assert row.values is not None
    assert row.values["text"] == "Plain words."
    assert row.values["customer_name"] is None and row.values["external_id"] is None


def test_folder_of_eml_files_with_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(gbk_message(message_id="<a@x>"))
    (tmp_path / "b.eml").write_bytes(b"\x00\x01 this is not mail at all\n")
    (tmp_path / "c.eml").write_bytes(html_message().as_bytes())
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    rows = list(read_mailbox(tmp_path))
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert rows[0].values is not None and rows[0].values["external_id"] == "a@x"
    assert rows[1].error == "b.eml: not an e-mail message (no headers)"
    assert rows[1].values == {"source_file": "b.eml"}
    assert rows[2].error is None and rows[2].values is not None
    assert rows[2].values["customer_email"] == "ana@example.com"


def test_mbox_with_three_messages(tmp_path: Path) -> None:
    path = tmp_path / "support.mbox"
    box = mailbox.mbox(str(path))
    first = EmailMessage()
    first["From"] = "李四 <li@example.cn>"
    first["Subject"] = "建议"
    first["Message-ID"] = "<m1@example.cn>"
    first.set_content("希望增加夜间模式。\nFrom now on I will use it daily.\n", charset="utf-8")
    box.add(first)
    box.add(gbk_message(message_id="<m2@example.cn>"))
    box.add(html_message())
    box.flush()
    box.close()
    rows = list(read_mailbox(path))
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert all(row.error is None for row in rows)
    texts = [row.values["text"] for row in rows if row.values]
    assert texts[0] == "希望增加夜间模式。\nFrom now on I will use it daily."  # mbox ">From " unescaped
    assert texts[1] == "你们的快递太慢了，喆喆等了一周。"
    assert texts[2].startswith("The app crashes on login.")
    assert [row.values["external_id"] for row in rows if row.values] == [
        "m1@example.cn", "m2@example.cn", "h1@example.com"]


def test_message_without_text_is_a_row_error(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "x@example.com"
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="shot.png")
    path = tmp_path / "empty.eml"
    path.write_bytes(message.as_bytes())
    (row,) = read_mailbox(path)
    assert row.error == "empty.eml: message has no text" and row.error_field == "text"


def test_unreadable_date_is_left_empty(tmp_path: Path) -> None:
    path = tmp_path / "date.eml"
    path.write_bytes(b"From: a@example.com\r\nDate: sometime last week\r\nSubject: hi\r\n\r\nthanks\r\n")
    (row,) = read_mailbox(path)
    assert row.error is None and row.values is not None
    assert row.values["created_at"] is None and row.values["text"] == "thanks"


@pytest.mark.parametrize(
    "target", ["missing.mbox", "missing-folder"],
)
def test_missing_mailbox_is_refused(tmp_path: Path, target: str) -> None:
    with pytest.raises(FileFormatError, match="no such file"):
        list(read_mailbox(tmp_path / target))


def test_folder_without_eml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"no \.eml files"):
        list(read_mailbox(tmp_path))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Thanks!\n\nOn Mon, 4 Mar 2024, Support wrote:\n> How can we help?\n", "Thanks!"),
        ("好的\n\n在 2024年3月4日，客服 写道：\n> 您好\n>> 更早\n", "好的"),
        ("Line one\n> quoted\nLine two\n", "Line one\nLine two"),
        ("Body\n-- \nJohn\nCEO\n", "Body"),
        ("正文\n\n-----原始邮件-----\n发件人: a\n", "正文"),
        ("Reply\n-----Original Message-----\nFrom: x\n", "Reply"),
        ("a\n\n\n\nb\n", "a\n\nb"),
        ("Price -- too high\n", "Price -- too high"),
    ],
)
def test_strip_reply_history(body: str, expected: str) -> None:
    assert strip_reply_history(body) == expected


def test_html_to_text_skips_scripts_and_quotes() -> None:
    html = "<p>Hi<br>there</p><script>alert(1)</script><blockquote><p>old</p></blockquote><p>&lt;ok&gt;</p>"
    assert html_to_text(html) == "Hi\nthere\n\n<ok>"


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("喆".encode("gbk"), "gb2312", "喆"),
        ("中文".encode("gbk"), None, "中文"),
        ("中文".encode(), "us-ascii", "中文"),
        ("中文".encode(), "no-such-charset", "中文"),
        (b"caf\xe9", "iso-8859-1", "café"),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_mail_rows_feed_the_same_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(gbk_message())
    (row,) = read_mailbox(path)
    assert row.values is not None
    mapping = resolve_mapping(list(MAILBOX_MAPPING), {})
    assert mapping == MAILBOX_MAPPING
    fields, metadata = split_fields(row.values, MAILBOX_MAPPING)
    record = record_from_fields(fields, channel="email", metadata=metadata)
    assert record.kind == "email"
    assert record.text == "投诉：物流太慢\n你们的快递太慢了，喆喆等了一周。"
    assert record.customer is not None and record.customer.email == "zhang@example.cn"
    assert record.external_id == "r1@shop.example.cn"
    assert metadata == {"to": "support@shop.example.cn", "source_file": "m.eml"}
