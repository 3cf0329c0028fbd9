"""The demo's orders and feature use tell their story on the behaviour page: 扫码支付 users complain most,
frequent buyers are promoters, spend falls after a complaint, and silent unhappy customers head the at-risk
list. The feedback is analysed from the generator's answer key (no model), as the alert tests do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from closeloop.collect.ingest import ChannelCache, write_batch
from closeloop.demo.behaviour import BUGGY_FEATURE, load_demo_behaviour
from closeloop.demo.generate import generate_demo
from closeloop.insight.aggregates import InsightFilter
from closeloop.insight.behaviour import at_risk, behaviour
from closeloop.store.models import Analysis, CustomerEvent, FeedbackItem

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def store_demo(factory) -> None:
    demo = generate_demo(items=3000, days=180, seed=7, now=NOW)
    with factory() as session:
        write_batch(
            session, demo.feedback, channels=ChannelCache(session), emit_event=False, redact_pii=False
        )
        truth = session.execute(select(FeedbackItem.id, FeedbackItem.kind, FeedbackItem.meta)).all()
        session.execute(
            insert(Analysis),
            [
                {
                    "feedback_id": item_id,
                    "model_version": "answer-key",
                    "sentiment": meta["demo_truth"]["sentiment"],
                    "complaint": kind == "complaint",
                    "categories": [],
                    "aspects": [],
                    "needs_review": False,
                }
                for item_id, kind, meta in truth
            ],
        )
        session.commit()


def test_the_demo_behaviour_story(db):
    store_demo(db)
    added = load_demo_behaviour(db, seed=7, now=NOW)
    assert added > 5000
    assert load_demo_behaviour(db, seed=7, now=NOW) == 0  # once per database
    with db() as session:
        assert session.scalar(select(func.count()).select_from(CustomerEvent)) == added
        figures = behaviour(
            session, InsightFilter(since=NOW - timedelta(days=180), until=NOW), days=30, now=NOW
        )
        risky = at_risk(session, InsightFilter(until=NOW), days=30, now=NOW)

    features = figures["features"]
    assert features[0]["feature"] == BUGGY_FEATURE
    assert features[0]["complaint_rate"] > 1.2 * max(f["complaint_rate"] for f in features[1:])

    nps = {row["bucket"]: row["nps"] for row in figures["frequency"]}
    assert nps["4+"] > nps["2-3"] > nps["1"]

    (cny,) = figures["spend"]["currencies"]
    assert cny["currency"] == "CNY" and figures["spend"]["customers"] > 50
    assert cny["avg_after"] < 0.8 * cny["avg_before"]

    top = risky["customers"][:20]
    assert risky["total"] > 0
    assert all(c["score"] >= top[-1]["score"] for c in top)
    silent_churners = [
        c for c in top if {"silent_negative", "falling_activity"} <= {r["code"] for r in c["reasons"]}
    ]
    assert len(silent_churners) >= 10
