"""The dashboard's figures: volume, sentiment mix, complaint rate, NPS/CSAT and categories over time,
aspect heat maps, segment breakdowns and the verbatims behind any chart point.

Each figure counts an item by its *effective* analysis: the newest ``Analysis`` (highest id), with
people's corrections (the newest ``Label`` per field) overriding it field by field; a ``categories``
label replaces the whole category list. Only analysed items (an effective sentiment) enter shares.

How it stays fast on a million items: the database does the counting. One GROUP BY per figure groups
the window's items by period (the Asia/Shanghai calendar, computed in SQL per dialect) and by the
category list as stored JSON text (so no JSON is unpacked per row), summing sentiments, complaints and
survey scores; Python then expands the few thousand groups. Labels are few, so labelled items are read
one by one and their analysis-based counts swapped for their corrected ones (exact, and it also decides
the sentiment and category filters for them). The overview reads on two connections at once (counts
add up, so the work splits by time): the equally long period before and the first quarter of the window
on one, the rest on the other.

Shares (``negative_share``, ``complaint_rate``) are fractions 0–1; ``nps`` is −100…100 and ``csat`` a
percentage 0–100, as in :mod:`closeloop.ask.scores`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased, selectinload

from closeloop.analysis.taxonomy import active_taxonomy
from closeloop.settings import get_settings
from closeloop.store.models import Analysis, Customer, FeedbackItem, Label
from closeloop.store.queries import decode_cursor, encode_cursor
from closeloop.store.session import READ_ONLY

T = TypeVar("T")
U = TypeVar("U")
Granularity = Literal["day", "week", "month"]
SegmentBy = Literal["tier", "region", "channel"]
AspectsBy = Literal["period", "product"]

ZONE = ZoneInfo("Asia/Shanghai")
ZONE_NAME = "Asia/Shanghai"
DEFAULT_DAYS = 90
TOP_CATEGORIES = 12
TOP_PRODUCTS = 30
SENTIMENTS = ("positive", "neutral", "negative")
UNITS = {
    "negative_share": "fraction 0-1",
    "complaint_rate": "fraction 0-1",
    "nps": "-100..100",
    "csat": "% 0-100",
}


# ---------------------------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class InsightFilter:
    """The dashboard's filters; every field optional. ``since``/``until`` default to the last 90 days."""

    since: datetime | None = None
    until: datetime | None = None
    channels: tuple[str, ...] = ()
    product: str | None = None
    categories: tuple[str, ...] = ()
    sentiment: str | None = None
    tier: str | None = None
    region: str | None = None
    language: str | None = None

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The aware UTC [since, until) of this filter (defaults: until now, since 90 days before until)."""
        until = _aware(self.until) if self.until else (now or datetime.now(UTC))
        since = _aware(self.since) if self.since else until - timedelta(days=DEFAULT_DAYS)
        if since >= until:
            raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
        return since, until

    def echo(self, now: datetime | None = None) -> dict[str, Any]:
        """The filters as applied, named as in the query string (times in Asia/Shanghai)."""
        since, until = self.window(now)
        return {
            "since": since.astimezone(ZONE).isoformat(),
            "until": until.astimezone(ZONE).isoformat(),
            "channel": list(self.channels),
            "product": self.product,
            "category": list(self.categories),
            "sentiment": self.sentiment,
            "tier": self.tier,
            "region": self.region,
            "language": self.language,
        }


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=ZONE).astimezone(UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """An ISO date or date-time from the query string as aware UTC. Times without an offset are Asia/Shanghai
    time; a bare date is that day's local midnight, or with ``end`` the next midnight (so ``until=2026-09-30``
    includes the 30th). Raises ValueError for anything else."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), ZONE).astimezone(UTC)
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r}") from None


# ---------------------------------------------------------------------------------------------- periods


def period_start(moment: datetime, granularity: Granularity) -> date:
    """The local (Asia/Shanghai) start date of the day, week (Monday) or month holding ``moment``."""
    local = _aware(moment).astimezone(ZONE).date()
    if granularity == "week":
        return local - timedelta(days=local.weekday())
    if granularity == "month":
        return local.replace(day=1)
    return local


def next_period(start: date, granularity: Granularity) -> date:
    """The start of the period after the one starting on ``start``."""
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods_between(since: datetime, until: datetime, granularity: Granularity) -> list[str]:
    """Every period touching [since, until), oldest first, as ISO start dates (empty ones included)."""
    current, last = (
        period_start(since, granularity),
        period_start(until - timedelta(microseconds=1), granularity),
    )
    found = []
    while current <= last:
        found.append(current.isoformat())
        current = next_period(current, granularity)
    return found


def period_bounds(period: str, granularity: Granularity) -> tuple[datetime, datetime]:
    """The aware UTC [start, end) of the local period holding the date ``period`` (YYYY-MM-DD)."""
    start = period_start(datetime.combine(date.fromisoformat(period), time(12), ZONE), granularity)
    end = next_period(start, granularity)
    return (
        datetime.combine(start, time(), ZONE).astimezone(UTC),
        datetime.combine(end, time(), ZONE).astimezone(UTC),
    )


def period_expression(dialect: str, granularity: Granularity) -> ColumnElement[str]:
    """SQL naming the local period start (``YYYY-MM-DD``) of ``FeedbackItem.created_at``.

    No bound parameters, so the same expression can be repeated in GROUP BY. SQLite keeps naive UTC text,
    shifted by the fixed +8 h of Asia/Shanghai (no daylight saving since 1991); PostgreSQL converts.
    """
    created = FeedbackItem.created_at
    if dialect == "sqlite":
        if granularity == "day":
            return func.strftime(literal_column("'%Y-%m-%d'"), created, literal_column("'+8 hours'"))
        if granularity == "week":
            modifiers = ("'+8 hours'", "'weekday 0'", "'-6 days'")
            return func.date(created, *(literal_column(m) for m in modifiers))
        return func.strftime(literal_column("'%Y-%m-01'"), created, literal_column("'+8 hours'"))
    local = func.timezone(literal_column(f"'{ZONE_NAME}'"), created)
    truncated = func.date_trunc(literal_column(f"'{granularity}'"), local)
    return func.to_char(truncated, literal_column("'YYYY-MM-DD'"))


# ---------------------------------------------------------------------------------------------- facts


COUNTS = (
    "volume",
    "analysed",
    "positive",
    "neutral",
    "negative",
    "complaints",
    "nps_responses",
    "promoters",
    "detractors",
    "csat_responses",
    "satisfied",
)


@dataclass(slots=True)
class Measures:
    """Counts over a set of items and the figures derived from them. ``analysed`` items have a sentiment;
    ``complaints`` counts analysed items flagged as complaints; the rest are survey answers."""

    volume: int = 0
    analysed: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    complaints: int = 0
    nps_responses: int = 0
    promoters: int = 0
    detractors: int = 0
    csat_responses: int = 0
    satisfied: int = 0

    def add(self, other: Measures) -> None:
        self.volume += other.volume
        self.analysed += other.analysed
        self.positive += other.positive
        self.neutral += other.neutral
        self.negative += other.negative
        self.complaints += other.complaints
        self.nps_responses += other.nps_responses
        self.promoters += other.promoters
        self.detractors += other.detractors
        self.csat_responses += other.csat_responses
        self.satisfied += other.satisfied

    @property
    def negative_share(self) -> float | None:
        return _share(self.negative, self.analysed)

    @property
    def complaint_rate(self) -> float | None:
        return _share(self.complaints, self.analysed)

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors, as ``ask.scores.nps`` (the SQL counts use its 9–10 / 0–6 bands)."""
        if not self.nps_responses:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.nps_responses, 2)

    @property
    def csat(self) -> float | None:
        """% of CSAT answers scoring 4–5, as ``ask.scores.csat``."""
        if not self.csat_responses:
            return None
        return round(100.0 * self.satisfied / self.csat_responses, 2)

    def totals(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "negative_share": self.negative_share,
            "complaint_rate": self.complaint_rate,
            "nps": self.nps,
            "csat": self.csat,
            "analysed": self.analysed,
        }


@dataclass(slots=True)
class Facts(Measures):
    """The counts of the items sharing a group key and a category (or aspect) list.

    Counts are negative for a correction taking a labelled item out of the figures.
    """

    group: str | None = None
    categories: tuple[str, ...] = ()
    aspects: tuple[tuple[str, str], ...] = ()

    def negated(self) -> Facts:
        return replace(self, **{name: -getattr(self, name) for name in COUNTS})


def item_facts(group: str | None, values: dict[str, Any], scores: Sequence[int]) -> Facts:
    """The facts of one item from its (effective) values and its five survey-score flags."""
    sentiment = values["sentiment"]
    analysed = sentiment is not None
    return Facts(
        1,
        int(analysed),
        int(sentiment == "positive"),
        int(sentiment == "neutral"),
        int(sentiment == "negative"),
        int(analysed and bool(values["complaint"])),
        *scores,
        group=group,
        categories=values["categories"],
        aspects=values["aspects"],
    )


def per_category(found: Sequence[Facts]) -> list[Facts]:
    """Each facts' counts once per category it lists, as facts of that one category (same group)."""
    return [replace(facts, categories=(category,)) for facts in found for category in facts.categories]


def _count_columns() -> list[ColumnElement[int]]:
    """Aggregates in ``COUNTS`` order over the items of a group and their newest analysis."""
    sentiment = Analysis.sentiment

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    return [
        func.count(),
        func.count(sentiment),
        count_if(sentiment == "positive"),
        count_if(sentiment == "neutral"),
        count_if(sentiment == "negative"),
        count_if(and_(sentiment.is_not(None), Analysis.complaint.is_(True))),
        *(func.sum(flag) for flag in _score_flags()),
    ]


def _score_flags() -> tuple[ColumnElement[int], ...]:
    """Per item 1/0: an NPS answer, a promoter (9–10), a detractor (0–6), a CSAT answer, satisfied (4–5)."""
    rating = FeedbackItem.rating
    question = FeedbackItem.meta["question_type"].as_string()
    survey = FeedbackItem.kind == "survey_answer"
    is_nps = and_(
        rating.between(0, 10),
        or_(
            and_(survey, question == "nps"),
            and_(FeedbackItem.rating_scale_min == 0, FeedbackItem.rating_scale_max == 10),
        ),
    )
    is_csat = and_(rating.between(1, 5), survey, question == "csat")
    return (
        case((is_nps, 1), else_=0),
        case((and_(is_nps, rating >= 9), 1), else_=0),
        case((and_(is_nps, rating <= 6), 1), else_=0),
        case((is_csat, 1), else_=0),
        case((and_(is_csat, rating >= 4), 1), else_=0),
    )


def _json_texts(column: Any, dialect: str) -> Any:
    """A table-valued ``value`` of the text elements of a JSON list column, per dialect."""
    if dialect == "sqlite":
        return func.json_each(column).table_valued("value")
    return func.jsonb_array_elements_text(cast(column, JSONB)).table_valued("value")


def _newest_analysis_join(stmt: Select) -> Select:
    """Outer-join each item's newest analysis (highest id) to a select over ``FeedbackItem``."""
    older = aliased(Analysis)
    newest_id = select(func.max(older.id)).where(older.feedback_id == FeedbackItem.id).scalar_subquery()
    return stmt.outerjoin(Analysis, and_(Analysis.feedback_id == FeedbackItem.id, Analysis.id == newest_id))


def item_scope(
    stmt: Select, flt: InsightFilter, since: datetime, until: datetime, *, customers: bool = False
) -> Select:
    """``stmt`` (over ``FeedbackItem``) narrowed to items created in [since, until) and to the filter's
    channel, product, language, tier and region; ``customers`` joins the customer even without a segment
    filter (outer join: items without a customer stay)."""
    if customers or flt.tier or flt.region:
        stmt = stmt.outerjoin(Customer, Customer.id == FeedbackItem.customer_id)
    stmt = stmt.where(FeedbackItem.created_at >= since, FeedbackItem.created_at < until)
    if flt.channels:
        stmt = stmt.where(FeedbackItem.channel.in_(flt.channels))
    if flt.product:
        stmt = stmt.where(FeedbackItem.product == flt.product)
    if flt.language:
        stmt = stmt.where(FeedbackItem.language == flt.language)
    if flt.tier:
        stmt = stmt.where(Customer.tier == flt.tier)
    if flt.region:
        stmt = stmt.where(Customer.region == flt.region)
    return stmt


def scoped_query(
    stmt: Select,
    flt: InsightFilter,
    since: datetime,
    until: datetime,
    dialect: str,
    *,
    customers: bool = False,
    analysis_filters: bool = True,
) -> Select:
    """``stmt`` over items in [since, until) with their newest analysis, narrowed by ``flt``.

    With ``analysis_filters`` the sentiment and category filters test the analysis (labels are applied
    afterwards by the caller); without, they are left out.
    """
    stmt = item_scope(
        _newest_analysis_join(stmt.select_from(FeedbackItem)), flt, since, until, customers=customers
    )
    if analysis_filters and flt.sentiment:
        stmt = stmt.where(Analysis.sentiment == flt.sentiment)
    if analysis_filters and flt.categories:
        stmt = stmt.where(_analysis_has_category(flt.categories, dialect))
    return stmt


def _analysis_has_category(categories: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """The newest analysis lists one of ``categories``. A text match on the stored JSON (each id as JSON
    encodes it, quotes included) rules out most rows cheaply; unpacking the list then decides exactly."""
    stored = cast(Analysis.categories, Text)
    spellings = {json.dumps(c, ensure_ascii=ascii) for c in categories for ascii in (True, False)}
    maybe = or_(*(stored.contains(spelling, autoescape=True) for spelling in sorted(spellings)))
    listed = _json_texts(Analysis.categories, dialect)
    return and_(maybe, exists(select(1).select_from(listed).where(listed.c.value.in_(categories))))


def _loads(text: str | None, cache: dict[str | None, Any]) -> Any:
    if text not in cache:
        cache[text] = json.loads(text) if text else []
    return cache[text]


def _as_categories(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _as_aspects(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (str(a["category"]), str(a["polarity"]))
        for a in value
        if isinstance(a, dict) and "category" in a and "polarity" in a
    )


def effective_values(analysis: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """Sentiment, complaint, categories and aspects after the newest label of each field.

    ``analysis`` holds the analysis values (None when there is none); ``labels`` the newest label values
    as stored (``"true"``/``"false"``, ``"a;b"``, ``"cat:polarity;…"``).
    """
    values = dict(analysis)
    if "sentiment" in labels:
        values["sentiment"] = labels["sentiment"]
    if "complaint" in labels:
        values["complaint"] = labels["complaint"] == "true"
    if "categories" in labels:
        values["categories"] = tuple(name for name in labels["categories"].split(";") if name)
    if "aspects" in labels:
        pairs = (pair.rpartition(":") for pair in labels["aspects"].split(";") if pair)
        values["aspects"] = tuple((category, polarity) for category, _, polarity in pairs)
    return values


def matches_filter(flt: InsightFilter, sentiment: str | None, categories: Sequence[str]) -> bool:
    """The sentiment and category filters, in Python, for one item (as the SQL applies them)."""
    if flt.sentiment and sentiment != flt.sentiment:
        return False
    return not flt.categories or any(category in flt.categories for category in categories)


def newest_labels(session: Session, item_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """``{item id: {field: newest value}}`` for the given items."""
    newest: dict[int, dict[str, str]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        rows = session.execute(
            select(Label.feedback_id, Label.field, Label.value)
            .where(Label.feedback_id.in_(chunk))
            .order_by(Label.id)
        )
        for item_id, label_field, value in rows:
            newest.setdefault(item_id, {})[label_field] = value
    return newest


def gather_facts(
    session: Session,
    flt: InsightFilter,
    since: datetime,
    until: datetime,
    group: ColumnElement[Any] | None,
    *,
    categories: bool = False,
    aspects: bool = False,
    customers: bool = False,
    volume_only: bool = False,
) -> list[Facts]:
    """The counts of the items of [since, until) matching ``flt``, per ``group`` (and per category or aspect
    list when asked), by their effective analysis (with ``volume_only``, only ``volume`` is counted in SQL).

    The database counts by the newest analysis; each labelled item then trades its analysis-based counts
    for its corrected ones (and enters or leaves the sentiment/category filters accordingly). Facts may
    repeat a key: callers add them up.
    """
    dialect = session.get_bind().dialect.name
    group_column = group if group is not None else literal_column("NULL")
    keys: list[Any] = [group_column]
    if categories:
        keys.append(cast(Analysis.categories, Text))
    if aspects:
        keys.append(cast(Analysis.aspects, Text))
    counts = [func.count()] if volume_only else _count_columns()
    grouped = scoped_query(select(*keys, *counts), flt, since, until, dialect, customers=customers)
    if group is not None or len(keys) > 1:
        grouped = grouped.group_by(*(keys if group is not None else keys[1:]))
    cache: dict[str | None, Any] = {}
    facts = []
    for row in session.execute(grouped):
        key, *lists = row[: len(keys)]
        facts.append(
            Facts(
                *(int(value or 0) for value in row[len(keys) :]),
                group=key,
                categories=_as_categories(_loads(lists[0], cache)) if categories else (),
                aspects=_as_aspects(_loads(lists[-1], cache)) if aspects else (),
            )
        )
    return facts + _label_corrections(session, flt, since, until, group_column, customers=customers)


def _label_corrections(
    session: Session,
    flt: InsightFilter,
    since: datetime,
    until: datetime,
    group: ColumnElement[Any],
    *,
    customers: bool,
) -> list[Facts]:
    """For each labelled item in the window: minus its analysis-based facts (when the SQL counted it),
    plus its corrected facts (when they pass the sentiment/category filters)."""
    dialect = session.get_bind().dialect.name
    labelled = select(Label.feedback_id).distinct()
    rows = session.execute(
        scoped_query(
            select(
                FeedbackItem.id,
                group,
                Analysis.sentiment,
                Analysis.complaint,
                Analysis.categories,
                Analysis.aspects,
                *_score_flags(),
            ),
            flt,
            since,
            until,
            dialect,
            customers=customers,
            analysis_filters=False,
        ).where(FeedbackItem.id.in_(labelled))
    ).all()
    if not rows:
        return []
    labels = newest_labels(session, [row[0] for row in rows])
    corrections = []
    for item_id, key, sentiment, complaint, categories, aspects, *scores in rows:
        counted = {
            "sentiment": sentiment,
            "complaint": None if complaint is None else bool(complaint),
            "categories": _as_categories(categories),
            "aspects": _as_aspects(aspects),
        }
        effective = effective_values(counted, labels.get(item_id, {}))
        if effective == counted:
            continue
        if matches_filter(flt, counted["sentiment"], counted["categories"]):
            corrections.append(item_facts(key, counted, scores).negated())
        if matches_filter(flt, effective["sentiment"], effective["categories"]):
            corrections.append(item_facts(key, effective, scores))
    return corrections


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _change(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    return {
        key: None if current[key] is None or previous[key] is None else round(current[key] - previous[key], 4)
        for key in current
    }


def category_names(category_id: str) -> tuple[str, str]:
    """The Chinese and English names of a category id: from the configured model's taxonomy (categories
    added from /topics included), else the packaged one, else the id itself."""
    for taxonomy in (active_taxonomy(get_settings().model_dir), active_taxonomy(None)):
        if category_id in taxonomy:
            category = taxonomy.get(category_id)
            return category.name_zh, category.name_en
    return category_id, category_id


# ---------------------------------------------------------------------------------------------- figures


def _totals(session: Session, flt: InsightFilter, since: datetime, until: datetime) -> Measures:
    rolled = rollups.facts_with_rollups(session, flt, since, until, by=None)
    measures = Measures()
    for facts in rolled[0] if rolled is not None else gather_facts(session, flt, since, until, None):
        measures.add(facts)
    return measures


def _on_own_connection(bind: Engine, work: Callable[[Session], T]) -> T:
    with Session(bind) as other:
        other.connection(execution_options=READ_ONLY)
        return work(other)


def _meanwhile(pool: ThreadPoolExecutor, session: Session, work: Callable[[Session], T]) -> Future[T]:
    """``work(session)`` run in ``pool`` on a connection of its own when the database allows a second one
    (a file or a server; it then sees committed data only), else at once on ``session``."""
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.url.database not in (None, "", ":memory:"):
        return pool.submit(_on_own_connection, bind, work)
    done: Future[T] = Future()
    done.set_result(work(session))
    return done


def _in_two(session: Session, mine: Callable[[Session], T], theirs: Callable[[Session], U]) -> tuple[T, U]:
    """``mine(session)`` and, at the same time on a second connection when there can be one, ``theirs``."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = _meanwhile(pool, session, theirs)
        result = mine(session)
    return result, future.result()


def gather_facts_halved(
    session: Session,
    flt: InsightFilter,
    since: datetime,
    until: datetime,
    group: ColumnElement[Any] | None,
    **options: bool,
) -> list[Facts]:
    """``gather_facts`` with each half of the window read on its own connection, at the same time."""
    middle = since + (until - since) / 2
    late, early = _in_two(
        session,
        lambda mine: gather_facts(mine, flt, middle, until, group, **options),
        lambda other: gather_facts(other, flt, since, middle, group, **options),
    )
    return early + late


def overview(
    session: Session, flt: InsightFilter, granularity: Granularity = "week", *, now: datetime | None = None
) -> dict[str, Any]:
    """The overview's series per period, totals against the equally long period before, top categories."""
    since, until = flt.window(now)
    periods = periods_between(since, until, granularity)
    index = {period: n for n, period in enumerate(periods)}
    dialect = session.get_bind().dialect.name
    per_period = [Measures() for _ in periods]
    totals = Measures()
    by_category: dict[str, Measures] = {}
    category_series: dict[str, list[int]] = {}
    category_negative: dict[str, list[int]] = {}
    rolled = rollups.facts_with_rollups(session, flt, since, until, by=granularity, categories=True)
    if rolled is not None:
        current, categorised = rolled
        previous = _totals(session, flt, since - (until - since), since)
    else:
        by_period = period_expression(dialect, granularity)
        # Two connections share the work (counts simply add up): the other one reads the equally long
        # period before and the first quarter of this one, while this one reads the rest.
        split = since + (until - since) / 4
        late, (previous, first_quarter) = _in_two(
            session,
            lambda mine: gather_facts(mine, flt, split, until, by_period, categories=True),
            lambda other: (
                _totals(other, flt, since - (until - since), since),
                gather_facts(other, flt, since, split, by_period, categories=True),
            ),
        )
        current = first_quarter + late
        categorised = per_category(current)
    for facts in current:
        slot = index.get(facts.group)
        if slot is None:  # cannot happen for items inside the window; never index a stray period
            continue
        per_period[slot].add(facts)
        totals.add(facts)
    for facts in categorised:
        slot = index.get(facts.group)
        if slot is None:
            continue
        category = facts.categories[0]
        by_category.setdefault(category, Measures()).add(facts)
        series = category_series.setdefault(category, [0] * len(periods))
        negative = category_negative.setdefault(category, [0] * len(periods))
        series[slot] += facts.volume
        negative[slot] += facts.negative
    # A category whose items were all corrected away has counts netting to zero: not listed.
    listed = (c for c in by_category if by_category[c].volume)
    top = sorted(listed, key=lambda c: (-by_category[c].volume, c))[:TOP_CATEGORIES]
    current_totals, previous_totals = totals.totals(), previous.totals()
    return {
        "filters": flt.echo(now),
        "granularity": granularity,
        "periods": periods,
        "series": {
            "volume": [m.volume for m in per_period],
            "positive": [m.positive for m in per_period],
            "neutral": [m.neutral for m in per_period],
            "negative": [m.negative for m in per_period],
            "complaints": [m.complaints for m in per_period],
            "negative_share": [m.negative_share for m in per_period],
            "complaint_rate": [m.complaint_rate for m in per_period],
            "nps": [m.nps for m in per_period],
            "csat": [m.csat for m in per_period],
        },
        "totals": current_totals,
        "previous": previous_totals,
        "change": _change(current_totals, previous_totals),
        "categories": [
            {
                "id": category,
                "name_zh": category_names(category)[0],
                "name_en": category_names(category)[1],
                "volume": by_category[category].volume,
                "negative_share": by_category[category].negative_share,
                "complaint_rate": by_category[category].complaint_rate,
                "series": category_series[category],
                "negative_series": category_negative[category],
            }
            for category in top
        ],
        "units": UNITS,
    }


def segments(
    session: Session, flt: InsightFilter, by: SegmentBy = "tier", *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Volume, negative share, complaint rate, NPS and CSAT per customer tier, region or channel
    (``segment`` None: items without a customer or without that attribute), largest first."""
    column = {"tier": Customer.tier, "region": Customer.region, "channel": FeedbackItem.channel}[by]
    since, until = flt.window(now)
    measures: dict[str | None, Measures] = {}
    rolled = rollups.facts_with_rollups(session, flt, since, until, by=by)
    if rolled is not None:
        found = rolled[0]
    else:
        found = gather_facts_halved(session, flt, since, until, column, customers=by != "channel")
    for facts in found:
        measures.setdefault(facts.group, Measures()).add(facts)
    ordered = sorted(measures.items(), key=lambda kv: (-kv[1].volume, kv[0] is None, kv[0] or ""))
    return [
        {
            "segment": segment,
            "volume": m.volume,
            "negative_share": m.negative_share,
            "complaint_rate": m.complaint_rate,
            "nps": m.nps,
            "csat": m.csat,
            "analysed": m.analysed,
        }
        for segment, m in ordered
        if m.volume > 0
    ]


@dataclass(slots=True)
class AspectCell:
    """Mentions of one category's aspect with each polarity in one column."""

    positive: int = 0
    negative: int = 0
    neutral: int = 0

    def as_dict(self) -> dict[str, Any]:
        mentions = self.positive + self.negative + self.neutral
        score = round((self.positive - self.negative) / mentions, 4) if mentions else None
        return {"positive": self.positive, "negative": self.negative, "neutral": self.neutral, "score": score}


def aspects(
    session: Session,
    flt: InsightFilter,
    by: AspectsBy = "period",
    granularity: Granularity = "week",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A heat map of aspect sentiment: rows are categories (most mentioned first), columns periods (all,
    oldest first) or products (the ``TOP_PRODUCTS`` most mentioned); cells count polarities."""
    since, until = flt.window(now)
    dialect = session.get_bind().dialect.name
    group = period_expression(dialect, granularity) if by == "period" else FeedbackItem.product
    cells: dict[tuple[str, str | None], AspectCell] = {}
    for facts in gather_facts_halved(session, flt, since, until, group, aspects=True, volume_only=True):
        for category, polarity in facts.aspects:
            if polarity in SENTIMENTS:
                cell = cells.setdefault((category, facts.group), AspectCell())
                setattr(cell, polarity, getattr(cell, polarity) + facts.volume)
    mentions_by_row: dict[str, int] = {}
    mentions_by_column: dict[str | None, int] = {}
    for (category, column), cell in cells.items():
        total = cell.positive + cell.negative + cell.neutral
        mentions_by_row[category] = mentions_by_row.get(category, 0) + total
        mentions_by_column[column] = mentions_by_column.get(column, 0) + total
    rows = sorted((c for c, n in mentions_by_row.items() if n > 0), key=lambda c: (-mentions_by_row[c], c))
    if by == "period":
        columns: list[str | None] = list(periods_between(since, until, granularity))
    else:
        ranked = sorted(
            (p for p, n in mentions_by_column.items() if n > 0),
            key=lambda p: (-mentions_by_column[p], p is None, p or ""),
        )
        columns = ranked[:TOP_PRODUCTS]
    return {
        "filters": flt.echo(now),
        "by": by,
        "granularity": granularity if by == "period" else None,
        "rows": rows,
        "row_names": [
            {"id": c, "name_zh": category_names(c)[0], "name_en": category_names(c)[1]} for c in rows
        ],
        "columns": columns,
        "cells": [[cells.get((row, column), AspectCell()).as_dict() for column in columns] for row in rows],
    }


# ---------------------------------------------------------------------------------------------- verbatims


@dataclass(slots=True)
class VerbatimPage:
    """The items behind a chart point, newest first, with their effective analysis values."""

    items: list[FeedbackItem]
    effective: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_cursor: str | None = None
    total: int = 0


def label_value(label_field: str) -> Any:
    """The newest label value of ``label_field`` for the outer query's item (a correlated subquery)."""
    return (
        select(Label.value)
        .where(Label.feedback_id == FeedbackItem.id, Label.field == label_field)
        .order_by(Label.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def effective_conditions(flt: InsightFilter, dialect: str) -> list[ColumnElement[bool]]:
    """SQL for the sentiment and category filters on the effective (label-corrected) analysis."""
    conditions: list[ColumnElement[bool]] = []
    if flt.sentiment:
        conditions.append(func.coalesce(label_value("sentiment"), Analysis.sentiment) == flt.sentiment)
    if flt.categories:
        in_analysis = _analysis_has_category(flt.categories, dialect)
        label = label_value("categories")
        wrapped = literal(";", String) + label + literal(";", String)
        in_label = or_(*(wrapped.contains(f";{c};", autoescape=True) for c in flt.categories))
        conditions.append(or_(and_(label.is_(None), in_analysis), and_(label.is_not(None), in_label)))
    return conditions


def verbatims(
    session: Session,
    flt: InsightFilter,
    *,
    period: str | None = None,
    granularity: Granularity = "week",
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> VerbatimPage:
    """The items counted in one chart point (the ``period`` within the filter window, or the whole window),
    newest first, keyset-paginated; raises ValueError for a bad period or cursor."""
    since, until = flt.window(now)
    if period:
        try:
            start, end = period_bounds(period, granularity)
        except ValueError:
            raise ValueError(f"period must be a date (YYYY-MM-DD), got {period!r}") from None
        since, until = max(since, start), min(until, end)
    dialect = session.get_bind().dialect.name
    conditions = effective_conditions(flt, dialect)
    if since >= until:
        return VerbatimPage(items=[])
    ids = scoped_query(select(FeedbackItem.id), flt, since, until, dialect, analysis_filters=False).where(
        *conditions
    )
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    page = (
        select(FeedbackItem)
        .where(FeedbackItem.id.in_(ids))
        .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
        .options(selectinload(FeedbackItem.analyses))
        .limit(limit + 1)
    )
    if cursor:
        created, item_id = decode_cursor(cursor)
        page = page.where(
            or_(
                FeedbackItem.created_at < created,
                and_(FeedbackItem.created_at == created, FeedbackItem.id < item_id),
            )
        )
    items = list(session.scalars(page))
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    items = items[:limit]
    labels = newest_labels(session, [item.id for item in items])
    return VerbatimPage(
        items=items,
        effective={item.id: effective_of(item, labels.get(item.id, {})) for item in items},
        next_cursor=next_cursor,
        total=total,
    )


def effective_of(item: FeedbackItem, labels: dict[str, str]) -> dict[str, Any]:
    """An item's newest analysis with its newest labels applied (what the dashboard counts)."""
    newest = item.analyses[-1] if item.analyses else None
    analysis = {
        "sentiment": newest.sentiment if newest else None,
        "complaint": newest.complaint if newest else None,
        "categories": _as_categories(newest.categories if newest else None),
        "aspects": _as_aspects(newest.aspects if newest else None),
    }
    values = effective_values(analysis, labels)
    return {
        "sentiment": values["sentiment"],
        "complaint": values["complaint"],
        "categories": list(values["categories"]),
        "aspects": [{"category": c, "polarity": p} for c, p in values["aspects"]],
        "corrected": sorted(labels),
    }


# The rollups build on the counting above; imported last as they import this module.
from closeloop.insight import rollups  # noqa: E402
