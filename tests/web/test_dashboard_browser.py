"""The insight dashboard in a real headless Chromium: an analyst signs in, reads the KPI tiles and charts,
filters by channel (the URL carries it; back and forward work), drills down from the packaging bar to its
verbatims, corrects one item's category and sees the packaging bar drop by one. Screenshots of the
overview and the drill-down are saved under ``test-artifacts/``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.store.models import Analysis, Label

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
DESKTOP = {"viewport": {"width": 1280, "height": 1000}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1">盒子压坏了'


# (text, channel, days ago, sentiment, complaint, categories). jd: 4 packaging + 2 logistics;
# taobao: 1 packaging, 1 logistics, 1 price. Nine items in all, every one analysed.
SEED = [
    ("纸箱破了，东西都洒了", "jd", 3, "negative", True, ["packaging"]),
    ("包装太简陋，盒子变形", "jd", 5, "negative", True, ["packaging"]),
    (HOSTILE_TEXT, "jd", 9, "negative", True, ["packaging"]),
    ("快递盒子被压扁了，其实是物流的问题", "jd", 12, "negative", True, ["packaging"]),
    ("快递三天才到", "jd", 4, "negative", False, ["logistics"]),
    ("物流太慢了", "jd", 15, "negative", True, ["logistics"]),
    ("包装很精美，送人很合适", "taobao", 2, "positive", False, ["packaging"]),
    ("发货很快，第二天就到了", "taobao", 6, "positive", False, ["logistics"]),
    ("价格还行吧", "taobao", 8, "neutral", False, ["price"]),
]


def seed_store(db) -> dict[str, int]:
    """Write the SEED items through the ingest path and their analyses directly; returns text → id."""
    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        FeedbackRecord(text=text, channel=channel, created_at=now - timedelta(days=days, hours=1))
        for text, channel, days, *_ in SEED
    ]
    with db() as session:
        result = write_batch(session, records, emit_event=False, redact_pii=False)
        ids = dict(zip([row[0] for row in SEED], result.item_ids, strict=True))
        for text, _channel, _days, sentiment, complaint, categories in SEED:
            session.add(
                Analysis(
                    feedback_id=ids[text],
                    model_version="test-fixed",
                    language="zh",
                    sentiment=sentiment,
                    sentiment_score={"positive": 0.9, "neutral": 0.5, "negative": 0.1}[sentiment],
                    complaint=complaint,
                    categories=categories,
                    aspects=[{"category": c, "polarity": sentiment} for c in categories],
                    confidence=0.9,
                )
            )
        session.commit()
    return ids


def wait_for_load(page, count: int) -> None:
    """Wait until the dashboard has finished its ``count``-th load of the data."""
    page.wait_for_function(
        "n => document.body.dataset.loaded === 'true' && Number(document.body.dataset.loads) >= n", arg=count
    )


def category_values(page) -> dict[str, int]:
    """The volume per category drawn by the top-categories chart."""
    return json.loads(page.locator("#chart-categories").get_attribute("data-values"))


def kpi(page, key: str) -> str:
    return page.locator(f".kpi[data-kpi='{key}']").get_attribute("data-value")


def click_category_bar(page, category: str, series: str) -> None:
    """A real mouse click in the middle of one segment of a category's bar (found via ECharts' geometry)."""
    page.locator("#chart-categories").scroll_into_view_if_needed()
    point = page.evaluate(
        """([category, series]) => {
            const chart = window.closeloopDashboard.charts['chart-categories'];
            const box = document.getElementById('chart-categories');
            const index = JSON.parse(box.dataset.ids).indexOf(category);
            const option = chart.getOption();
            const negative = option.series[0].data[index];
            const other = option.series[1].data[index];
            const middle = series === 'negative' ? negative / 2 : negative + other / 2;
            const [x, y] = chart.convertToPixel({gridIndex: 0}, [middle, index]);
            const rect = box.getBoundingClientRect();
            return {x: rect.left + x, y: rect.top + y};
        }""",
        [category, series],
    )
    page.mouse.click(point["x"], point["y"])


def test_overview_filter_drill_down_and_correct_a_category(browser, live_server, make_account, db):
    ids = seed_store(db)
    make_account("analyst", email="ana@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    overview_shot = ARTIFACTS / "dashboard-overview.png"
    drill_shot = ARTIFACTS / "dashboard-drill-down.png"
    for shot in (overview_shot, drill_shot):
        shot.unlink(missing_ok=True)

    context = browser.new_context(**DESKTOP, locale="zh-CN", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard")
        assert "/login" in page.url  # signed out: sent to the sign-in form first
        page.fill("input[name=email]", "ana@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_url("**/dashboard**")
        wait_for_load(page, 1)
        assert page.locator("#dash-error").is_hidden(), page.locator("#dash-error").inner_text()

        # KPI tiles and charts: nine items, five of them negative; the charts are drawn on canvases.
        assert kpi(page, "volume") == "9"
        assert page.locator(".kpi[data-kpi='volume'] .value").inner_text() == "9"
        assert float(kpi(page, "negative_share")) == pytest.approx(6 / 9, abs=1e-3)
        assert page.locator(".kpi[data-kpi='negative_share'] .value").inner_text() == "66.7%"
        for chart in ("volume", "rates", "categories", "aspects"):
            assert page.locator(f"#chart-{chart} canvas").count() >= 1
        assert category_values(page) == {"packaging": 5, "logistics": 3, "price": 1}
        page.screenshot(path=str(overview_shot), full_page=True)

        # Filter by channel: the URL carries it, the figures change; back and forward restore each view.
        page.select_option("#f-channel", "jd")
        page.click("#f-apply")
        wait_for_load(page, 2)
        assert "channel=jd" in page.url
        assert kpi(page, "volume") == "6"
        assert category_values(page) == {"packaging": 4, "logistics": 2}
        page.go_back()
        wait_for_load(page, 3)
        assert "channel=" not in page.url and kpi(page, "volume") == "9"
        assert page.locator("#f-channel").input_value() == ""
        page.go_forward()
        wait_for_load(page, 4)
        assert kpi(page, "volume") == "6" and page.locator("#f-channel").input_value() == "jd"

        # Drill down from the packaging bar: its four jd verbatims, text shown as text (never as HTML).
        click_category_bar(page, "packaging", "negative")
        page.wait_for_selector("#drill[data-loaded='true']")
        verbatims = page.locator("#drill-items li.verbatim")
        assert verbatims.count() == 4
        shown = {int(v) for v in verbatims.evaluate_all("items => items.map(li => li.dataset.id)")}
        assert shown == {ids[row[0]] for row in SEED[:4]}
        assert HOSTILE_TEXT in page.locator("#drill-items").inner_text()
        assert page.locator("#drill-items img").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert "包装" in page.locator("#drill-context").inner_text()
        page.screenshot(path=str(drill_shot), full_page=False)

        # Correct one item: packaging → logistics. The packaging bar drops by one, logistics rises by one.
        misfiled = ids["快递盒子被压扁了，其实是物流的问题"]
        row = page.locator(f"#drill-items li.verbatim[data-id='{misfiled}']")
        row.locator(".correct-toggle").click()
        row.locator("input[name=categories][value=packaging]").uncheck()
        row.locator("input[name=categories][value=logistics]").check()
        row.locator(".correct-save").click()
        wait_for_load(page, 5)
        page.wait_for_selector("#drill-message:has-text('已保存')")
        assert category_values(page) == {"packaging": 3, "logistics": 3}
        assert kpi(page, "volume") == "6"
        page.wait_for_selector("#drill[data-loaded='true']")
        assert page.locator("#drill-items li.verbatim").count() == 3  # the corrected item left the list
    finally:
        context.close()

    with db() as session:
        labels = session.scalars(select(Label).where(Label.feedback_id == misfiled)).all()
        assert [(label.field, label.value, label.author) for label in labels] == [
            ("categories", "logistics", "ana@example.com")
        ]
    for shot in (overview_shot, drill_shot):
        assert shot.is_file() and shot.stat().st_size > 10_000, shot
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_reads_in_english_with_a_shared_url(browser, live_server, make_account, db):
    seed_store(db)
    make_account("viewer", email="vera@example.com")
    context = browser.new_context(**DESKTOP, locale="en-GB", reduced_motion="reduce")
    try:
        page = context.new_page()
        shared = "/dashboard?lang=en&range=30&granularity=day&channel=taobao"
        page.goto(f"{live_server}{shared}")
        page.fill("input[name=email]", "vera@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_url("**/dashboard?**")
        wait_for_load(page, 1)
        assert "channel=taobao" in page.url and "granularity=day" in page.url
        assert page.locator("#f-granularity").input_value() == "day"
        assert page.locator("#f-range").input_value() == "30"
        assert kpi(page, "volume") == "3"
        assert page.locator(".kpi[data-kpi='complaint_rate'] .label").inner_text() == "Complaint rate"
        assert page.locator("#export").count() == 0  # a viewer may not export

        click_category_bar(page, "logistics", "other")
        page.wait_for_selector("#drill[data-loaded='true']")
        assert page.locator("#drill-items li.verbatim").count() == 1
        assert page.locator("#drill-items .correct-toggle").count() == 0  # a viewer may not correct
    finally:
        context.close()
