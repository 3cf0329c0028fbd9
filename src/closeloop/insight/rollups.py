"""Daily rollups: the dashboard's counts added up per local day, so the overview and the segment breakdowns
read a few thousand pre-counted rows instead of every item of the window.

A row (``InsightRollup``) counts the items of one Asia/Shanghai day × channel × language — and, for the
``tier`` and ``region`` facets, × that customer attribute — by their effective analysis, exactly as
``aggregates.gather_facts`` counts them; facet ``all`` also has one row per category. A write that changes
a day's figures marks the day dirty in the writer's own transaction (``mark_items_changed`` and friends:
one small upsert); ``refresh_dirty`` recomputes only those days. Readers take the clean days from the
rollups and everything else live — dirty or never-built days, the partial days at the window's edges —
and filters the rollups do not keep (product, category, sentiment, tier with region) go fully live, so
the figures always equal the live computation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from closeloop.insight.aggregates import (
    COUNTS,
    ZONE,
    Facts,
    InsightFilter,
    gather_facts,
    per_category,
    period_expression,
    period_start,
)
from closeloop.store.models import Customer, FeedbackItem, InsightRollup, RollupDay

Facet = Literal["all", "tier", "region"]
GroupBy = Literal["day", "week", "month", "tier", "region", "channel"]
FACETS: tuple[Facet, ...] = ("all", "tier", "region")
REFRESH_CHUNK_DAYS = 31  # days recomputed per statement: bounds the groups held in memory
LOOKUP_CHUNK = 500


# ---------------------------------------------------------------------------------------------- days


def local_day(moment: datetime) -> date:
    """The Asia/Shanghai date of a moment (naive moments are UTC, as the store keeps them)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZONE).date()


def day_start(day: date) -> datetime:
    """The aware UTC moment the local day ``day`` starts."""
    return datetime.combine(day, time(), ZONE).astimezone(UTC)


def day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as [first, end) runs, oldest first."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


# ---------------------------------------------------------------------------------------------- marking


def _upsert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def mark_days_changed(session: Session, days: Iterable[date]) -> None:
    """Mark local days dirty (their rollups no longer count) in the caller's transaction."""
    ordered = sorted(set(days))  # one order everywhere: concurrent markers never deadlock
    if not ordered:
        return
    stmt = _upsert(session)(RollupDay).values([{"day": d, "dirty": True, "version": 1} for d in ordered])
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["day"], set_={"dirty": True, "version": RollupDay.version + 1}
        )
    )


def mark_moments_changed(session: Session, moments: Iterable[datetime | None]) -> None:
    """Mark dirty the local days of these item times (new items)."""
    mark_days_changed(session, {local_day(m) for m in moments if m is not None})


def _days_where(session: Session, condition: ColumnElement[bool]) -> set[date]:
    day = period_expression(session.get_bind().dialect.name, "day")
    return {date.fromisoformat(text) for text in session.scalars(select(day).where(condition).distinct())}


def mark_items_changed(session: Session, item_ids: Sequence[int]) -> None:
    """Mark dirty the days of these items (call before deleting them): a new analysis, a correction,
    an erasure or a purge."""
    days: set[date] = set()
    for start in range(0, len(item_ids), LOOKUP_CHUNK):
        days |= _days_where(session, FeedbackItem.id.in_(item_ids[start : start + LOOKUP_CHUNK]))
    mark_days_changed(session, days)


def mark_customers_changed(session: Session, customer_ids: Sequence[int]) -> None:
    """Mark dirty the days of these customers' items (their tier or region changed, analyses forgotten)."""
    days: set[date] = set()
    for start in range(0, len(customer_ids), LOOKUP_CHUNK):
        chunk = customer_ids[start : start + LOOKUP_CHUNK]
        days |= _days_where(session, FeedbackItem.customer_id.in_(chunk))
    mark_days_changed(session, days)


# ---------------------------------------------------------------------------------------------- refresh


def _facet_key(dialect: str, facet: Facet) -> ColumnElement[str]:
    """SQL naming an item's rollup row as JSON text: [day, channel, language(, segment)]."""
    parts: list[Any] = [period_expression(dialect, "day"), FeedbackItem.channel, FeedbackItem.language]
    if facet != "all":
        parts.append(Customer.tier if facet == "tier" else Customer.region)
    if dialect == "sqlite":
        return func.json_array(*parts)
    return cast(func.json_build_array(*parts), Text)


def _rows_of(session: Session, first: date, end: date) -> list[dict[str, Any]]:
    """The rollup rows of the local days [first, end), computed live."""
    dialect = session.get_bind().dialect.name
    since, until = day_start(first), day_start(end)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(key: tuple[Any, ...], facts: Facts) -> None:
        day, facet, segment, channel, language, category = key
        row = rows.get(key)
        if row is None:
            row = rows[key] = {
                "day": day, "facet": facet, "segment": segment, "channel": channel,
                "language": language, "category": category, **dict.fromkeys(COUNTS, 0),
            }  # fmt: skip
        for name in COUNTS:
            row[name] += getattr(facts, name)

    for facet in FACETS:
        found = gather_facts(
            session,
            InsightFilter(since=since, until=until),
            since,
            until,
            _facet_key(dialect, facet),
            categories=facet == "all",
            customers=facet != "all",
        )
        for facts in found:
            day, channel, language, *segment = json.loads(facts.group)
            base = (date.fromisoformat(day), facet, segment[0] if segment else None, channel, language)
            add((*base, None), facts)
            for category in facts.categories:
                add((*base, category), facts)
    return list(rows.values())


def refresh_days(session: Session, days: Iterable[date], *, now: datetime | None = None) -> int:
    """Recompute the rollups of these local days in the caller's transaction; returns the rows written.

    A day marked again while this ran stays dirty (its mark's version moved on), so the next refresh
    takes it again; days not yet known are recorded clean.
    """
    wanted = sorted(set(days))
    if not wanted:
        return 0
    versions: dict[date, int] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = session.execute(select(RollupDay.day, RollupDay.version).where(RollupDay.day.in_(chunk)))
        versions.update({day: version for day, version in rows})
    written = 0
    for first, end in day_runs(wanted):
        while first < end:
            stop = min(end, first + timedelta(days=REFRESH_CHUNK_DAYS))
            rows = _rows_of(session, first, stop)
            session.execute(delete(InsightRollup).where(InsightRollup.day >= first, InsightRollup.day < stop))
            if rows:
                session.execute(InsightRollup.__table__.insert(), rows)
            written += len(rows)
            first = stop
    refreshed = now or datetime.now(UTC)
    unknown = [
        {"day": d, "dirty": False, "version": 0, "refreshed_at": refreshed}
        for d in wanted
        if d not in versions
    ]
    if unknown:
        session.execute(
            _upsert(session)(RollupDay).values(unknown).on_conflict_do_nothing(index_elements=["day"])
        )
    for day, version in versions.items():
        session.execute(
            update(RollupDay)
            .where(RollupDay.day == day, RollupDay.version == version)
            .values(dirty=False, refreshed_at=refreshed)
        )
    return written


def dirty_days(session: Session, *, limit: int | None = None) -> list[date]:
    """Days whose rollups wait for a refresh, oldest first."""
    stmt = select(RollupDay.day).where(RollupDay.dirty.is_(True)).order_by(RollupDay.day).limit(limit)
    return list(session.scalars(stmt))


def refresh_dirty(session: Session, *, limit: int = 366) -> int:
    """Recompute up to ``limit`` dirty days in the caller's transaction; returns how many days."""
    days = dirty_days(session, limit=limit)
    refresh_days(session, days)
    return len(days)


def run_rollup_refresh(factory: sessionmaker[Session]) -> int:
    """The periodic job: refresh every dirty day, committing per batch; returns the days refreshed."""
    total = 0
    while True:
        with factory() as session:
            done = refresh_dirty(session, limit=REFRESH_CHUNK_DAYS)
            session.commit()
        total += done
        if done < REFRESH_CHUNK_DAYS:
            return total


def stored_days(session: Session) -> tuple[date, date] | None:
    """The first and last local day holding feedback, or None for an empty store."""
    oldest, newest = session.execute(
        select(func.min(FeedbackItem.created_at), func.max(FeedbackItem.created_at))
    ).one()
    if oldest is None or newest is None:
        return None
    return local_day(oldest), local_day(newest)


def rebuild(factory: sessionmaker[Session], progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the rollups of every day from the first to the last item (clearing all others), one
    transaction per ``REFRESH_CHUNK_DAYS`` days; ``progress(done, total)`` after each. Returns the days."""
    with factory() as session:
        span = stored_days(session)
        session.execute(delete(InsightRollup))
        session.execute(delete(RollupDay).where(RollupDay.dirty.is_(False)))
        session.commit()
    if span is None:
        return 0
    first, last = span
    total = (last - first).days + 1
    done = 0
    while first <= last:
        stop = min(last + timedelta(days=1), first + timedelta(days=REFRESH_CHUNK_DAYS))
        with factory() as session:
            refresh_days(session, _each_day(first, stop))
            session.commit()
        done += (stop - first).days
        if progress:
            progress(done, total)
        first = stop
    return total


def _each_day(first: date, end: date) -> Iterator[date]:
    while first < end:
        yield first
        first += timedelta(days=1)


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class RollupPlan:
    """How a window is read: the clean days from the rollups, the ``live`` UTC ranges from the items."""

    clean: tuple[date, ...]
    live: tuple[tuple[datetime, datetime], ...]


def facet_for(
    flt: InsightFilter, by: GroupBy | None, *, categories: bool = False
) -> tuple[Facet, str | None] | None:
    """The facet (and the segment value to keep) answering ``flt`` grouped ``by``; None when only the live
    query can: filters by product, category or sentiment, tier and region together, or per-category
    counts within a tier or region (those are kept for facet ``all`` only)."""
    if flt.product or flt.categories or flt.sentiment:
        return None
    tier, region = bool(flt.tier) or by == "tier", bool(flt.region) or by == "region"
    if (tier or region) and (categories or (tier and region)):
        return None
    if tier:
        return ("tier", flt.tier)
    if region:
        return ("region", flt.region)
    return ("all", None)


def plan_window(session: Session, since: datetime, until: datetime) -> RollupPlan:
    """Split [since, until) into clean whole local days and the live ranges around and between them."""
    first = local_day(since) + timedelta(days=0 if day_start(local_day(since)) == since else 1)
    end = local_day(until)
    if first >= end:
        return RollupPlan((), ((since, until),))
    clean = set(
        session.scalars(
            select(RollupDay.day).where(
                RollupDay.day >= first, RollupDay.day < end, RollupDay.dirty.is_(False)
            )
        )
    )
    live: list[tuple[datetime, datetime]] = []

    def add_live(start: datetime, stop: datetime) -> None:
        if start >= stop:
            return
        if live and live[-1][1] == start:
            live[-1] = (live[-1][0], stop)
        else:
            live.append((start, stop))

    add_live(since, day_start(first))
    for day in _each_day(first, end):
        if day not in clean:
            add_live(day_start(day), day_start(day + timedelta(days=1)))
    add_live(day_start(end), until)
    return RollupPlan(tuple(sorted(clean)), tuple(live))


def _rollup_group(by: GroupBy | None) -> Any:
    """The rollup column grouping rows ``by`` (periods group by day, mapped to periods in Python)."""
    if by in ("day", "week", "month"):
        return InsightRollup.day
    if by == "channel":
        return InsightRollup.channel
    if by in ("tier", "region"):
        return InsightRollup.segment
    return None


def _period_of(by: GroupBy | None, key: Any) -> Any:
    if by in ("day", "week", "month"):
        return period_start(datetime.combine(key, time(12), ZONE), by).isoformat()
    return key


def rolled_facts(
    session: Session,
    flt: InsightFilter,
    clean: Sequence[date],
    *,
    facet: Facet,
    segment: str | None,
    by: GroupBy | None,
    categories: bool,
) -> tuple[list[Facts], list[Facts]]:
    """(Totals, per-category facts) of the ``clean`` days from the rollups, grouped ``by``."""
    if not clean:
        return [], []
    counts = [func.sum(getattr(InsightRollup, name)) for name in COUNTS]
    column = _rollup_group(by)
    group = column if column is not None else literal_column("NULL")
    days = or_(*(and_(InsightRollup.day >= first, InsightRollup.day < end) for first, end in day_runs(clean)))
    stmt = select(group, InsightRollup.category, *counts).where(InsightRollup.facet == facet, days)
    if not categories:
        stmt = stmt.where(InsightRollup.category.is_(None))
    if flt.channels:
        stmt = stmt.where(InsightRollup.channel.in_(flt.channels))
    if flt.language:
        stmt = stmt.where(InsightRollup.language == flt.language)
    if segment is not None:
        stmt = stmt.where(InsightRollup.segment == segment)
    found: dict[tuple[Any, str | None], Facts] = {}
    for key, category, *sums in session.execute(
        stmt.group_by(*([column] if column is not None else []), InsightRollup.category)
    ):
        period = _period_of(by, key)
        facts = found.get((period, category))
        if facts is None:
            facts = found[period, category] = Facts(
                group=period, categories=() if category is None else (category,)
            )
        for name, value in zip(COUNTS, sums, strict=True):
            setattr(facts, name, getattr(facts, name) + int(value or 0))
    return (
        [f for (_, category), f in found.items() if category is None],
        [f for (_, category), f in found.items() if category is not None],
    )


def _live_group(dialect: str, by: GroupBy | None) -> ColumnElement[Any] | None:
    if by in ("day", "week", "month"):
        return period_expression(dialect, by)
    if by == "channel":
        return FeedbackItem.channel
    if by == "tier":
        return Customer.tier
    if by == "region":
        return Customer.region
    return None


def facts_with_rollups(
    session: Session,
    flt: InsightFilter,
    since: datetime,
    until: datetime,
    *,
    by: GroupBy | None,
    categories: bool = False,
) -> tuple[list[Facts], list[Facts]] | None:
    """(Totals, per-category facts) of [since, until) matching ``flt``, grouped ``by``: clean days from
    the rollups, the rest live. None when the rollups cannot help (odd filters, no clean day)."""
    chosen = facet_for(flt, by, categories=categories)
    if chosen is None:
        return None
    plan = plan_window(session, since, until)
    if not plan.clean:
        return None
    facet, segment = chosen
    totals, by_category = rolled_facts(
        session, flt, plan.clean, facet=facet, segment=segment, by=by, categories=categories
    )
    group = _live_group(session.get_bind().dialect.name, by)
    for start, stop in plan.live:
        found = gather_facts(
            session, flt, start, stop, group, categories=categories, customers=by in ("tier", "region")
        )
        totals.extend(found)
        if categories:
            by_category.extend(per_category(found))
    return totals, by_category
