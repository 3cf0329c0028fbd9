"""Demo data: deterministic, valid for ingestion, realistic in its mix, and telling the planted stories."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from closeloop.collect.records import FeedbackRecord, validate_record
from closeloop.demo.generate import DemoData, generate_demo

NOW = datetime(2026, 3, 1, 4, 30, tzinfo=UTC)
CHINA = timedelta(hours=8)
CHANNELS = {"survey", "taobao", "jd", "weibo", "wechat", "ticket", "email", "app_store", "community"}
KINDS_BY_CHANNEL = {
    "survey": {"survey_answer"},
    "taobao": {"review"},
    "jd": {"review"},
    "app_store": {"review"},
    "weibo": {"social_post"},
    "wechat": {"chat", "complaint", "suggestion"},
    "ticket": {"ticket", "complaint", "call_note"},
    "email": {"email", "complaint", "suggestion"},
    "community": {"social_post", "suggestion"},
}
INDIRECT = {"taobao", "jd", "weibo", "app_store"}
# Written here, independently of the phrase module: words that only describe damaged packaging or goods.
DAMAGE_WORDS = (
    "破损",
    "压坏",
    "压扁",
    "压塌",
    "漏液",
    "碎",
    "crushed",
    "dented",
    "leaked",
    "smashed",
    "shattered",
)
DELAY_WORDS = (
    "还没到",
    "没收到",
    "不动了",
    "拖了",
    "爆仓",
    "还在显示运输中",
    "hasn't arrived",
    "stuck at",
    "overloaded",
)
LOGIN_WORDS = (
    "登录不上",
    "登录不了",
    "转圈",
    "一登录就闪退",
    "can't log in",
    "can't sign in",
    "login just spins",
)
REDRESS_WORDS = (
    "退款",
    "退货",
    "投诉",
    "赔偿",
    "补发",
    "换一个",
    "说法",
    "refund",
    "replacement",
    "compensation",
    "complaint",
)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(items=5000, days=180, seed=7, now=NOW)


def _unique(demo: DemoData) -> list[FeedbackRecord]:
    """Each item once: re-delivered duplicates (same channel and external id) dropped."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for record in demo.feedback:
        key = (record.channel, record.external_id)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def _days_ago(record: FeedbackRecord) -> float:
    assert record.created_at is not None
    return (NOW - record.created_at).total_seconds() / 86400


def _mentions(record: FeedbackRecord, words: tuple[str, ...]) -> bool:
    return any(word in record.text for word in words)


def _share(records: list[FeedbackRecord], words: tuple[str, ...]) -> float:
    return sum(_mentions(r, words) for r in records) / len(records)


def test_same_seed_gives_the_same_data_and_another_seed_does_not(demo: DemoData) -> None:
    again = generate_demo(items=5000, days=180, seed=7, now=NOW)
    assert [(r.external_id, r.text, r.created_at, r.rating) for r in again.feedback] == [
        (r.external_id, r.text, r.created_at, r.rating) for r in demo.feedback
    ]
    assert [c.name for c in again.customers] == [c.name for c in demo.customers]
    other = generate_demo(items=5000, days=180, seed=8, now=NOW)
    assert [r.text for r in other.feedback[:50]] != [r.text for r in demo.feedback[:50]]


def test_counts_of_items_and_customers(demo: DemoData) -> None:
    assert len(demo.feedback) == 5000
    assert 1100 <= len(demo.customers) <= 1300
    assert len({c.external_id for c in demo.customers}) == len(demo.customers)
    small = generate_demo(items=120, days=30, seed=1, now=NOW)
    assert len(small.feedback) == 120


def test_every_item_passes_ingestion_validation_with_a_known_channel_kind_and_direction(
    demo: DemoData,
) -> None:
    for record in demo.feedback:
        validate_record(record, max_text_chars=20000)
        assert record.channel in CHANNELS
        assert record.kind in KINDS_BY_CHANNEL[record.channel], (record.channel, record.kind)
        assert record.direction == ("indirect" if record.channel in INDIRECT else "direct")
        assert record.language in ("zh", "en")
        assert record.customer is not None and record.external_id


def test_about_three_quarters_chinese_and_one_quarter_english(demo: DemoData) -> None:
    languages = Counter(r.language for r in demo.feedback)
    assert 0.18 <= languages["en"] / len(demo.feedback) <= 0.32
    english = [r for r in demo.feedback if r.language == "en"]
    assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in r.text) for r in english)


def test_all_channels_and_kinds_are_used(demo: DemoData) -> None:
    assert {r.channel for r in demo.feedback} == CHANNELS
    kinds = Counter(r.kind for r in demo.feedback)
    assert set(kinds) == set().union(*KINDS_BY_CHANNEL.values())
    assert kinds["review"] > kinds["complaint"] > kinds["call_note"] > 0


def test_ratings_sit_on_their_scales_and_follow_the_sentiment(demo: DemoData) -> None:
    by_sentiment: dict[tuple[tuple[float, float] | None, str], list[float]] = {}
    for record in demo.feedback:
        if record.rating is None:
            assert record.rating_scale is None
            assert record.kind not in ("review", "survey_answer")
            continue
        assert record.rating_scale in ((1.0, 5.0), (0.0, 10.0))
        low, high = record.rating_scale
        assert low <= record.rating <= high and record.rating == int(record.rating)
        if record.rating_scale == (0.0, 10.0):
            assert record.kind == "survey_answer" and record.metadata["nps"] == record.rating
        sentiment = record.metadata["demo_truth"]["sentiment"]
        by_sentiment.setdefault((record.rating_scale, sentiment), []).append(record.rating)
    stars = {s: sum(v) / len(v) for (scale, s), v in by_sentiment.items() if scale == (1.0, 5.0)}
    nps = {s: sum(v) / len(v) for (scale, s), v in by_sentiment.items() if scale == (0.0, 10.0)}
    assert stars["positive"] > 4.2 > stars["neutral"] > 2.5 > stars["negative"]
    assert nps["positive"] > 8.5 > nps["neutral"] > 5.0 > nps["negative"]
    negative_stars = by_sentiment[((1.0, 5.0), "negative")]
    assert 0 < negative_stars.count(5.0) < 0.1 * len(negative_stars)  # a little noise, not much


def test_sentiment_mix_is_mostly_positive_with_a_quarter_negative(demo: DemoData) -> None:
    sentiments = Counter(r.metadata["demo_truth"]["sentiment"] for r in _unique(demo))
    total = sum(sentiments.values())
    assert sentiments["positive"] / total > 0.45
    assert 0.20 <= sentiments["negative"] / total <= 0.32
    assert 0.10 <= sentiments["neutral"] / total <= 0.30


def test_dates_are_utc_inside_the_window_with_growth_and_weekend_reviews(demo: DemoData) -> None:
    for record in demo.feedback:
        assert record.created_at is not None and record.created_at.utcoffset() == timedelta(0)
        assert NOW - timedelta(days=180) <= record.created_at <= NOW
    ordinary = [r for r in _unique(demo) if r.metadata["demo_truth"]["story"] is None]
    first = sum(_days_ago(r) >= 120 for r in ordinary)
    last = sum(_days_ago(r) < 60 for r in ordinary)
    assert last > 1.2 * first
    reviews = [r for r in ordinary if r.kind == "review"]
    weekend = sum((r.created_at + CHINA).weekday() >= 5 for r in reviews if r.created_at)
    assert weekend / 2 > (len(reviews) - weekend) / 5  # more reviews per weekend day than per weekday


def test_duplicates_are_few_and_repeat_an_earlier_item_exactly(demo: DemoData) -> None:
    first_seen: dict[tuple[str, str | None], FeedbackRecord] = {}
    duplicates = 0
    for record in demo.feedback:
        key = (record.channel, record.external_id)
        if key in first_seen:
            duplicates += 1
            original = first_seen[key]
            assert record.content_hash() == original.content_hash()
            assert record.dedupe_key() == original.dedupe_key()
        else:
            first_seen[key] = record
    assert 0.005 * len(demo.feedback) <= duplicates <= 0.02 * len(demo.feedback)


def test_external_ids_carry_the_channel_prefix(demo: DemoData) -> None:
    prefixes = {r.channel: r.external_id.split("-")[0] for r in demo.feedback if r.external_id}
    assert prefixes["taobao"] == "TB" and prefixes["survey"] == "SV"
    assert len(set(prefixes.values())) == len(prefixes)


def test_packaging_complaints_surge_in_the_last_three_weeks(demo: DemoData) -> None:
    items = _unique(demo)
    recent = [r for r in items if _days_ago(r) < 21]
    baseline = [r for r in items if 28 <= _days_ago(r) < 150]
    last_week = [r for r in items if _days_ago(r) < 7]
    assert _share(baseline, DAMAGE_WORDS) < 0.04
    assert _share(recent, DAMAGE_WORDS) > 0.10
    assert _share(recent, DAMAGE_WORDS) > 4 * _share(baseline, DAMAGE_WORDS)
    assert _share(last_week, DAMAGE_WORDS) > _share(recent, DAMAGE_WORDS)
    weekly = [
        _share([r for r in items if 7 * w <= _days_ago(r) < 7 * (w + 1)], DAMAGE_WORDS) for w in range(20)
    ]
    assert max(weekly[4:]) < min(weekly[:2])  # no earlier week comes near the last two


def test_packaging_complaints_concentrate_on_three_products_from_one_warehouse(demo: DemoData) -> None:
    recent = [r for r in _unique(demo) if _days_ago(r) < 21 and _mentions(r, DAMAGE_WORDS)]
    warehouses = Counter(r.metadata.get("warehouse") for r in recent)
    products = Counter(r.product for r in recent)
    top_warehouse, count = warehouses.most_common(1)[0]
    assert top_warehouse == "WH-Shanghai" and count > 0.8 * len(recent)
    top_three = products.most_common(3)
    assert sum(n for _, n in top_three) > 0.8 * len(recent)
    story_products = {name for name, _ in top_three}
    elsewhere = [
        r
        for r in _unique(demo)
        if _days_ago(r) < 21
        and r.product in story_products
        and r.metadata.get("warehouse") not in (None, top_warehouse)
    ]
    assert (
        _share(elsewhere, DAMAGE_WORDS) < 0.1
    )  # the same products shipped from other warehouses arrive intact


def test_damage_words_appear_only_in_packaging_complaints(demo: DemoData) -> None:
    for record in demo.feedback:
        if _mentions(record, DAMAGE_WORDS):
            assert record.metadata["demo_truth"]["aspects"].get("packaging") == "negative", record.text


def test_holiday_delivery_delays_spike_60_to_70_days_ago(demo: DemoData) -> None:
    items = _unique(demo)
    window = [r for r in items if 60 <= _days_ago(r) < 70]
    outside = [r for r in items if _days_ago(r) >= 80 or 21 <= _days_ago(r) < 50]
    assert _share(window, DELAY_WORDS) > 0.08
    assert _share(window, DELAY_WORDS) > 4 * _share(outside, DELAY_WORDS)
    carriers = Counter(r.metadata.get("carrier") for r in window if _mentions(r, DELAY_WORDS))
    assert carriers["ZTO"] + carriers["YTO"] > 0.6 * sum(carriers.values())


def test_app_login_bug_shows_in_one_week_and_one_app_version(demo: DemoData) -> None:
    login = [r for r in _unique(demo) if _mentions(r, LOGIN_WORDS)]
    assert len(login) >= 15
    assert all(38 <= _days_ago(r) < 45 for r in login)
    assert all(r.metadata.get("app_version") in (None, "3.2.0") for r in login)
    assert Counter(r.channel for r in login).most_common(1)[0][0] == "app_store"


def test_complaints_ask_for_redress(demo: DemoData) -> None:
    complaints = [r for r in demo.feedback if r.kind == "complaint"]
    assert len(complaints) > 100
    assert sum(_mentions(r, REDRESS_WORDS) for r in complaints) > 0.9 * len(complaints)


def test_texts_are_varied_not_near_identical(demo: DemoData) -> None:
    items = _unique(demo)
    assert len({r.text for r in items}) > 0.85 * len(items)
    reviews = [r.text for r in items if r.kind == "review" and r.language == "zh"]
    assert Counter(reviews).most_common(1)[0][1] < 0.01 * len(reviews)


def test_customers_have_segments_consents_and_safe_contacts(demo: DemoData) -> None:
    by_id = {c.external_id: c for c in demo.customers}
    for customer in demo.customers:
        assert customer.region in {"华东", "华中", "华北", "东北", "华南", "西南", "西北", "海外"}
        assert customer.tier in {"普通", "银卡", "金卡", "钻石"}
        assert customer.lifetime_value > 0
        assert customer.email is None or customer.email.rsplit(".", 1)[0].endswith("@example")
        for purpose, granted, at in customer.consents:
            assert purpose in ("survey", "follow_up", "marketing") and isinstance(granted, bool)
            assert at.tzinfo is not None and at <= NOW
    purposes = Counter((p, g) for c in demo.customers for p, g, _ in c.consents)
    assert purposes[("marketing", True)] < purposes[("marketing", False)]  # fewer agree to marketing
    assert purposes[("survey", True)] > purposes[("survey", False)]
    for record in demo.feedback:
        assert record.customer is not None
        customer = by_id[record.customer.external_id]
        assert (record.customer.name, record.customer.region, record.customer.tier) == (
            customer.name,
            customer.region,
            customer.tier,
        )
        assert record.language == customer.language
    active = Counter(r.customer.external_id for r in demo.feedback if r.customer)
    assert active.most_common(1)[0][1] > 10  # some customers speak up often


def test_reviews_carry_orders_and_products(demo: DemoData) -> None:
    reviews = [r for r in demo.feedback if r.channel in ("taobao", "jd")]
    assert all(r.order_id and r.product and r.metadata.get("warehouse") for r in reviews)
    assert all(r.order_id.isdigit() for r in reviews if r.order_id)
    assert len({r.product for r in demo.feedback if r.product}) >= 10


def test_story_lines_are_bilingual_and_match_the_window(demo: DemoData) -> None:
    assert len(demo.stories) == 3
    for line in demo.stories:
        zh, en = line.split(" | ")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en.isascii()
    assert "WH-Shanghai" in demo.stories[0]
    short = generate_demo(items=300, days=30, seed=3, now=NOW)
    assert len(short.stories) == 1  # only the packaging story fits into 30 days


@pytest.mark.parametrize("arguments", [{"items": 0}, {"days": 0}])
def test_refuses_empty_windows(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        generate_demo(**arguments, now=NOW)
