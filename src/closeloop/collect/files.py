"""Reading feedback exports row by row: CSV/TSV, JSON Lines (or one JSON array) and Excel workbooks.

``open_rows`` streams a file as ``SourceRow``s with bounded memory; a problem with one row (malformed
JSON, undecodable bytes, too many fields) becomes that row's ``error`` and the other rows carry on, while
a file that cannot be read at all raises ``FileFormatError``. ``resolve_mapping`` decides which column
feeds which feedback field (``--map`` first, then known zh/en column names) and ``split_fields`` cuts a
row into the fields for ``record_from_fields`` and the metadata kept beside the item.

Row numbers are what a user sees when they open the file: for CSV the row in a spreadsheet (the header
is row 1 when it is the first line, blank lines count, a quoted field spanning several lines is one row,
so this equals the line number unless a field spans lines); for XLSX the sheet's row number; for JSON
Lines the line number; for a JSON array the element's 1-based position.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from closeloop.collect.records import MAPPABLE_FIELDS
from closeloop.collect.synonyms import FIELD_SYNONYMS, normalize_column_name, synonym_index

FORMATS: tuple[str, ...] = ("csv", "jsonl", "xlsx")
SUFFIX_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
SAMPLE_BYTES = 64 * 1024  # what encoding and delimiter detection look at
JSON_DOCUMENT_MAX_BYTES = 256 * 1024 * 1024  # a whole-document .json is loaded in memory; refuse beyond this
XLSX_MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
XLSX_MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_MIN_BYTES = 1024 * 1024  # tiny members compress oddly; only large ones can be bombs
_MIN_BYTES_TO_GUESS = 64  # non-ASCII bytes charset-normalizer needs before its guess beats UTF-8
_DELIMITERS = (",", "\t", ";", "|")
_JSON_PEEK_ROWS = 100  # rows read ahead to learn JSON Lines columns
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003) and password-protected workbooks


class FileFormatError(ValueError):
    """The whole file cannot be read; the message names the file and what is wrong."""


@dataclass(slots=True)
class SourceRow:
    """One data row as read from a file, or the reason it could not be read."""

    row_number: int
    values: dict[str, Any] | None
    error: str | None = None
    error_field: str | None = None


class RowSource:
    """An open file as rows: ``columns`` up front, then ``SourceRow``s; close it (or use ``with``)."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        encoding: str | None,
        columns: list[str],
        rows: Iterator[SourceRow],
        *,
        position: Callable[[], int],
        total: int,
        close: Callable[[], None],
    ) -> None:
        self.path = path
        self.format = fmt
        self.encoding = encoding
        self.columns = columns  # JSON Lines: grows as new keys are seen
        self._rows = rows
        self._position = position
        self._total = total
        self._close = close
        self._closed = False

    def __iter__(self) -> Iterator[SourceRow]:
        return self._rows

    def progress(self) -> tuple[int, int]:
        """(bytes consumed so far, total bytes), for a progress bar."""
        if self._closed:
            return self._total, self._total
        try:
            done = self._position()
        except (OSError, ValueError):
            done = 0
        return min(done, self._total), self._total

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- format and encoding -------------------------------------------------------------------------


def detect_format(path: Path, declared: str | None = None) -> str:
    """``csv``, ``jsonl`` or ``xlsx``: the declared ``--format`` if given, else from the file suffix."""
    if declared:
        fmt = declared.strip().lower().lstrip(".")
        fmt = {"tsv": "csv", "txt": "csv", "json": "jsonl", "ndjson": "jsonl", "xlsm": "xlsx"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise FileFormatError(f"{path}: unknown format {declared!r}; use one of: {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix == ".xls":
        raise FileFormatError(f"{path}: old Excel .xls files are not supported; save it as .xlsx or CSV")
    raise FileFormatError(
        f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
        f"use --format {'|'.join(FORMATS)}"
    )


def detect_encoding(sample: bytes) -> str:
    """The text encoding of a file from its first bytes (a character cut at the end is fine).

    A BOM decides; then UTF-8 (also when a few stray bytes are invalid), then GB18030 (which reads GBK
    and GB2312, as Excel in China saves CSV), then charset-normalizer's guess when the sample has enough
    non-ASCII bytes to judge; UTF-8 otherwise (rows with bytes that do not decode then get row errors).
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf8_good, utf8_bad = _decode_counts(sample, "utf-8")
    if utf8_bad == 0:
        return "utf-8"
    if utf8_good >= 20 * utf8_bad:
        return "utf-8"
    gb_good, gb_bad = _decode_counts(sample, "gb18030")
    if gb_bad == 0 or gb_good >= 20 * gb_bad:
        return "gb18030"
    if sum(1 for byte in sample if byte > 0x7F) < _MIN_BYTES_TO_GUESS:
        return "utf-8"  # too little to go on: guessers pick exotic code pages; rows with bad bytes get errors
    return _guess_encoding(sample)


def _decode_counts(sample: bytes, encoding: str) -> tuple[int, int]:
    """(non-ASCII characters decoded, undecodable bytes) for ``sample``, ignoring a cut last character."""
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    text = decoder.decode(sample, final=False)
    bad = sum(1 for char in text if "\udc80" <= char <= "\udcff") if not _is_clean(text) else 0
    good = sum(1 for char in text if char > "\x7f") - bad
    return good, bad


def _guess_encoding(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        return "utf-8"
    return _widen(best.encoding)


def _widen(encoding: str) -> str:
    """GB2312 and GBK files are read as GB18030, their superset, so rare characters still decode."""
    name = codecs.lookup(encoding).name
    return "gb18030" if name in {"gb2312", "gbk", "gb18030", "hz"} else name


def _is_clean(text: str) -> bool:
    """True when ``text`` holds no lone surrogates (bytes that did not decode)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _checked_encoding(path: Path, encoding: str) -> str:
    try:
        return _widen(encoding)
    except LookupError:
        raise FileFormatError(f"{path}: unknown encoding {encoding!r} (try utf-8 or gb18030)") from None


# --- opening ---------------------------------------------------------------------------------------


def open_rows(
    path: Path,
    fmt: str | None = None,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> RowSource:
    """Open an export for reading rows; raises ``FileFormatError`` when the file cannot be read at all.

    ``encoding`` overrides detection (CSV, JSON); ``sheet`` picks an XLSX sheet by name or 0-based index.
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder, not a file")
    if fmt == "csv":
        return _open_csv(path, encoding)
    if fmt == "jsonl":
        return _open_json(path, encoding)
    return _open_xlsx(path, sheet)


def _open_text(path: Path, encoding: str | None) -> tuple[IO[bytes], IO[str], str, str]:
    """(binary handle, text stream, encoding, decoded sample) with undecodable bytes as surrogates."""
    raw = path.open("rb")
    try:
        sample = raw.read(SAMPLE_BYTES)
        if not sample.strip():
            raise FileFormatError(f"{path}: the file is empty")
        chosen = _checked_encoding(path, encoding) if encoding else detect_encoding(sample)
        if chosen == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            chosen = "utf-8-sig"
        sample_text = codecs.getincrementaldecoder(chosen)("surrogateescape").decode(sample, final=False)
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=chosen, errors="surrogateescape", newline="")
    except BaseException:
        raw.close()
        raise
    return raw, text, chosen, sample_text


# --- CSV -------------------------------------------------------------------------------------------


def _open_csv(path: Path, encoding: str | None) -> RowSource:
    raw, text, chosen, sample_text = _open_text(path, encoding)
    try:
        delimiter = sniff_delimiter(sample_text, prefer_tab=path.suffix.lower() == ".tsv")
        # strict: a stray quote or a quote left open at the end is a row error, not silently merged rows
        reader = csv.reader(text, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
        header, header_row = _read_csv_header(reader, path)
    except csv.Error as exc:
        raw.close()
        raise FileFormatError(f"{path}: cannot read the header row: {_csv_problem(exc)}") from None
    except BaseException:
        raw.close()
        raise
    columns = header_names(header, letters=False)
    return RowSource(
        path,
        "csv",
        chosen,
        columns,
        _csv_rows(reader, columns, header_row),
        position=raw.tell,
        total=path.stat().st_size,
        close=text.close,
    )


def sniff_delimiter(sample_text: str, *, prefer_tab: bool = False) -> str:
    """The delimiter (comma, tab, semicolon or bar) that splits the header line into the most columns."""
    lines = [line for line in sample_text.splitlines() if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in _DELIMITERS}
    if prefer_tab and counts["\t"] > 1:
        return "\t"
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties keep the order of _DELIMITERS
    return best if counts[best] > 1 else ","


def _read_csv_header(reader: Any, path: Path) -> tuple[list[str], int]:
    for row_number, row in enumerate(reader, start=1):
        if row and "".join(row).strip():
            return row, row_number
    raise FileFormatError(f"{path}: no header row (the file holds only blank lines)")


def header_names(cells: list[Any] | tuple[Any, ...], *, letters: bool) -> list[str]:
    """Column names from header cells: trimmed, BOM removed, blanks named ``column_3`` (``column_C`` in
    a sheet), repeats suffixed ``_2``, ``_3`` so every column keeps its own value."""
    names: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells, start=1):
        name = _cell_text(cell).replace("\ufeff", "").strip()
        if not name:
            name = f"column_{_column_letter(index) if letters else index}"
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique)
        names.append(unique)
    return names


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    return str(cell)


def _column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _csv_rows(reader: Any, columns: list[str], header_row: int) -> Iterator[SourceRow]:
    width = len(columns)
    row_number = header_row
    while True:
        try:
            for fields in reader:
                row_number += 1
                joined = "".join(fields)
                if not joined.strip():
                    continue  # blank line or a row of empty cells
                count = len(fields)
                if count > width:
                    if "".join(fields[width:]).strip():
                        yield SourceRow(
                            row_number,
                            dict(zip(columns, fields, strict=False)),
                            f"row has {count} fields but the header has {width} "
                            "(an unquoted delimiter in a value?)",
                        )
                        continue
                    fields = fields[:width]  # trailing empty cells, as spreadsheets write them
                values = dict(zip(columns, fields, strict=False))
                if count < width:
                    for column in columns[count:]:
                        values[column] = ""
                problem = _text_problem(joined, values)
                if problem is None:
                    yield SourceRow(row_number, values)
                else:
                    yield SourceRow(row_number, values, problem[0], problem[1])
            return
        except csv.Error as exc:
            row_number += 1
            yield SourceRow(row_number, None, f"unreadable CSV row: {_csv_problem(exc)}")


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's complaint in words a spreadsheet user knows."""
    message = str(exc)
    if "unexpected end of data" in message:
        return "a quoted value is never closed (the rest of the file was read into it)"
    if "expected after" in message:
        return 'text right after a closing quote (a " inside a quoted value must be written "")'
    if "field limit" in message:
        return f"a value longer than {csv.field_size_limit():,} characters"
    return message


def _text_problem(joined: str, values: dict[str, Any]) -> tuple[str, str | None] | None:
    """(message, column) when a row holds undecodable bytes or NUL characters, else None."""
    if _is_clean(joined) and "\x00" not in joined:
        return None
    for column, value in values.items():
        if isinstance(value, str) and not _is_clean(value):
            return f"undecodable bytes in column {column!r} (wrong encoding? try --encoding)", column
    for column, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            return f"NUL byte in column {column!r}", column
    return None


# --- JSON Lines and JSON documents -----------------------------------------------------------------


def _open_json(path: Path, encoding: str | None) -> RowSource:
    raw, text, chosen, sample_text = _open_text(path, encoding)
    total = path.stat().st_size
    try:
        document: list[SourceRow] | None = None
        if sample_text.lstrip("\ufeff \t\r\n").startswith("["):
            document = _json_document_rows(path, text, total)
        else:
            lines = _numbered_lines(text)
            peeked = _peek_json_lines(lines)
            if peeked and peeked[0].values is None and _opens_document(sample_text):
                document = _try_json_document(path, chosen, total)  # pretty-printed, e.g. {"data": [...]}
    except BaseException:
        raw.close()
        raise
    columns: list[str] = []
    seen: set[str] = set()
    if document is not None:
        raw.close()
        for row in document:
            _add_columns(row, columns, seen)
        return RowSource(
            path,
            "jsonl",
            chosen,
            columns,
            iter(document),
            position=lambda: total,
            total=total,
            close=lambda: None,
        )
    for row in peeked:
        _add_columns(row, columns, seen)
    return RowSource(
        path,
        "jsonl",
        chosen,
        columns,
        _json_line_rows(peeked, lines, columns, seen),
        position=raw.tell,
        total=total,
        close=text.close,
    )


def _opens_document(sample_text: str) -> bool:
    """True when the first line opens a pretty-printed JSON document (``{`` or ``{"data": [``)."""
    first = next((line.strip() for line in sample_text.splitlines() if line.strip()), "")
    return first.lstrip("\ufeff").startswith("{") and first.endswith(("{", "["))


def _add_columns(row: SourceRow, columns: list[str], seen: set[str]) -> None:
    """Append the row's keys not seen before to ``columns`` (the union, in order of appearance)."""
    if row.values is not None:
        for key in row.values:
            if key not in seen:
                seen.add(key)
                columns.append(key)


def _json_line_rows(
    peeked: list[SourceRow], lines: Iterator[tuple[int, str]], columns: list[str], seen: set[str]
) -> Iterator[SourceRow]:
    """The rows read ahead, then the rest of the file, growing ``columns`` as new keys appear."""
    yield from peeked
    peeked.clear()
    for number, line in lines:
        row = _json_line_row(number, line)
        if row.values is not None:
            _add_columns(row, columns, seen)
        yield row


def _numbered_lines(text: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, line) for non-blank lines; JSON strings cannot hold raw newlines, so lines are rows."""
    for number, line in enumerate(text, start=1):
        if number == 1:
            line = line.lstrip("\ufeff")
        if line.strip():
            yield number, line


def _peek_json_lines(lines: Iterator[tuple[int, str]]) -> list[SourceRow]:
    peeked: list[SourceRow] = []
    for number, line in lines:
        peeked.append(_json_line_row(number, line))
        if len(peeked) >= _JSON_PEEK_ROWS:
            break
    return peeked


def _json_line_row(number: int, line: str) -> SourceRow:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return SourceRow(number, None, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return SourceRow(number, None, "malformed JSON: nested too deeply")
    return _json_object_row(number, value, line)


def _json_object_row(number: int, value: Any, source_text: str | None = None) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(number, None, f"expected a JSON object, got {_json_type(value)}")
    if source_text is not None and _is_clean(source_text):
        return SourceRow(number, value)
    for key, item in value.items():
        rendered = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        if not _is_clean(rendered):
            return SourceRow(number, value, f"undecodable bytes in field {key!r} (is the file UTF-8?)", key)
    if not all(_is_clean(key) for key in value):
        return SourceRow(number, value, "undecodable bytes in a field name (is the file UTF-8?)")
    return SourceRow(number, value)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


def _json_document_rows(path: Path, text: IO[str], total: int) -> list[SourceRow]:
    if total > JSON_DOCUMENT_MAX_BYTES:
        raise FileFormatError(
            f"{path}: a JSON array larger than {JSON_DOCUMENT_MAX_BYTES // 2**20} MB; "
            "export it as JSON Lines (one object per line) instead"
        )
    content = text.read().lstrip("\ufeff")
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise FileFormatError(f"{path}: JSON nested too deeply") from None
    return _document_rows(path, document, content)


def _try_json_document(path: Path, encoding: str, total: int) -> list[SourceRow] | None:
    """A pretty-printed JSON document read whole, or None when the file is not one (so: JSON Lines)."""
    if total > JSON_DOCUMENT_MAX_BYTES:
        return None
    content = path.read_bytes().decode(encoding, "surrogateescape").lstrip("\ufeff")
    try:
        document = json.loads(content)
    except (json.JSONDecodeError, RecursionError):
        return None
    return _document_rows(path, document, content)


def _document_rows(path: Path, document: Any, content: str) -> list[SourceRow]:
    """Rows of a JSON document: an array of objects, ``{"data": [...]}`` style wrappers, or one object."""
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(item, dict) for item in lists[0]):
            document = lists[0]
        else:
            document = [document]
    if not isinstance(document, list):
        raise FileFormatError(f"{path}: expected JSON objects, found {_json_type(document)}")
    clean = _is_clean(content)
    return [
        _json_object_row(index, item, content if clean else None)
        for index, item in enumerate(document, start=1)
    ]


# --- XLSX ------------------------------------------------------------------------------------------


def check_xlsx_container(path: Path) -> None:
    """Refuse a file that is not an xlsx workbook, or whose zip would inflate to a bomb."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_OLE_SIGNATURE):
        raise FileFormatError(
            f"{path}: an old Excel 97-2003 .xls or a password-protected workbook; "
            "save it as .xlsx (without password) or CSV"
        )
    if not zipfile.is_zipfile(path):
        raise FileFormatError(
            f"{path}: not an Excel .xlsx workbook (not a zip file); if it is a CSV, use --format csv"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileFormatError(f"{path}: not an Excel .xlsx workbook: {exc}") from None
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise FileFormatError(f"{path}: a zip file but not an Excel .xlsx workbook (no xl/workbook.xml)")
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED_BYTES:
        raise FileFormatError(
            f"{path}: refused: it would inflate to {total / 2**30:.1f} GB "
            f"(limit {XLSX_MAX_UNCOMPRESSED_BYTES / 2**30:.0f} GB); it looks like a zip bomb"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > XLSX_MAX_COMPRESSION_RATIO:
            raise FileFormatError(
                f"{path}: refused: {member.filename} is compressed {ratio:.0f}:1 "
                f"(limit {XLSX_MAX_COMPRESSION_RATIO}:1); it looks like a zip bomb"
            )


def _open_xlsx(path: Path, sheet: str | int | None) -> RowSource:
    check_xlsx_container(path)
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileFormatError(f"{path}: cannot read the workbook: {exc}") from None
    try:
        worksheet = _pick_sheet(path, workbook, sheet)
        expected_rows = worksheet.max_row or 0
        worksheet.reset_dimensions()  # some exporters write a wrong dimension; read what is there
        rows = enumerate(worksheet.iter_rows(values_only=True), start=1)
        header, header_row = _read_sheet_header(path, rows)
    except BaseException:
        workbook.close()
        raise
    columns = header_names(_trim_trailing(header), letters=True)
    total = path.stat().st_size
    state = {"row": header_row}

    def position() -> int:
        return total * state["row"] // expected_rows if expected_rows else 0

    return RowSource(
        path,
        "xlsx",
        None,
        columns,
        _sheet_rows(rows, columns, state),
        position=position,
        total=total,
        close=workbook.close,
    )


def _pick_sheet(path: Path, workbook: Any, sheet: str | int | None) -> Any:
    sheets = workbook.worksheets
    names = [ws.title for ws in sheets]
    if not sheets:
        raise FileFormatError(f"{path}: the workbook has no worksheets")
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, int):
        if 0 <= sheet < len(sheets):
            return sheets[sheet]
    elif sheet in names:
        return sheets[names.index(sheet)]
    raise FileFormatError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")


def _read_sheet_header(
    path: Path, rows: Iterator[tuple[int, tuple[Any, ...]]]
) -> tuple[tuple[Any, ...], int]:
    for number, cells in rows:
        if _has_content(cells):
            return tuple(cells), number
    raise FileFormatError(f"{path}: the first sheet is empty (no header row)")


def _has_content(cells: tuple[Any, ...] | list[Any]) -> bool:
    return any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in cells)


def _trim_trailing(cells: tuple[Any, ...]) -> tuple[Any, ...]:
    end = len(cells)
    while end and not _has_content(cells[end - 1 : end]):
        end -= 1
    return cells[:end]


def _sheet_rows(
    rows: Iterator[tuple[int, tuple[Any, ...]]], columns: list[str], state: dict[str, int]
) -> Iterator[SourceRow]:
    width = len(columns)
    for number, cells in rows:
        state["row"] = number
        if not _has_content(cells):
            continue
        values = dict(zip(columns, cells, strict=False))
        for column in columns[len(cells) :]:
            values[column] = None
        extra = [
            index
            for index in range(width, len(cells))
            if cells[index] is not None and (not isinstance(cells[index], str) or cells[index].strip())
        ]
        if extra:
            letter = _column_letter(extra[0] + 1)
            yield SourceRow(
                number,
                values,
                f"a value in column {letter}, right of the header's last column ({_column_letter(width)})",
                letter,
            )
            continue
        yield SourceRow(number, values)


# --- mapping ---------------------------------------------------------------------------------------

_SYNONYMS = synonym_index()


def resolve_mapping(
    columns: list[str], user_map: dict[str, str], *, path: Path | None = None
) -> dict[str, str]:
    """field -> column: the user's ``--map`` first, then columns whose names are known synonyms.

    Raises ``FileFormatError`` for an unknown field or column in ``user_map``, or when no column holds
    the feedback text. Each column feeds at most one automatically mapped field.
    """
    where = f"{path}: " if path is not None else ""
    mapping: dict[str, str] = {}
    for field, column in user_map.items():
        if field not in MAPPABLE_FIELDS:
            raise FileFormatError(
                f"{where}--map {field}={column}: {field!r} is not a feedback field; "
                f"fields: {', '.join(MAPPABLE_FIELDS)}"
            )
        mapping[field] = _find_column(columns, column, field, where)
    used = set(mapping.values())
    normalized = [(normalize_column_name(column), column) for column in columns]
    for field, ranks in _SYNONYMS.items():
        if field in mapping:
            continue
        candidates = [
            (ranks[key], column) for key, column in normalized if key in ranks and column not in used
        ]
        if candidates:
            column = min(candidates, key=lambda candidate: candidate[0])[1]
            mapping[field] = column
            used.add(column)
    if "text" not in mapping:
        looked_for = ", ".join((*FIELD_SYNONYMS["text"][:4], "评论内容", "评价内容", "评论", "内容"))
        found = ", ".join(columns) or "(none)"
        raise FileFormatError(
            f"{where}no column for the feedback text (looked for {looked_for} …); "
            f"columns found: {found}. Use --map text=COLUMN"
        )
    return {field: mapping[field] for field in MAPPABLE_FIELDS if field in mapping}


def _find_column(columns: list[str], wanted: str, field: str, where: str) -> str:
    """The column called ``wanted``: exactly, else the one column equal to it ignoring case and spaces."""
    if wanted in columns:
        return wanted
    key = normalize_column_name(wanted)
    close = [column for column in columns if normalize_column_name(column) == key]
    if len(close) == 1:
        return close[0]
    raise FileFormatError(
        f"{where}--map {field}={wanted}: no column {wanted!r}; "
        f"columns found: {', '.join(columns) or '(none)'}"
    )


def split_fields(values: dict[str, Any], mapping: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(mapped fields for ``record_from_fields``, metadata: every other column with a non-empty value).

    Metadata values are kept as read, except dates and times, which become ISO 8601 strings for JSON.
    """
    fields = {field: values.get(column) for field, column in mapping.items()}
    mapped = set(mapping.values())
    metadata: dict[str, Any] = {}
    for column, value in values.items():
        if column in mapped or value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, datetime | date | time):
            value = value.isoformat()
        metadata[column] = value
    return fields, metadata
