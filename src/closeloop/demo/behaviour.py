"""Demo orders and feature use beside the demo feedback, so the behaviour page has a story to show.

Read from what the demo customers said (before any analysis runs: their ratings and formal complaints):

- **a buggy feature**: customers who complained or rated low used 扫码支付 (``scan_to_pay``) far more often
  than the others, so its users' complaint rate stands out;
- **loyalty**: customers who rate high order more often (NPS rises with purchase frequency);
- **spend after a complaint**: after their first formal complaint customers order less than half as often;
- **silent churn**: half the unhappy customers who never complained stop ordering and using the app in the
  last 30 days, so they head the at-risk list.

Deterministic for a seed and a ``now``; written once per database (event ids start with ``demo-``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.insight.behaviour import ORDER_EVENT, USAGE_EVENT, normalised_score
from closeloop.store.models import Customer, CustomerEvent, FeedbackItem

BUGGY_FEATURE = "scan_to_pay"
FEATURES = ("scan_to_pay", "order_tracking", "coupons", "live_chat", "wishlist")
ORDERS_PER_30_DAYS = {"普通": 0.6, "银卡": 1.0, "金卡": 1.6, "钻石": 2.4}
BASKET = {"普通": 120.0, "银卡": 260.0, "金卡": 520.0, "钻石": 1500.0}
PRODUCTS = ("ZY-CW11 保温杯", "ZY-KT02 电水壶", "ZY-BX05 便当盒", "ZY-SD01 收纳袋")
QUIET_DAYS = 30


@dataclass(slots=True)
class Voice:
    """What one customer said: when they first complained formally, and how satisfied they sounded."""

    first_complaint: datetime | None = None
    scores: list[float] = field(default_factory=list)

    @property
    def satisfaction(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def unhappy(self) -> bool:
        return self.satisfaction is not None and self.satisfaction <= 0.4


def _voices(session: Session) -> dict[int, Voice]:
    rows = session.execute(
        select(
            FeedbackItem.customer_id,
            FeedbackItem.kind,
            FeedbackItem.created_at,
            FeedbackItem.rating,
            FeedbackItem.rating_scale_min,
            FeedbackItem.rating_scale_max,
        ).where(FeedbackItem.customer_id.is_not(None))
    )
    voices: dict[int, Voice] = defaultdict(Voice)
    for customer_id, kind, created_at, rating, low, high in rows:
        voice = voices[customer_id]
        when = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        if kind == "complaint" and (voice.first_complaint is None or when < voice.first_complaint):
            voice.first_complaint = when
        score = normalised_score(rating, low, high) if rating is not None else None
        if score is not None:
            voice.scores.append(score)
    return dict(voices)


def _order_times(rng: random.Random, rate: float, start: datetime, end: datetime) -> list[datetime]:
    """Order times of a Poisson process with ``rate`` orders per 30 days over [start, end)."""
    times, moment = [], start
    while rate > 0:
        moment += timedelta(days=rng.expovariate(rate / 30))
        if moment >= end:
            break
        times.append(moment)
    return times


def plan_events(
    rng: random.Random, customer: Customer, voice: Voice | None, *, now: datetime, days: int
) -> list[dict]:
    """The demo events of one customer over the last ``days`` days (see the module docstring)."""
    voice = voice or Voice()
    start = now - timedelta(days=days)
    satisfaction = voice.satisfaction if voice.satisfaction is not None else 0.6
    rate = ORDERS_PER_30_DAYS.get(customer.tier or "", 0.6) * (0.4 + 1.2 * satisfaction)
    silent = voice.unhappy and voice.first_complaint is None and rng.random() < 0.5
    end = now - timedelta(days=QUIET_DAYS) if silent else now
    complained = voice.first_complaint
    if complained is not None and complained > start:
        moments = _order_times(rng, rate, start, complained) + _order_times(rng, rate * 0.4, complained, end)
    else:
        moments = _order_times(rng, rate, start, end)
    events = []
    basket = BASKET.get(customer.tier or "", 120.0)
    for moment in moments:
        events.append(
            {
                "type": ORDER_EVENT,
                "at": moment,
                "payload": {
                    "amount": round(basket * rng.lognormvariate(0, 0.4), 2),
                    "currency": "CNY",
                    "product": rng.choice(PRODUCTS),
                },
            }
        )
    buggy_share = 0.6 if voice.unhappy or complained is not None else 0.15
    used = [BUGGY_FEATURE] if rng.random() < buggy_share else []
    used += rng.sample(FEATURES[1:], k=rng.randint(0, 2))
    for feature in used:
        for moment in _order_times(rng, rate * 2, start, end):
            events.append({"type": USAGE_EVENT, "at": moment, "payload": {"feature": feature}})
    return events


def load_demo_behaviour(
    factory: sessionmaker[Session], *, seed: int, days: int = 180, now: datetime | None = None
) -> int:
    """Write the demo's orders and feature use once per database; returns how many events were added."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    with factory() as session:
        if session.scalars(select(CustomerEvent.id).where(CustomerEvent.external_id.like("demo-%"))).first():
            return 0
        voices = _voices(session)
        added = 0
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            for n, event in enumerate(
                plan_events(rng, customer, voices.get(customer.id), now=now, days=days)
            ):
                session.add(
                    CustomerEvent(
                        external_id=f"demo-{customer.external_id}-{n}",
                        type=event["type"],
                        customer_id=customer.id,
                        occurred_at=event["at"],
                        payload=event["payload"],
                    )
                )
                added += 1
        session.commit()
    return added
