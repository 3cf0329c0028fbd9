"""Text search (``?q=``) finds Chinese and English substrings, case-insensitively; on PostgreSQL a trigram
index serves queries of 3+ characters and a character-gram index serves 1–2 character queries."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

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
    sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with db() as session:
        # Few rows in a test table: forbid the sequential scan to see whether the index applies at all.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))
    assert "ix_feedback_items_text_trgm" in plan, plan


MIXED = [
    *ITEMS,
    {"channel": "api", "text": "DELIVERY delayed, 物流慢"},
    {"channel": "api", "text": "Déjà vu: 退款还没到账 100% 不满意"},
    {"channel": "api", "text": "snake_case 物"},
    {"channel": "api", "text": "流物"},
]
SHORT_QUERIES = ["物流", "流物", "退款", "慢", "物", "，物", "de", "DE", "De", "la", "dé", "0%", "%", "_",
                 "e_", "退货", "zz"]  # fmt: skip


def test_short_queries_return_what_a_plain_scan_finds(client, database_url):
    ids = client.post("/api/v1/feedback/batch", json={"items": MIXED}).json()["ids"]
    # SQLite's lower() folds ASCII only; PostgreSQL's (what ILIKE and the gram index use) folds "É" too.
    unicode_case = ["DÉ"] if database_url.startswith("postgresql") else []
    for query in SHORT_QUERIES + unicode_case:
        found = client.get("/api/v1/feedback", params={"q": query}).json()["items"]
        scanned = [ids[i] for i, item in enumerate(MIXED) if query.lower() in item["text"].lower()]
        assert sorted(item["id"] for item in found) == sorted(scanned), query


def test_short_queries_find_something_and_miss_something(client):
    """Guards the comparison above against a vacuous pass (everything found or nothing found)."""
    ids = client.post("/api/v1/feedback/batch", json={"items": MIXED}).json()["ids"]
    found = {q: [item["id"] for item in client.get("/api/v1/feedback", params={"q": q}).json()["items"]]
             for q in ("物流", "de", "退货")}  # fmt: skip
    assert sorted(found["物流"]) == sorted([ids[0], ids[1], ids[4]])
    assert sorted(found["de"]) == sorted([ids[3], ids[4]])  # "delivery", "DELIVERY delayed"
    assert found["退货"] == []


@pytest.mark.parametrize("query", ["物流", "慢", "de"])
def test_postgresql_short_search_uses_the_char_gram_index(db, database_url, query):
    if not database_url.startswith("postgresql"):
        pytest.skip("the character-gram index exists on PostgreSQL only")
    stmt = filtered(select(FeedbackItem.id), FeedbackFilter(q=query))
    sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with db() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))
    assert "ix_feedback_items_text_grams" in plan, plan
