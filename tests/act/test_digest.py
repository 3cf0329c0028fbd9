"""The team digest: new cases, SLA breaches and top themes with verbatims, e-mailed once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from closeloop.act.cases import detect_breaches, open_case
from closeloop.act.digest import build_digest, send_digests
from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import Analysis, FeedbackItem, Team

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning


def test_digest_counts_themes_and_is_sent_once(db, smtp_server):
    with db() as session:
        session.add(Team(name="logistics", label_zh="物流部", email="logistics@example.com"))
        texts = ["快递太慢了，一周才到", "物流信息不更新", "包装破了，东西洒了", "上个月的老问题"]
        ids = write_batch(session, [FeedbackRecord(text=t, channel="jd") for t in texts]).item_ids
        categories = [["logistics"], ["logistics"], ["packaging"], ["logistics"]]
        for item_id, cats in zip(ids, categories, strict=True):
            session.add(
                Analysis(feedback_id=item_id, model_version="t", sentiment="negative", categories=cats)
            )
        session.flush()
        items = {i.id: i for i in session.query(FeedbackItem)}
        for n, item_id in enumerate(ids[:3]):
            open_case(
                session,
                [items[item_id]],
                team="logistics",
                title=texts[n],
                first_response_within=timedelta(hours=4),
                now=NOW - timedelta(days=3),
            )
        open_case(session, [items[ids[3]]], team="logistics", title=texts[3], now=NOW - timedelta(days=30))
        detect_breaches(session, NOW - timedelta(days=2))
        session.commit()

        digest = build_digest(session, "logistics", since=NOW - timedelta(days=7), until=NOW)
        assert (digest.new_cases, digest.breaches, digest.open_cases) == (3, 3, 4)
        assert [(t["category"], t["cases"]) for t in digest.themes] == [("logistics", 2), ("packaging", 1)]
        assert digest.themes[0]["examples"] == ["快递太慢了，一周才到", "物流信息不更新"]

    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    assert send_digests(db, mailer, public_url="http://cx.example", now=NOW) == {"logistics": "sent"}
    assert send_digests(db, mailer, public_url="http://cx.example", now=NOW) == {"logistics": "already sent"}
    [mail] = smtp_server.messages
    body = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "logistics@example.com"
    assert "新工单 New cases: 3" in body and "超时 SLA breaches: 3" in body and "“包装破了，东西洒了”" in body
    assert "上个月的老问题" not in body
