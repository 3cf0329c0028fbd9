"""The dashboard's figures on SQLite and PostgreSQL, against counts worked out by hand.

The story (Asia/Shanghai times, window Monday 2026-09-07 00:00 to Monday 2026-09-21 00:00, two weeks):

    item  local time     channel  analysis (newest)                       corrections (labels)
    1     09-07 00:30    taobao   positive, [logistics]                   —         (UTC: Sunday 09-06)
    2     09-08 10:00    taobao   v1 positive; v2 negative, complaint,    —
                                  [packaging, logistics]
    3     09-09 10:00    jd       neutral, [price]                        —
    4     09-14 09:00    jd       negative, complaint, [packaging]        sentiment positive, categories
                                                                          price, aspects price:positive
    5     09-15 10:00    survey   positive; NPS 10                        —
    6     09-16 10:00    survey   negative; NPS 3                         —
    7     09-16 11:00    survey   positive; CSAT 4                        —
    8     09-17 10:00    taobao   (not analysed); rating 8 on 0–10        —
    9     09-20 23:30    taobao   positive                                complaint true, categories packaging
    10    09-21 00:30    taobao   negative (outside: local Monday 21st)   —
    11    09-01 10:00    taobao   negative, complaint (previous window)   —
    12    09-02 10:00    taobao   positive (previous window)              —
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closeloop.ask.scores import nps
from closeloop.insight.aggregates import (
    InsightFilter,
    aspects,
    effective_values,
    overview,
    parse_moment,
    period_bounds,
    period_start,
    periods_between,
    segments,
    verbatims,
)
from closeloop.store.models import Analysis, Customer, FeedbackItem, Label

SHANGHAI = timedelta(hours=8)
SINCE = datetime(2026, 9, 7, tzinfo=UTC) - SHANGHAI
UNTIL = datetime(2026, 9, 21, tzinfo=UTC) - SHANGHAI
NOW = datetime(2026, 9, 25, tzinfo=UTC)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - SHANGHAI


def window(**filters) -> InsightFilter:
    return InsightFilter(since=SINCE, until=UNTIL, **filters)


def seed_story(session: Session) -> dict[int, int]:
    """Write the story above; returns {story number: item id}."""
    gold = Customer(external_id="C-gold", tier="gold", region="上海")
    silver = Customer(external_id="C-silver", tier="silver", region="北京")
    session.add_all([gold, silver])
    session.flush()
    rows = [
        # n, when, channel, kind, customer, rating, scale, question type
        (1, local(9, 7, 0, 30), "taobao", "review", gold, None, None, None),
        (2, local(9, 8, 10), "taobao", "review", gold, None, None, None),
        (3, local(9, 9, 10), "jd", "review", None, None, None, None),
        (4, local(9, 14, 9), "jd", "review", silver, None, None, None),
        (5, local(9, 15, 10), "survey", "survey_answer", silver, 10.0, (0.0, 10.0), "nps"),
        (6, local(9, 16, 10), "survey", "survey_answer", None, 3.0, (0.0, 10.0), "nps"),
        (7, local(9, 16, 11), "survey", "survey_answer", None, 4.0, (1.0, 5.0), "csat"),
        (8, local(9, 17, 10), "taobao", "review", None, 8.0, (0.0, 10.0), None),
        (9, local(9, 20, 23, 30), "taobao", "review", None, None, None, None),
        (10, local(9, 21, 0, 30), "taobao", "review", None, None, None, None),
        (11, local(9, 1, 10), "taobao", "review", None, None, None, None),
        (12, local(9, 2, 10), "taobao", "review", None, None, None, None),
    ]
    ids = {}
    for n, when, channel, kind, customer, rating, scale, question in rows:
        item = FeedbackItem(
            channel=channel,
            kind=kind,
            direction="direct",
            dedupe_key=f"story-{n}",
            content_hash=f"h{n}",
            text=f"反馈 {n} feedback",
            created_at=when,
            customer_id=customer.id if customer else None,
            rating=rating,
            rating_scale_min=scale[0] if scale else None,
            rating_scale_max=scale[1] if scale else None,
            meta={"question_type": question} if question else {},
        )
        session.add(item)
        session.flush()
        ids[n] = item.id

    def analysis(n: int, sentiment: str, *, complaint: bool = False, categories=(), aspects=(), version="v1"):
        session.add(
            Analysis(
                feedback_id=ids[n],
                model_version=version,
                sentiment=sentiment,
                complaint=complaint,
                categories=list(categories),
                aspects=[{"category": c, "polarity": p} for c, p in aspects],
            )
        )
        session.flush()

    analysis(1, "positive", categories=["logistics"], aspects=[("logistics", "positive")])
    analysis(2, "positive", categories=["service"])
    analysis(4, "negative", complaint=True, categories=["packaging"], aspects=[("packaging", "negative")])
    analysis(
        2,
        "negative",
        complaint=True,
        categories=["packaging", "logistics"],
        aspects=[("packaging", "negative"), ("logistics", "neutral")],
        version="v2",
    )
    analysis(3, "neutral", categories=["price"])
    for n, sentiment in (
        (5, "positive"),
        (6, "negative"),
        (7, "positive"),
        (9, "positive"),
        (12, "positive"),
    ):
        analysis(n, sentiment)
    analysis(10, "negative")
    analysis(11, "negative", complaint=True)
    session.add_all(
        [
            Label(feedback_id=ids[4], field="sentiment", value="negative"),  # superseded by the next one
            Label(feedback_id=ids[4], field="sentiment", value="positive"),
            Label(feedback_id=ids[4], field="categories", value="price"),
            Label(feedback_id=ids[4], field="aspects", value="price:positive"),
            Label(feedback_id=ids[9], field="complaint", value="true"),
            Label(feedback_id=ids[9], field="categories", value="packaging"),
        ]
    )
    session.commit()
    return ids


@pytest.fixture
def story(db: sessionmaker[Session]) -> dict[int, int]:
    with db() as session:
        return seed_story(session)


def test_overview_series_totals_and_previous_period(db, story):
    with db() as session:
        figures = overview(session, window(), "week", now=NOW)
    assert figures["periods"] == ["2026-09-07", "2026-09-14"]
    series = figures["series"]
    assert series["volume"] == [3, 6]
    assert series["positive"] == [1, 4]
    assert series["neutral"] == [1, 0]
    assert series["negative"] == [1, 1]
    assert series["complaints"] == [1, 2]
    assert series["negative_share"] == [0.3333, 0.2]
    assert series["complaint_rate"] == [0.3333, 0.4]
    assert series["nps"] == [None, 0.0]  # one promoter, one passive (item 8, not analysed), one detractor
    assert series["csat"] == [None, 100.0]
    assert figures["totals"] == {
        "volume": 9,
        "negative_share": 0.25,
        "complaint_rate": 0.375,
        "nps": 0.0,
        "csat": 100.0,
        "analysed": 8,
    }
    assert figures["previous"] == {
        "volume": 2,
        "negative_share": 0.5,
        "complaint_rate": 0.5,
        "nps": None,
        "csat": None,
        "analysed": 2,
    }
    assert figures["change"] == {
        "volume": 7,
        "negative_share": -0.25,
        "complaint_rate": -0.125,
        "nps": None,
        "csat": None,
        "analysed": 6,
    }
    assert figures["filters"]["since"] == "2026-09-07T00:00:00+08:00"


def test_overview_categories_follow_corrections(db, story):
    with db() as session:
        categories = overview(session, window(), "week", now=NOW)["categories"]
    assert [c["id"] for c in categories] == ["logistics", "packaging", "price"]
    by_id = {c["id"]: c for c in categories}
    assert by_id["packaging"] == {
        "id": "packaging",
        "name_zh": "包装",
        "name_en": "Packaging",
        "volume": 2,  # items 2 and 9 (by label); item 4's packaging was corrected to price
        "negative_share": 0.5,
        "complaint_rate": 1.0,
        "series": [1, 1],
        "negative_series": [1, 0],
    }
    assert by_id["price"]["series"] == [1, 1] and by_id["price"]["complaint_rate"] == 0.5
    assert by_id["logistics"]["negative_share"] == 0.5
    assert "service" not in by_id  # only item 2's older analysis said service


@pytest.mark.parametrize(
    ("filters", "volume"),
    [
        ({"categories": ("packaging",)}, 2),  # items 2, 9 — not 4 (corrected away)
        ({"sentiment": "positive"}, 5),  # 1, 4 (by label), 5, 7, 9
        ({"sentiment": "negative"}, 2),  # 2, 6 — not 4
        ({"channels": ("jd",)}, 2),
        ({"channels": ("jd", "survey")}, 5),
        ({"tier": "gold"}, 2),
        ({"region": "北京"}, 2),
        ({"categories": ("price", "logistics"), "sentiment": "positive"}, 2),  # 1 and 4
    ],
)
def test_overview_filters_apply_to_effective_values(db, story, filters, volume):
    with db() as session:
        assert overview(session, window(**filters), "week", now=NOW)["totals"]["volume"] == volume


def test_day_and_month_periods_are_local(db, story):
    with db() as session:
        days = overview(session, window(), "day", now=NOW)
        months = overview(session, InsightFilter(since=local(8, 20, 0), until=UNTIL), "month", now=NOW)
    assert len(days["periods"]) == 14
    assert days["series"]["volume"][0] == 1  # item 1 is on Monday the 7th in Shanghai (the 6th in UTC)
    assert days["series"]["volume"][-1] == 1  # item 9 late on the 20th; item 10 is past midnight
    assert sum(days["series"]["volume"]) == 9
    assert months["periods"] == ["2026-08-01", "2026-09-01"]
    assert months["series"]["volume"] == [0, 11]


def test_empty_window_has_zero_series_and_null_shares(db, story):
    with db() as session:
        figures = overview(
            session, InsightFilter(since=local(6, 1, 0), until=local(6, 15, 0)), "week", now=NOW
        )
    assert figures["periods"] == ["2026-06-01", "2026-06-08"]
    assert figures["series"]["volume"] == [0, 0]
    assert figures["series"]["negative_share"] == [None, None]
    assert figures["totals"]["nps"] is None and figures["categories"] == []


def test_segments_by_tier_and_channel(db, story):
    with db() as session:
        tiers = segments(session, window(), "tier", now=NOW)
        channels = {row["segment"]: row for row in segments(session, window(), "channel", now=NOW)}
    assert tiers == [
        {"segment": None, "volume": 5, "negative_share": 0.25, "complaint_rate": 0.25, "nps": -50.0,
         "csat": 100.0, "analysed": 4},
        {"segment": "gold", "volume": 2, "negative_share": 0.5, "complaint_rate": 0.5, "nps": None,
         "csat": None, "analysed": 2},
        {"segment": "silver", "volume": 2, "negative_share": 0.0, "complaint_rate": 0.5, "nps": 100.0,
         "csat": None, "analysed": 2},
    ]  # fmt: skip
    assert channels["taobao"]["volume"] == 4 and channels["taobao"]["analysed"] == 3
    assert channels["survey"]["nps"] == 0.0


def test_aspect_heat_map_by_period_and_product(db, story):
    with db() as session:
        heat = aspects(session, window(), "period", "week", now=NOW)
        by_product = aspects(session, window(), "product", now=NOW)
    assert heat["rows"] == ["logistics", "packaging", "price"]
    assert heat["columns"] == ["2026-09-07", "2026-09-14"]
    assert heat["cells"][0] == [
        {"positive": 1, "negative": 0, "neutral": 1, "score": 0.5},
        {"positive": 0, "negative": 0, "neutral": 0, "score": None},
    ]
    assert heat["cells"][1][0] == {"positive": 0, "negative": 1, "neutral": 0, "score": -1.0}
    assert heat["cells"][2][1] == {"positive": 1, "negative": 0, "neutral": 0, "score": 1.0}  # by label
    assert by_product["columns"] == [None]  # the story's items have no product
    assert [row[0]["positive"] for row in by_product["cells"]] == [1, 0, 1]


def test_verbatims_are_the_items_behind_a_point(db, story):
    with db() as session:
        packaging = verbatims(session, window(categories=("packaging",)), period="2026-09-14", now=NOW)
        assert [item.id for item in packaging.items] == [story[9]] and packaging.total == 1
        assert packaging.effective[story[9]] == {
            "sentiment": "positive",
            "complaint": True,
            "categories": ["packaging"],
            "aspects": [],
            "corrected": ["categories", "complaint"],
        }
        negative = verbatims(session, window(sentiment="negative"), period="2026-09-07", now=NOW)
        assert [item.id for item in negative.items] == [story[2]]
        seen, cursor = [], None
        while True:
            page = verbatims(session, window(sentiment="positive"), limit=2, cursor=cursor, now=NOW)
            assert page.total == 5
            seen.extend(item.id for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [story[n] for n in (9, 7, 5, 4, 1)]


def test_a_new_label_moves_the_figures(db, story):
    with db() as session:
        session.add(Label(feedback_id=story[3], field="sentiment", value="negative"))
        session.add(Label(feedback_id=story[3], field="categories", value=""))
        session.commit()
        figures = overview(session, window(), "week", now=NOW)
    assert figures["series"]["negative"] == [2, 1]
    assert {c["id"]: c["volume"] for c in figures["categories"]}["price"] == 1


@pytest.mark.parametrize(
    ("moment", "granularity", "start"),
    [
        (datetime(2026, 9, 6, 16, 30, tzinfo=UTC), "day", date(2026, 9, 7)),
        (datetime(2026, 9, 6, 15, 59, tzinfo=UTC), "week", date(2026, 8, 31)),
        (datetime(2026, 9, 6, 16, 0, tzinfo=UTC), "week", date(2026, 9, 7)),
        (datetime(2026, 9, 30, 16, 0, tzinfo=UTC), "month", date(2026, 10, 1)),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "month", date(2027, 1, 1)),
    ],
)
def test_period_start_in_shanghai(moment, granularity, start):
    assert period_start(moment, granularity) == start


def test_periods_and_bounds():
    assert periods_between(SINCE, UNTIL, "week") == ["2026-09-07", "2026-09-14"]
    assert periods_between(SINCE, UNTIL + timedelta(minutes=1), "week")[-1] == "2026-09-21"
    assert periods_between(local(11, 20, 0), local(12, 2, 0), "month") == ["2026-11-01", "2026-12-01"]
    assert period_bounds("2026-09-09", "week") == (SINCE, SINCE + timedelta(days=7))
    assert period_bounds("2026-12-15", "month")[1] == datetime(2027, 1, 1, tzinfo=UTC) - SHANGHAI


def test_parse_moment():
    assert parse_moment("2026-09-07") == SINCE
    assert parse_moment("2026-09-20", end=True) == UNTIL
    assert parse_moment("2026-09-07T08:00:00+00:00") == datetime(2026, 9, 7, 8, tzinfo=UTC)
    assert parse_moment("2026-09-07T08:00") == datetime(2026, 9, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO"):
        parse_moment("last week")
    with pytest.raises(ValueError, match="before"):
        InsightFilter(since=UNTIL, until=SINCE).window()


def test_default_window_is_the_last_90_days():
    since, until = InsightFilter().window(NOW)
    assert until == NOW and until - since == timedelta(days=90)


def test_effective_values_apply_the_newest_label_per_field():
    analysis = {
        "sentiment": "negative",
        "complaint": False,
        "categories": ("a", "b"),
        "aspects": (("a", "negative"),),
    }
    assert effective_values(analysis, {}) == analysis
    corrected = effective_values(
        analysis, {"complaint": "true", "categories": "c;d", "aspects": "c:positive"}
    )
    assert corrected == {
        "sentiment": "negative",
        "complaint": True,
        "categories": ("c", "d"),
        "aspects": (("c", "positive"),),
    }


def test_nps_matches_the_survey_score_definition(db, story):
    """The SQL counts reproduce ``ask.scores.nps`` on the same ratings (items 5, 6 and 8)."""
    with db() as session:
        totals = overview(session, window(), "week", now=NOW)["totals"]
    assert totals["nps"] == nps([10, 3, 8]).value


def test_category_filter_is_exact_for_any_id(db, story):
    """Chinese ids (stored escaped or not) match; ``_`` is no wildcard; a prefix is no match."""
    with db() as session:
        for n, categories in ((1, ["漏水"]), (2, ["sizeXfit"]), (3, ["price_plus"])):
            session.add(
                Analysis(feedback_id=story[n], model_version="v9", sentiment="neutral", categories=categories)
            )
        session.commit()

        def volume(*categories: str) -> int:
            return overview(session, window(categories=categories), "week", now=NOW)["totals"]["volume"]

        assert volume("漏水") == 1
        assert volume("size_fit") == 0
        assert volume("price") == 1  # item 4, by its label; item 3 now says price_plus
        assert verbatims(session, window(categories=("漏水",)), now=NOW).total == 1
