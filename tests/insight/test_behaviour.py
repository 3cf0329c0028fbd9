"""Behaviour beside feedback, on SQLite and PostgreSQL, against figures worked out by hand.

The story (UTC; window 2026-09-01 to 2026-10-01, "now" 2026-10-01):

    customer  feature use          orders (amount currency)                 feedback (effective)
    A gold    scan 09-05,          08-28 999 (outside), 09-03 10:00 100,    A1 09-10 negative complaint
              export 09-06         09-12 40 USD                             A2 09-12 NPS 9 positive
    B silver  scan 09-07           09-09 50 CNY                             B1 09-15 negative, label complaint
                                                                            B2 09-16 positive
                                                                            B3 09-17 NPS 6 neutral
                                                                            B4 09-18 NPS 10 positive
    C gold    export 09-08         09-02, 09-05, 09-08, 09-20: 10 each      C1 09-11 neutral, complaint
                                                                              (label: not a complaint)
                                                                            C2 09-20 NPS 10 positive
    D         —                    —                                        D1 09-14 NPS 2 negative
    E         —                    —                                        E1 08-01 NPS 9, E2 09-25 NPS 3
                                                                              (not analysed)
    F         scan 09-04, 09-05    —                                        F1 09-20 negative; F objected
                                                                              to analytics
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closeloop.insight.aggregates import InsightFilter
from closeloop.insight.behaviour import (
    CustomerSignals,
    Order,
    assess_risk,
    at_risk,
    behaviour,
    frequency_bucket,
    main_currency,
    normalised_score,
    order_amount,
    order_currency,
    risk_rows,
    risk_score,
    spend_comparison,
)
from closeloop.privacy.subjects import erase_customer
from closeloop.store.models import Analysis, Consent, Customer, CustomerEvent, FeedbackItem, Label

NOW = datetime(2026, 10, 1, tzinfo=UTC)
WINDOW = InsightFilter(since=datetime(2026, 9, 1, tzinfo=UTC), until=NOW)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def seed_behaviour(session: Session) -> dict[str, int]:
    """Write the story above; returns {customer letter: customer id}."""
    tiers = {"A": "gold", "B": "silver", "C": "gold", "D": None, "E": None, "F": None}
    customers = {letter: Customer(external_id=f"C-{letter}", tier=tier) for letter, tier in tiers.items()}
    session.add_all(customers.values())
    session.flush()
    events = [
        ("A", "feature_used", at(9, 5), {"feature": "scan"}),
        ("A", "feature_used", at(9, 6), {"feature": "export"}),
        ("A", "order_completed", at(8, 28), {"amount": 999}),
        ("A", "order_completed", at(9, 3), {"amount": 100}),
        ("A", "order_completed", at(9, 12), {"amount": "40", "currency": "usd"}),
        ("B", "feature_used", at(9, 7), {"feature": "scan"}),
        ("B", "order_completed", at(9, 9), {"amount": 50.0, "currency": "CNY"}),
        ("C", "feature_used", at(9, 8), {"feature": "export"}),
        *(("C", "order_completed", at(9, day), {"amount": 10}) for day in (2, 5, 8, 20)),
        ("F", "feature_used", at(9, 4), {"feature": "scan"}),
        ("F", "feature_used", at(9, 5), {"feature": "scan"}),
        ("D", "ticket_closed", at(9, 20), {}),  # not behaviour: counts neither as order nor as activity
    ]
    for n, (letter, kind, when, payload) in enumerate(events):
        session.add(
            CustomerEvent(
                external_id=f"ev-{n}",
                type=kind,
                customer_id=customers[letter].id,
                occurred_at=when,
                payload=payload,
            )
        )
    items = [
        # name, customer, when, sentiment, complaint, NPS rating
        ("A1", "A", at(9, 10), "negative", True, None),
        ("A2", "A", at(9, 12), "positive", False, 9),
        ("B1", "B", at(9, 15), "negative", False, None),
        ("B2", "B", at(9, 16), "positive", False, None),
        ("B3", "B", at(9, 17), "neutral", False, 6),
        ("B4", "B", at(9, 18), "positive", False, 10),
        ("C1", "C", at(9, 11), "neutral", True, None),
        ("C2", "C", at(9, 20), "positive", False, 10),
        ("D1", "D", at(9, 14), "negative", False, 2),
        ("E1", "E", at(8, 1), None, False, 9),
        ("E2", "E", at(9, 25), None, False, 3),
        ("F1", "F", at(9, 20), "negative", False, None),
    ]
    ids = {}
    for name, letter, when, sentiment, complaint, rating in items:
        item = FeedbackItem(
            channel="survey" if rating is not None else "taobao",
            kind="survey_answer" if rating is not None else "review",
            direction="direct",
            dedupe_key=f"behaviour-{name}",
            content_hash=f"h-{name}",
            text=f"反馈 {name}",
            created_at=when,
            customer_id=customers[letter].id,
            rating=rating,
            rating_scale_min=0.0 if rating is not None else None,
            rating_scale_max=10.0 if rating is not None else None,
            meta={"question_type": "nps"} if rating is not None else {},
        )
        session.add(item)
        session.flush()
        ids[name] = item.id
        if sentiment is not None:
            session.add(
                Analysis(feedback_id=item.id, model_version="v1", sentiment=sentiment, complaint=complaint)
            )
    session.add_all(
        [
            Label(feedback_id=ids["B1"], field="complaint", value="true"),
            Label(feedback_id=ids["C1"], field="complaint", value="false"),
            # Written directly: recording the decision would also delete F's analyses.
            Consent(customer_id=customers["F"].id, purpose="analytics", granted=False),
        ]
    )
    session.commit()
    return {letter: customer.id for letter, customer in customers.items()}


@pytest.fixture
def story(db: sessionmaker[Session]) -> dict[str, int]:
    with db() as session:
        return seed_behaviour(session)


# ---------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("orders", "bucket"), [(0, "0"), (1, "1"), (2, "2-3"), (3, "2-3"), (4, "4+"), (40, "4+")]
)
def test_frequency_bucket(orders, bucket):
    assert frequency_bucket(orders) == bucket


def test_frequency_bucket_refuses_negative_counts():
    with pytest.raises(ValueError, match="negative"):
        frequency_bucket(-1)


@pytest.mark.parametrize(
    ("payload", "amount"),
    [
        ({"amount": 12}, 12.0),
        ({"amount": " 9.5 "}, 9.5),
        ({"amount": "abc"}, None),
        ({"amount": True}, None),
        ({}, None),
        (None, None),
    ],
)
def test_order_amount(payload, amount):
    assert order_amount(payload) == amount


def test_order_currency_defaults_to_cny_and_upper_cases():
    assert order_currency({"currency": " usd "}) == "USD"
    assert order_currency({}) == "CNY"


def test_normalised_score():
    assert normalised_score(7, 0, 10) == 0.7
    assert normalised_score(4, 1, 5) == 0.75
    assert normalised_score(4, None, 5) is None
    assert normalised_score(4, 5, 5) is None


def test_a_fall_of_a_fifth_of_the_scale_counts_a_smaller_one_does_not():
    fell = assess_risk(CustomerSignals(ratings=[(9, 0, 10), (7, 0, 10)], latest_rating_recent=True), 30)
    assert [r.code for r in fell] == ["falling_score"]
    assert fell[0].points == 15 + 5
    assert "9" in fell[0].en and "7" in fell[0].en and "从 9 降到 7" in fell[0].zh
    assert assess_risk(CustomerSignals(ratings=[(9, 0, 10), (8, 0, 10)], latest_rating_recent=True), 30) == []
    # An old fall (the latest answer before the risk window) is no longer news.
    assert (
        assess_risk(CustomerSignals(ratings=[(9, 0, 10), (2, 0, 10)], latest_rating_recent=False), 30) == []
    )


def test_activity_must_halve_from_at_least_two():
    assert assess_risk(CustomerSignals(activity_previous=1, activity_recent=0), 30) == []
    assert assess_risk(CustomerSignals(activity_previous=4, activity_recent=3), 30) == []
    halved = assess_risk(CustomerSignals(activity_previous=4, activity_recent=2), 30)
    assert [(r.code, r.points) for r in halved] == [("falling_activity", 15 + round(12.5))]


def test_negative_feedback_with_a_complaint_is_not_silent():
    assert assess_risk(CustomerSignals(negative=2, complaints=1), 30) == []
    silent = assess_risk(CustomerSignals(negative=6), 30)
    assert [(r.code, r.points) for r in silent] == [("silent_negative", 50)]
    assert "60" in silent[0].en and "60 天" in silent[0].zh


def test_risk_score_adds_up_and_caps_at_100():
    reasons = assess_risk(
        CustomerSignals(
            negative=4, ratings=[(10, 0, 10), (0, 0, 10)], latest_rating_recent=True, activity_previous=9
        ),
        30,
    )
    assert [r.points for r in reasons] == [50, 40, 40]
    assert risk_score(reasons) == 100


def test_spend_comparison_counts_customers_without_orders_as_zero():
    complained = {1: at(9, 10), 2: at(9, 15), 3: at(9, 20)}
    orders = [
        Order(1, at(9, 3), 100.0, "CNY"),  # exactly 7 days before: inside
        Order(1, at(9, 2), 500.0, "CNY"),  # 8 days before: outside
        Order(1, at(9, 10), 30.0, "CNY"),  # at the complaint: after
        Order(2, at(9, 22), 60.0, "CNY"),  # exactly 7 days after: outside
        Order(9, at(9, 10), 70.0, "CNY"),  # not a complainer
    ]
    assert spend_comparison(complained, orders, 7) == [
        {
            "currency": "CNY",
            "customers": 3,
            "total_before": 100.0,
            "total_after": 30.0,
            "avg_before": 33.33,
            "avg_after": 10.0,
            "change": round((10.0 - 33.33) / 33.33, 4),
        }
    ]


def test_main_currency():
    assert main_currency([]) == "CNY"
    orders = [Order(1, NOW, 1.0, "USD"), Order(1, NOW, 1.0, "EUR"), Order(2, NOW, 1.0, "USD")]
    assert main_currency(orders) == "USD"


# ---------------------------------------------------------------------------------------------- the story


def test_complaint_rate_by_feature(db, story):
    with db() as session:
        figures = behaviour(session, WINDOW, days=7, now=NOW)
    assert figures["features"] == [
        {
            "feature": "scan",
            "customers": 3,  # A, B and F (F's feedback is not analysed any more)
            "feedback": 7,
            "analysed": 7,
            "complaints": 2,
            "negative": 3,
            "complaint_rate": 0.2857,
            "negative_share": 0.4286,
        },
        {
            "feature": "export",
            "customers": 2,
            "feedback": 4,
            "analysed": 4,
            "complaints": 1,
            "negative": 1,
            "complaint_rate": 0.25,
            "negative_share": 0.25,
        },
    ]
    assert figures["customers_overall"] == {
        "customers": 6,
        "feedback": 11,
        "analysed": 10,
        "complaints": 2,
        "negative": 4,
        "complaint_rate": 0.2,
        "negative_share": 0.4,
    }


def test_nps_by_purchase_frequency(db, story):
    with db() as session:
        frequency = behaviour(session, WINDOW, days=7, now=NOW)["frequency"]
    assert [(f["bucket"], f["customers"], f["nps_responses"], f["nps"]) for f in frequency] == [
        ("0", 3, 2, -100.0),  # D (NPS 2), E (NPS 3), F (no answer)
        ("1", 1, 2, 0.0),  # B: 10 and 6
        ("2-3", 1, 1, 100.0),  # A: 9 (the order of 08-28 is outside the window)
        ("4+", 1, 1, 100.0),  # C: 10
    ]
    assert [f["complaint_rate"] for f in frequency] == [0.0, 0.25, 0.5, 0.0]


def test_spend_before_and_after_the_first_complaint(db, story):
    with db() as session:
        spend = behaviour(session, WINDOW, days=7, now=NOW)["spend"]
        later = behaviour(session, WINDOW, days=20, now=NOW)["spend"]
    # A complained on 09-10 (100 CNY before, 40 USD after), B on 09-15 by a label (50 CNY before);
    # C's complaint was corrected away.
    assert spend == {
        "days": 7,
        "customers": 2,
        "pending": 0,
        "currencies": [
            {
                "currency": "CNY",
                "customers": 2,
                "total_before": 150.0,
                "total_after": 0.0,
                "avg_before": 75.0,
                "avg_after": 0.0,
                "change": -1.0,
            },
            {
                "currency": "USD",
                "customers": 2,
                "total_before": 0.0,
                "total_after": 40.0,
                "avg_before": 0.0,
                "avg_after": 20.0,
                "change": None,
            },
        ],
    }
    # With 20-day windows B's "after" has not ended by now: B waits.
    assert (later["customers"], later["pending"]) == (1, 1)
    # A's 20 days before 09-10 reach back past the window's start: the order of 08-28 counts.
    assert later["currencies"][0]["total_before"] == 1099.0


def test_filters_narrow_the_breakdowns(db, story):
    with db() as session:
        gold = behaviour(session, InsightFilter(since=WINDOW.since, until=NOW, tier="gold"), days=7, now=NOW)
    assert [(f["feature"], f["customers"], f["complaint_rate"]) for f in gold["features"]] == [
        ("scan", 1, 0.5),
        ("export", 2, 0.25),
    ]
    assert [f["customers"] for f in gold["frequency"]] == [0, 0, 1, 1]


def test_at_risk_customers_with_reasons(db, story):
    with db() as session:
        found = at_risk(session, InsightFilter(until=NOW), days=14, now=NOW)
    assert found["currency"] == "CNY"
    assert found["total"] == 5
    summary = [
        (c["external_id"], c["score"], [r["code"] for r in c["reasons"]], c["spend"])
        for c in found["customers"]
    ]
    assert summary == [
        ("C-A", 40, ["falling_activity"], 100.0),  # 4 events 09-03..09-16, none since
        ("C-B", 40, ["falling_activity"], 50.0),
        ("C-D", 35, ["silent_negative"], 0.0),  # a detractor with negative feedback, never complained
        ("C-C", 32, ["falling_activity"], 30.0),  # 3 → 1
        ("C-E", 30, ["falling_score"], 0.0),  # NPS 9 in August, 3 now
    ]
    by_id = {c["external_id"]: c for c in found["customers"]}
    assert by_id["C-E"]["reasons"][0]["en"] == "score fell from 9 to 3 (scale 0–10)"
    assert by_id["C-E"]["reasons"][0]["zh"] == "评分从 9 降到 3（0–10 分制）"
    assert (by_id["C-C"]["activity_previous"], by_id["C-C"]["activity_recent"]) == (3, 1)
    assert (by_id["C-E"]["previous_rating"], by_id["C-E"]["latest_rating"]) == (9.0, 3.0)
    assert "C-F" not in by_id  # objected to analytics


def test_at_risk_sorting_and_erasure(db, story):
    with db() as session:
        by_spend = at_risk(session, InsightFilter(until=NOW), days=14, sort="spend", now=NOW)
        assert [c["external_id"] for c in by_spend["customers"]][:3] == ["C-A", "C-B", "C-C"]
        by_activity = at_risk(session, InsightFilter(until=NOW), days=14, sort="activity", now=NOW)
        # A fell by 4 events; B and C by 2 each (B's higher score first).
        assert [c["external_id"] for c in by_activity["customers"]][:3] == ["C-A", "C-B", "C-C"]
        erase_customer(session, "C-D")
        session.commit()
        after = at_risk(session, InsightFilter(until=NOW), days=14, now=NOW)
    assert "C-D" not in [c["external_id"] for c in after["customers"]]
    assert after["total"] == 4


def test_risk_rows_flatten_the_reasons(db, story):
    with db() as session:
        found = at_risk(session, InsightFilter(until=NOW), days=14, now=NOW)
    rows = risk_rows(found["customers"])
    assert rows[0]["external_id"] == "C-A"
    assert rows[0]["reasons_en"].startswith("0 orders/feature uses in the last 14 days, 4 in the 14 before")
    assert "reasons" not in rows[0]


def test_at_risk_refuses_a_window_of_no_days(db):
    with db() as session, pytest.raises(ValueError, match="days"):
        at_risk(session, InsightFilter(), days=0)
