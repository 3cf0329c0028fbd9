"""Synthetic demo data for ``closeloop demo``: customers, feedback and planted stories, with no database.

``generate_demo`` returns ~1,200 customers (per 5,000 items) and feedback from nine channels over the last
``days`` days for the fictional brand 知屿 / Zhiyu, written from the templates in ``phrases.py``. It is
deterministic for a seed and a ``now``. Three stories are planted for dashboards and alerts to reveal:

* packaging damage: in the last 21 days, packaging complaints (破损/压坏/漏液/碎, crushed/leaked) on the
  dinnerware set, the glass kettle and the hand soap set shipped from WH-Shanghai grow from ~2% of all
  items to ~15% of items on average in those three weeks (~20%+ in the last week);
* delivery delays around a holiday peak 70–60 days ago, mostly carriers ZTO and YTO;
* an app login bug in app version 3.2.0, 45–38 days ago, on the app-connected devices.

Every item's ``metadata["demo_truth"]`` holds the answer key (overall sentiment, aspect polarities, story)
so analysis can be checked against it; the texts carry the same signal on their own.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from closeloop.collect.records import CustomerRef, FeedbackRecord
from closeloop.demo import phrases as ph
from closeloop.demo.phrases import PRODUCTS, Product

CHINA_TZ = timezone(timedelta(hours=8))

CHANNEL_DIRECTION: dict[str, str] = {
    "survey": "direct",
    "taobao": "indirect",
    "jd": "indirect",
    "weibo": "indirect",
    "wechat": "direct",
    "ticket": "direct",
    "email": "direct",
    "app_store": "indirect",
    "community": "direct",
}
CHANNEL_ID_PREFIX: dict[str, str] = {
    "survey": "SV",
    "taobao": "TB",
    "jd": "JD",
    "weibo": "WB",
    "wechat": "WX",
    "ticket": "TK",
    "email": "EM",
    "app_store": "AS",
    "community": "CM",
}
# How often each language speaks through each channel (English speakers rarely use Taobao, never Weibo).
CHANNEL_WEIGHTS: dict[str, dict[str, float]] = {
    "zh": {
        "survey": 15,
        "taobao": 22,
        "jd": 15,
        "weibo": 8,
        "wechat": 12,
        "ticket": 10,
        "email": 3,
        "app_store": 5,
        "community": 5,
    },
    "en": {
        "survey": 22,
        "taobao": 3,
        "jd": 4,
        "wechat": 5,
        "ticket": 18,
        "email": 20,
        "app_store": 15,
        "community": 13,
    },
}
MARKETPLACE_CHANNELS = ("taobao", "jd", "weibo", "app_store")
OFFICE_CHANNELS = ("ticket", "email")
# P(positive), P(neutral), P(negative) of ordinary (non-story) items per channel.
CHANNEL_SENTIMENT: dict[str, tuple[float, float, float]] = {
    "survey": (0.70, 0.14, 0.16),
    "taobao": (0.76, 0.10, 0.14),
    "jd": (0.76, 0.10, 0.14),
    "weibo": (0.55, 0.18, 0.27),
    "wechat": (0.32, 0.40, 0.28),
    "ticket": (0.12, 0.40, 0.48),
    "email": (0.30, 0.36, 0.34),
    "app_store": (0.62, 0.13, 0.25),
    "community": (0.42, 0.43, 0.15),
}
SENTIMENTS = ("positive", "neutral", "negative")

# region, share of customers, share of them writing in English, warehouse that ships to them
REGIONS: tuple[tuple[str, float, float, str], ...] = (
    ("华东", 0.30, 0.17, "WH-Shanghai"),
    ("华中", 0.10, 0.17, "WH-Shanghai"),
    ("华北", 0.16, 0.17, "WH-Beijing"),
    ("东北", 0.04, 0.17, "WH-Beijing"),
    ("华南", 0.17, 0.17, "WH-Guangzhou"),
    ("西南", 0.09, 0.17, "WH-Chengdu"),
    ("西北", 0.04, 0.17, "WH-Chengdu"),
    ("海外", 0.10, 0.9, "WH-Shenzhen-Export"),
)
# tier, share of customers, median lifetime value (CNY), how much more often they give feedback
TIERS: tuple[tuple[str, float, float, float], ...] = (
    ("普通", 0.60, 600.0, 1.0),
    ("银卡", 0.22, 2500.0, 1.3),
    ("金卡", 0.13, 8000.0, 1.7),
    ("钻石", 0.05, 30000.0, 2.2),
)
# purpose, P(customer has a record), P(granted)
CONSENT_PURPOSES: tuple[tuple[str, float, float], ...] = (
    ("survey", 0.9, 0.85),
    ("follow_up", 0.8, 0.8),
    ("marketing", 0.7, 0.4),
)
EMAIL_DOMAINS = (
    "example.com",
    "example.net",
    "example.org",
)  # reserved domains: demo mail never reaches anyone

STORY_PACKAGING = "packaging_damage"
STORY_LOGISTICS = "holiday_delivery_delay"
STORY_APP_LOGIN = "app_login_bug"
PACKAGING_STORY_SKUS = ("ZY-CW11", "ZY-KT10", "ZY-DS16")
PACKAGING_STORY_WAREHOUSE = "WH-Shanghai"
LOGISTICS_STORY_CARRIERS = ("ZTO", "YTO")
BUGGY_APP_VERSION = "3.2.0"

HOUR_WEIGHTS = (
    0.25,
    0.12,
    0.06,
    0.04,
    0.04,
    0.08,
    0.2,
    0.4,
    0.6,
    0.8,
    0.95,
    1.0,
    0.85,
    0.8,
    0.85,
    0.85,
    0.8,
    0.75,
    0.7,
    0.8,
    0.95,
    1.0,
    0.9,
    0.55,
)
WEEKDAY_WEIGHTS = (1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.25)  # Monday … Sunday, China time
DUPLICATE_SHARE = 0.01
ITEMS_PER_CUSTOMER = 5000 / 1200


@dataclass(slots=True)
class DemoCustomer:
    """A synthetic customer with segment fields and consent history ``(purpose, granted, at)``."""

    external_id: str
    name: str
    email: str | None
    phone: str | None
    region: str
    tier: str
    lifetime_value: float
    language: str
    consents: list[tuple[str, bool, datetime]]


@dataclass(slots=True)
class DemoData:
    """Everything ``closeloop demo`` loads, plus one zh + en line per planted story."""

    customers: list[DemoCustomer]
    feedback: list[FeedbackRecord]
    stories: list[str]


@dataclass(frozen=True, slots=True)
class _Story:
    name: str
    start_ago: float  # days before now when it starts
    end_ago: float  # days before now when it ends
    low: float  # extra volume (as a share of normal volume) at the start
    high: float  # … at its strongest
    shape: str  # "ramp" grows to the end, "hump" peaks in the middle, "flat"

    def intensity(self, ago: float) -> float:
        """Extra items about this story per normal item, ``ago`` days before now (0 outside the window)."""
        if not self.end_ago <= ago < self.start_ago:
            return 0.0
        span = self.start_ago - self.end_ago
        if self.shape == "ramp":
            return self.low + (self.high - self.low) * (self.start_ago - ago) / span
        if self.shape == "hump":
            middle = (self.start_ago + self.end_ago) / 2
            return self.low + (self.high - self.low) * (1 - abs(ago - middle) / (span / 2))
        return self.high


STORIES: tuple[_Story, ...] = (
    _Story(STORY_PACKAGING, 21, 0, 0.05, 0.25, "ramp"),
    _Story(STORY_LOGISTICS, 70, 60, 0.06, 0.30, "hump"),
    _Story(STORY_APP_LOGIN, 45, 38, 0.15, 0.15, "flat"),
)


@dataclass(slots=True)
class _Buyer:
    """A customer while generating: the public record plus activity and the orders placed so far."""

    customer: DemoCustomer
    warehouse: str
    activity: float
    orders: list[tuple[str, str, str, datetime]] = field(default_factory=list)  # sku, platform, id, placed


@dataclass(slots=True)
class _Plan:
    """What one feedback item will say, decided before its text is written."""

    created_at: datetime
    buyer: _Buyer
    language: str
    channel: str
    kind: str
    sentiment: str
    story: str | None
    product: Product | None
    aspects: dict[str, str]
    mode: str = "aspects"  # aspects | question | not_used | default_review | suggestion
    metadata: dict[str, Any] = field(default_factory=dict)
    order_id: str | None = None


def generate_demo(
    *, items: int = 5000, days: int = 180, seed: int = 7, now: datetime | None = None
) -> DemoData:
    """Customers, ``items`` feedback records over the last ``days`` days and the planted stories.

    Deterministic for the same arguments; ``now`` ends the window (default: the start of today, UTC).
    About 1% of the records repeat an earlier record exactly (same external id), to exercise dedupe.
    """
    if items < 1:
        raise ValueError("items must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if now is None:  # start of today (UTC), so two runs on one day produce the same items and ids
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    stories = tuple(story for story in STORIES if story.start_ago <= days)
    buyers = _make_buyers(rng, max(10, round(items / ITEMS_PER_CUSTOMER)), now, days)
    duplicates = round(items * DUPLICATE_SHARE) if items >= 50 else 0
    times = sorted(_sample_times(rng, items - duplicates, now, days, stories))
    pools = _BuyerPools(buyers)
    plans = [_plan_item(rng, created_at, now, stories, pools) for created_at in times]
    records = [_record(rng, plan) for plan in plans]
    _assign_external_ids(records)
    records = _add_duplicates(rng, records, duplicates)
    return DemoData(
        customers=[buyer.customer for buyer in buyers],
        feedback=records,
        stories=[_story_line(story, now) for story in stories],
    )


# ---------------------------------------------------------------- customers


def _make_buyers(rng: random.Random, count: int, now: datetime, days: int) -> list[_Buyer]:
    region_weights = [region[1] for region in REGIONS]
    tier_weights = [tier[1] for tier in TIERS]
    buyers = []
    for number in range(1, count + 1):
        region, _, english_share, warehouse = rng.choices(REGIONS, region_weights)[0]
        tier, _, median_value, activity = rng.choices(TIERS, tier_weights)[0]
        language = "en" if rng.random() < english_share else "zh"
        name = _person_name(rng, language)
        signed_up = now - timedelta(days=days + rng.expovariate(1 / 400), hours=rng.uniform(0, 24))
        customer = DemoCustomer(
            external_id=f"CUST-{number:06d}",
            name=name,
            email=_email(rng, name, language, number),
            phone=_phone(rng, language),
            region=region,
            tier=tier,
            lifetime_value=round(median_value * math.exp(rng.gauss(0, 0.5)), 2),
            language=language,
            consents=_consents(rng, signed_up, now),
        )
        buyers.append(_Buyer(customer, warehouse, activity * min(8.0, rng.paretovariate(2.0))))
    return buyers


def _person_name(rng: random.Random, language: str) -> str:
    if language == "en":
        return f"{rng.choice(ph.FIRST_NAMES_EN)} {rng.choice(ph.LAST_NAMES_EN)}"
    given = "".join(rng.choice(ph.GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(ph.SURNAMES) + given


def _email(rng: random.Random, name: str, language: str, number: int) -> str | None:
    """An address on a reserved example domain, or None (many Chinese shoppers leave only a phone)."""
    if rng.random() > (0.9 if language == "en" else 0.45):
        return None
    if language == "en":
        local = name.lower().replace(" ", ".").replace("ü", "u")
        local = "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch in ".-"))
    else:
        local = rng.choice((str(rng.randint(10_000_000, 2_999_999_999)), f"zy_user{number}"))
    return f"{local}{rng.randint(1, 99) if rng.random() < 0.4 else ''}@{rng.choice(EMAIL_DOMAINS)}"


def _phone(rng: random.Random, language: str) -> str | None:
    if language == "en":
        return f"+1-555-01{rng.randint(0, 99):02d}" if rng.random() < 0.3 else None  # fictional 555-01xx
    if rng.random() < 0.15:
        return None
    rng.choice(range(8))  # the draw that once picked a carrier prefix: keeps each seed's data as it was
    # Fictional on purpose: no Chinese mobile number starts with 10, so none of these can be a real person's.
    return f"100{rng.randint(0, 99_999_999):08d}"


def _consents(rng: random.Random, signed_up: datetime, now: datetime) -> list[tuple[str, bool, datetime]]:
    """One record per purpose asked at sign-up; some marketing consents are withdrawn later."""
    records = []
    for purpose, asked, granted_share in CONSENT_PURPOSES:
        if rng.random() >= asked:
            continue
        granted = rng.random() < granted_share
        at = signed_up + timedelta(minutes=rng.randint(0, 30))
        records.append((purpose, granted, at))
        if purpose == "marketing" and granted and rng.random() < 0.12:
            withdrawn = at + (now - at) * rng.uniform(0.2, 0.99)
            records.append((purpose, False, withdrawn))
    return records


class _BuyerPools:
    """Weighted random choice of the customer behind an item, overall or within the story's warehouse."""

    def __init__(self, buyers: list[_Buyer]) -> None:
        self.all = buyers
        self.all_weights = _cumulative([buyer.activity for buyer in buyers])
        self.story = [buyer for buyer in buyers if buyer.warehouse == PACKAGING_STORY_WAREHOUSE] or buyers
        self.story_weights = _cumulative([buyer.activity for buyer in self.story])

    def pick(self, rng: random.Random, *, story_warehouse: bool = False) -> _Buyer:
        if story_warehouse:
            return rng.choices(self.story, cum_weights=self.story_weights)[0]
        return rng.choices(self.all, cum_weights=self.all_weights)[0]


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


# ---------------------------------------------------------------- time


def _sample_times(
    rng: random.Random, count: int, now: datetime, days: int, stories: tuple[_Story, ...]
) -> list[datetime]:
    """Times with growth over the window, weekly and daily rhythm (China time) and story surges."""
    ceiling = 1.25 * max(WEEKDAY_WEIGHTS) * max(HOUR_WEIGHTS) * (1 + sum(s.high for s in stories))
    times: list[datetime] = []
    while len(times) < count:
        ago = rng.uniform(0, days)
        at = now - timedelta(days=ago)
        local = at.astimezone(CHINA_TZ)
        weight = (
            (0.75 + 0.5 * (1 - ago / days))
            * WEEKDAY_WEIGHTS[local.weekday()]
            * HOUR_WEIGHTS[local.hour]
            * (1 + sum(story.intensity(ago) for story in stories))
        )
        if rng.random() * ceiling < weight:
            times.append(at.replace(microsecond=0))
    return times


def _days_ago(now: datetime, at: datetime) -> float:
    return (now - at).total_seconds() / 86400


def _pick_story(rng: random.Random, ago: float, stories: tuple[_Story, ...]) -> str | None:
    """Which story (if any) an item at this time belongs to, in proportion to the surge it adds."""
    intensities = [story.intensity(ago) for story in stories]
    draw = rng.random() * (1 + sum(intensities))
    for story, intensity in zip(stories, intensities, strict=True):
        if draw < intensity:
            return story.name
        draw -= intensity
    return None


# ---------------------------------------------------------------- planning


def _plan_item(
    rng: random.Random, created_at: datetime, now: datetime, stories: tuple[_Story, ...], pools: _BuyerPools
) -> _Plan:
    ago = _days_ago(now, created_at)
    story = _pick_story(rng, ago, stories)
    buyer = pools.pick(rng, story_warehouse=story == STORY_PACKAGING)
    language = buyer.customer.language
    if story == STORY_PACKAGING:
        plan = _plan_packaging_story(rng, created_at, buyer, language)
    elif story == STORY_LOGISTICS:
        plan = _plan_logistics_story(rng, created_at, buyer, language)
    elif story == STORY_APP_LOGIN:
        plan = _plan_app_story(rng, created_at, buyer, language)
    else:
        plan = _plan_ordinary(rng, created_at, buyer, language)
    _attach_order(rng, plan)
    if plan.product and (plan.channel == "app_store" or "app" in plan.aspects):
        plan.metadata["app_version"] = _app_version(rng, ago)
    return plan


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _channel(rng: random.Random, language: str, created_at: datetime) -> str:
    weekend = created_at.astimezone(CHINA_TZ).weekday() >= 5
    weights = dict(CHANNEL_WEIGHTS[language])
    for name in weights:  # people review and post at weekends, and write to the office on weekdays
        if name in MARKETPLACE_CHANNELS:
            weights[name] *= 1.3 if weekend else 0.9
        elif name in OFFICE_CHANNELS:
            weights[name] *= 0.6 if weekend else 1.15
    return _weighted(rng, weights)


def _kind(rng: random.Random, channel: str, sentiment: str) -> str:
    """The kind of item, given where it arrived and how the customer feels."""
    roll = rng.random()
    if channel == "survey":
        return "survey_answer"
    if channel in ("taobao", "jd", "app_store"):
        return "review"
    if channel == "weibo":
        return "social_post"
    if channel == "ticket":
        if roll < 0.08:
            return "call_note"
        return "complaint" if sentiment == "negative" and roll < 0.38 else "ticket"
    if channel == "email":
        if sentiment == "negative" and roll < 0.3:
            return "complaint"
        return "suggestion" if sentiment == "neutral" and roll < 0.3 else "email"
    if channel == "wechat":
        if sentiment == "negative" and roll < 0.35:
            return "complaint"
        return "suggestion" if sentiment == "neutral" and roll < 0.2 else "chat"
    return "suggestion" if sentiment == "neutral" and roll < 0.65 else "social_post"  # community


def _pick_product(
    rng: random.Random, *, need_trait: str | None = None, skus: tuple[str, ...] = ()
) -> Product:
    candidates = [
        product
        for product in PRODUCTS
        if (not need_trait or need_trait in product.traits) and (not skus or product.sku in skus)
    ]
    return rng.choices(candidates, [product.popularity for product in candidates])[0]


def _plan_ordinary(rng: random.Random, created_at: datetime, buyer: _Buyer, language: str) -> _Plan:
    channel = _channel(rng, language, created_at)
    sentiment = rng.choices(SENTIMENTS, CHANNEL_SENTIMENT[channel])[0]
    kind = _kind(rng, channel, sentiment)
    mode = "aspects"
    if kind == "suggestion":
        mode = "suggestion"
    elif sentiment == "neutral" and kind in ("chat", "ticket", "email", "social_post") and rng.random() < 0.5:
        mode = "question"
    elif sentiment == "neutral" and kind == "review" and channel != "app_store":
        roll = rng.random()
        mode = "default_review" if roll < 0.05 else "not_used" if roll < 0.3 else "aspects"
    if channel == "app_store":
        product: Product | None = _pick_product(rng, need_trait="app")
    elif rng.random() < (0.4 if mode in ("question", "suggestion") else 0.1 if kind == "ticket" else 0.0):
        product = None  # general questions, and tickets about an account rather than a product
    else:
        product = _pick_product(rng)
    aspects = _choose_aspects(rng, sentiment, product, channel) if mode == "aspects" else {}
    if mode == "suggestion":
        aspects = {"suggestion": "neutral"}
    return _Plan(created_at, buyer, language, channel, kind, sentiment, None, product, aspects, mode)


ASPECT_WEIGHTS: dict[str, dict[str, float]] = {
    "positive": {
        "performance": 3,
        "quality": 2.5,
        "appearance": 1.5,
        "price": 1.5,
        "logistics": 1.2,
        "packaging": 0.6,
        "service": 0.8,
        "ease_of_use": 1.0,
        "battery": 1.0,
        "noise": 0.6,
        "app": 0.6,
    },
    "negative": {
        "performance": 3,
        "quality": 2.5,
        "appearance": 0.6,
        "price": 0.6,
        "logistics": 1.2,
        "packaging": 0.9,
        "service": 1.3,
        "ease_of_use": 0.7,
        "battery": 1.0,
        "noise": 0.8,
        "app": 0.8,
    },
    "neutral": {
        "performance": 1,
        "quality": 2,
        "appearance": 1,
        "price": 1,
        "logistics": 1,
        "packaging": 0.5,
        "service": 1,
        "ease_of_use": 1,
        "battery": 0.5,
        "noise": 0.5,
        "app": 0.5,
    },
}
TRAIT_ASPECTS = ("battery", "noise", "app")


def _choose_aspects(
    rng: random.Random, sentiment: str, product: Product | None, channel: str
) -> dict[str, str]:
    """Aspect → polarity: one to three in the item's sentiment, sometimes one of the other polarity."""
    if product is None:
        available = ["service", "logistics", "price"]
    else:
        available = [a for a in ASPECT_WEIGHTS[sentiment] if a not in TRAIT_ASPECTS or a in product.traits]
    if channel in ("ticket", "wechat", "email") and sentiment != "positive":
        available = [a for a in available if a not in ("appearance",)]
    if sentiment == "neutral":
        count = rng.choices((1, 2), (0.7, 0.3))[0]
    elif sentiment == "positive":
        count = rng.choices((1, 2, 3), (0.35, 0.45, 0.2))[0]
    else:
        count = rng.choices((1, 2), (0.65, 0.35))[0]
    if channel == "survey":
        count = 1 if rng.random() < 0.6 else count
    chosen = _sample_without_replacement(rng, available, ASPECT_WEIGHTS[sentiment], count)
    if channel == "app_store" and "app" not in chosen:
        chosen = ["app", *chosen[: count - 1]]
    aspects = {aspect: sentiment for aspect in chosen}
    other = {"positive": "negative", "negative": "positive"}.get(sentiment)
    if other and rng.random() < (0.15 if sentiment == "positive" else 0.25):
        clash = (
            ("quality", "price") if {"quality", "price"} & set(aspects) else ()
        )  # "great value … poor value"
        rest = [a for a in available if a not in aspects and a != "packaging" and a not in clash]
        if rest:
            aspects[_sample_without_replacement(rng, rest, ASPECT_WEIGHTS[other], 1)[0]] = other
    return aspects


def _sample_without_replacement(
    rng: random.Random, options: list[str], weights: dict[str, float], count: int
) -> list[str]:
    pool = list(options)
    chosen: list[str] = []
    while pool and len(chosen) < count:
        pick = rng.choices(pool, [weights.get(option, 1.0) for option in pool])[0]
        chosen.append(pick)
        pool.remove(pick)
    return chosen


STORY_CHANNELS: dict[str, dict[str, dict[str, float]]] = {
    STORY_PACKAGING: {
        "zh": {"taobao": 30, "jd": 20, "wechat": 15, "ticket": 15, "weibo": 10, "email": 3, "survey": 7},
        "en": {"email": 30, "ticket": 25, "survey": 15, "community": 10, "taobao": 10, "jd": 10},
    },
    STORY_LOGISTICS: {
        "zh": {"taobao": 25, "jd": 15, "wechat": 20, "ticket": 20, "weibo": 10, "survey": 10},
        "en": {"email": 35, "ticket": 30, "survey": 20, "wechat": 15},
    },
    STORY_APP_LOGIN: {
        "zh": {"app_store": 45, "ticket": 20, "community": 15, "wechat": 10, "weibo": 10},
        "en": {"app_store": 50, "email": 20, "ticket": 20, "community": 10},
    },
}


def _story_plan(
    rng: random.Random,
    created_at: datetime,
    buyer: _Buyer,
    language: str,
    story: str,
    product: Product,
    aspects: dict[str, str],
) -> _Plan:
    channel = _weighted(rng, STORY_CHANNELS[story][language])
    kind = _kind(rng, channel, "negative")
    if kind in ("ticket", "email", "chat") and rng.random() < 0.4:
        kind = "complaint"  # a broken delivery or a locked-out account makes people formal
    if kind == "call_note":
        kind = "ticket"
    return _Plan(created_at, buyer, language, channel, kind, "negative", story, product, aspects)


def _plan_packaging_story(rng: random.Random, created_at: datetime, buyer: _Buyer, language: str) -> _Plan:
    product = _pick_product(rng, skus=PACKAGING_STORY_SKUS)
    aspects = {"packaging": "negative"}
    if rng.random() < 0.3:
        aspects["quality"] = "positive"  # "the product itself is fine, but …"
    return _story_plan(rng, created_at, buyer, language, STORY_PACKAGING, product, aspects)


def _plan_logistics_story(rng: random.Random, created_at: datetime, buyer: _Buyer, language: str) -> _Plan:
    plan = _story_plan(
        rng, created_at, buyer, language, STORY_LOGISTICS, _pick_product(rng), {"logistics": "negative"}
    )
    if rng.random() < 0.8:
        plan.metadata["carrier"] = rng.choice(LOGISTICS_STORY_CARRIERS)
    return plan


def _plan_app_story(rng: random.Random, created_at: datetime, buyer: _Buyer, language: str) -> _Plan:
    return _story_plan(
        rng,
        created_at,
        buyer,
        language,
        STORY_APP_LOGIN,
        _pick_product(rng, need_trait="app"),
        {"app": "negative"},
    )


def _app_version(rng: random.Random, ago: float) -> str:
    if ago >= 45:
        return rng.choice(("3.1.4", "3.1.5", "3.1.6"))
    if ago >= 38:
        return BUGGY_APP_VERSION
    return rng.choice(("3.2.1", "3.2.2"))


ORDER_SHARE = {
    "taobao": 1.0,
    "jd": 1.0,
    "survey": 0.85,
    "ticket": 0.8,
    "email": 0.5,
    "wechat": 0.6,
    "weibo": 0.2,
    "community": 0.1,
    "app_store": 0.0,
}


def _attach_order(rng: random.Random, plan: _Plan) -> None:
    """Give the item an order (reusing the customer's recent order of the product on direct channels)."""
    needs_order = plan.story in (STORY_PACKAGING, STORY_LOGISTICS) and plan.channel != "community"
    if plan.product is None or not (needs_order or rng.random() < ORDER_SHARE[plan.channel]):
        return
    buyer, sku = plan.buyer, plan.product.sku
    platform = plan.channel if plan.channel in ("taobao", "jd") else None
    recent = [
        order
        for order in buyer.orders
        if order[0] == sku
        and (platform is None or order[1] == platform)
        and timedelta(0) < plan.created_at - order[3] < timedelta(days=45)
    ]
    if recent and rng.random() < 0.6:
        _, platform, order_id, _ = recent[-1]
    else:
        platform = platform or "official"
        placed = plan.created_at - timedelta(days=rng.uniform(1.5, 9))
        order_id = _order_id(rng, platform, placed)
        buyer.orders.append((sku, platform, order_id, placed))
    plan.order_id = order_id
    plan.metadata["warehouse"] = buyer.warehouse
    if "carrier" not in plan.metadata:
        plan.metadata["carrier"] = _carrier(rng, plan.channel, buyer)


def _order_id(rng: random.Random, platform: str, placed: datetime) -> str:
    if platform == "taobao":
        return str(rng.randint(10**17, 4 * 10**18))
    if platform == "jd":
        return str(rng.randint(2 * 10**11, 3 * 10**11 - 1))
    return f"ZY{placed.astimezone(CHINA_TZ):%y%m%d}{rng.randint(0, 999_999):06d}"


def _carrier(rng: random.Random, channel: str, buyer: _Buyer) -> str:
    if buyer.customer.region == "海外":
        return rng.choice(("DHL", "SF"))
    if channel == "jd" and rng.random() < 0.6:
        return "JDL"
    return rng.choices(("SF", "ZTO", "YTO", "YUNDA", "EMS"), (0.3, 0.25, 0.2, 0.15, 0.1))[0]


# ---------------------------------------------------------------- records


def _record(rng: random.Random, plan: _Plan) -> FeedbackRecord:
    customer = plan.buyer.customer
    rating, scale = _rating(rng, plan)
    metadata = dict(plan.metadata)
    if plan.product:
        metadata["sku"] = plan.product.sku
    metadata.update(_channel_metadata(rng, plan, rating))
    metadata["demo_truth"] = {"sentiment": plan.sentiment, "aspects": dict(plan.aspects), "story": plan.story}
    return FeedbackRecord(
        text=_text(rng, plan),
        channel=plan.channel,
        kind=plan.kind,
        direction=CHANNEL_DIRECTION[plan.channel],
        rating=rating,
        rating_scale=scale,
        language=plan.language,
        created_at=plan.created_at,
        product=plan.product.name_zh if plan.product else None,
        order_id=plan.order_id,
        customer=CustomerRef(
            external_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            region=customer.region,
            tier=customer.tier,
            lifetime_value=customer.lifetime_value,
        ),
        metadata=metadata,
    )


STAR_WEIGHTS = {
    "positive": ((5, 4, 3), (0.72, 0.25, 0.03)),
    "neutral": ((4, 3, 2), (0.3, 0.5, 0.2)),
    "negative": ((1, 2, 3), (0.55, 0.3, 0.15)),
}
NPS_WEIGHTS = {
    "positive": ((10, 9, 8), (0.5, 0.38, 0.12)),
    "neutral": ((8, 7, 6, 5), (0.3, 0.35, 0.25, 0.1)),
    "negative": ((0, 1, 2, 3, 4, 5, 6), (0.1, 0.08, 0.1, 0.14, 0.16, 0.2, 0.22)),
}
CSAT_WEIGHTS = {
    "positive": ((5, 4), (0.65, 0.35)),
    "neutral": ((3, 4, 2), (0.6, 0.25, 0.15)),
    "negative": ((1, 2, 3), (0.5, 0.35, 0.15)),
}


def _rating(rng: random.Random, plan: _Plan) -> tuple[float | None, tuple[float, float] | None]:
    """Stars for reviews, NPS or CSAT for survey answers, in line with the sentiment (with some noise)."""
    if plan.kind == "review":
        if plan.mode == "default_review":
            return 5.0, (1.0, 5.0)
        if plan.sentiment == "negative" and rng.random() < 0.03:
            return 5.0, (1.0, 5.0)  # a careless five stars on a complaint
        if plan.sentiment == "positive" and rng.random() < 0.01:
            return 1.0, (1.0, 5.0)
        values, weights = STAR_WEIGHTS[plan.sentiment]
        return float(rng.choices(values, weights)[0]), (1.0, 5.0)
    if plan.kind != "survey_answer":
        return None, None
    if rng.random() < 0.6:
        plan.metadata["survey"] = "nps"
        if rng.random() < 0.04:
            return float(rng.randint(0, 10)), (0.0, 10.0)
        values, weights = NPS_WEIGHTS[plan.sentiment]
        return float(rng.choices(values, weights)[0]), (0.0, 10.0)
    plan.metadata["survey"] = "csat"
    values, weights = CSAT_WEIGHTS[plan.sentiment]
    return float(rng.choices(values, weights)[0]), (1.0, 5.0)


def _channel_metadata(rng: random.Random, plan: _Plan, rating: float | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if plan.kind == "survey_answer":
        survey = ph.SURVEYS[plan.metadata.get("survey", "nps")]
        metadata["survey"] = survey["name"]
        metadata["question"] = survey["question_zh" if plan.language == "zh" else "question_en"]
        metadata["nps" if survey["name"] == ph.SURVEYS["nps"]["name"] else "csat"] = int(rating or 0)
    elif plan.channel == "taobao":
        metadata["store"] = "知屿官方旗舰店"
    elif plan.channel == "jd":
        metadata["store"] = "知屿京东自营旗舰店"
    elif plan.channel == "app_store":
        metadata["platform"] = rng.choice(("iOS", "Android", "Android"))
    elif plan.channel == "weibo":
        metadata["likes"] = int(rng.paretovariate(1.2) * 3) - 3
        metadata["reposts"] = int(rng.paretovariate(1.5) * 2) - 2
    elif plan.kind in ("ticket", "complaint") and plan.channel == "ticket":
        metadata["priority"] = "high" if plan.sentiment == "negative" and rng.random() < 0.4 else "normal"
    return metadata


def _assign_external_ids(records: list[FeedbackRecord]) -> None:
    """``TB-20260115-000123``: channel prefix, China-time date, running number per channel."""
    counters: dict[str, int] = {}
    for record in records:
        counters[record.channel] = counters.get(record.channel, 0) + 1
        day = record.created_at.astimezone(CHINA_TZ).strftime("%Y%m%d") if record.created_at else "00000000"
        record.external_id = f"{CHANNEL_ID_PREFIX[record.channel]}-{day}-{counters[record.channel]:06d}"


def _add_duplicates(rng: random.Random, records: list[FeedbackRecord], count: int) -> list[FeedbackRecord]:
    """Re-delivered copies (same external id and content), placed right after their originals."""
    if not count or not records:
        return records
    originals = rng.sample(range(len(records)), min(count, len(records)))
    copies = {
        index: replace(
            records[index],
            metadata=dict(records[index].metadata),
            customer=replace(records[index].customer) if records[index].customer else None,
        )
        for index in originals
    }
    out: list[FeedbackRecord] = []
    for index, record in enumerate(records):
        out.append(record)
        if index in copies:
            out.append(copies[index])
    return out


# ---------------------------------------------------------------- texts


def _fill(rng: random.Random, template: str, plan: _Plan) -> str:
    zh = plan.language == "zh"
    product = plan.product
    short = (product.short_zh if zh else product.short_en) if product else ("东西" if zh else "device")
    code = plan.metadata.get("carrier") or rng.choice(("SF", "ZTO", "YTO", "JDL"))
    carrier = ph.COURIERS[code][0 if zh else 1]
    delay = rng.randint(8, 16) if plan.story == STORY_LOGISTICS else rng.randint(6, 12)
    return template.format(
        p=short,
        n=rng.randint(2, 5),
        d=rng.randint(3, 16),
        dd=delay,
        h=rng.choice((2, 4, 12, 24, 48)),
        m=rng.choice((20, 30, 50, 80, 100, 150)),
        c=carrier,
        city=rng.choice(ph.HUB_CITIES[plan.language]),
        v=BUGGY_APP_VERSION,
    )


def _aspect_clause(rng: random.Random, plan: _Plan, aspect: str, polarity: str) -> str:
    lang = plan.language
    if aspect == "performance" and plan.product and polarity != "neutral":
        product = plan.product
        options = {
            ("zh", "positive"): product.good_zh,
            ("zh", "negative"): product.bad_zh,
            ("en", "positive"): product.good_en,
            ("en", "negative"): product.bad_en,
        }[(lang, polarity)]
    else:
        key = "quality" if aspect == "performance" else aspect
        options = ph.ASPECT_PHRASES[lang][key][polarity]
    return _fill(rng, rng.choice(options), plan)


def _story_clauses(rng: random.Random, plan: _Plan) -> list[str]:
    lang = plan.language
    if plan.story == STORY_PACKAGING:
        assert plan.product is not None
        damage = ph.PACKAGING_DAMAGE[lang]
        specific = [phrase for trait in plan.product.traits for phrase in damage.get(trait, ())]
        clauses = []
        if specific and rng.random() < 0.35:
            clauses.append(_fill(rng, rng.choice(damage["any"]), plan))
        clauses.append(
            _fill(rng, rng.choice(specific if specific and rng.random() < 0.7 else damage["any"]), plan)
        )
        if "quality" in plan.aspects:
            clauses[0] = _fill(rng, rng.choice(ph.PACKAGING_PRODUCT_OK[lang]), plan) + clauses[0]
        return clauses
    source = ph.LOGISTICS_DELAY if plan.story == STORY_LOGISTICS else ph.APP_LOGIN_BUG
    picks = rng.sample(source[lang], rng.choice((1, 1, 2)))
    return [_fill(rng, pick, plan) for pick in picks]


def _body(rng: random.Random, plan: _Plan) -> str:
    """The core of the item in its language: aspect clauses joined naturally, without opener or closer."""
    lang = plan.language
    if plan.mode == "question":
        return _fill(rng, rng.choice(ph.QUESTIONS[lang]), plan)
    if plan.mode == "not_used":
        return rng.choice(ph.NOT_USED_YET[lang])
    if plan.mode == "suggestion":
        return rng.choice(ph.SUGGESTION_LEADS[lang]) + _fill(rng, rng.choice(ph.SUGGESTIONS[lang]), plan)
    if plan.story:
        main = _story_clauses(rng, plan)
        minor: list[str] = []
    else:
        main = [_aspect_clause(rng, plan, a, pol) for a, pol in plan.aspects.items() if pol == plan.sentiment]
        minor = [
            _aspect_clause(rng, plan, a, pol) for a, pol in plan.aspects.items() if pol != plan.sentiment
        ]
    return _join(rng, lang, plan.sentiment, main, minor)


def _join(rng: random.Random, lang: str, sentiment: str, main: list[str], minor: list[str]) -> str:
    if lang == "zh":
        text = "，".join(main)
        if minor and sentiment == "negative":
            text = f"{minor[0]}，{rng.choice(('但是', '可是', '不过', '就是'))}{text}"
        elif minor:
            text += f"，{rng.choice(('唯一不足的是', '美中不足的是', '就是', '不过'))}{minor[0]}"
        return text + rng.choice(("。", "。", "！", "", "~"))
    sentences = [main[0], *[(", " if rng.random() < 0.5 else ". ") + clause for clause in main[1:]]]
    text = "".join(sentences)
    if minor and sentiment == "negative":
        text = f"{minor[0]}, but {text}"
    elif minor:
        text += f". {rng.choice(('Only downside: ', 'One gripe: ', 'That said, '))}{minor[0]}"
    return _sentence_case(text) + rng.choice((".", ".", "!", ""))


def _sentence_case(text: str) -> str:
    parts = text.split(". ")
    return ". ".join(part[:1].upper() + part[1:] for part in parts)


def _maybe(rng: random.Random, share: float, options: tuple[str, ...]) -> str:
    return rng.choice(options) if rng.random() < share else ""


def _text(rng: random.Random, plan: _Plan) -> str:
    """Opener + body + closer + redress ask + emoji, shaped by the kind of item."""
    lang, sentiment, zh = plan.language, plan.sentiment, plan.language == "zh"
    if plan.mode == "default_review":
        return ph.DEFAULT_REVIEW_ZH if zh else "No comment."
    body = _body(rng, plan)
    redress_share = {"complaint": 1.0, "ticket": 0.6, "email": 0.5, "chat": 0.5}.get(plan.kind, 0.35)
    redress = _maybe(rng, redress_share if sentiment == "negative" else 0.0, ph.REDRESS[lang])
    closer = _maybe(rng, 0.35, ph.CLOSERS[lang][sentiment]) if plan.mode == "aspects" else ""
    opener = _maybe(rng, 0.3, ph.OPENERS[lang][sentiment]) if plan.mode == "aspects" else ""
    emoji_share = 0.35 if plan.channel in ("weibo", "wechat") else 0.15 if plan.kind == "review" else 0.0
    emoji = _maybe(rng, emoji_share, ph.EMOJI[lang][sentiment])
    if opener.endswith("but "):
        body = body[:1].lower() + body[1:]
    core = _chain(lang, [opener + body, redress, closer])
    text = _wrap(rng, plan, core)
    if emoji:
        text += emoji
    return _typo(rng, lang, text)


def _chain(lang: str, parts: list[str]) -> str:
    """Join sentences, ending each but the last with punctuation if it has none."""
    present = [part for part in parts if part]
    stops = "。！？!?~…" if lang == "zh" else ".!?"
    done = [
        part if part.endswith(tuple(stops)) else part + ("。" if lang == "zh" else ".")
        for part in present[:-1]
    ]
    return ("" if lang == "zh" else " ").join([*done, *present[-1:]])


def _wrap(rng: random.Random, plan: _Plan, core: str) -> str:
    """Dress the text like its channel: Weibo mentions and tags, ticket titles, e-mail greetings."""
    zh = plan.language == "zh"
    product = plan.product
    title = _title(plan)
    if plan.channel == "weibo":
        tag = f"#{ph.BRAND_ZH}{product.short_zh}#" if product and zh else f"#{ph.BRAND_EN}#"
        extra = " #避雷#" if zh and plan.sentiment == "negative" and rng.random() < 0.3 else ""
        return f"{ph.WEIBO_HANDLE} {core} {tag}{extra}" if rng.random() < 0.6 else f"{core} {tag}{extra}"
    if plan.kind == "call_note":
        action = _fill(rng, rng.choice(ph.CALL_ACTIONS["zh" if zh else "en"]), plan)
        return f"电话回访：客户反映：{core} {action}" if zh else f"Call note: customer says: {core} {action}"
    if plan.kind == "chat" or (plan.channel == "wechat" and plan.kind in ("complaint", "suggestion")):
        about = ""
        if product and plan.story and rng.random() < 0.6:
            about = f"我买的{product.name_zh}，" if zh else f"I ordered the {product.name_en}. "
        elif product and plan.mode == "aspects" and rng.random() < 0.6:
            about = (
                f"我{rng.randint(2, 20)}天前买的{product.name_zh}，"
                if zh
                else f"I bought the {product.name_en} {rng.randint(2, 20)} days ago. "
            )
        lead = "我要投诉！" if zh and plan.kind == "complaint" else ""
        opener = rng.choice(ph.CHAT_OPENERS["zh" if zh else "en"])
        rest = about + core
        if not zh and opener.endswith(", ") and not rest.startswith("I "):
            rest = rest[:1].lower() + rest[1:]
        return opener + lead + rest
    if plan.channel == "ticket":
        order = (f"订单号：{plan.order_id}\n" if zh else f"Order: {plan.order_id}\n") if plan.order_id else ""
        prefix = ("投诉-" if zh else "Complaint - ") if plan.kind == "complaint" else ""
        return f"【{prefix}{title}】{order}{core}" if zh else f"[{prefix}{title}] {order}{core}"
    if plan.channel == "email":
        name = plan.buyer.customer.name
        prefix = ("投诉：" if zh else "Complaint: ") if plan.kind == "complaint" else ""
        order = (f"（订单{plan.order_id}）" if zh else f" (order {plan.order_id})") if plan.order_id else ""
        if zh:
            return f"主题：{prefix}{title}{order}\n\n您好，\n{core}\n\n{name}"
        greeting = f"Hi {ph.BRAND_EN} team,"
        return f"Subject: {prefix}{title}{order}\n\n{greeting}\n\n{core}\n\nThanks,\n{name.split()[0]}"
    if plan.channel == "community" and plan.kind == "social_post" and rng.random() < 0.5:
        return f"【{title}】{core}" if zh else f"[{title}] {core}"
    return core


def _title(plan: _Plan) -> str:
    titles = ph.TICKET_TITLES[plan.language]
    if plan.mode == "question":
        return titles["question"]
    if plan.mode == "suggestion":
        return "产品建议" if plan.language == "zh" else "Suggestion"
    negatives = [aspect for aspect, polarity in plan.aspects.items() if polarity == "negative"]
    if plan.sentiment == "negative" and negatives:
        return titles.get(negatives[0], titles["quality"])
    if plan.sentiment == "positive":
        return titles["praise"]
    return titles["question"]


def _typo(rng: random.Random, lang: str, text: str) -> str:
    """Now and then, one input-method slip or misspelling, as real customers make."""
    if rng.random() >= 0.05:
        return text
    for right, wrong in rng.sample(ph.TYPOS[lang], len(ph.TYPOS[lang])):
        if right in text:
            return text.replace(right, wrong, 1)
    return text


# ---------------------------------------------------------------- story lines


def _story_line(story: _Story, now: datetime) -> str:
    """One line per planted story, zh then en, with its dates in China time."""
    start = (now - timedelta(days=story.start_ago)).astimezone(CHINA_TZ).date().isoformat()
    end = (now - timedelta(days=story.end_ago)).astimezone(CHINA_TZ).date().isoformat()
    names = "、".join(p.name_zh for p in PRODUCTS if p.sku in PACKAGING_STORY_SKUS)
    names_en = ", ".join(p.name_en for p in PRODUCTS if p.sku in PACKAGING_STORY_SKUS)
    if story.name == STORY_PACKAGING:
        return (
            f"包装破损：{start} 起（最近三周），上海仓（{PACKAGING_STORY_WAREHOUSE}）发出的{names}"
            "的包装破损、压坏、漏液投诉快速上升，从约占全部反馈的2%升到约15%（最后一周约20%）。"
            f" | Packaging damage: since {start} (last three weeks), complaints about crushed boxes, broken "
            f"and leaking goods on the {names_en} shipped from {PACKAGING_STORY_WAREHOUSE} rise from ~2% "
            "of all feedback to ~15% (~20% in the last week)."
        )
    if story.name == STORY_LOGISTICS:
        return (
            f"节假日物流延迟：{start} 至 {end}，节日高峰期间快递延误投诉激增（约占当期反馈的15%），"
            f"主要是中通（ZTO）和圆通（YTO）。 | Holiday delivery delays: {start} to {end}, late-delivery "
            "complaints surge during the holiday peak (~15% of feedback in that window), mostly carriers "
            "ZTO and YTO."
        )
    return (
        f"App 登录故障：{start} 至 {end}，App {BUGGY_APP_VERSION} 版本更新后无法登录，"
        f"应用商店差评和工单集中出现，{end} 发布 3.2.1 修复。 | App login bug: {start} to {end}, after "
        f"the app {BUGGY_APP_VERSION} update users cannot log in; one-star app store reviews and tickets "
        f"pile up until the 3.2.1 fix on {end}."
    )
