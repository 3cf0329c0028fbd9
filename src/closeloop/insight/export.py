"""Feedback exported as CSV that is safe to open in a spreadsheet.

Excel, WPS and LibreOffice run a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return before one of them) as a formula: a review reading ``=HYPERLINK("http://evil", "click")`` would
become a live link. Every such cell is prefixed with a single quote, which spreadsheets show as text
(OWASP "CSV injection"). Numbers written by closeloop itself (ratings, scores) are left as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Response

from closeloop.store.models import FeedbackItem

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

EXPORT_COLUMNS = (
    "id",
    "channel",
    "kind",
    "created_at",
    "customer_id",
    "product",
    "order_id",
    "rating",
    "text",
    "language",
    "sentiment",
    "sentiment_score",
    "complaint",
    "categories",
    "model_version",
)


def spreadsheet_safe(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then quoted as text."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def feedback_row(item: FeedbackItem) -> dict[str, Any]:
    analysis = item.analyses[-1] if item.analyses else None
    return {
        "id": item.id,
        "channel": item.channel,
        "kind": item.kind,
        "created_at": item.created_at.isoformat(),
        "customer_id": item.customer_id,
        "product": item.product,
        "order_id": item.order_id,
        "rating": item.rating,
        "text": item.text,
        "language": item.language,
        "sentiment": analysis.sentiment if analysis else None,
        "sentiment_score": analysis.sentiment_score if analysis else None,
        "complaint": analysis.complaint if analysis else None,
        "categories": ";".join(analysis.categories or []) if analysis else None,
        "model_version": analysis.model_version if analysis else None,
    }


def csv_lines(rows: Iterable[dict[str, Any]], columns: Iterable[str] = EXPORT_COLUMNS) -> Iterator[str]:
    """CSV text (UTF-8 with a BOM so Excel reads Chinese), one chunk per row, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    buffer.write("\ufeff")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# ------------------------------------------------------------------------------ dashboard views as tables

Sheet = tuple[list[str], list[list[Any]]]  # (headers, rows)
ExportFormat = Literal["csv", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})

# Column and sheet names in Chinese and English, by key.
HEADERS: dict[str, tuple[str, str]] = {
    "period": ("期间", "Period"),
    "volume": ("反馈量", "Volume"),
    "analysed": ("已分析", "Analysed"),
    "positive": ("正面", "Positive"),
    "neutral": ("中性", "Neutral"),
    "negative": ("负面", "Negative"),
    "complaints": ("投诉数", "Complaints"),
    "negative_share": ("负面占比", "Negative share"),
    "complaint_rate": ("投诉率", "Complaint rate"),
    "nps": ("NPS", "NPS"),
    "csat": ("CSAT (%)", "CSAT (%)"),
    "category_id": ("类别 ID", "Category id"),
    "category": ("类别", "Category"),
    "segment": ("细分", "Segment"),
    "tier": ("会员等级", "Tier"),
    "region": ("地区", "Region"),
    "channel": ("渠道", "Channel"),
    "product": ("产品", "Product"),
    "score": ("方面得分", "Aspect score"),
    "metric": ("指标", "Metric"),
    "current": ("本期", "This period"),
    "previous": ("上期", "Previous period"),
    "change": ("变化", "Change"),
    "id": ("编号", "Id"),
    "created_at": ("时间", "Time"),
    "kind": ("类型", "Kind"),
    "rating": ("评分", "Rating"),
    "text": ("原文", "Text"),
    "language": ("语言", "Language"),
    "sentiment": ("情感", "Sentiment"),
    "complaint": ("投诉", "Complaint"),
    "categories": ("类别", "Categories"),
    "corrected": ("人工更正", "Corrected"),
    "sheet_trend": ("趋势", "Trend"),
    "sheet_categories": ("类别", "Categories"),
    "sheet_totals": ("汇总", "Totals"),
    "sheet_segments": ("细分", "Segments"),
    "sheet_aspects": ("方面情感", "Aspects"),
    "sheet_verbatims": ("原声", "Verbatims"),
}


def header(key: str, lang: str) -> str:
    """The column or sheet name of ``key`` in ``lang`` (zh or en); the key itself when unknown."""
    names = HEADERS.get(key)
    if names is None:
        return key
    return names[1] if lang == "en" else names[0]


def headers(keys: Iterable[str], lang: str) -> list[str]:
    return [header(key, lang) for key in keys]


def _category_name(row: dict[str, Any], lang: str) -> str:
    return row.get("name_en" if lang == "en" else "name_zh") or row.get("id") or ""


def overview_sheets(overview: dict[str, Any], lang: str = "zh") -> dict[str, Sheet]:
    """The overview (``aggregates.overview``) as three sheets: the series per period, the top categories
    and the totals against the period before. The first sheet is what a CSV download holds."""
    series_keys = [
        "volume", "positive", "neutral", "negative", "complaints", "negative_share", "complaint_rate",
        "nps", "csat",
    ]  # fmt: skip
    series = overview["series"]
    trend = [
        [period, *(series[key][n] for key in series_keys)] for n, period in enumerate(overview["periods"])
    ]
    category_keys = ["volume", "negative_share", "complaint_rate"]
    categories = [
        [row["id"], _category_name(row, lang), *(row[key] for key in category_keys)]
        for row in overview["categories"]
    ]
    totals = [
        [header(key, lang), overview["totals"][key], overview["previous"][key], overview["change"][key]]
        for key in overview["totals"]
    ]
    return {
        header("sheet_trend", lang): (headers(["period", *series_keys], lang), trend),
        header("sheet_categories", lang): (
            headers(["category_id", "category", *category_keys], lang),
            categories,
        ),
        header("sheet_totals", lang): (headers(["metric", "current", "previous", "change"], lang), totals),
    }


def segments_sheets(segments: list[dict[str, Any]], by: str, lang: str = "zh") -> dict[str, Sheet]:
    """The segment breakdown (``aggregates.segments``) as one sheet, the segment column named after ``by``."""
    keys = ["volume", "negative_share", "complaint_rate", "nps", "csat", "analysed"]
    rows = [[row["segment"], *(row[key] for key in keys)] for row in segments]
    return {header("sheet_segments", lang): (headers([by, *keys], lang), rows)}


def aspects_sheets(heat_map: dict[str, Any], lang: str = "zh") -> dict[str, Sheet]:
    """The aspect heat map (``aggregates.aspects``) in long form: one row per category and column."""
    column_key = "period" if heat_map["by"] == "period" else "product"
    keys = ["positive", "negative", "neutral", "score"]
    rows = []
    for names, cells in zip(heat_map["row_names"], heat_map["cells"], strict=True):
        for column, cell in zip(heat_map["columns"], cells, strict=True):
            rows.append([names["id"], _category_name(names, lang), column, *(cell[key] for key in keys)])
    return {
        header("sheet_aspects", lang): (headers(["category_id", "category", column_key, *keys], lang), rows)
    }


VERBATIM_COLUMNS = (
    "id", "created_at", "channel", "kind", "product", "rating", "text", "language", "sentiment", "complaint",
    "categories", "corrected",
)  # fmt: skip


def verbatim_row(item: FeedbackItem, effective: dict[str, Any]) -> list[Any]:
    """One verbatim with its effective (label-corrected) analysis, in ``VERBATIM_COLUMNS`` order."""
    return [
        item.id,
        item.created_at.isoformat(),
        item.channel,
        item.kind,
        item.product,
        item.rating,
        item.text,
        item.language,
        effective["sentiment"],
        effective["complaint"],
        ";".join(effective["categories"]),
        ";".join(effective["corrected"]),
    ]


def verbatims_sheets(rows: Iterable[list[Any]], lang: str = "zh") -> dict[str, Sheet]:
    """Verbatim rows (from ``verbatim_row``) as one sheet."""
    return {header("sheet_verbatims", lang): (headers(VERBATIM_COLUMNS, lang), list(rows))}


# ------------------------------------------------------------------------------------------ file writers


def rows_to_csv(column_names: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """CSV text with a BOM (Excel reads Chinese), a header line and every cell spreadsheet-safe."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(name) for name in column_names])
    for row in rows:
        writer.writerow([spreadsheet_safe(value) for value in row])
    return buffer.getvalue()


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet title for ``name`` (no ``[]:*?/\\``, at most 31 characters)."""
    base = (name.translate(SHEET_NAME_FORBIDDEN).strip("'") or "Sheet")[:31]
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def rows_to_xlsx(sheets: dict[str, Sheet]) -> bytes:
    """An Excel workbook with one sheet per entry; text a spreadsheet would run as a formula is quoted
    (openpyxl would otherwise store a string starting with ``=`` as a live formula)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    for name, (column_names, rows) in sheets.items():
        sheet = workbook.create_sheet(sheet_title(name, taken))
        sheet.append([spreadsheet_safe(value) for value in column_names])
        for row in rows:
            sheet.append([spreadsheet_safe(value) for value in row])
    if not sheets:
        workbook.create_sheet("Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_bytes(sheets: dict[str, Sheet], export_format: ExportFormat) -> bytes:
    """The file content of ``sheets``: a workbook for xlsx; for csv the first sheet (UTF-8 with a BOM)."""
    if export_format == "xlsx":
        return rows_to_xlsx(sheets)
    column_names, rows = next(iter(sheets.values()), ([], []))
    return rows_to_csv(column_names, rows).encode("utf-8")


def download_response(
    sheets: dict[str, Sheet], export_format: ExportFormat, *, name: str, now: datetime | None = None
) -> Response:
    """An HTTP download (``Content-Disposition: attachment``) of ``sheets`` as CSV or xlsx, named
    ``closeloop-<name>-<UTC time>.<format>``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    filename = f"closeloop-{name}-{stamp}.{export_format}"
    return Response(
        export_bytes(sheets, export_format),
        media_type=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
