"""Behaviour and churn-risk speed on SQLite: the dashboard benchmark's store (feedback, analyses, labels,
one customer per 50 items) plus about 12 orders and 12 feature uses per customer over a year; p50/p95 of
``behaviour`` (90-day window) and ``at_risk`` (30-day periods).

    .venv/bin/python benchmarks/behaviour.py [--items 200000] [--runs 5] [--db /tmp/behaviour.db]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard import STAMP, _timed, generate

FEATURES = ("scan_to_pay", "order_tracking", "coupons", "live_chat", "wishlist")


def add_events(path: Path, *, seed: int = 9) -> int:
    """About 12 orders and 12 feature uses per customer, spread over the last 365 days; returns the count."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = sqlite3.connect(path)
    customers = [row[0] for row in conn.execute("SELECT id FROM customers")]

    def rows():
        number = 0
        for customer in customers:
            for _ in range(rng.randint(0, 24)):
                number += 1
                when = (now - timedelta(days=rng.uniform(0, 365))).strftime(STAMP)
                if rng.random() < 0.5:
                    kind, payload = (
                        "order_completed",
                        {"amount": round(rng.uniform(20, 800), 2), "currency": "CNY"},
                    )
                else:
                    kind, payload = "feature_used", {"feature": rng.choice(FEATURES)}
                yield (f"bench-{number}", kind, customer, when, json.dumps(payload), when)

    with conn:
        conn.executemany(
            "INSERT INTO customer_events (external_id, type, customer_id, occurred_at, payload, received_at)"
            " VALUES (?,?,?,?,?,?)",
            rows(),
        )
    count = conn.execute("SELECT count(*) FROM customer_events").fetchone()[0]
    conn.execute("ANALYZE")
    conn.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    from sqlalchemy.orm import Session

    from closeloop.insight.aggregates import InsightFilter
    from closeloop.insight.behaviour import at_risk, behaviour
    from closeloop.store.session import engine_for

    path = args.db or Path(tempfile.mkdtemp()) / "behaviour.db"
    if not path.exists():
        generate(path, args.items)
        events = add_events(path)
    else:
        events = sqlite3.connect(path).execute("SELECT count(*) FROM customer_events").fetchone()[0]
    customers = sqlite3.connect(path).execute("SELECT count(*) FROM customers").fetchone()[0]
    print(f"store: {args.items} items, {customers} customers, {events} events ({path})")
    engine = engine_for(f"sqlite:///{path}")
    with Session(engine) as session:
        flt = InsightFilter()
        p50, p95 = _timed(lambda: behaviour(session, flt), args.runs)
        print(f"behaviour (90 days)        p50 {p50:7.0f} ms   p95 {p95:7.0f} ms")
        p50, p95 = _timed(lambda: at_risk(session, flt, days=30), args.runs)
        found = at_risk(session, flt, days=30)
        print(
            f"at_risk (30 vs 30 days)    p50 {p50:7.0f} ms   p95 {p95:7.0f} ms   ({found['total']} at risk)"
        )


if __name__ == "__main__":
    main()
