"""Text search (``?q=``) finds Chinese and English substrings; on PostgreSQL a trigram index serves it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from closeloop.store.models import FeedbackItem
from closeloop.store.queries import FeedbackFilter, filtered

ITEMS = [
    {"channel": "api", "text": "物流太慢了，一个星期才到"},
    {"channel": "api", "text": "客服态度很好，物流也快"},
    {"channel": "api", "text": "包装破损，要求退款"},
    {"channel": "api", "text": "The delivery was late again"},
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("物流太慢", [0]), ("物流", [0, 1]), ("要求退款", [2]), ("delivery was", [3]), ("无此内容", [])],
)
def test_search_finds_chinese_and_english_substrings(client, query, expected):
    ids = client.post("/api/v1/feedback/batch", json={"items": ITEMS}).json()["ids"]
    found = client.get("/api/v1/feedback", params={"q": query}).json()["items"]
    assert sorted(item["id"] for item in found) == sorted(ids[i] for i in expected)


def test_postgresql_search_can_use_the_trigram_index(db, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the trigram index exists on PostgreSQL only")
    stmt = filtered(select(FeedbackItem.id), FeedbackFilter(q="一个星期才到"))
    sql = stmt.compile(compile_kwargs={"literal_binds": True})
    with db() as session:
        # Few rows in a test table: forbid the sequential scan to see whether the index applies at all.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))
    assert "ix_feedback_items_text_trgm" in plan, plan
