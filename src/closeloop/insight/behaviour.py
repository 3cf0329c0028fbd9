"""Behaviour beside feedback: complaint rate by feature used, NPS by purchase frequency, spend before and
after a complaint, and the customers at risk of leaving silently.

Behaviour comes from ``customer_events`` (the table survey triggers use too): ``order_completed`` events
carry ``amount`` (and optionally ``currency``, ``product``) in their payload, ``feature_used`` events carry
``feature``. Feedback is counted by its *effective* analysis (label-corrected), through the same queries as
the dashboard (:mod:`closeloop.insight.aggregates`).

Definitions (all windows are [start, end) in UTC; ``until`` defaults to now):

- **complaint rate by feature**: for each feature, the customers with a ``feature_used`` event for it in the
  window, and the feedback those customers gave in the window (complaint rate, negative share).
- **NPS by purchase frequency**: customers bucketed by their ``order_completed`` count in the window
  (0, 1, 2–3, 4+); NPS from their 0–10 answers in the window.
- **spend around a complaint**: for each customer whose first complaint in the window is at least ``days``
  old, their order amounts in the ``days`` before it and the ``days`` from it; averages per customer
  (customers without orders count as 0). Orders without a currency count as ``DEFAULT_CURRENCY``.
- **at risk**: see :func:`assess_risk`. Erased customers are gone from the store (their events cascade and
  their feedback loses its customer); customers who objected to analytics are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from closeloop.collect.customers import refused
from closeloop.insight import aggregates
from closeloop.insight.aggregates import InsightFilter, Measures, gather_facts_halved
from closeloop.store.models import Analysis, Customer, CustomerEvent, FeedbackItem, Label

ORDER_EVENT = "order_completed"
USAGE_EVENT = "feature_used"
ACTIVITY_EVENTS = (ORDER_EVENT, USAGE_EVENT)
DEFAULT_CURRENCY = "CNY"
DEFAULT_RISK_DAYS = 30
SCORE_HISTORY_DAYS = 365
# A fall of a fifth of the scale (2 points on 0–10, nearly 1 on 1–5) counts as a falling score.
SCORE_FALL = 0.2
# Activity has fallen when the last period holds at most half of the one before (and that had ≥ 2).
ACTIVITY_FALL = 0.5
MIN_PREVIOUS_ACTIVITY = 2
FREQUENCY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1", 1, 1),
    ("2-3", 2, 3),
    ("4+", 4, None),
)
RiskSort = Literal["score", "spend", "activity", "customer"]


# ---------------------------------------------------------------------------------------------- pure parts


def frequency_bucket(orders: int) -> str:
    """The purchase-frequency bucket ("0", "1", "2-3", "4+") of an order count."""
    for name, low, high in FREQUENCY_BUCKETS:
        if orders >= low and (high is None or orders <= high):
            return name
    raise ValueError(f"order count must not be negative, got {orders}")


def order_amount(payload: Mapping[str, Any] | None) -> float | None:
    """The numeric ``amount`` of an order payload (a number or numeric text), None when absent or bad."""
    value = (payload or {}).get("amount")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def order_currency(payload: Mapping[str, Any] | None) -> str:
    """The upper-case ``currency`` of an order payload, ``DEFAULT_CURRENCY`` when it has none."""
    value = (payload or {}).get("currency")
    return value.strip().upper() if isinstance(value, str) and value.strip() else DEFAULT_CURRENCY


def normalised_score(rating: float, low: float | None, high: float | None) -> float | None:
    """A rating as 0–1 of its scale (None without a usable scale)."""
    if low is None or high is None or high <= low:
        return None
    return max(0.0, min(1.0, (rating - low) / (high - low)))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a customer is at risk, in Chinese and English, with the points it adds to the score."""

    code: Literal["silent_negative", "falling_score", "falling_activity"]
    points: int
    zh: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "points": self.points, "zh": self.zh, "en": self.en}


@dataclass(slots=True)
class CustomerSignals:
    """What is known of one customer for the risk score (``ratings``: (rating, scale min, scale max),
    oldest first; the last one falls in the risk window or ``latest_rating_recent`` is False)."""

    negative: int = 0
    complaints: int = 0
    ratings: list[tuple[float, float, float]] = field(default_factory=list)
    latest_rating_recent: bool = False
    activity_recent: int = 0
    activity_previous: int = 0


def assess_risk(signals: CustomerSignals, days: int) -> list[Reason]:
    """The reasons a customer may leave silently, strongest evidence first:

    - ``silent_negative``: negative feedback in the last ``2 × days`` and no complaint (35 points, +5 per
      further negative item up to 50);
    - ``falling_score``: the latest score (a survey answer or a rating, given in the last ``2 × days``) is
      at least ``SCORE_FALL`` of the scale below the one before (15 + 25 × fall);
    - ``falling_activity``: orders and feature use in the last ``days`` at most half of the ``days`` before,
      which had at least ``MIN_PREVIOUS_ACTIVITY`` (15 + 25 × fall).
    """
    reasons: list[Reason] = []
    if signals.negative > 0 and signals.complaints == 0:
        reasons.append(
            Reason(
                "silent_negative",
                35 + 5 * min(signals.negative - 1, 3),
                f"近 {2 * days} 天有 {signals.negative} 条负面反馈，但从未投诉",
                f"{signals.negative} negative feedback item(s) in the last {2 * days} days but no complaint",
            )
        )
    if signals.latest_rating_recent and len(signals.ratings) >= 2:
        (before, low0, high0), (latest, low1, high1) = signals.ratings[-2], signals.ratings[-1]
        previous_share, latest_share = (
            normalised_score(before, low0, high0),
            normalised_score(latest, low1, high1),
        )
        if previous_share is not None and latest_share is not None:
            fall = previous_share - latest_share
            if fall >= SCORE_FALL - 1e-9:
                scale = f"{_number(low1)}–{_number(high1)}"
                reasons.append(
                    Reason(
                        "falling_score",
                        15 + round(25 * fall),
                        f"评分从 {_number(before)} 降到 {_number(latest)}（{scale} 分制）",
                        f"score fell from {_number(before)} to {_number(latest)} (scale {scale})",
                    )
                )
    previous, recent = signals.activity_previous, signals.activity_recent
    if previous >= MIN_PREVIOUS_ACTIVITY and recent <= previous * ACTIVITY_FALL:
        fall = 1 - recent / previous
        reasons.append(
            Reason(
                "falling_activity",
                15 + round(25 * fall),
                f"近 {days} 天下单/使用 {recent} 次，之前 {days} 天 {previous} 次",
                f"{recent} orders/feature uses in the last {days} days, {previous} in the {days} before",
            )
        )
    return reasons


def risk_score(reasons: Iterable[Reason]) -> int:
    """The risk score 0–100: the reasons' points added up, capped at 100."""
    return min(100, sum(reason.points for reason in reasons))


# ---------------------------------------------------------------------------------------------- queries


def _customers_scope(stmt: Select, flt: InsightFilter) -> Select:
    """Narrow a select over ``CustomerEvent`` to the filter's tier and region."""
    if flt.tier or flt.region:
        stmt = stmt.join(Customer, Customer.id == CustomerEvent.customer_id)
        if flt.tier:
            stmt = stmt.where(Customer.tier == flt.tier)
        if flt.region:
            stmt = stmt.where(Customer.region == flt.region)
    return stmt


def customer_measures(
    session: Session, flt: InsightFilter, since: datetime, until: datetime
) -> dict[int, Measures]:
    """The effective feedback counts of each customer over [since, until) (feedback without a customer is
    left out)."""
    measures: dict[int, Measures] = {}
    for facts in gather_facts_halved(session, flt, since, until, FeedbackItem.customer_id):
        if facts.group is not None:
            measures.setdefault(int(facts.group), Measures()).add(facts)
    return measures


def feature_users(
    session: Session, flt: InsightFilter, since: datetime, until: datetime
) -> dict[str, set[int]]:
    """``{feature: customer ids}`` of the ``feature_used`` events in [since, until)."""
    feature = CustomerEvent.payload["feature"].as_string()
    stmt = (
        select(feature, CustomerEvent.customer_id)
        .where(
            CustomerEvent.type == USAGE_EVENT,
            CustomerEvent.occurred_at >= since,
            CustomerEvent.occurred_at < until,
            feature.is_not(None),
        )
        .distinct()
    )
    users: dict[str, set[int]] = defaultdict(set)
    for name, customer_id in session.execute(_customers_scope(stmt, flt)):
        if name:
            users[str(name)].add(int(customer_id))
    return dict(users)


def event_counts(
    session: Session, flt: InsightFilter, since: datetime, until: datetime, types: Sequence[str]
) -> dict[int, int]:
    """``{customer id: number of events of these types}`` in [since, until)."""
    stmt = (
        select(CustomerEvent.customer_id, func.count())
        .where(
            CustomerEvent.type.in_(types),
            CustomerEvent.occurred_at >= since,
            CustomerEvent.occurred_at < until,
        )
        .group_by(CustomerEvent.customer_id)
    )
    return {int(customer_id): int(n) for customer_id, n in session.execute(_customers_scope(stmt, flt))}


def first_complaints(
    session: Session, flt: InsightFilter, since: datetime, until: datetime
) -> dict[int, datetime]:
    """``{customer id: time of their first complaint in [since, until)}`` by the effective analysis."""
    dialect = session.get_bind().dialect.name
    complaint_labelled = select(Label.feedback_id).where(Label.field == "complaint")
    # The dashboard's own item scope and label reading, so both count the same complaints.
    candidates = aggregates.scoped_query(
        select(
            FeedbackItem.id,
            FeedbackItem.customer_id,
            FeedbackItem.created_at,
            Analysis.sentiment,
            Analysis.complaint,
            Analysis.categories,
        ),
        flt,
        since,
        until,
        dialect,
        analysis_filters=False,
    ).where(
        FeedbackItem.customer_id.is_not(None),
        or_(Analysis.complaint.is_(True), FeedbackItem.id.in_(complaint_labelled)),
    )
    rows = session.execute(candidates).all()
    labels = aggregates.newest_labels(session, [row[0] for row in rows])
    first: dict[int, datetime] = {}
    for item_id, customer_id, created_at, sentiment, complaint, categories in rows:
        analysed = {
            "sentiment": sentiment,
            "complaint": None if complaint is None else bool(complaint),
            "categories": tuple(categories or ()),
            "aspects": (),
        }
        values = aggregates.effective_values(analysed, labels.get(item_id, {}))
        if values["sentiment"] is None or not values["complaint"]:
            continue
        if not aggregates.matches_filter(flt, values["sentiment"], values["categories"]):
            continue
        moment = _utc(created_at)
        if customer_id not in first or moment < first[customer_id]:
            first[customer_id] = moment
    return first


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _measure_row(measures: Measures) -> dict[str, Any]:
    return {
        "feedback": measures.volume,
        "analysed": measures.analysed,
        "complaints": measures.complaints,
        "negative": measures.negative,
        "complaint_rate": measures.complaint_rate,
        "negative_share": measures.negative_share,
    }


def complaints_by_feature(
    per_customer: Mapping[int, Measures], users: Mapping[str, set[int]]
) -> list[dict[str, Any]]:
    """Per feature: its users, and their feedback's complaint rate and negative share; highest rate first
    (features whose users gave no analysed feedback last)."""
    rows = []
    for feature, customers in users.items():
        total = Measures()
        for customer_id in customers:
            if customer_id in per_customer:
                total.add(per_customer[customer_id])
        rows.append({"feature": feature, "customers": len(customers), **_measure_row(total)})
    return sorted(
        rows,
        key=lambda r: (
            r["complaint_rate"] is None,
            -(r["complaint_rate"] or 0),
            -r["customers"],
            r["feature"],
        ),
    )


def nps_by_frequency(per_customer: Mapping[int, Measures], orders: Mapping[int, int]) -> list[dict[str, Any]]:
    """Per purchase-frequency bucket (every bucket, in order): customers with feedback or orders, their NPS
    answers and NPS, and the complaint rate of their feedback."""
    buckets = {name: Measures() for name, _, _ in FREQUENCY_BUCKETS}
    customers = dict.fromkeys(buckets, 0)
    for customer_id in set(per_customer) | set(orders):
        bucket = frequency_bucket(orders.get(customer_id, 0))
        customers[bucket] += 1
        if customer_id in per_customer:
            buckets[bucket].add(per_customer[customer_id])
    return [
        {
            "bucket": name,
            "customers": customers[name],
            "nps_responses": buckets[name].nps_responses,
            "promoters": buckets[name].promoters,
            "detractors": buckets[name].detractors,
            "nps": buckets[name].nps,
            "complaint_rate": buckets[name].complaint_rate,
        }
        for name, _, _ in FREQUENCY_BUCKETS
    ]


@dataclass(frozen=True, slots=True)
class Order:
    """One completed order with a usable amount."""

    customer_id: int
    occurred_at: datetime
    amount: float
    currency: str


def orders_between(
    session: Session, customer_ids: Iterable[int], since: datetime, until: datetime
) -> list[Order]:
    """The orders (with a usable amount) of these customers in [since, until)."""
    wanted = set(customer_ids)
    if not wanted:
        return []
    stmt = select(CustomerEvent.customer_id, CustomerEvent.occurred_at, CustomerEvent.payload).where(
        CustomerEvent.type == ORDER_EVENT,
        CustomerEvent.occurred_at >= since,
        CustomerEvent.occurred_at < until,
    )
    # Few customers: look them up; many: one scan of the period's orders (by the type/time index) is faster.
    if len(wanted) <= 500:
        stmt = stmt.where(CustomerEvent.customer_id.in_(sorted(wanted)))
    found = []
    for customer_id, occurred_at, payload in session.execute(stmt):
        if customer_id not in wanted:
            continue
        amount = order_amount(payload)
        if amount is not None:
            found.append(Order(int(customer_id), _utc(occurred_at), amount, order_currency(payload)))
    return found


def spend_comparison(
    complained: Mapping[int, datetime], orders: Iterable[Order], days: int
) -> list[dict[str, Any]]:
    """Per currency: the total and per-customer average spend in the ``days`` before and the ``days`` from
    each customer's first complaint (every customer in ``complained`` counts, with 0 when they spent
    nothing), and the relative change of the average (None when nothing was spent before)."""
    span = timedelta(days=days)
    before: dict[str, float] = defaultdict(float)
    after: dict[str, float] = defaultdict(float)
    for order in orders:
        moment = complained.get(order.customer_id)
        if moment is None:
            continue
        if moment - span <= order.occurred_at < moment:
            before[order.currency] += order.amount
        elif moment <= order.occurred_at < moment + span:
            after[order.currency] += order.amount
    customers = len(complained)
    rows = []
    for currency in sorted(set(before) | set(after)):
        avg_before = round(before[currency] / customers, 2)
        avg_after = round(after[currency] / customers, 2)
        rows.append(
            {
                "currency": currency,
                "customers": customers,
                "total_before": round(before[currency], 2),
                "total_after": round(after[currency], 2),
                "avg_before": avg_before,
                "avg_after": avg_after,
                "change": round((avg_after - avg_before) / avg_before, 4) if avg_before else None,
            }
        )
    return rows


def behaviour(
    session: Session, flt: InsightFilter, *, days: int = DEFAULT_RISK_DAYS, now: datetime | None = None
) -> dict[str, Any]:
    """The three breakdowns over the filter's window: complaint rate by feature, NPS by purchase frequency,
    spend in the ``days`` before and after a first complaint."""
    now = now or datetime.now(UTC)
    since, until = flt.window(now)
    per_customer = customer_measures(session, flt, since, until)
    overall = Measures()
    for measures in per_customer.values():
        overall.add(measures)
    complained = first_complaints(session, flt, since, until)
    span = timedelta(days=days)
    settled = {c: moment for c, moment in complained.items() if moment + span <= now}
    orders = (
        orders_between(session, settled, min(settled.values()) - span, max(settled.values()) + span)
        if settled
        else []
    )
    return {
        "filters": flt.echo(now),
        "features": complaints_by_feature(per_customer, feature_users(session, flt, since, until)),
        "customers_overall": {"customers": len(per_customer), **_measure_row(overall)},
        "frequency": nps_by_frequency(per_customer, event_counts(session, flt, since, until, (ORDER_EVENT,))),
        "spend": {
            "days": days,
            "customers": len(settled),
            "pending": len(complained) - len(settled),
            "currencies": spend_comparison(settled, orders, days),
        },
        "units": {"complaint_rate": "fraction 0-1", "negative_share": "fraction 0-1", "nps": "-100..100"},
    }


# ---------------------------------------------------------------------------------------------- at risk


def _ratings(session: Session, flt: InsightFilter, since: datetime, until: datetime) -> dict[int, list]:
    """``{customer id: [(created_at, rating, scale min, scale max), …]}``: each customer's last two rated
    items (with a scale) in [since, until), oldest first, narrowed by the filter's channel, product,
    language, tier and region."""
    rank = (
        func.row_number()
        .over(
            partition_by=FeedbackItem.customer_id,
            order_by=(FeedbackItem.created_at.desc(), FeedbackItem.id.desc()),
        )
        .label("rank")
    )
    stmt = select(
        FeedbackItem.customer_id,
        FeedbackItem.created_at,
        FeedbackItem.rating,
        FeedbackItem.rating_scale_min,
        FeedbackItem.rating_scale_max,
        rank,
    ).where(
        FeedbackItem.customer_id.is_not(None),
        FeedbackItem.rating.is_not(None),
        FeedbackItem.rating_scale_min.is_not(None),
        FeedbackItem.rating_scale_max.is_not(None),
    )
    ranked = aggregates.item_scope(stmt, flt, since, until).subquery()
    found: dict[int, list] = defaultdict(list)
    for customer_id, created_at, rating, low, high, _ in session.execute(
        select(ranked).where(ranked.c.rank <= 2).order_by(ranked.c.customer_id, ranked.c.rank.desc())
    ):
        found[int(customer_id)].append((_utc(created_at), float(rating), float(low), float(high)))
    return dict(found)


def main_currency(orders: Iterable[Order]) -> str:
    """The currency most orders are in (``DEFAULT_CURRENCY`` without orders; ties by name)."""
    counts: dict[str, int] = defaultdict(int)
    for order in orders:
        counts[order.currency] += 1
    return min(counts, key=lambda c: (-counts[c], c)) if counts else DEFAULT_CURRENCY


def _spend(orders: Iterable[Order]) -> dict[int, float]:
    totals: dict[int, float] = defaultdict(float)
    for order in orders:
        totals[order.customer_id] += order.amount
    return dict(totals)


def at_risk(
    session: Session,
    flt: InsightFilter,
    *,
    days: int = DEFAULT_RISK_DAYS,
    sort: RiskSort = "score",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every customer with at least one risk reason (:func:`assess_risk`) as of the filter's ``until``
    (default now), sorted by ``sort`` (score, spend in the last ``2 × days``, fall in activity, customer id).
    ``spend`` counts the orders in the main currency (``currency``: the one most of their orders are in).

    The feedback filters (channel, product, language, sentiment, category) narrow the feedback counted;
    tier and region narrow the customers. Customers who objected to analytics are left out.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    now = now or datetime.now(UTC)
    until = flt.window(now)[1]
    middle, start = until - timedelta(days=days), until - timedelta(days=2 * days)
    per_customer = customer_measures(session, flt, start, until)
    ratings = _ratings(session, flt, until - timedelta(days=SCORE_HISTORY_DAYS), until)
    recent = event_counts(session, flt, middle, until, ACTIVITY_EVENTS)
    previous = event_counts(session, flt, start, middle, ACTIVITY_EVENTS)
    candidates = set(per_customer) | set(ratings) | set(previous)
    excluded = set(session.scalars(refused("analytics")))
    found: list[tuple[int, list[Reason], CustomerSignals]] = []
    for customer_id in candidates - excluded:
        measures = per_customer.get(customer_id, Measures())
        history = ratings.get(customer_id, [])
        signals = CustomerSignals(
            negative=measures.negative,
            complaints=measures.complaints,
            ratings=[(rating, low, high) for _, rating, low, high in history],
            latest_rating_recent=bool(history) and history[-1][0] >= start,
            activity_recent=recent.get(customer_id, 0),
            activity_previous=previous.get(customer_id, 0),
        )
        reasons = assess_risk(signals, days)
        if reasons:
            found.append((customer_id, reasons, signals))
    ids = [customer_id for customer_id, _, _ in found]
    customers = {
        c.id: c
        for start_at in range(0, len(ids), 500)
        for c in session.scalars(select(Customer).where(Customer.id.in_(ids[start_at : start_at + 500])))
    }
    spend_orders = orders_between(session, ids, start, until)
    currency = main_currency(spend_orders)
    spend = _spend(order for order in spend_orders if order.currency == currency)
    rows = []
    for customer_id, reasons, signals in found:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        rows.append(
            {
                "customer_id": customer_id,
                "external_id": customer.external_id,
                "tier": customer.tier,
                "region": customer.region,
                "score": risk_score(reasons),
                "reasons": [reason.as_dict() for reason in reasons],
                "negative": signals.negative,
                "complaints": signals.complaints,
                "latest_rating": signals.ratings[-1][0] if signals.ratings else None,
                "previous_rating": signals.ratings[-2][0] if len(signals.ratings) >= 2 else None,
                "activity_recent": signals.activity_recent,
                "activity_previous": signals.activity_previous,
                "spend": round(spend.get(customer_id, 0.0), 2),
            }
        )
    rows.sort(key=_sort_key(sort))
    return {
        "as_of": until.isoformat(),
        "days": days,
        "currency": currency,
        "total": len(rows),
        "customers": rows,
    }


def _sort_key(sort: RiskSort) -> Any:
    if sort == "spend":
        return lambda r: (-r["spend"], -r["score"], r["external_id"])
    if sort == "activity":
        return lambda r: (r["activity_recent"] - r["activity_previous"], -r["score"], r["external_id"])
    if sort == "customer":
        return lambda r: r["external_id"]
    return lambda r: (-r["score"], -r["spend"], r["external_id"])


RISK_COLUMNS = (
    "external_id",
    "tier",
    "region",
    "score",
    "reasons_zh",
    "reasons_en",
    "negative",
    "complaints",
    "previous_rating",
    "latest_rating",
    "activity_previous",
    "activity_recent",
    "spend",
)


def risk_rows(customers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """At-risk customers flattened for CSV/Excel (the reasons joined, in each language)."""
    return [
        {
            **{key: row[key] for key in RISK_COLUMNS if key in row},
            "reasons_zh": "；".join(reason["zh"] for reason in row["reasons"]),
            "reasons_en": "; ".join(reason["en"] for reason in row["reasons"]),
        }
        for row in customers
    ]
