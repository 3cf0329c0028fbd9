"""Exports and scheduled reports in a real headless Chromium: from a filtered dashboard an analyst downloads
the overview as Excel (the file follows the filter), schedules the view as a weekly report, and opens its
preview, whose inline SVG charts render without JavaScript. The preview is saved as
``test-artifacts/report-preview.png``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.insight.reports import last_full_period
from closeloop.store.models import Analysis, ReportSubscription, Team

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# (text, channel, sentiment, complaint, categories); all written inside last week, jd has 3 of the 4.
SEED = [
    ("纸箱破了，东西都洒了", "jd", "negative", True, ["packaging"]),
    ("快递三天才到", "jd", "negative", True, ["logistics"]),
    ("包装很精美", "jd", "positive", False, ["packaging", "product_quality"]),
    ("价格还行吧", "taobao", "neutral", False, ["price"]),
]


def seed(db) -> None:
    start, _ = last_full_period("weekly", datetime.now(UTC))
    moment = datetime(start.year, start.month, start.day, 4, tzinfo=UTC)  # noon in Shanghai
    records = [
        FeedbackRecord(text=text, channel=channel, created_at=moment + timedelta(days=n))
        for n, (text, channel, *_) in enumerate(SEED)
    ]
    with db() as session:
        session.add(Team(name="logistics", label_zh="物流部", label_en="Logistics", email="l@example.com"))
        ids = write_batch(session, records, emit_event=False, redact_pii=False).item_ids
        for item_id, (_text, _channel, sentiment, complaint, categories) in zip(ids, SEED, strict=True):
            session.add(
                Analysis(
                    feedback_id=item_id,
                    model_version="test-fixed",
                    sentiment=sentiment,
                    complaint=complaint,
                    categories=categories,
                )
            )
        session.commit()


def test_download_schedule_and_preview_a_report(browser, live_server, make_account, db, tmp_path):
    seed(db)
    make_account("analyst", email="ana@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-preview.png"
    shot.unlink(missing_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.fill("input[name=email]", "ana@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server}/dashboard?lang=en&range=30&channel=jd")
        page.wait_for_function("document.body.dataset.loaded === 'true'")

        with page.expect_download() as download_info:
            page.click("#export-links a[data-view=overview][data-format=xlsx]")
        download = download_info.value
        assert "channel=jd" in download.url and "since=" in download.url and "lang=en" in download.url
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        workbook = load_workbook(saved)
        totals = {row[0]: row[1] for row in workbook["Totals"].iter_rows(min_row=2, values_only=True)}
        assert totals["Volume"] == 3  # the jd items only, as on the dashboard

        page.click("#schedule-report")
        page.wait_for_url("**/reports?**")
        assert page.input_value("#r-filter") == "channel=jd"
        page.fill("#r-name", "JD weekly")
        page.select_option("#r-language", "en")
        page.click("#r-create")
        page.wait_for_selector("tr.report")
        with db() as session:
            [report] = session.scalars(select(ReportSubscription)).all()
        assert (report.filter_query, report.language, report.team) == ("channel=jd", "en", "logistics")

        page.goto(f"{live_server}/api/v1/reports/{report.id}/preview")
        assert "Team report · logistics · JD weekly" in page.title()
        bars = page.locator("#chart-categories svg rect.bar")
        assert bars.count() == 3  # packaging, logistics, product quality
        assert all(bars.nth(n).bounding_box()["width"] > 0 for n in range(bars.count()))
        assert page.locator("#chart-volume svg").bounding_box()["height"] > 100
        assert page.locator("script").count() == 0
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert shot.stat().st_size > 10_000
