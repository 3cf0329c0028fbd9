"""Reading exports: CSV/TSV/JSON Lines/XLSX, encodings, broken rows, zip bombs, column mapping."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from closeloop.collect.files import (
    FileFormatError,
    SourceRow,
    detect_encoding,
    detect_format,
    open_rows,
    resolve_mapping,
    sniff_delimiter,
    split_fields,
)
from closeloop.collect.records import record_from_fields

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def read_all(path: Path, fmt: str | None = None, **kwargs: object) -> tuple[list[str], list[SourceRow], str]:
    with open_rows(path, fmt, **kwargs) as source:  # type: ignore[arg-type]
        rows = list(source)
        return list(source.columns), rows, str(source.encoding)


# --- format ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("a.csv", None, "csv"),
        ("a.TSV", None, "csv"),
        ("a.txt", None, "csv"),
        ("a.jsonl", None, "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("a.json", None, "jsonl"),
        ("a.xlsx", None, "xlsx"),
        ("export", "CSV", "csv"),
        ("a.csv", "json", "jsonl"),
    ],
)
def test_detect_format(name: str, declared: str | None, expected: str) -> None:
    assert detect_format(Path(name), declared) == expected


@pytest.mark.parametrize(("name", "declared", "message"), [
    ("a.pdf", None, "cannot tell the format"),
    ("a.xls", None, "save it as .xlsx"),
    ("a.csv", "parquet", "unknown format"),
])
def test_detect_format_refuses(name: str, declared: str | None, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        detect_format(Path(name), declared)


# --- encodings ------------------------------------------------------------------------------------

REVIEWS_ZH = [
    "物流很快，包装完好，五星好评！",
    "质量太差了，用了两天就坏了，客服也不理人。",
    "还行吧，性价比一般。",
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"text,rating\nplain ascii,5\n", "utf-8"),
        ("评论内容,评分\n很好,5\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "评论内容\n很好\n".encode(), "utf-8-sig"),
        ("评论内容,评分\n" + "\n".join(REVIEWS_ZH * 20), "gb18030"),
        ("\ufeff评论\tx\n很好\t1\n".encode("utf-16-le"), "utf-16"),
    ],
)
def test_detect_encoding(data: bytes | str, expected: str) -> None:
    sample = data.encode("gbk") if isinstance(data, str) else data
    assert detect_encoding(sample) == expected


def test_detect_encoding_ignores_a_character_cut_at_the_sample_end() -> None:
    utf8 = ("评论内容\n" + "很好" * 50).encode()
    gbk = ("评论内容\n" + "很好" * 50).encode("gbk")
    assert detect_encoding(utf8[:-1]) == "utf-8"
    assert detect_encoding(gbk[:-1]) == "gb18030"


def test_detect_encoding_keeps_utf8_despite_a_stray_byte() -> None:
    sample = ("评论内容\n" + "物流很快，包装完好\n" * 100).encode() + b"bad \xff byte\n"
    assert detect_encoding(sample) == "utf-8"


def test_gbk_csv_reads_chinese(tmp_path: Path) -> None:
    path = tmp_path / "taobao.csv"
    lines = "".join(f"{text},{i + 1},买家{i}\n" for i, text in enumerate(REVIEWS_ZH))
    body = "评价内容,评分,买家昵称\n" + lines
    path.write_bytes(body.encode("gbk"))
    columns, rows, encoding = read_all(path)
    assert encoding == "gb18030"
    assert columns == ["评价内容", "评分", "买家昵称"]
    assert [row.values["评价内容"] for row in rows if row.values] == REVIEWS_ZH
    assert all(row.error is None for row in rows)


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "评论内容,评分\n很好,5\n".encode())
    columns, rows, encoding = read_all(path)
    assert encoding == "utf-8-sig"
    assert columns == ["评论内容", "评分"]
    assert rows[0].values == {"评论内容": "很好", "评分": "5"}


def test_bom_stripped_even_with_declared_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext\nhello\n")
    columns, _rows, _encoding = read_all(path, encoding="utf-8")
    assert columns == ["text"]


def test_stray_invalid_byte_deep_in_a_utf8_file_is_one_row_error(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = [b"id,text,rating"]
    for n in range(1, 6001):
        text = f"第{n}条评论，物流很快"
        raw = text.encode()
        if n == 4999:  # the data row on line 5000
            raw = raw + b"\xff\xfe"
        lines.append(b"%d," % n + raw + b",5")
    path.write_bytes(b"\n".join(lines) + b"\n")
    _columns, rows, encoding = read_all(path)
    assert encoding == "utf-8"
    assert len(rows) == 6000
    bad = [row for row in rows if row.error]
    assert len(bad) == 1
    assert bad[0].row_number == 5000
    assert bad[0].error_field == "text"
    assert "undecodable bytes in column 'text'" in bad[0].error
    assert rows[-1].values == {"id": "6000", "text": "第6000条评论，物流很快", "rating": "5"}


def test_declared_encoding_wins(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("评论\n很好\n".encode("gbk"))
    columns, rows, encoding = read_all(path, encoding="gbk")
    assert encoding == "gb18030"  # GBK is read as its superset
    assert columns == ["评论"] and rows[0].values == {"评论": "很好"}
    with pytest.raises(FileFormatError, match="unknown encoding"):
        open_rows(path, encoding="klingon-8")


def test_wrong_declared_encoding_gives_row_errors_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("text\n很好\nok\n".encode("gbk"))
    _columns, rows, _encoding = read_all(path, encoding="utf-8")
    assert rows[0].error and rows[0].error_field == "text"
    assert rows[1].error is None and rows[1].values == {"text": "ok"}


# --- CSV shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "prefer_tab", "expected"),
    [
        ("a,b,c\n1,2,3\n", False, ","),
        ("a\tb\tc\n1\t2\t3\n", False, "\t"),
        ("a;b;c\n1;2,5;3\n", False, ";"),
        ("text\nhello, world\n", False, ","),
        ("a,b\tc\n", True, "\t"),
    ],
)
def test_sniff_delimiter(sample: str, prefer_tab: bool, expected: str) -> None:
    assert sniff_delimiter(sample, prefer_tab=prefer_tab) == expected


def test_tsv_and_semicolon_files(tmp_path: Path) -> None:
    tsv = tmp_path / "export.tsv"
    tsv.write_text("content\tstars\n好用, 推荐\t5\n", encoding="utf-8")
    semi = tmp_path / "export.csv"
    semi.write_text("comment;score\nbon produit, rapide;4\n", encoding="utf-8")
    assert read_all(tsv)[1][0].values == {"content": "好用, 推荐", "stars": "5"}
    assert read_all(semi)[1][0].values == {"comment": "bon produit, rapide", "score": "4"}


def test_quoted_multiline_field_counts_as_one_row(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('text,rating\n"第一行\n第二行\n第三行",5\nnext,4\n', encoding="utf-8")
    _columns, rows, _encoding = read_all(path)
    assert rows[0] == SourceRow(2, {"text": "第一行\n第二行\n第三行", "rating": "5"})
    assert rows[1].row_number == 3  # the spreadsheet row, not the text line (5)


def test_row_numbers_count_blank_lines_and_skip_them(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("text,rating\nfirst,5\n\n,\nfourth,3\n", encoding="utf-8")
    _columns, rows, _encoding = read_all(path)
    numbered = [(row.row_number, row.values["text"]) for row in rows if row.values]
    assert numbered == [(2, "first"), (5, "fourth")]


def test_more_fields_than_header_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("text,rating\n好,5\n坏,1,多余\n短\nok,3,,\n", encoding="utf-8")
    _columns, rows, _encoding = read_all(path)
    assert rows[0].error is None
    assert rows[1].row_number == 3
    assert rows[1].error == "row has 3 fields but the header has 2 (an unquoted delimiter in a value?)"
    assert rows[2].values == {"text": "短", "rating": ""} and rows[2].error is None
    assert rows[3].values == {"text": "ok", "rating": "3"} and rows[3].error is None  # trailing empties


def test_nul_byte_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"text,rating\nbad\x00text,5\ngood,4\n")
    _columns, rows, _encoding = read_all(path)
    assert rows[0].error == "NUL byte in column 'text'" and rows[0].error_field == "text"
    assert rows[1] == SourceRow(3, {"text": "good", "rating": "4"})


def test_duplicate_and_blank_header_names_stay_distinct(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("评论, ,评论\na,b,c\n", encoding="utf-8")
    columns, rows, _encoding = read_all(path)
    assert columns == ["评论", "column_2", "评论_2"]
    assert rows[0].values == {"评论": "a", "column_2": "b", "评论_2": "c"}


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_refused_with_its_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=r"empty\.csv"):
        open_rows(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no such file"):
        open_rows(tmp_path / "nope.csv")


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("text\n" + "".join(f"review {n}\n" for n in range(50_000)), encoding="utf-8")
    size = path.stat().st_size
    with open_rows(path) as source:
        assert source.progress()[1] == size
        iterator = iter(source)
        for _ in range(10):
            next(iterator)
        early = source.progress()[0]
        rest = sum(1 for _ in iterator)
        assert rest == 49_990
        assert early < size
        assert source.progress() == (size, size)


# --- JSON -----------------------------------------------------------------------------------------


def test_jsonl_rows_errors_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    lines = [
        json.dumps({"content": "很好", "score": 5}, ensure_ascii=False),
        "",
        '{"content": "broken",',
        "[1, 2]",
        json.dumps({"content": "ok", "score": 4, "sku": "A-1"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    columns, rows, _encoding = read_all(path)
    assert columns == ["content", "score", "sku"]
    assert rows[0] == SourceRow(1, {"content": "很好", "score": 5})
    assert rows[1].row_number == 3 and rows[1].values is None
    assert rows[1].error is not None and rows[1].error.startswith("malformed JSON: ")
    assert rows[2].row_number == 4 and rows[2].error == "expected a JSON object, got an array"
    assert rows[3] == SourceRow(5, {"content": "ok", "score": 4, "sku": "A-1"})


def test_jsonl_columns_grow_past_the_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    objects = [{"text": f"t{n}"} for n in range(300)] + [{"text": "late", "order_id": "O-9"}]
    path.write_text("\n".join(json.dumps(o) for o in objects), encoding="utf-8")
    with open_rows(path) as source:
        assert source.columns == ["text"]
        rows = list(source)
        assert source.columns == ["text", "order_id"]
    assert len(rows) == 301 and rows[-1].row_number == 301


def test_jsonl_undecodable_bytes_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "good"}\n{"text": "bad \xff", "id": 2}\n')
    _columns, rows, _encoding = read_all(path)
    assert rows[0].error is None
    assert rows[1].error_field == "text" and "undecodable bytes" in (rows[1].error or "")


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    array = [{"text": "a"}, "oops", {"text": "b", "rating": 2}]
    path.write_text(json.dumps(array, indent=2), encoding="utf-8")
    columns, rows, _encoding = read_all(path)
    assert columns == ["text", "rating"]
    assert [row.row_number for row in rows] == [1, 2, 3]
    assert rows[1].error == "expected a JSON object, got a string"
    assert rows[2].values == {"text": "b", "rating": 2}


def test_pretty_printed_json_wrapper_object(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    wrapper = {"total": 2, "data": [{"text": "a"}, {"text": "b"}]}
    path.write_text(json.dumps(wrapper, indent=2), encoding="utf-8")
    _columns, rows, _encoding = read_all(path)
    assert [row.values for row in rows] == [{"text": "a"}, {"text": "b"}]


def test_invalid_json_array_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"text": "a"},\n {"text": }]', encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"broken.json: not valid JSON at line 2"):
        open_rows(path)


# --- XLSX -----------------------------------------------------------------------------------------


def write_workbook(path: Path, rows: list[list[object]], *, start_row: int = 1, title: str = "评价") -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for offset, row in enumerate(rows):
        for column, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=start_row + offset, column=column, value=value)
    workbook.save(path)


def test_xlsx_types_header_and_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "jd.xlsx"
    when = datetime(2024, 3, 5, 10, 30)
    write_workbook(path, [
        ["评价内容", "评分", "评价时间", None],
        ["很好用", 5, when],
        [None, None, None],
        ["一般", 3.5, when],
        ["多余", 1, when, None, "stray"],
    ], start_row=3)
    columns, rows, encoding = read_all(path)
    assert encoding == "None"
    assert columns == ["评价内容", "评分", "评价时间"]
    assert rows[0] == SourceRow(4, {"评价内容": "很好用", "评分": 5, "评价时间": when})
    assert rows[1].row_number == 6 and rows[1].values == {"评价内容": "一般", "评分": 3.5, "评价时间": when}
    assert rows[2].row_number == 7 and rows[2].error_field == "E"
    assert rows[2].error == "a value in column E, right of the header's last column (C)"


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["text"])
    workbook.active.append(["first sheet"])
    second = workbook.create_sheet("工单")
    second.append(["content"])
    second.append(["second sheet"])
    workbook.save(path)
    assert read_all(path)[1][0].values == {"text": "first sheet"}
    assert read_all(path, sheet="工单")[1][0].values == {"content": "second sheet"}
    assert read_all(path, sheet=1)[1][0].values == {"content": "second sheet"}
    with pytest.raises(FileFormatError, match="no sheet 'x'; sheets: Sheet, 工单"):
        open_rows(path, sheet="x")


def test_empty_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(FileFormatError, match=r"empty\.xlsx: the first sheet is empty"):
        open_rows(path)


def test_csv_named_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"fake\.xlsx: not an Excel \.xlsx workbook"):
        open_rows(path)


def test_other_zip_named_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "hello")
    with pytest.raises(FileFormatError, match=r"no xl/workbook\.xml"):
        open_rows(path)


def test_old_xls_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(FileFormatError, match="Excel 97-2003"):
        open_rows(path)


def test_zip_bomb_xlsx_is_refused_before_opening(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    write_workbook(path, [["text"], ["hello"]])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\x00" * (32 * 1024 * 1024))
    with pytest.raises(FileFormatError, match=r"bomb.xlsx: refused: .*looks like a zip bomb"):
        open_rows(path)


# --- mapping --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            ["评价内容", "评分", "评价时间", "买家昵称", "订单编号", "宝贝名称", "追评内容"],
            {"text": "评价内容", "rating": "评分", "created_at": "评价时间", "customer_name": "买家昵称",
             "product": "宝贝名称", "order_id": "订单编号"},
        ),
        (
            ["Review ID", "Content", "Star Rating", "Review Submit Date and Time", "Reviewer Language"],
            {"text": "Content", "rating": "Star Rating", "external_id": "Review ID",
             "created_at": "Review Submit Date and Time", "language": "Reviewer Language"},
        ),
        (
            ["Ticket ID", "Subject", "Description", "Requester email", "Requester", "Created at"],
            {"text": "Description", "external_id": "Ticket ID", "created_at": "Created at",
             "customer_name": "Requester", "customer_email": "Requester email", "title": "Subject"},
        ),
        (["评论", "时间", "评论时间"], {"text": "评论", "created_at": "评论时间"}),
    ],
)
def test_auto_mapping_from_known_names(columns: list[str], expected: dict[str, str]) -> None:
    assert resolve_mapping(columns, {}) == expected


def test_user_map_wins_and_is_case_insensitive() -> None:
    mapping = resolve_mapping(["评论", "追评内容", "score"], {"text": "追评内容", "rating": "SCORE"})
    assert mapping == {"text": "追评内容", "rating": "score"}


def test_a_column_feeds_one_automatic_field() -> None:
    assert resolve_mapping(["评论", "内容"], {}) == {"text": "评论"}
    mapping = resolve_mapping(["评论", "内容"], {"external_id": "评论"})
    assert mapping == {"text": "内容", "external_id": "评论"}
    assert resolve_mapping(["c"], {"text": "c", "title": "c"}) == {"text": "c", "title": "c"}


def test_user_map_errors_name_what_exists() -> None:
    with pytest.raises(FileFormatError, match=r"f.csv: --map colour=评论: 'colour' is not a feedback field"):
        resolve_mapping(["评论"], {"colour": "评论"}, path=Path("f.csv"))
    with pytest.raises(FileFormatError, match=r"no column '内容'; columns found: 评论, 评分"):
        resolve_mapping(["评论", "评分"], {"text": "内容"})


def test_missing_text_column_message() -> None:
    with pytest.raises(FileFormatError) as caught:
        resolve_mapping(["a", "b", "c"], {}, path=Path("x.csv"))
    message = str(caught.value)
    assert message.startswith("x.csv: no column for the feedback text (looked for text, ")
    assert "评论内容" in message and "columns found: a, b, c. Use --map text=COLUMN" in message


def test_split_fields_keeps_unmapped_non_empty_values_as_metadata() -> None:
    when = datetime(2024, 1, 2, 3, 4)
    fields, metadata = split_fields(
        {"评论": "好", "评分": "5", "颜色": "红色", "备注": " ", "空": None, "日期": when, "数量": 0},
        {"text": "评论", "rating": "评分"},
    )
    assert fields == {"text": "好", "rating": "5"}
    assert metadata == {"颜色": "红色", "日期": "2024-01-02T03:04:00", "数量": 0}


def test_rows_feed_record_from_fields(tmp_path: Path) -> None:
    path = tmp_path / "jd.csv"
    export = "评价内容,评分,评价时间,用户昵称,颜色\n屏幕很清楚,5星,2024-03-05 10:00,小王,黑色\n"
    path.write_bytes(export.encode("gbk"))
    with open_rows(path) as source:
        mapping = resolve_mapping(source.columns, {}, path=path)
        row = next(iter(source))
    assert row.values is not None
    fields, metadata = split_fields(row.values, mapping)
    record = record_from_fields(fields, channel="jd", metadata=metadata)
    assert record.text == "屏幕很清楚" and record.rating == 5.0
    assert record.created_at is not None and record.created_at.day == 5
    assert record.customer is not None and record.customer.name == "小王"
    assert record.metadata == {"颜色": "黑色"}


@pytest.mark.skipif(not (DATA / "waimai_10k" / "dev.csv").exists(), reason="shared review data not present")
def test_reads_a_real_review_export() -> None:
    path = DATA / "waimai_10k" / "dev.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        expected = sum(1 for row in csv.reader(handle) if row) - 1
    with open_rows(path) as source:
        mapping = resolve_mapping(source.columns, {}, path=path)
        rows = list(source)
    assert mapping["text"] == "text"
    assert len(rows) == expected
    assert all(row.error is None for row in rows)


def test_excel_unicode_text_export(tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"  # Excel "Unicode Text": UTF-16 with BOM, tab-separated
    path.write_bytes("评论内容\t评分\r\n很好, 推荐\t5\r\n".encode("utf-16"))
    columns, rows, encoding = read_all(path)
    assert encoding == "utf-16"
    assert columns == ["评论内容", "评分"]
    assert rows == [SourceRow(2, {"评论内容": "很好, 推荐", "评分": "5"})]


def test_xlsx_inflating_past_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "large.xlsx"
    write_workbook(path, [["text"], ["hello"]])
    monkeypatch.setattr("closeloop.collect.files.XLSX_MAX_UNCOMPRESSED_BYTES", 1024)
    with pytest.raises(FileFormatError, match=r"large\.xlsx: refused: it would inflate to .*zip bomb"):
        open_rows(path)


def test_broken_quoting_is_a_row_error_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text('text,rating\nok,5\n"bad"x,4\nnext,2\n"never closed,4\nmore,3\n', encoding="utf-8")
    _columns, rows, _encoding = read_all(path)
    outcome = [(row.row_number, row.error is None) for row in rows]
    assert outcome == [(2, True), (3, False), (4, True), (5, False)]
    assert rows[1].values is None and "closing quote" in (rows[1].error or "")
    assert "never closed" in (rows[3].error or "")
