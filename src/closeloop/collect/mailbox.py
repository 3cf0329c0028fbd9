"""Feedback from e-mail: one ``.eml`` file, a folder of ``.eml`` files, or an ``.mbox`` export.

Each message becomes a ``SourceRow`` whose values are already named after feedback fields (use
``MAILBOX_MAPPING`` as the mapping): the Message-ID, the date, the sender's address and name, the
subject and the customer's own words (plain text, or HTML turned into text, without quoted reply history
and signature). Chinese mail in GB2312/GBK is decoded as GB18030, which also reads the characters
senders put in "gb2312" mail that GB2312 itself lacks. A message that cannot be read is a row error.
Row numbers count messages: the position in the mbox, or in the folder's sorted file list.
"""

from __future__ import annotations

import codecs
import email.utils
import mailbox
import re
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from closeloop.collect.files import FileFormatError, SourceRow

MAIL_KIND = "email"
# The values read_mailbox produces are named after the fields they feed: an identity mapping.
MAILBOX_MAPPING: dict[str, str] = {
    field: field
    for field in ("text", "title", "external_id", "created_at", "customer_email", "customer_name", "kind")
}

_PARSER = BytesParser(policy=policy.default)
_ATTRIBUTION = re.compile(r"(\bwrote:|写道[:：]|寫道[:：])\s*$", re.IGNORECASE)
_HISTORY_START = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|原始邮件|原始郵件|转发邮件)\s*-{2,}"
    r"|_{20,}\s*$)",
    re.IGNORECASE,
)
_MBOX_FROM_ESCAPE = re.compile(r"^>(>*From )", re.MULTILINE)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "blockquote"})


def read_mailbox(path: Path) -> Iterator[SourceRow]:
    """Rows for every message in an ``.eml`` file, a folder of ``.eml`` files, or an ``.mbox`` file."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        yield from _folder_rows(path)
    elif path.suffix.lower() == ".mbox" or _starts_like_mbox(path):
        yield from _mbox_rows(path)
    else:
        yield message_row(1, path.read_bytes(), source_file=path.name)


def _folder_rows(folder: Path) -> Iterator[SourceRow]:
    files = sorted(entry for entry in folder.iterdir() if entry.is_file() and entry.suffix.lower() == ".eml")
    if not files:
        raise FileFormatError(f"{folder}: no .eml files in this folder")
    for number, file in enumerate(files, start=1):
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield SourceRow(number, {"source_file": file.name}, f"cannot read {file.name}: {exc.strerror}")
            continue
        yield message_row(number, data, source_file=file.name)


def _starts_like_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _mbox_rows(path: Path) -> Iterator[SourceRow]:
    try:
        box = mailbox.mbox(str(path), create=False)
    except (mailbox.NoSuchMailboxError, OSError) as exc:
        raise FileFormatError(f"{path}: cannot open the mailbox: {exc}") from None
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            try:
                data = box.get_bytes(key)
            except (OSError, KeyError, ValueError) as exc:
                yield SourceRow(number, None, f"cannot read message {number}: {exc}")
                continue
            yield message_row(number, data, from_mbox=True)
    finally:
        box.close()


def message_row(
    number: int, data: bytes, *, source_file: str | None = None, from_mbox: bool = False
) -> SourceRow:
    """One message's row: feedback values, or an error saying why the message cannot be used."""
    extra: dict[str, Any] = {"source_file": source_file} if source_file else {}
    where = f"{source_file}: " if source_file else ""
    try:
        message = _PARSER.parsebytes(data)
        if not data.strip() or not message.keys():
            return SourceRow(number, extra or None, f"{where}not an e-mail message (no headers)")
        values = message_values(message, from_mbox=from_mbox)
    except Exception as exc:  # a malformed message must not stop the rest of the mailbox
        return SourceRow(number, extra or None, f"{where}broken message: {exc}")
    values.update(extra)
    if not values["text"] and not values["title"]:
        return SourceRow(number, values, f"{where}message has no text", "text")
    return SourceRow(number, values)


def message_values(message: Message, *, from_mbox: bool = False) -> dict[str, Any]:
    """Feedback values (named as in ``MAILBOX_MAPPING``, plus ``to`` when present) of a parsed message."""
    # The first occurrence of a header wins, as mail clients show it.
    raw = {name.lower(): value for name, value in reversed(list(message.raw_items()))}
    name, address = email.utils.parseaddr(raw.get("from", ""))
    to = header_text(raw.get("to"))
    values: dict[str, Any] = {
        "text": body_text(message, from_mbox=from_mbox),
        "title": header_text(raw.get("subject")),
        "external_id": _message_id(raw.get("message-id")),
        "created_at": _message_date(raw.get("date")),
        "customer_email": address.strip() or None,
        "customer_name": header_text(name) or None,
        "kind": MAIL_KIND,
    }
    if to:
        values["to"] = to
    return values


def header_text(raw: str | None) -> str | None:
    """A header's text with RFC 2047 words and raw 8-bit bytes decoded (GB2312/GBK read as GB18030)."""
    if raw is None:
        return None
    parts: list[str] = []
    for chunk, charset in decode_header(str(raw)):
        if isinstance(chunk, str):  # no encoded words: raw bytes survive as surrogates
            chunk = chunk.encode("ascii", "surrogateescape")
        parts.append(decode_bytes(chunk, charset))
    text = " ".join("".join(parts).split())
    return text or None


def _message_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = " ".join(str(raw).split()).strip().strip("<>").strip()
    return value or None


def _message_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(raw).strip())
    except (TypeError, ValueError, IndexError):
        return None  # an unreadable date leaves the item's time to the importer


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in the declared charset, falling back to UTF-8 then GB18030, never failing."""
    candidates = [_widen_charset(charset)] if charset else []
    candidates += ["utf-8", "gb18030"]
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(_widen_charset(charset) or "utf-8", "replace")


def _widen_charset(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        name = codecs.lookup(charset.strip().strip('"')).name
    except LookupError:
        return None
    return "gb18030" if name in {"gb2312", "gbk", "gb18030", "hz"} else name


def body_text(message: Message, *, from_mbox: bool = False) -> str:
    """The customer's words: the plain-text body (or HTML as text) without quoted history or signature."""
    part = message.get_body(preferencelist=("plain", "html")) if isinstance(message, EmailMessage) else None
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = decode_bytes(payload, part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    if from_mbox:
        text = _MBOX_FROM_ESCAPE.sub(r"\1", text)
    return strip_reply_history(text)


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML body, skipping scripts, styles and quoted blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS and not self._skipping:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, one line per block, without quoted ``<blockquote>`` history."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_reply_history(text: str) -> str:
    """Drop ``>`` quoted lines (and the "On … wrote:" / "…写道：" line before them), everything after a
    ``-- `` signature or an "Original Message" / "原始邮件" separator, and surplus blank lines."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.rstrip(" ") == "--" or _HISTORY_START.match(line):
            break
        if line.lstrip().startswith(">"):
            while kept and not kept[-1].strip():
                kept.pop()
            if kept and _ATTRIBUTION.search(kept[-1]):
                kept.pop()
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
