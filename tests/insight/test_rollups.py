"""Daily rollups: the dashboard's figures read from rollups equal the live computation, whatever was
written since (new items, analyses, corrections, erasures, purges, customer segment changes), whether the
changed days were refreshed or are still dirty — on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closeloop.cli import app as cli
from closeloop.collect.customers import upsert_customer
from closeloop.collect.ingest import write_batch
from closeloop.collect.labels import add_labels
from closeloop.collect.records import CustomerRef, FeedbackRecord
from closeloop.insight import rollups
from closeloop.insight.aggregates import InsightFilter, overview, segments
from closeloop.insight.rollups import (
    day_runs,
    day_start,
    dirty_days,
    facet_for,
    local_day,
    plan_window,
    refresh_dirty,
    run_rollup_refresh,
)
from closeloop.privacy.retention import purge_expired
from closeloop.privacy.subjects import erase_customer
from closeloop.store.models import (
    Analysis,
    Channel,
    Consent,
    Customer,
    Event,
    FeedbackItem,
    InsightRollup,
    Label,
    RollupDay,
)

SHANGHAI = timedelta(hours=8)
FIRST_DAY = date(2026, 9, 7)  # a Monday
DAYS = 12
NOW = datetime(2026, 10, 1, tzinfo=UTC)
CHANNELS = ("taobao", "jd", "survey")
CUSTOMERS = {
    "C-gold": ("gold", "上海"),
    "C-silver": ("silver", None),
    "C-north": (None, "北京"),
}
CATEGORIES = ("logistics", "packaging", "price")


# ---------------------------------------------------------------------------------------------- units


def test_local_day_follows_shanghai_midnight():
    assert local_day(datetime(2026, 9, 6, 16, 0, tzinfo=UTC)) == date(2026, 9, 7)
    assert local_day(datetime(2026, 9, 6, 15, 59, 59)) == date(2026, 9, 6)  # naive is UTC
    assert day_start(date(2026, 9, 7)) == datetime(2026, 9, 6, 16, tzinfo=UTC)


def test_day_runs_join_consecutive_days():
    days = [date(2026, 9, 9), date(2026, 9, 7), date(2026, 9, 8), date(2026, 9, 12), date(2026, 9, 8)]
    assert day_runs(days) == [(date(2026, 9, 7), date(2026, 9, 10)), (date(2026, 9, 12), date(2026, 9, 13))]


@pytest.mark.parametrize(
    ("flt", "by", "categories", "expected"),
    [
        (InsightFilter(), "week", True, ("all", None)),
        (InsightFilter(channels=("jd",), language="zh"), "day", True, ("all", None)),
        (InsightFilter(tier="gold"), "week", True, None),  # categories are not kept per tier
        (InsightFilter(tier="gold"), None, False, ("tier", "gold")),
        (InsightFilter(), "tier", False, ("tier", None)),
        (InsightFilter(tier="gold"), "tier", False, ("tier", "gold")),
        (InsightFilter(tier="gold"), "channel", False, ("tier", "gold")),
        (InsightFilter(region="上海"), "region", False, ("region", "上海")),
        (InsightFilter(region="上海"), "tier", False, None),
        (InsightFilter(tier="gold", region="上海"), None, False, None),
        (InsightFilter(product="SKU-1"), "week", False, None),
        (InsightFilter(categories=("price",)), "channel", False, None),
        (InsightFilter(sentiment="negative"), None, False, None),
    ],
)
def test_facet_for_filters(flt, by, categories, expected):
    assert facet_for(flt, by, categories=categories) == expected


# ---------------------------------------------------------------------------------------------- writing


def _records(items: list[dict[str, Any]], tag: str) -> list[FeedbackRecord]:
    records = []
    for n, item in enumerate(items):
        created = datetime.combine(FIRST_DAY + timedelta(days=item["day"]), datetime.min.time(), UTC)
        created += timedelta(minutes=item["minute"]) - SHANGHAI
        rating, scale, meta = None, None, {}
        if item["score"] == "nps":
            rating, scale, meta = float(item["value"] % 11), (0.0, 10.0), {"question_type": "nps"}
        elif item["score"] == "csat":
            rating, scale, meta = float(1 + item["value"] % 5), (1.0, 5.0), {"question_type": "csat"}
        customer = item["customer"]
        tier, region = CUSTOMERS[customer] if customer else (None, None)
        records.append(
            FeedbackRecord(
                text=f"反馈 {tag}-{n} feedback",
                channel=item["channel"],
                kind="survey_answer" if item["score"] != "none" else None,
                external_id=f"{tag}-{n}",
                rating=rating,
                rating_scale=scale,
                language=item["language"],
                created_at=created,
                customer=CustomerRef(external_id=customer, tier=tier, region=region) if customer else None,
                metadata=meta,
            )
        )
    return records


def _analyse(session: Session, item_id: int, analysis: dict[str, Any], version: str) -> None:
    """A stored analysis, marked as the analysis job does."""
    session.add(
        Analysis(
            feedback_id=item_id,
            model_version=version,
            sentiment=analysis["sentiment"],
            complaint=analysis["complaint"],
            categories=list(analysis["categories"]),
        )
    )
    session.flush()
    rollups.mark_items_changed(session, [item_id])


def _wipe(session: Session) -> None:
    for table in (Label, Analysis, FeedbackItem, Consent, Customer, Event, InsightRollup, RollupDay):
        session.execute(delete(table))
    session.execute(update(Channel).values(retention_days=None))
    session.commit()


@contextmanager
def _live_only():
    with mock.patch.object(rollups, "facts_with_rollups", return_value=None):
        yield


def _figures(session: Session, flt: InsightFilter, granularity: str) -> tuple[Any, ...]:
    return (
        overview(session, flt, granularity, now=NOW),
        segments(session, flt, "tier", now=NOW),
        segments(session, flt, "region", now=NOW),
        segments(session, flt, "channel", now=NOW),
    )


sentiments = st.sampled_from([None, "positive", "neutral", "negative"])
analyses = st.fixed_dictionaries(
    {
        "sentiment": sentiments,
        "complaint": st.booleans(),
        "categories": st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True),
    }
)
items = st.fixed_dictionaries(
    {
        "day": st.integers(0, DAYS - 1),
        "minute": st.integers(0, 24 * 60 - 1),
        "channel": st.sampled_from(CHANNELS),
        "language": st.sampled_from(["zh", "en", None]),
        "customer": st.sampled_from([None, *CUSTOMERS]),
        "score": st.sampled_from(["none", "none", "nps", "csat"]),
        "value": st.integers(0, 10),
        "analyses": st.lists(analyses, max_size=2),
    }
)
operations = st.one_of(
    st.tuples(st.just("label"), st.integers(0, 10**6), sentiments, st.sampled_from([None, True, False]),
              st.one_of(st.none(), st.lists(st.sampled_from(CATEGORIES), max_size=2))),
    st.tuples(st.just("reanalyse"), st.integers(0, 10**6), analyses),
    st.tuples(st.just("erase"), st.sampled_from(list(CUSTOMERS)), st.booleans()),
    st.tuples(st.just("segment"), st.sampled_from(list(CUSTOMERS)), st.sampled_from(["gold", "bronze"])),
    st.tuples(st.just("purge"), st.sampled_from(CHANNELS), st.integers(18, 26)),
    st.tuples(st.just("import"), st.lists(items, min_size=1, max_size=4)),
    st.tuples(st.just("refresh"), st.integers(1, 4)),
)  # fmt: skip
filters = st.builds(
    InsightFilter,
    channels=st.sampled_from([(), ("taobao",), ("jd", "survey")]),
    language=st.sampled_from([None, "zh"]),
    tier=st.sampled_from([None, None, "gold"]),
    region=st.sampled_from([None, None, "北京"]),
)


def _apply(session: Session, operation: tuple[Any, ...], step: int) -> None:
    """One write through the code path the application uses (so its dirty-day hook runs)."""
    kind, *args = operation
    ids = list(session.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id)))
    if kind == "label" and ids:
        pick, sentiment, complaint, categories = args
        if sentiment is not None or complaint is not None or categories is not None:
            item = session.get(FeedbackItem, ids[pick % len(ids)])
            add_labels(session, item, sentiment=sentiment, complaint=complaint, categories=categories)
    elif kind == "reanalyse" and ids:
        _analyse(session, ids[args[0] % len(ids)], args[1], f"v-re-{step}")
    elif kind == "erase":
        if session.scalar(select(func.count()).where(Customer.external_id == args[0])):
            erase_customer(session, args[0], delete_feedback=args[1])
    elif kind == "segment":
        upsert_customer(session, CustomerRef(external_id=args[0], tier=args[1]))
    elif kind == "purge":
        session.execute(update(Channel).where(Channel.name == args[0]).values(retention_days=args[1]))
        purge_expired(session, NOW)
    elif kind == "import":
        result = write_batch(session, _records(args[0], f"s{step}"))
        for item_id, item in zip(result.item_ids, args[0], strict=False):
            for n, analysis in enumerate(item["analyses"]):
                _analyse(session, item_id, analysis, f"v{n}")
    elif kind == "refresh":
        refresh_dirty(session, limit=args[0])
    session.commit()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(items, min_size=1, max_size=25),
    writes=st.lists(operations, min_size=2, max_size=6),
    flt=filters,
    granularity=st.sampled_from(["day", "week", "month"]),
    since_hours=st.integers(-30, 60),
    until_hours=st.integers(-60, 30),
)
def test_rollups_equal_the_live_figures(
    db: sessionmaker[Session], initial, writes, flt, granularity, since_hours, until_hours
):
    with db() as session:
        _wipe(session)
        _apply(session, ("import", initial), 0)
        rollups.refresh_days(session, [FIRST_DAY + timedelta(days=n) for n in range(-2, DAYS + 2)])
        session.commit()
        start = day_start(FIRST_DAY) + timedelta(hours=since_hours)
        end = day_start(FIRST_DAY + timedelta(days=DAYS)) + timedelta(hours=until_hours)
        assert len(plan_window(session, start, end).clean) >= DAYS - 6  # whole days come from the rollups
        for step, operation in enumerate(writes, start=1):
            _apply(session, operation, step)
        window = InsightFilter(
            since=start,
            until=end,
            channels=flt.channels,
            language=flt.language,
            tier=flt.tier,
            region=flt.region,
        )
        rolled = _figures(session, window, granularity)
        with _live_only():
            live = _figures(session, window, granularity)
        assert rolled == live
        assert refresh_dirty(session, limit=DAYS + 5) >= 0 and not dirty_days(session)
        session.commit()
        assert _figures(session, window, granularity) == live


# ---------------------------------------------------------------------------------------------- stories


def _story_items() -> list[dict[str, Any]]:
    base = {"language": "zh", "score": "none", "value": 0, "customer": "C-gold", "analyses": []}
    return [
        {**base, "day": 0, "minute": 30, "channel": "taobao"},
        {**base, "day": 1, "minute": 600, "channel": "jd", "customer": None},
        {**base, "day": 8, "minute": 60, "channel": "survey", "score": "nps", "value": 10, "customer": None},
    ]


def _dirty(db: sessionmaker[Session]) -> list[date]:
    with db() as session:
        return dirty_days(session)


def test_writes_mark_their_days_dirty_and_the_job_cleans_them(db: sessionmaker[Session]):
    with db() as session:
        second = write_batch(session, _records(_story_items(), "story")).item_ids[1]
        session.commit()
    assert _dirty(db) == [FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=8)]
    assert run_rollup_refresh(db) == 3
    assert _dirty(db) == []
    with db() as session:
        add_labels(session, session.get(FeedbackItem, second), sentiment="negative")
        session.commit()
    assert _dirty(db) == [FIRST_DAY + timedelta(days=1)]
    run_rollup_refresh(db)
    with db() as session:
        upsert_customer(session, CustomerRef(external_id="C-gold", region="广东"))
        session.commit()
    assert _dirty(db) == [FIRST_DAY]  # the gold customer's items: the first day only
    run_rollup_refresh(db)
    with db() as session:
        erase_customer(session, "C-gold", delete_feedback=True)
        session.commit()
    assert _dirty(db) == [FIRST_DAY]
    week = InsightFilter(since=day_start(FIRST_DAY), until=day_start(FIRST_DAY + timedelta(days=7)))
    with db() as session:  # the dirty first day is read live: the erased item is gone at once
        assert overview(session, week, "week", now=NOW)["totals"]["volume"] == 1
    run_rollup_refresh(db)
    with db() as session:
        rows = session.execute(select(InsightRollup.day, InsightRollup.facet, InsightRollup.volume)).all()
        assert (FIRST_DAY, "all", 1) not in rows and (FIRST_DAY + timedelta(days=1), "all", 1) in rows
        assert plan_window(session, week.since, week.until).clean  # now all from the rollups
        assert overview(session, week, "week", now=NOW)["totals"]["volume"] == 1


def test_a_refresh_racing_a_write_leaves_the_day_dirty(db: sessionmaker[Session], database_url: str):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite writers queue for one lock: a refresh cannot overlap a write")
    with db() as session:
        write_batch(session, _records(_story_items(), "race"))
        session.commit()
    original = rollups._rows_of

    def write_meanwhile(other: Session, first: date, end: date) -> list[dict[str, Any]]:
        with db() as writer:  # another transaction marks the day while the refresh computes it
            rollups.mark_days_changed(writer, [first])
            writer.commit()
        return original(other, first, end)

    with db() as session, mock.patch.object(rollups, "_rows_of", write_meanwhile):
        refresh_dirty(session, limit=1)
        session.commit()
    assert FIRST_DAY in _dirty(db)
    assert FIRST_DAY + timedelta(days=1) in _dirty(db)  # not refreshed (limit 1)
    run_rollup_refresh(db)
    assert _dirty(db) == []


def test_the_cli_rebuilds_and_refreshes(db: sessionmaker[Session], settings):
    with db() as session:
        write_batch(session, _records(_story_items(), "cli"))
        session.execute(delete(RollupDay))
        session.commit()
    result = CliRunner().invoke(cli, ["rollups", "rebuild"])
    assert result.exit_code == 0, result.output
    with db() as session:
        assert session.scalar(select(func.count()).select_from(RollupDay)) == 9  # first to last item's day
        assert dirty_days(session) == []
        assert session.scalar(select(func.sum(InsightRollup.volume)).where(
            InsightRollup.facet == "all", InsightRollup.category.is_(None))) == 3  # fmt: skip
        rollups.mark_days_changed(session, [FIRST_DAY])
        session.commit()
    result = CliRunner().invoke(cli, ["rollups", "refresh"])
    assert result.exit_code == 0, result.output
    assert "refreshed 1 days" in result.output
    with db() as session:
        assert dirty_days(session) == []


def test_the_worker_refreshes_dirty_days(db: sessionmaker[Session], settings):
    from closeloop.jobs.worker import default_jobs

    with db() as session:
        write_batch(session, _records(_story_items(), "job"))
        session.commit()
    job = {job.name: job for job in default_jobs(db, settings)}["rollups"]
    assert job.interval == 60
    assert job.run() == 3
    assert _dirty(db) == []
