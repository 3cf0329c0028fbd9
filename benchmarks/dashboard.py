"""Dashboard speed: 1,000,000 feedback items + analyses, p50/p95 of each insight query, from the daily
rollups and live.

    .venv/bin/python benchmarks/dashboard.py [--items 1000000] [--runs 20] [--db /tmp/dash.db] [--no-http]
    .venv/bin/python benchmarks/dashboard.py --postgres postgresql://postgres@127.0.0.1:54329/postgres

Targets: the overview answers in under 500 ms at 1,000,000 items on SQLite (issue 8) and stays fast at
10,000,000 on PostgreSQL (issue 10; ``generate_into`` fills any database URL in bulk for that). Items are
spread evenly over the last 365 days (so the default 90-day window holds about a quarter of them); 5% have
a second, newer analysis and 2,000 carry corrections (labels). After generating, the rollups are rebuilt
(timed); each query is then timed through the domain function from the rollups and live (rollups off),
with 7 recent days marked dirty, and through HTTP (the app in-process, FastAPI's TestClient, an admin API
token), warm cache.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

CHANNELS = [
    "taobao",
    "jd",
    "pinduoduo",
    "wechat",
    "weibo",
    "xiaohongshu",
    "ticket",
    "email",
    "survey",
    "app_store",
]
CATEGORIES = [
    "product_quality", "usability", "efficacy", "price", "logistics", "packaging",
    "service", "after_sales", "authenticity", "app_website", "size_fit", "taste_freshness",
]  # fmt: skip
CATEGORY_WEIGHTS = [30, 6, 5, 14, 20, 10, 12, 6, 2, 3, 5, 4]
TIERS = ["gold", "silver", "bronze", None]
REGIONS = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", None]
PRODUCTS = [f"SKU-{n:03d}" for n in range(60)]
TEXTS = ["物流很快，包装完好", "包装有点破损", "客服态度很好", "质量不错", "价格偏贵", "用了两天就坏了",
         "fast delivery", "box was damaged", "great support", "too expensive"]  # fmt: skip
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _sentiment(rng: random.Random) -> str:
    roll = rng.random()
    return "positive" if roll < 0.55 else "neutral" if roll < 0.75 else "negative"


def _item_rows(count: int, now: datetime, customers: int, rng: random.Random) -> Iterator[tuple]:
    """Rows of feedback_items, oldest first (ids follow time, as an import of history would)."""
    start = now - timedelta(days=365)
    span = (now - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    for index, offset in enumerate(offsets, start=1):
        created = (start + timedelta(seconds=offset)).strftime(STAMP)
        channel = rng.choice(CHANNELS)
        kind, rating, low, high, meta = "review", float(rng.randint(1, 5)), 1.0, 5.0, {}
        if channel == "survey":
            kind = "survey_answer"
            if rng.random() < 0.6:
                rating, low, high, meta = float(rng.randint(0, 10)), 0.0, 10.0, {"question_type": "nps"}
            else:
                meta = {"question_type": "csat"}
        elif channel in ("wechat", "ticket", "email"):
            kind, rating, low, high = "chat", None, None, None
        yield (
            index, channel, kind, "indirect", f"b{index}", f"h{index}", rng.choice(TEXTS), "[]",
            rating, low, high, "zh" if rng.random() < 0.85 else "en", created, created,
            rng.choice(PRODUCTS), rng.randint(1, customers) if rng.random() < 0.7 else None, json.dumps(meta),
        )  # fmt: skip


def _analysis_row(item_id: int, version: str, created: str, rng: random.Random) -> tuple:
    sentiment = _sentiment(rng)
    size = rng.choices([0, 1, 2, 3], weights=[15, 50, 25, 10])[0]
    categories = sorted(set(rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS, k=size)))
    aspects = [
        {"category": c, "polarity": sentiment if rng.random() < 0.7 else _sentiment(rng)} for c in categories
    ]
    complaint = int(sentiment == "negative" and rng.random() < 0.6)
    return (item_id, version, sentiment, complaint, json.dumps(categories), json.dumps(aspects), created, 0)


ITEM_COLUMNS = (
    "id, channel, kind, direction, dedupe_key, content_hash, text, pii_kinds, rating, rating_scale_min,"
    " rating_scale_max, language, created_at, received_at, product, customer_id, metadata"
)
ANALYSIS_COLUMNS = (
    "feedback_id, model_version, sentiment, complaint, categories, aspects, created_at, needs_review"
)


class _SqliteWriter:
    """Bulk rows into a SQLite file with executemany (journal off while loading)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=OFF")

    def write(self, table: str, columns: str, rows: Iterator[tuple]) -> None:
        marks = ",".join("?" * (columns.count(",") + 1))
        with self.conn:
            self.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.close()


class _PostgresWriter:
    """Bulk rows into PostgreSQL with COPY (times are UTC text, as in SQLite)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect("postgresql://" + url.split("://", 1)[1])
        self.conn.execute("SET TIME ZONE 'UTC'")

    def write(self, table: str, columns: str, rows: Iterator[tuple]) -> None:
        with self.conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self.conn.commit()

    def finish(self) -> None:
        for table in ("customers", "feedback_items"):
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.close()


def generate_into(url: str, items: int, *, seed: int = 8) -> None:
    """Fill a fresh database (SQLite or PostgreSQL URL; migrated here) with ``items`` feedback items spread
    over the last 365 days, their analyses (5% re-analysed), customers and 2,000 labelled items, in bulk.

    Reusable for scale runs: ``generate_into("postgresql://…/db", 10_000_000)``, then
    ``closeloop.insight.rollups.rebuild`` to build the rollups.
    """
    from closeloop.collect.channels import ensure_default_channels
    from closeloop.store.migrate import upgrade
    from closeloop.store.session import engine_for, session_scope

    upgrade(url)
    with session_scope(engine_for(url)) as session:
        ensure_default_channels(session)
    engine_for(url).dispose()
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    customers = max(1, items // 50)
    writer: Any = _SqliteWriter(url.split("///", 1)[1]) if url.startswith("sqlite") else _PostgresWriter(url)
    writer.write(
        "customers",
        "id, external_id, region, tier, attributes, created_at",
        (
            (n, f"C{n}", rng.choice(REGIONS), rng.choice(TIERS), "{}", now.strftime(STAMP))
            for n in range(1, customers + 1)
        ),
    )
    created_at: list[str] = []

    def remember(rows: Iterator[tuple]) -> Iterator[tuple]:
        for row in rows:
            created_at.append(row[12])
            yield row

    writer.write("feedback_items", ITEM_COLUMNS, remember(_item_rows(items, now, customers, rng)))
    writer.write(
        "analyses",
        ANALYSIS_COLUMNS,
        (_analysis_row(n, "bench-1", created_at[n - 1], rng) for n in range(1, items + 1)),
    )
    writer.write(
        "analyses",
        ANALYSIS_COLUMNS,
        (
            _analysis_row(n, "bench-2", created_at[n - 1], rng)
            for n in sorted(rng.sample(range(1, items + 1), items // 20))
        ),
    )
    labelled = rng.sample(range(1, items + 1), min(2000, items))
    writer.write(
        "labels",
        "feedback_id, field, value, author, created_at",
        (
            (n, field, value, "bench", now.strftime(STAMP))
            for n in labelled
            for field, value in (("sentiment", _sentiment(rng)), ("categories", rng.choice(CATEGORIES)))
        ),
    )
    writer.finish()


def generate(path: Path, items: int, *, seed: int = 8) -> None:
    """A migrated SQLite file at ``path``: ``items`` feedback items, analyses, customers and labels."""
    generate_into(f"sqlite:///{path}", items, seed=seed)


def build_rollups(url: str) -> float:
    """Rebuild the daily rollups of the database at ``url``; returns the seconds it took."""
    from closeloop.insight.rollups import rebuild
    from closeloop.store.session import engine_for, session_factory

    started = time.perf_counter()
    rebuild(session_factory(engine_for(url)))
    return time.perf_counter() - started


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, float]:
    call()  # warm the page cache and the statement cache
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return _percentiles(seconds)


def measure(url: str, runs: int, *, http: bool = True) -> None:
    """Print p50/p95 of each insight query through the domain functions (from the rollups and, for
    comparison, live), and through HTTP (rollups on, as the app runs)."""
    from closeloop.insight import aggregates, rollups
    from closeloop.store.session import engine_for, session_factory

    sessions = session_factory(engine_for(url))
    year = aggregates.InsightFilter(since=datetime.now(UTC) - timedelta(days=365))
    week_filter = aggregates.InsightFilter(channels=("taobao", "jd"))
    domain_cases: list[tuple[str, Callable[[Any], Any]]] = [
        (
            "overview week, default 90 days",
            lambda s: aggregates.overview(s, aggregates.InsightFilter(), "week"),
        ),
        (
            "overview day, default 90 days",
            lambda s: aggregates.overview(s, aggregates.InsightFilter(), "day"),
        ),
        ("overview month, 365 days", lambda s: aggregates.overview(s, year, "month")),
        ("overview week, channel taobao+jd", lambda s: aggregates.overview(s, week_filter, "week")),
        (
            "overview week, language en",
            lambda s: aggregates.overview(s, aggregates.InsightFilter(language="en"), "week"),
        ),
        (
            "overview week, category packaging",
            lambda s: aggregates.overview(s, aggregates.InsightFilter(categories=("packaging",)), "week"),
        ),
        (
            "overview week, tier gold",
            lambda s: aggregates.overview(s, aggregates.InsightFilter(tier="gold"), "week"),
        ),
        (
            "aspects by period (week)",
            lambda s: aggregates.aspects(s, aggregates.InsightFilter(), by="period"),
        ),
        ("aspects by product", lambda s: aggregates.aspects(s, aggregates.InsightFilter(), by="product")),
        ("segments by tier", lambda s: aggregates.segments(s, aggregates.InsightFilter(), by="tier")),
        ("segments by region", lambda s: aggregates.segments(s, aggregates.InsightFilter(), by="region")),
        ("segments by channel", lambda s: aggregates.segments(s, aggregates.InsightFilter(), by="channel")),
        (
            "segments by channel, tier gold",
            lambda s: aggregates.segments(s, aggregates.InsightFilter(tier="gold"), by="channel"),
        ),
    ]
    print(f"{'query (domain function)':<40} {'rollups p50':>11} {'p95':>6} {'live p50':>9} {'p95':>6}")
    with sessions() as session:
        for name, call in domain_cases:
            rolled = _timed(lambda call=call: call(session), runs)
            with mock.patch.object(rollups, "facts_with_rollups", return_value=None):
                live = _timed(lambda call=call: call(session), runs)
            print(f"{name:<40} {rolled[0]:11.0f} {rolled[1]:6.0f} {live[0]:9.0f} {live[1]:6.0f}", flush=True)
        periods = aggregates.overview(session, aggregates.InsightFilter(), "week")["periods"]
        session.commit()
    _dirty_figures(sessions, runs)
    if http:
        _measure_http(url, sessions, periods, runs)


def _dirty_figures(sessions: Any, runs: int) -> None:
    """The overview with the last 7 days marked dirty (read live), and the refresh that cleans them."""
    from closeloop.insight import aggregates, rollups

    today = rollups.local_day(datetime.now(UTC))
    with sessions() as session:
        rollups.mark_days_changed(session, [today - timedelta(days=n) for n in range(1, 8)])
        session.commit()
    with sessions() as session:
        p50, p95 = _timed(lambda: aggregates.overview(session, aggregates.InsightFilter(), "week"), runs)
        session.commit()
    print(f"{'overview week, 7 dirty days':<40} {p50:11.0f} {p95:6.0f}", flush=True)
    started = time.perf_counter()
    days = rollups.run_rollup_refresh(sessions)
    print(f"refresh of {days} dirty days: {time.perf_counter() - started:.2f} s", flush=True)


def _measure_http(url: str, sessions: Any, periods: list[str], runs: int) -> None:
    with warnings.catch_warnings():  # starlette's note on its test client's httpx
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from closeloop.app import create_app
    from closeloop.settings import Settings

    settings = Settings(database_url=url, analysis_in_background=False)
    token = _admin_token(sessions)
    week = periods[-2]
    http_cases = [
        ("GET overview?granularity=week", "/api/v1/insight/overview?granularity=week"),
        ("GET overview?granularity=day", "/api/v1/insight/overview?granularity=day"),
        ("GET overview week channel=taobao", "/api/v1/insight/overview?granularity=week&channel=taobao"),
        (
            "GET overview week sentiment=negative",
            "/api/v1/insight/overview?granularity=week&sentiment=negative",
        ),
        ("GET verbatims (one week)", f"/api/v1/insight/verbatims?period={week}&granularity=week"),
        ("GET verbatims (90 days, no period)", "/api/v1/insight/verbatims"),
        (
            "GET verbatims (week, packaging, negative)",
            f"/api/v1/insight/verbatims?period={week}&granularity=week&category=packaging&sentiment=negative",
        ),
        ("GET aspects?by=period", "/api/v1/insight/aspects?by=period&granularity=week"),
        ("GET aspects?by=product", "/api/v1/insight/aspects?by=product"),
        ("GET segments?by=region", "/api/v1/insight/segments?by=region"),
    ]
    print(f"\n{'query (HTTP, in-process)':<40} {'p50 ms':>8} {'p95 ms':>8}")
    with TestClient(create_app(settings)) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        for name, path_query in http_cases:

            def call(path_query: str = path_query) -> None:
                response = http.get(path_query)
                response.raise_for_status()

            p50, p95 = _timed(call, runs)
            print(f"{name:<40} {p50:8.0f} {p95:8.0f}", flush=True)


def _admin_token(sessions: Any) -> str:
    from closeloop.accounts.permissions import ROLE_PERMISSIONS
    from closeloop.accounts.users import create_token, create_user

    with sessions() as session:
        user = create_user(
            session, email=f"bench-{time.time_ns()}@example.com", password="bench password 123", role="admin"
        )
        secret = create_token(session, user, name="bench", scopes=sorted(ROLE_PERMISSIONS["admin"])).secret
        session.commit()
    return secret


def _rollup_rows(url: str) -> int:
    from sqlalchemy import func, select

    from closeloop.store.models import InsightRollup
    from closeloop.store.session import engine_for, session_factory

    with session_factory(engine_for(url))() as session:
        return session.scalar(select(func.count()).select_from(InsightRollup)) or 0


def run(url: str, items: int, runs: int, *, fresh: bool, http: bool) -> None:
    """Generate (when ``fresh``), build the rollups, print the figures."""
    if fresh:
        started = time.perf_counter()
        generate_into(url, items)
        print(f"generated {items:,} items + analyses in {time.perf_counter() - started:.0f} s", flush=True)
    seconds = build_rollups(url)
    print(f"rollups rebuilt in {seconds:.1f} s ({_rollup_rows(url):,} rows)", flush=True)
    measure(url, runs, http=http)


@contextmanager
def _postgres_database(server: str, keep: bool) -> Iterator[str]:
    """A fresh database on the PostgreSQL server at ``server`` (dropped afterwards unless ``keep``)."""
    from sqlalchemy import create_engine, text

    name = f"closeloop_dashboard_{time.time_ns()}"
    admin = create_engine("postgresql+psycopg://" + server.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = "postgresql+psycopg://" + server.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from closeloop.store.session import engine_for

        engine_for(url).dispose()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--db", type=Path, help="reuse (or create) this SQLite file instead of a temporary one"
    )
    parser.add_argument(
        "--postgres", help="measure on a fresh database on this PostgreSQL server URL instead of SQLite"
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument("--no-http", action="store_true", help="time the domain functions only")
    args = parser.parse_args()
    if args.postgres:
        with _postgres_database(args.postgres, args.keep) as url:
            run(url, args.items, args.runs, fresh=True, http=not args.no_http)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "dashboard.db"
        run(f"sqlite:///{path}", args.items, args.runs, fresh=not path.exists(), http=not args.no_http)


if __name__ == "__main__":
    main()
