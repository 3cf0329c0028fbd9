"""Scale on PostgreSQL + Redis: analysis throughput with 1 and 2 Celery workers, and the dashboard's and the
text search's p50/p95 at 1,000,000 (and, given time and disk, 10,000,000) items.

    export CLOSELOOP_TEST_POSTGRES_URL=$(scripts/postgres start)
    export CLOSELOOP_TEST_REDIS_URL=$(scripts/redis start)
    .venv/bin/python benchmarks/scale.py [--sizes 1000000,10000000] [--fast-items 20000] [--full-items 600]
                                         [--skip-workers] [--skip-queries] [--keep] [--text-only]

Workers: items are COPYed into a fresh database, then ``enqueue_reanalysis`` sends them in batches of 200
to k = 1, 2 real ``closeloop worker --celery --pool solo`` processes (one process each) and the clock
runs until the database holds every analysis. A warm-up batch per worker (model load) is not timed. Both
the fast mode and the full model are measured. Queries: items and analyses are generated with
benchmarks/dashboard.py's generator (diverse Chinese/English texts with an order number each) and written
with COPY; the daily rollups are rebuilt; each query runs warm, p50/p95 over ``--runs``. Databases
``closeloop_bench_scale_<n>`` are reused when present with the right size (generating 10M takes long).

``--text-only`` generates the items (same texts, no analyses, no customers) inside PostgreSQL with one
INSERT … SELECT, which makes 10M items a matter of minutes, and measures only the text search. Every size
also prints each text index's build time and size, and (up to 2M items) the ingest cost of the character-gram
index: rows/s of a 20,000-item COPY into the full table with every index in place, with and without it.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dashboard  # the bulk generator of the dashboard benchmark

ASPECTS = ["物流", "快递", "包装", "客服", "质量", "价格", "做工", "尺码", "颜色", "味道", "售后", "发货"]
VERDICTS = ["很快", "太慢了", "破损了", "态度很好", "一般般", "偏贵", "很不错", "有色差", "偏小", "很新鲜",
            "没人理", "很及时"]  # fmt: skip
ENGLISH = [
    "delivery was slow",
    "great support",
    "box was damaged",
    "too expensive",
    "works well",
    "size runs small",
]
ITEM_COLUMNS = (
    "id, channel, kind, direction, dedupe_key, content_hash, text, pii_kinds, rating, rating_scale_min,"
    " rating_scale_max, language, created_at, received_at, product, customer_id, metadata"
)


def feedback_text(index: int, language: str, rng: random.Random) -> str:
    """A short review: two aspect verdicts and the order number (so rare and common terms both exist)."""
    if language == "en":
        return f"{rng.choice(ENGLISH)}, {rng.choice(ENGLISH)}, order {index:08d}"
    return (
        f"{rng.choice(ASPECTS)}{rng.choice(VERDICTS)}，{rng.choice(ASPECTS)}{rng.choice(VERDICTS)}，"
        f"订单号{index:08d}"
    )


def item_rows(count: int, first_id: int = 1, seed: int = 8) -> Iterator[tuple]:
    """dashboard.py's item rows (a year of history, channels, ratings, customers) with diverse texts."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    for row in dashboard._item_rows(count, now, max(1, count // 50), rng):
        values = list(row)
        values[0] = values[0] + first_id - 1
        values[4], values[5] = f"b{values[0]}", f"h{values[0]}"
        values[6] = feedback_text(values[0], values[11], rng)
        yield tuple(values)


def psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def database(admin_url: str, name: str, *, fresh: bool) -> str:
    """The URL of database ``name`` on the server of ``admin_url``, migrated (recreated when ``fresh``)."""
    from sqlalchemy import create_engine, text

    from closeloop.collect.channels import ensure_default_channels
    from closeloop.store.migrate import upgrade
    from closeloop.store.session import engine_for, session_scope

    admin = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or fresh:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = psycopg_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    with session_scope(engine_for(url)) as session:
        ensure_default_channels(session)
    return url


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def copy_items(url: str, count: int, *, with_analyses: bool) -> float:
    """COPY ``count`` items (and their analyses, customers, 5% re-analysed) into ``url``; returns seconds.

    Secondary indexes are dropped during the load and rebuilt after it (as a bulk import should).
    """
    import psycopg

    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        rng = random.Random(9)
        customers = max(1, count // 50)
        with conn.cursor().copy(
            "COPY customers (id, external_id, region, tier, attributes, created_at) FROM STDIN"
        ) as copy:
            for n in range(1, customers + 1):
                region, tier = rng.choice(dashboard.REGIONS), rng.choice(dashboard.TIERS)
                copy.write_row((n, f"C{n}", region, tier, "{}", datetime.now(UTC)))
        created: list[str] = []
        with conn.cursor().copy(f"COPY feedback_items ({ITEM_COLUMNS}) FROM STDIN") as copy:
            for row in item_rows(count):
                created.append(row[12])
                copy.write_row(row)
        if with_analyses:
            columns = "feedback_id, model_version, sentiment, complaint, categories, aspects, created_at"
            with conn.cursor().copy(f"COPY analyses ({columns}, needs_review) FROM STDIN") as copy:
                for n in range(1, count + 1):
                    copy.write_row((*dashboard._analysis_row(n, "bench-1", created[n - 1], rng)[:7], False))
                for n in sorted(rng.sample(range(1, count + 1), count // 20)):
                    copy.write_row((*dashboard._analysis_row(n, "bench-2", created[n - 1], rng)[:7], False))
        for table in ("customers", "feedback_items", "analyses"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        rebuild_indexes(conn, indexes)
    return time.perf_counter() - started


TEXT_INDEXES = ("ix_feedback_items_text_trgm", "ix_feedback_items_text_grams")


def rebuild_indexes(conn: Any, indexes: list[tuple[str, str]]) -> None:
    """Recreate the dropped ``indexes`` (name, definition), printing the text indexes' build time and size."""
    conn.execute("SET maintenance_work_mem = '1GB'")
    for name, definition in indexes:
        started = time.perf_counter()
        conn.execute(definition)
        if name in TEXT_INDEXES:
            megabytes = conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0] / 1e6
            print(f"  index {name}: built in {time.perf_counter() - started:.0f} s, {megabytes:,.0f} MB")
    conn.execute("VACUUM ANALYZE")


# The same texts as feedback_text, generated by PostgreSQL (85% Chinese, like dashboard.py's rows).
SQL_ITEMS = """
INSERT INTO feedback_items (id, channel, kind, direction, dedupe_key, content_hash, text, pii_kinds,
                            language, created_at, received_at, metadata)
SELECT n, 'api', 'review', 'indirect', 'b' || n, 'h' || n,
       CASE WHEN zh THEN a1 || v1 || '，' || a2 || v2 || '，订单号' || lpad(n::text, 8, '0')
            ELSE e1 || ', ' || e2 || ', order ' || lpad(n::text, 8, '0') END,
       '[]', CASE WHEN zh THEN 'zh' ELSE 'en' END, at, at, '{}'
FROM (
  SELECT n, random() < 0.85 AS zh, now() - interval '365 days' * (1 - n::float / %(count)s) AS at,
         (%(aspects)s::text[])[1 + floor(random() * 12)::int] AS a1,
         (%(verdicts)s::text[])[1 + floor(random() * 12)::int] AS v1,
         (%(aspects)s::text[])[1 + floor(random() * 12)::int] AS a2,
         (%(verdicts)s::text[])[1 + floor(random() * 12)::int] AS v2,
         (%(english)s::text[])[1 + floor(random() * 6)::int] AS e1,
         (%(english)s::text[])[1 + floor(random() * 6)::int] AS e2
  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
) AS generated
"""


def generate_items_in_sql(url: str, count: int) -> float:
    """Fill ``url`` with ``count`` text-only items generated by PostgreSQL; returns seconds.

    Indexes are dropped during the load and rebuilt after it, as in ``copy_items``."""
    import psycopg

    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        step = 1_000_000
        for first in range(1, count + 1, step):
            last = min(count, first + step - 1)
            params = {"count": count, "first": first, "last": last, "aspects": ASPECTS, "verdicts": VERDICTS,
                      "english": ENGLISH}  # fmt: skip
            conn.execute(SQL_ITEMS, params)
        sequence = "pg_get_serial_sequence('feedback_items', 'id')"
        conn.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM feedback_items))")
        loaded = time.perf_counter() - started
        print(f"  {count:,} rows inserted without secondary indexes in {loaded:.0f} s", flush=True)
        rebuild_indexes(conn, indexes)
    return time.perf_counter() - started


def _secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('feedback_items', 'analyses')"
        " AND indexname NOT LIKE '%pkey' AND indexdef NOT LIKE 'CREATE UNIQUE%'"
    ).fetchall()


def ingest_cost(url: str, rows: int = 20_000) -> None:
    """Rows/s of COPYing ``rows`` more items into the full table with every index in place, with and
    without the character-gram index (the rows are deleted again)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        top = conn.execute("SELECT max(id) FROM feedback_items").fetchone()[0]
        definition = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_feedback_items_text_grams'"
        ).fetchone()[0]
        rates = []
        for first, keep_grams in ((top + 1, True), (top + rows + 1, False)):
            if not keep_grams:
                conn.execute("DROP INDEX ix_feedback_items_text_grams")
            batch = [row for row in item_rows(rows, first_id=first, seed=first)]
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY feedback_items ({ITEM_COLUMNS}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row((*row[:15], None, row[16]))  # no customers in text-only databases
            rates.append(rows / (time.perf_counter() - started))
        conn.execute("DELETE FROM feedback_items WHERE id > %s", (top,))
        conn.execute(definition)
        conn.execute("VACUUM ANALYZE feedback_items")
    print(
        f"ingest (COPY of {rows:,} items, all indexes): {rates[0]:,.0f} rows/s with the char-gram index,"
        f" {rates[1]:,.0f} rows/s without it"
    )


# --- workers ----------------------------------------------------------------------------------------


class WorkerProcess:
    """One ``closeloop worker --celery --pool solo`` subprocess (one CPU's worth of analysis)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.log_path = log_dir / f"{name}.log"
        command = [sys.executable, "-m", "closeloop", "worker", "--celery", "--pool", "solo", "--name", name]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while " ready." not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log_path.read_text(errors="replace"))
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def throughput(
    url: str, redis_url: str, workers: int, *, fast: bool, items: int, log_dir: Path
) -> tuple[float, float, float, float]:
    """Items analysed per second by ``workers`` Celery workers reanalysing ``items`` items, the CPU
    milliseconds per item of the workers and of their PostgreSQL backends, and the machine's load
    average meanwhile (other processes compete for the cores)."""
    import psutil
    import redis
    from sqlalchemy import delete

    from closeloop.jobs.analysis import load_engine
    from closeloop.jobs.distributed import (
        ANALYSE_BATCH,
        BULK_QUEUE,
        all_analysed,
        celery_app,
        pending_batches,
    )
    from closeloop.store.models import Analysis, Event
    from closeloop.store.session import engine_for, session_factory

    factory = session_factory(engine_for(url))
    version = load_engine(None, fast).version
    with factory() as session:
        session.execute(delete(Analysis))
        session.execute(delete(Event))
        session.commit()
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    env = {**os.environ, "CLOSELOOP_DATABASE_URL": url, "CLOSELOOP_BROKER_URL": redis_url}
    started = [WorkerProcess(f"bench{n}-{uuid.uuid4().hex[:6]}@scale", env, log_dir) for n in range(workers)]
    try:
        for worker in started:
            worker.wait_ready()
        # Full-model batches are smaller so that both workers get several (200 items take minutes).
        batches = list(pending_batches(factory, version, batch_size=200 if fast else 50))
        warm, timed = batches[:workers], batches[workers:]
        for batch in warm:  # each worker loads its model on its first batch: not part of the figure
            celery_app.send_task(ANALYSE_BATCH, (batch[:5], None, fast))
        _wait(lambda: broker.llen(BULK_QUEUE) == 0 and _analysed(factory, version) >= 5 * len(warm))
        time.sleep(1.0)
        cpu_before = sum(_cpu_seconds(worker.process.pid) for worker in started)
        backends = _backend_pids(factory)  # the workers' pooled connections, open since the warm-up
        db_before = sum(_cpu_seconds(pid) for pid in backends)
        begin = time.perf_counter()
        for batch in timed:
            celery_app.send_task(ANALYSE_BATCH, (batch, None, fast))
        for batch in warm:
            celery_app.send_task(ANALYSE_BATCH, (batch, None, fast))
        _wait(lambda: all_analysed(factory, version), poll=0.2)
        elapsed = time.perf_counter() - begin
        cpu = sum(_cpu_seconds(worker.process.pid) for worker in started) - cpu_before
        db_cpu = sum(_cpu_seconds(pid) for pid in backends) - db_before
        load = psutil.getloadavg()[0]
    finally:
        for worker in started:
            worker.stop()
        broker.close()
    done = items - 5 * len(warm)
    return done / elapsed, 1000 * cpu / done, 1000 * db_cpu / done, load


def _cpu_seconds(pid: int) -> float:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def _backend_pids(factory: Any) -> list[int]:
    """PostgreSQL server processes serving the other connections to this database (the workers')."""
    from sqlalchemy import text

    with factory() as session:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return list(session.scalars(text(query)))


def _analysed(factory: Any, version: str) -> int:
    from closeloop.jobs.distributed import analysed_count

    return analysed_count(factory, version)


def _wait(condition: Callable[[], bool], *, poll: float = 0.1, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("workers did not finish")
        time.sleep(poll)


def measure_workers(admin_url: str, redis_url: str, fast_items: int, full_items: int, log_dir: Path) -> None:
    print(
        f"{'analysis throughput (Celery, pool solo)':<40} {'items':>6} {'1 worker':>9} {'2 workers':>9}"
        f"   CPU ms/item: worker, PostgreSQL (1 | 2 workers)   load avg"
    )
    for fast, items in ((True, fast_items), (False, full_items)):
        name = f"closeloop_bench_workers_{'fast' if fast else 'full'}"
        url = database(admin_url, name, fresh=True)
        copy_items(url, items, with_analyses=False)
        runs = [throughput(url, redis_url, k, fast=fast, items=items, log_dir=log_dir) for k in (1, 2)]
        label = "fast mode" if fast else "full model (default)"
        (rate1, cpu1, db1, load1), (rate2, cpu2, db2, load2) = runs
        print(
            f"{label:<40} {items:>6} {rate1:>7.0f}/s {rate2:>7.0f}/s"
            f"   {cpu1:7.1f} {db1:5.1f} | {cpu2:7.1f} {db2:5.1f}   {load1:4.1f} {load2:4.1f}"
            f"  (x{rate2 / rate1:.2f})",
            flush=True,
        )
        drop_database(admin_url, name)


# --- queries ----------------------------------------------------------------------------------------


def search_cases(size: int) -> list[tuple[str, Any]]:
    """(label, FeedbackFilter) of the text searches: 1, 2, 3+ characters, found often, once or never."""
    from closeloop.store.queries import FeedbackFilter

    return [
        ("search q=退货 (2 chars, no match)", FeedbackFilter(q="退货")),
        ("search q=物流 (2 chars, common)", FeedbackFilter(q="物流")),
        ("search q=赞 (1 char, no match)", FeedbackFilter(q="赞")),
        ("search q=慢 (1 char, common)", FeedbackFilter(q="慢")),
        ("search q=xy (2 letters, no match)", FeedbackFilter(q="xy")),
        ("search q=包装破损了 (5 chars)", FeedbackFilter(q="包装破损了")),
        ("search q=订单号 of one item", FeedbackFilter(q=f"订单号{size // 2 + 1:08d}")),
        ("search q=no such text", FeedbackFilter(q="完全没有这句话")),
        ("search q=box was damaged (English)", FeedbackFilter(q="box was damaged")),
    ]


def measure_queries(admin_url: str, size: int, runs: int, keep: bool, *, text_only: bool = False) -> None:
    from sqlalchemy import func, select

    from closeloop.insight import aggregates
    from closeloop.store.models import FeedbackItem
    from closeloop.store.queries import list_feedback
    from closeloop.store.session import engine_for, session_factory

    name = f"closeloop_bench_scale_{size}{'_text' if text_only else ''}"
    url = database(admin_url, name, fresh=False)
    factory = session_factory(engine_for(url))
    with factory() as session:
        present = session.scalar(select(func.count()).select_from(FeedbackItem)) or 0
    if present != size:
        engine_for(url).dispose()
        url = database(admin_url, name, fresh=True)
        factory = session_factory(engine_for(url))
        print(f"\n{size:,} items:", flush=True)
        if text_only:
            seconds = generate_items_in_sql(url, size)
            print(f"{size:,} text-only items generated in PostgreSQL with indexes in {seconds:.0f} s")
        else:
            seconds = copy_items(url, size, with_analyses=True)
            print(f"{size:,} items: generated and COPYed with analyses and indexes in {seconds:.0f} s")
    else:
        print(f"\n{size:,} items: reusing {name}", flush=True)
    with factory() as session:
        megabytes = session.scalar(select(func.pg_database_size(name))) / 1e6
    print(f"database size {megabytes:,.0f} MB")
    if size <= 2_000_000:  # it rebuilds the char-gram index: 7 minutes at 10M
        ingest_cost(url)
    cases: list[tuple[str, Callable[[Any], Any]]] = []
    if not text_only:
        try:
            from closeloop.insight import rollups

            started = time.perf_counter()
            days = rollups.rebuild(factory)
            print(f"rollups rebuilt for {days} days in {time.perf_counter() - started:.0f} s", flush=True)
        except ImportError:
            print("(no rollups module: the dashboard reads every item of the window)")
        year = aggregates.InsightFilter(since=datetime.now(UTC) - timedelta(days=365))
        cases += [
            (
                "overview week, default 90 days",
                lambda s: aggregates.overview(s, aggregates.InsightFilter(), "week"),
            ),
            (
                "overview day, default 90 days",
                lambda s: aggregates.overview(s, aggregates.InsightFilter(), "day"),
            ),
            ("overview month, 365 days", lambda s: aggregates.overview(s, year, "month")),
            (
                "overview week, channel taobao",
                lambda s: aggregates.overview(s, aggregates.InsightFilter(channels=("taobao",)), "week"),
            ),
            (
                "segments by channel",
                lambda s: aggregates.segments(s, aggregates.InsightFilter(), by="channel"),
            ),
        ]
    # The first page of /api/v1/feedback?q=… (50 newest matches). 1–2 character queries give pg_trgm no
    # trigram: the character-gram index (migration 0012) serves them; longer ones use the trigram index.
    cases += [(label, lambda s, flt=flt: list_feedback(s, flt)) for label, flt in search_cases(size)]
    print(f"{'query at ' + format(size, ','):<44} {'p50 ms':>8} {'p95 ms':>8}")
    with factory() as session:
        for label, call in cases:
            p50, p95 = dashboard._timed(lambda call=call: call(session), runs)
            print(f"{label:<44} {p50:8.0f} {p95:8.0f}", flush=True)
    engine_for(url).dispose()
    if not keep:
        drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=os.environ.get("CLOSELOOP_TEST_POSTGRES_URL"))
    parser.add_argument("--redis", default=os.environ.get("CLOSELOOP_TEST_REDIS_URL"))
    parser.add_argument(
        "--sizes", default="1000000", help="comma-separated item counts for the query figures"
    )
    parser.add_argument("--fast-items", type=int, default=20_000)
    parser.add_argument("--full-items", type=int, default=600)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated query databases for re-runs")
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="items generated in SQL, no analyses: text search figures only",
    )
    args = parser.parse_args()
    if not args.postgres:
        parser.error("a PostgreSQL admin URL is needed (--postgres or CLOSELOOP_TEST_POSTGRES_URL)")
    if not args.skip_workers:
        if not args.redis:
            parser.error("a Redis URL is needed (--redis or CLOSELOOP_TEST_REDIS_URL)")
        os.environ["CLOSELOOP_BROKER_URL"] = args.redis  # read once, when the Celery app is configured
        log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "closeloop-bench-scale"
        log_dir.mkdir(exist_ok=True)
        measure_workers(args.postgres, args.redis, args.fast_items, args.full_items, log_dir)
    if not args.skip_queries:
        for size in (int(s) for s in args.sizes.split(",")):
            measure_queries(args.postgres, size, args.runs, args.keep, text_only=args.text_only)


if __name__ == "__main__":
    main()
