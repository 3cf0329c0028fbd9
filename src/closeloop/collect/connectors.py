"""closeloop's own connectors, registered through the same plugin hook as third-party ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from closeloop.collect.files import SourceRow, open_rows
from closeloop.collect.mailbox import MAILBOX_MAPPING, read_mailbox
from closeloop.collect.plugins import FileConnector, hookimpl


class MailboxSource:
    """Row source over an .eml file, a folder of .eml files, or an .mbox file."""

    encoding: str | None = None

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.columns = list(MAILBOX_MAPPING)
        self._total = _size(path)
        self._seen = 0

    def __iter__(self) -> Iterator[SourceRow]:
        for row in read_mailbox(self.path):
            self._seen += 1
            yield row

    def progress(self) -> tuple[int, int]:
        return (self._total if self._seen else 0), self._total

    def __enter__(self) -> MailboxSource:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())
    return path.stat().st_size


def _tabular(fmt: str) -> Any:
    return lambda path, encoding: open_rows(path, fmt, encoding=encoding)


@hookimpl
def closeloop_file_connectors() -> list[FileConnector]:
    return [
        FileConnector(
            "csv",
            (".csv", ".tsv", ".txt"),
            _tabular("csv"),
            "CSV/TSV exports (Taobao, JD, help desks), UTF-8 or GBK",
        ),
        FileConnector(
            "jsonl",
            (".jsonl", ".ndjson", ".json"),
            _tabular("jsonl"),
            "JSON Lines, one feedback object per line (or one JSON array)",
        ),
        FileConnector("xlsx", (".xlsx", ".xlsm"), _tabular("xlsx"), "Excel workbooks (first sheet)"),
        FileConnector(
            "eml",
            (".eml",),
            lambda path, _enc: MailboxSource(path, "eml"),
            "E-mail messages: one .eml file or a folder of them",
            kind="email",
        ),
        FileConnector(
            "mbox",
            (".mbox",),
            lambda path, _enc: MailboxSource(path, "mbox"),
            "A mailbox export in mbox format",
            kind="email",
        ),
    ]
