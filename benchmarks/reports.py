"""Report and export speed: a weekly and a monthly team report (figures, HTML, Excel attachment) and the
insight downloads, on the dashboard benchmark's synthetic store (SQLite, items over the last 365 days).

    .venv/bin/python benchmarks/reports.py [--items 1000000] [--runs 5] [--db /tmp/dash.db]

Prints p50/p95 per step and the sizes of what is produced. ``--db`` reuses a file made by
``benchmarks/dashboard.py`` (or creates one).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _dashboard_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("dashboard_bench", Path(__file__).with_name("dashboard.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000, result


def measure(path: Path, runs: int) -> None:
    from sqlalchemy import select

    from closeloop.insight import aggregates, export, reports
    from closeloop.insight.aggregates import InsightFilter
    from closeloop.store.models import ReportSubscription, Team
    from closeloop.store.session import engine_for, session_factory

    factory = session_factory(engine_for(f"sqlite:///{path}"))
    now = datetime.now(UTC)
    with factory() as session:
        if session.get(Team, "bench") is None:
            session.add(Team(name="bench", email="bench@example.com"))
            session.flush()
            for period in ("weekly", "monthly"):
                reports.create_subscription(
                    session, created_by=None, team="bench", name=period, period=period, filter_query=""
                )
            session.commit()
        subscriptions = list(
            session.scalars(select(ReportSubscription).where(ReportSubscription.team == "bench"))
        )
        for subscription in subscriptions:
            p50, p95, report = _timed(lambda s=subscription: reports.build_report(session, s, now=now), runs)
            print(
                f"{subscription.period:8} report figures ({report.overview['totals']['volume']:,} items): "
                f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"
            )
            p50, p95, html = _timed(lambda r=report: reports.render_html(r), runs)
            print(f"{subscription.period:8} HTML: p50 {p50:.1f} ms ({len(html.encode()) / 1000:.0f} kB)")
            p50, p95, xlsx = _timed(lambda r=report: export.rows_to_xlsx(reports.report_sheets(r)), runs)
            print(f"{subscription.period:8} xlsx attachment: p50 {p50:.1f} ms ({len(xlsx) / 1000:.0f} kB)")
        flt = InsightFilter()
        overview = aggregates.overview(session, flt, "week")
        for fmt in ("csv", "xlsx"):
            p50, p95, content = _timed(
                lambda f=fmt: export.export_bytes(export.overview_sheets(overview, "zh"), f), runs
            )
            print(
                f"overview {fmt} (90 days, weekly) writing: p50 {p50:.1f} ms ({len(content) / 1000:.0f} kB)"
            )
        page = aggregates.verbatims(session, flt, limit=500)
        rows = [export.verbatim_row(item, page.effective[item.id]) for item in page.items]
        for fmt in ("csv", "xlsx"):
            p50, p95, content = _timed(
                lambda f=fmt: export.export_bytes(export.verbatims_sheets(rows, "zh"), f), runs
            )
            print(f"verbatims {fmt} writing, 500 rows: p50 {p50:.1f} ms ({len(content) / 1000:.0f} kB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse (or create) this SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "reports.db"
        if not path.exists():
            started = time.perf_counter()
            _dashboard_benchmark().generate(path, args.items)
            print(f"generated {args.items:,} items in {time.perf_counter() - started:.0f} s", flush=True)
        measure(path, args.runs)


if __name__ == "__main__":
    main()
