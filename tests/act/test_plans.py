"""Action plans: their lifecycle, theme matching over feedback and its newest analysis, and the effect
before and after the plan shipped, checked against figures computed by hand (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from closeloop.act.plans import (
    PlanError,
    WindowFigures,
    compare_windows,
    create_plan,
    effect,
    theme_items,
    update_plan,
    validate_theme,
    week_buckets,
)
from closeloop.store.models import Analysis, FeedbackItem, Team, User

SHIPPED = datetime(2025, 3, 1, tzinfo=UTC)
LATER = SHIPPED + timedelta(days=40)  # both 28-day windows complete
_serial = itertools.count()


def _feedback(
    session,
    created_at: datetime,
    *,
    text: str = "一般般",
    categories: tuple[str, ...] = (),
    sentiment: str | None = "neutral",
    score: float | None = 0.0,
    complaint: bool | None = False,
    channel: str = "jd",
    product: str | None = None,
) -> FeedbackItem:
    """An item with one analysis (none when ``sentiment`` is None and no categories)."""
    n = next(_serial)
    item = FeedbackItem(
        channel=channel,
        kind="review",
        direction="indirect",
        dedupe_key=f"k{n}",
        content_hash=f"{n:064d}",
        text=text,
        created_at=created_at,
        product=product,
    )
    session.add(item)
    session.flush()
    if sentiment is not None or categories:
        session.add(
            Analysis(
                feedback_id=item.id,
                model_version="v1",
                sentiment=sentiment,
                sentiment_score=score,
                complaint=complaint,
                categories=list(categories),
            )
        )
    return item


def _spread(start: datetime, count: int, days: int = 28) -> list[datetime]:
    """``count`` timestamps spread evenly over ``days`` days from ``start`` (all inside the window)."""
    return [start + timedelta(seconds=(i + 0.5) * days * 86400 / count) for i in range(count)]


def _window(session, start: datetime, *, theme_negative: int, theme_other: int, others: int, days: int = 28):
    """A window of feedback: packaging items (negative ones are complaints scoring -0.8, the rest positive
    scoring 0.6) and unrelated logistics items."""
    kinds = [True] * theme_negative + [False] * theme_other
    for at, negative in zip(_spread(start, len(kinds), days), kinds, strict=True):
        _feedback(
            session,
            at,
            text="包装破了" if negative else "包装不错",
            categories=("packaging",),
            sentiment="negative" if negative else "positive",
            score=-0.8 if negative else 0.6,
            complaint=negative,
        )
    for at in _spread(start, others, days):
        _feedback(session, at, text="物流正常", categories=("logistics",), sentiment="neutral", score=0.1)


def _z(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    return (successes_b / trials_b - successes_a / trials_a) / math.sqrt(
        pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    )


def _shipped_plan(session, theme=None, shipped_at=SHIPPED):
    return create_plan(
        session,
        title="换包装供应商 / new packaging supplier",
        theme=theme or {"category": "packaging"},
        status="shipped",
        shipped_at=shipped_at,
        now=LATER,
    )


def test_a_plan_that_worked_is_improved_with_hand_computed_figures(db):
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=30, theme_other=10, others=160)
        _window(session, SHIPPED, theme_negative=4, theme_other=16, others=180)
        plan = _shipped_plan(session)
        session.commit()
        found = effect(session, plan, window_days=28, now=LATER)

    before, after = found["before"], found["after"]
    assert (before["items"], before["all_items"], after["items"], after["all_items"]) == (40, 200, 20, 200)
    assert before["items_per_day"] == round(40 / 28, 4) and after["items_per_day"] == round(20 / 28, 4)
    assert (before["share"], after["share"]) == (0.2, 0.1)
    assert (before["negative_share"], after["negative_share"]) == (0.75, 0.2)
    assert before["mean_sentiment_score"] == pytest.approx((30 * -0.8 + 10 * 0.6) / 40)
    assert after["mean_sentiment_score"] == pytest.approx((4 * -0.8 + 16 * 0.6) / 20)
    assert (before["complaint_share"], after["complaint_share"]) == (0.75, 0.2)
    assert not found["partial"] and before["days"] == after["days"] == 28
    assert found["change"]["share"] == -0.1 and found["change"]["negative_share"] == -0.55

    negative, volume = found["tests"]["negative_share"], found["tests"]["volume_share"]
    assert negative["z"] == pytest.approx(_z(30, 40, 4, 20), abs=1e-4)  # ≈ -4.05
    assert volume["z"] == pytest.approx(_z(40, 200, 20, 200), abs=1e-4)  # ≈ -2.80
    assert negative["significant"] and volume["significant"]
    assert negative["direction"] == volume["direction"] == "down"
    assert (found["verdict"], found["verdict_en"], found["verdict_zh"]) == ("improved", "improved", "已改善")
    assert "significantly fell" in found["reasons"][0]["en"] and "显著下降" in found["reasons"][0]["zh"]

    weekly = found["weekly"]
    assert len(weekly) == 8 and [w["side"] for w in weekly] == ["before"] * 4 + ["after"] * 4
    assert sum(w["items"] for w in weekly[:4]) == 40 and sum(w["items"] for w in weekly[4:]) == 20
    assert sum(w["all_items"] for w in weekly) == 400
    assert weekly[4]["start"] == SHIPPED.isoformat()


def test_theme_volume_that_falls_with_all_feedback_is_no_clear_change(db):
    """Half the packaging feedback after the change, but half of all feedback too: its share is unchanged."""
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=20, theme_other=20, others=160)
        _window(session, SHIPPED, theme_negative=10, theme_other=10, others=80)
        plan = _shipped_plan(session)
        session.commit()
        found = effect(session, plan, now=LATER)

    before, after = found["before"], found["after"]
    assert (before["items"], after["items"]) == (40, 20)
    assert after["items_per_day"] == before["items_per_day"] / 2
    assert before["share"] == after["share"] == 0.2
    assert before["negative_share"] == after["negative_share"] == 0.5
    assert found["tests"]["volume_share"]["z"] == 0 and found["tests"]["volume_share"]["p"] == 1
    assert not found["tests"]["volume_share"]["significant"]
    assert found["verdict"] == "no_clear_change" and found["verdict_en"] == "no clear change yet"
    assert "no significant change" in found["reasons"][1]["en"]


def test_more_negative_feedback_after_the_change_is_worse(db):
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=6, theme_other=24, others=170)
        _window(session, SHIPPED, theme_negative=22, theme_other=8, others=170)
        plan = _shipped_plan(session)
        session.commit()
        found = effect(session, plan, now=LATER)
    negative = found["tests"]["negative_share"]
    assert negative["z"] == pytest.approx(_z(6, 30, 22, 30), abs=1e-4) and negative["significant"]
    assert not found["tests"]["volume_share"]["significant"]  # 30 of 200 both times
    assert (found["verdict"], found["verdict_zh"]) == ("worse", "变差了")


def test_a_running_after_window_compares_per_day_rates_and_says_it_is_partial(db):
    now = SHIPPED + timedelta(days=14)
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=30, theme_other=10, others=160)
        _window(session, SHIPPED, theme_negative=2, theme_other=18, others=80, days=14)
        _feedback(session, now + timedelta(hours=1), categories=("packaging",))  # after "now": not counted
        plan = _shipped_plan(session)
        session.commit()
        found = effect(session, plan, now=now)
    after = found["after"]
    assert found["partial"] and after["partial"] and not found["before"]["partial"]
    assert after["days"] == 14 and after["items"] == 20 and after["all_items"] == 100
    assert after["items_per_day"] == round(20 / 14, 4) and found["before"]["items_per_day"] == round(
        40 / 28, 4
    )
    assert found["change"]["items_per_day"] == pytest.approx(20 / 14 - 40 / 28, abs=1e-4)
    assert len(found["weekly"]) == 6  # four weeks before, two so far after
    assert found["verdict"] == "improved"


def test_too_early_or_too_few_items_is_no_clear_change_and_says_why(db):
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=30, theme_other=10, others=160)
        _window(session, SHIPPED, theme_negative=0, theme_other=5, others=20, days=3)
        plan = _shipped_plan(session)
        small = _shipped_plan(session, theme={"category": "rare"})
        for at in _spread(SHIPPED - timedelta(days=28), 10):
            _feedback(session, at, categories=("rare",), sentiment="negative", score=-0.9)
        for at in _spread(SHIPPED, 10):
            _feedback(session, at, categories=("rare",), sentiment="positive", score=0.9)
        session.commit()
        early = effect(session, plan, now=SHIPPED + timedelta(days=3))
        few = effect(session, small, now=LATER)
    assert early["verdict"] == "no_clear_change"
    assert not early["tests"]["negative_share"]["enough_data"]
    assert "3.0 days (needs 7)" in early["reasons"][0]["en"] and "3.0 天" in early["reasons"][0]["zh"]
    # 100 % negative to 0 % would be "significant" by p alone; 10 items a window are too few to count.
    assert few["tests"]["negative_share"]["p"] < 0.025
    assert not few["tests"]["negative_share"]["significant"]
    assert few["verdict"] == "no_clear_change"
    assert "analysed theme items 10 before, 10 after (needs 20 in each window)" in few["reasons"][0]["en"]


def test_the_newest_analysis_decides_and_categories_match_exactly(db):
    with db() as session:
        at = SHIPPED - timedelta(days=3)
        relabelled = _feedback(session, at, text="包装还行", categories=("packaging",), sentiment="positive")
        session.add(
            Analysis(feedback_id=relabelled.id, model_version="v2", sentiment="negative", categories=["包装"])
        )
        dropped = _feedback(session, at, text="包装差", categories=("包装",), sentiment="negative")
        session.add(Analysis(feedback_id=dropped.id, model_version="v2", sentiment="positive", categories=[]))
        lookalike = _feedback(session, at, categories=("包装盒", "packaging-eco"))
        unanalysed = _feedback(session, at, text="包装漏水", sentiment=None)
        session.commit()
        chinese = set(session.scalars(theme_items(session, {"category": "包装"})).all())
        english = set(session.scalars(theme_items(session, {"category": "packaging"})).all())
        by_text = set(session.scalars(theme_items(session, {"query": "包装"})).all())
    assert {i.id for i in chinese} == {relabelled.id}
    assert english == set()  # neither the old analysis nor "packaging-eco" counts
    assert {i.id for i in by_text} == {relabelled.id, dropped.id, unanalysed.id}
    assert lookalike.id not in {i.id for i in by_text}  # its text is "一般般"


def test_query_and_topic_match_text_safely_with_channel_and_product_narrowing(db):
    at = SHIPPED - timedelta(days=1)
    with db() as session:
        percent = _feedback(session, at, text="退款100%到账了吗")
        plain = _feedback(session, at, text="退款100到账")
        underscore = _feedback(session, at, text="code A_B leak", channel="web")
        leak = _feedback(session, at, text="The LEAK is back", channel="web", product="kettle")
        quote = _feedback(session, at, text="it's 'quoted'", channel="web", product="kettle")
        session.commit()

        def ids(theme):
            return {i.id for i in session.scalars(theme_items(session, theme))}

        assert ids({"query": "100%"}) == {percent.id}
        assert ids({"query": "A_B"}) == {underscore.id}
        assert ids({"query": "_"}) == {underscore.id}
        assert ids({"query": "leak"}) == {underscore.id, leak.id}  # case-insensitive on both databases
        assert ids({"query": "leak", "product": "kettle"}) == {leak.id}
        assert ids({"query": "leak", "channel": "jd"}) == set()
        assert ids({"query": "'quoted'"}) == {quote.id}
        assert ids({"topic": ["到账", "back"]}) == {percent.id, plain.id, leak.id}
        assert ids({"topic": "到账", "channel": "web"}) == set()
        assert ids({"query": "退款", "topic": ["100%"]}) == {percent.id}


def test_channel_narrowing_also_narrows_the_feedback_the_theme_is_a_share_of(db):
    with db() as session:
        for at in _spread(SHIPPED - timedelta(days=28), 10):
            _feedback(session, at, text="漏水", channel="web")
        for at in _spread(SHIPPED - timedelta(days=28), 30):
            _feedback(session, at, text="很好", channel="web")
        for at in _spread(SHIPPED - timedelta(days=28), 60):
            _feedback(session, at, text="漏水", channel="jd")
        plan = _shipped_plan(session, theme={"query": "漏水", "channel": "web"})
        session.commit()
        found = effect(session, plan, now=LATER)
    assert (found["before"]["items"], found["before"]["all_items"], found["before"]["share"]) == (
        10,
        40,
        0.25,
    )
    assert found["after"]["items"] == 0 and found["after"]["share"] is None


def test_items_not_yet_analysed_do_not_dilute_a_category_share(db):
    with db() as session:
        _window(session, SHIPPED - timedelta(days=28), theme_negative=10, theme_other=10, others=80)
        _window(session, SHIPPED, theme_negative=10, theme_other=10, others=80)
        for at in _spread(SHIPPED, 300):  # a backlog the analysis has not reached
            _feedback(session, at, text="包装破了", sentiment=None)
        category = _shipped_plan(session)
        text = _shipped_plan(session, theme={"query": "包装破了"})
        session.commit()
        by_category = effect(session, category, now=LATER)
        by_text = effect(session, text, now=LATER)
    assert by_category["after"]["all_items"] == 100 and by_category["after"]["share"] == 0.2
    assert by_category["verdict"] == "no_clear_change"
    # A text theme matches unanalysed items too, so they count in its volume and in all feedback.
    assert (by_text["after"]["items"], by_text["after"]["all_items"]) == (310, 400)
    assert by_text["after"]["analysed"] == 10 and by_text["after"]["negative_share"] == 1.0


def test_a_plan_moves_through_its_states_and_ships_once(db):
    now = datetime(2025, 5, 1, 9, tzinfo=UTC)
    with db() as session:
        session.add(Team(name="packaging", label_zh="包装组"))
        owner = User(email="lin@example.com", password_hash="x", role="analyst")
        session.add(owner)
        session.flush()
        plan = create_plan(
            session,
            title="  换包装供应商 ",
            theme={"category": " packaging ", "product": "kettle"},
            owner=owner,
            team="packaging",
            starts_on=now,
            due_on=now + timedelta(days=30),
            now=now,
        )
        assert (plan.id is not None, plan.title, plan.status, plan.shipped_at) == (
            True,
            "换包装供应商",
            "planned",
            None,
        )
        assert plan.theme == {"category": "packaging", "product": "kettle"} and plan.owner_id == owner.id
        with pytest.raises(PlanError, match="not shipped yet"):
            effect(session, plan, now=now)
        assert update_plan(session, plan, {"status": "in_progress"}, now=now) == {
            "status": ["planned", "in_progress"]
        }
        shipped = update_plan(session, plan, {"status": "shipped"}, now=now + timedelta(days=9))
        assert plan.shipped_at == now + timedelta(days=9) and shipped["status"] == ["in_progress", "shipped"]
        with pytest.raises(PlanError, match="cannot become in_progress"):
            update_plan(session, plan, {"status": "in_progress"}, now=now)
        with pytest.raises(PlanError, match="future"):
            update_plan(session, plan, {"shipped_at": now + timedelta(days=99)}, now=now + timedelta(days=10))
        corrected = update_plan(
            session, plan, {"shipped_at": now + timedelta(days=8)}, now=now + timedelta(days=10)
        )
        assert corrected == {
            "shipped_at": [(now + timedelta(days=9)).isoformat(), (now + timedelta(days=8)).isoformat()]
        }
        with pytest.raises(PlanError, match="no team"):
            update_plan(session, plan, {"team": "nobody"}, now=now)
        with pytest.raises(PlanError, match="due_on is before starts_on"):
            update_plan(session, plan, {"due_on": now - timedelta(days=1)}, now=now)
        session.commit()
        stored = session.scalars(select(plan.__class__)).one()
        assert stored.status == "shipped" and stored.shipped_at == now + timedelta(days=8)


@pytest.mark.parametrize(
    ("theme", "message"),
    [
        ({}, "needs a category, a topic or a query"),
        ({"channel": "jd"}, "needs a category"),
        ({"query": "  "}, "non-empty"),
        ({"query": "x" * 201}, "at most 200"),
        ({"category": 3}, "non-empty text"),
        ({"topic": []}, "list of 1–20 phrases"),
        ({"query": "漏水", "colour": "red"}, "unknown theme key"),
    ],
)
def test_bad_themes_are_refused(theme, message):
    with pytest.raises(PlanError, match=message):
        validate_theme(theme)


def test_a_topic_may_be_one_phrase_or_several():
    assert validate_theme({"topic": " 漏水 "}) == {"topic": ["漏水"]}
    assert validate_theme({"topic": ["漏水", "渗水"], "channel": None}) == {"topic": ["漏水", "渗水"]}


def _figures(items: int, all_items: int, analysed: int, negative: int, days: float = 28) -> WindowFigures:
    return WindowFigures(
        start=SHIPPED,
        end=SHIPPED + timedelta(days=days),
        days=days,
        partial=days < 28,
        items=items,
        all_items=all_items,
        analysed=analysed,
        negative=negative,
        complaints=0,
        complaint_known=0,
        score_sum=0.0,
        scored=0,
    )


@pytest.mark.parametrize(
    ("before", "after", "verdict"),
    [
        (_figures(100, 1000, 100, 60), _figures(100, 1000, 100, 30), "improved"),  # sentiment only
        (_figures(100, 1000, 100, 50), _figures(40, 1000, 40, 20), "improved"),  # volume only
        (_figures(100, 1000, 100, 30), _figures(100, 1000, 100, 60), "worse"),
        (_figures(100, 1000, 100, 60), _figures(200, 1000, 200, 60), "no_clear_change"),  # mixed
        (_figures(100, 1000, 100, 50), _figures(95, 1000, 95, 45), "no_clear_change"),
    ],
)
def test_the_verdict_needs_a_significant_change_in_one_direction(before, after, verdict):
    negative, volume, found = compare_windows(before, after)
    assert found.code == verdict
    if verdict == "no_clear_change" and negative.significant and volume.significant:
        assert "opposite directions" in found.reasons[-1]["en"]


def test_week_buckets_never_straddle_the_change():
    buckets = week_buckets(SHIPPED, 10, SHIPPED + timedelta(days=30))
    assert buckets == [
        (SHIPPED - timedelta(days=10), SHIPPED - timedelta(days=7)),
        (SHIPPED - timedelta(days=7), SHIPPED),
        (SHIPPED, SHIPPED + timedelta(days=7)),
        (SHIPPED + timedelta(days=7), SHIPPED + timedelta(days=10)),
    ]
    assert week_buckets(SHIPPED, 14, SHIPPED + timedelta(days=2))[-1] == (
        SHIPPED,
        SHIPPED + timedelta(days=2),
    )
