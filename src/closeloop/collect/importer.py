"""File import: stream rows from a file, map and validate them, write atomic batches, record rejects.

Each batch of rows is one transaction, and the import run's counters are updated in the same
transaction, so a crash loses nothing already committed; re-running the import skips what is stored
(dedupe) and completes the rest.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from closeloop.collect.files import FileFormatError, SourceRow, resolve_mapping, split_fields
from closeloop.collect.ingest import ChannelCache, validate_records, write_batch
from closeloop.collect.plugins import connector_for
from closeloop.collect.records import MAPPABLE_FIELDS, FeedbackRecord, FieldError, record_from_fields
from closeloop.store.models import ImportRun
from closeloop.store.session import transaction

ProgressCallback = Callable[[int, int, int], None]  # (bytes done, bytes total, rows seen)


class ImportAbortedError(RuntimeError):
    """Writing a batch failed; that batch was rolled back, earlier batches stay, a re-run completes it."""


@dataclass(slots=True)
class ImportSummary:
    """The outcome of one import, as printed to the user and as ``--json``."""

    file: str
    channel: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    import_run_id: int | None = None
    encoding: str | None = None
    format: str | None = None
    mapping: dict[str, str] | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rows": self.rows,
            "file": self.file,
            "channel": self.channel,
            "format": self.format,
            "encoding": self.encoding,
            "mapping": self.mapping,
            "rejects_file": self.rejects_file,
            "import_run_id": self.import_run_id,
            "seconds": round(self.seconds, 3),
        }


class RejectsWriter:
    """Writes refused rows (row number, field, reason, the row itself) to a CSV opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._writer: Any = None
        self.count = 0

    def add(self, row_number: int, field: str, reason: str, values: dict[str, Any] | None) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["row", "field", "reason", "raw"])
        raw = json.dumps(values, ensure_ascii=False, default=str) if values is not None else ""
        # Undecodable bytes survive as escapes so the rejects file itself stays valid UTF-8.
        raw = raw.encode("utf-8", "backslashreplace").decode("utf-8")
        self._writer.writerow([row_number, field, reason, raw])
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def parse_map_options(options: list[str]) -> dict[str, str]:
    """``["text=评论内容", "rating=评分"]`` → ``{"text": "评论内容", "rating": "评分"}``."""
    mapping: dict[str, str] = {}
    for option in options:
        field, sep, column = option.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValueError(f"--map must look like field=column, got {option!r}")
        mapping[field.strip()] = column.strip()
    return mapping


def import_file(
    factory: sessionmaker[Session],
    path: Path,
    *,
    channel: str,
    fmt: str | None = None,
    user_map: dict[str, str] | None = None,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    kind: str | None = None,
    encoding: str | None = None,
    rejects_path: Path | None = None,
    batch_rows: int = 50_000,
    max_text_chars: int = 20_000,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import one file into the store; raises ``FileFormatError`` or ``UnknownChannelError`` up front."""
    started = time.perf_counter()
    summary = ImportSummary(file=str(path), channel=channel)
    try:
        connector = connector_for(path, fmt)
    except ValueError as exc:
        raise FileFormatError(str(exc)) from None
    kind = kind or connector.kind
    with transaction(factory) as session:
        channels = ChannelCache(session)
        channels.defaults(channel)
        run = ImportRun(source=str(path), channel=channel)
        session.add(run)
        session.flush()
        summary.import_run_id = run.id

    rejects = RejectsWriter(rejects_path or default_rejects_path(path))
    try:
        with connector.open(path, encoding) as source:
            summary.format, summary.encoding = source.format, source.encoding
            # Columns already named like a field map to it; the user's --map wins.
            named = {
                c: c for c in source.columns if c in MAPPABLE_FIELDS and c not in (user_map or {}).values()
            }
            mapping = resolve_mapping(source.columns, {**named, **(user_map or {})}, path=path)
            summary.mapping = mapping
            batch: list[FeedbackRecord] = []
            batch_rows_numbers: list[tuple[int, dict[str, Any] | None]] = []
            for row in source:
                summary.rows += 1
                record = _to_record(row, mapping, channel, rating_scale, kind, rejects)
                if record is not None:
                    batch.append(record)
                    batch_rows_numbers.append((row.row_number, row.values))
                if len(batch) >= batch_rows:
                    _flush(
                        factory, batch, batch_rows_numbers, channels, run.id, summary, rejects, max_text_chars
                    )
                    batch, batch_rows_numbers = [], []
                    if progress:
                        done, total = source.progress()
                        progress(done, total, summary.rows)
            _flush(factory, batch, batch_rows_numbers, channels, run.id, summary, rejects, max_text_chars)
            if progress:
                done, total = source.progress()
                progress(total, total, summary.rows)
        status, error = "done", None
    except Exception as exc:
        status, error = "failed", str(exc)
        raise
    finally:
        rejects.close()
        summary.rejected = rejects.count
        summary.rejects_file = str(rejects.path) if rejects.count else None
        summary.seconds = time.perf_counter() - started
        with transaction(factory) as session:
            stored = session.get(ImportRun, run.id)
            if stored is not None:
                stored.status = status
                stored.error = error
                stored.rows_seen = summary.rows
                stored.rejected = summary.rejected
                stored.finished_at = datetime.now(UTC)
    return summary


def _to_record(
    row: SourceRow,
    mapping: dict[str, str],
    channel: str,
    rating_scale: tuple[float, float],
    kind: str | None,
    rejects: RejectsWriter,
) -> FeedbackRecord | None:
    if row.error is not None or row.values is None:
        rejects.add(row.row_number, row.error_field or "", row.error or "unreadable row", row.values)
        return None
    try:
        fields, metadata = split_fields(row.values, mapping)
        return record_from_fields(
            fields, channel=channel, rating_scale=rating_scale, kind=kind, metadata=metadata
        )
    except FieldError as exc:
        rejects.add(row.row_number, exc.field, exc.message, row.values)
        return None


def _flush(
    factory: sessionmaker[Session],
    batch: list[FeedbackRecord],
    origins: list[tuple[int, dict[str, Any] | None]],
    channels: ChannelCache,
    run_id: int,
    summary: ImportSummary,
    rejects: RejectsWriter,
    max_text_chars: int,
) -> None:
    if not batch:
        return
    errors = validate_records(batch, max_text_chars=max_text_chars, channels=channels)
    if errors:
        refused = {error.position for error in errors}
        for error in errors:
            row_number, values = origins[error.position]
            rejects.add(row_number, error.field, error.message, values)
        batch = [record for position, record in enumerate(batch) if position not in refused]
    try:
        with transaction(factory) as session:
            result = write_batch(session, batch, channels=channels, import_run_id=run_id)
            run = session.get(ImportRun, run_id)
            assert run is not None
            run.imported += result.imported
            run.duplicates += result.duplicates
            run.rows_seen = summary.rows
    except SQLAlchemyError as exc:
        first, last = origins[0][0], origins[-1][0]
        reason = getattr(exc, "orig", None) or exc
        raise ImportAbortedError(
            f"{summary.file}: writing rows {first}–{last} failed ({reason}); nothing of those rows was "
            f"written, {summary.imported} rows imported before are kept. Re-run the same command to complete "
            "the import (rows already stored are skipped)."
        ) from exc
    summary.imported += result.imported
    summary.duplicates += result.duplicates
