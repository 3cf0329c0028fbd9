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
from typing import Any

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
