"""Emerging topics on the store: how long ``GET /api/v1/topics`` spends computing themes and near-duplicates.

    .venv/bin/python benchmarks/emerging_topics.py [--items 5000] [--days 180] [--runs 5]

Loads the demo data (``closeloop demo``'s loader) into a fresh SQLite file, analyses it with the fast
built-in engine, then times :func:`closeloop.insight.emerging.emerging_topics` (the domain function behind
the API and the /topics page) for several ``max_items`` caps, over the default 90-day window. Prints one
JSON line per cap: items scanned, uncovered items clustered, themes, duplicate groups, p50/max seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'topics.db'}"
        os.environ["CLOSELOOP_DATABASE_URL"] = url
        from sqlalchemy import select

        from closeloop.collect.channels import ensure_default_channels
        from closeloop.demo.load import load_demo
        from closeloop.insight.aggregates import InsightFilter
        from closeloop.insight.emerging import active_taxonomy, emerging_topics
        from closeloop.jobs.analysis import analyse_items, load_engine
        from closeloop.store.migrate import upgrade
        from closeloop.store.models import FeedbackItem
        from closeloop.store.session import engine_for, session_factory, session_scope

        upgrade(url)
        with session_scope(engine_for(url)) as session:
            ensure_default_channels(session)
        factory = session_factory(engine_for(url))
        load_demo(factory, items=args.items, days=args.days, seed=7)
        with factory() as session:
            ids = list(session.scalars(select(FeedbackItem.id)))
        analyse_items(factory, ids, load_engine(None, fast=True))
        taxonomy = active_taxonomy(None)
        for cap in (250, 1000, 5000):
            seconds = []
            for _ in range(args.runs):
                with factory() as session:
                    started = time.perf_counter()
                    found = emerging_topics(session, InsightFilter(), taxonomy, max_items=cap)
                    seconds.append(time.perf_counter() - started)
            print(
                json.dumps(
                    {
                        "items": len(ids),
                        "max_items": cap,
                        "scanned": found["scanned"],
                        "uncovered": found["uncovered"],
                        "themes": len(found["themes"]),
                        "in_themes": found["in_themes"],
                        "duplicate_groups": found["duplicate_group_count"],
                        "p50_s": round(statistics.median(seconds), 3),
                        "max_s": round(max(seconds), 3),
                    }
                )
            )


if __name__ == "__main__":
    main()
