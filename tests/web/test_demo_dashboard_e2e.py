"""End to end in a real headless Chromium, on the real demo data (``closeloop demo``'s loaders, analysed by
the fast engine, alert detection run): the packaging alert shows in the dashboard's alerts panel, the
channel filter changes the figures, a click on the packaging bar lists its verbatims, correcting one item's
category lowers the bar by one, and the alert's link opens its verbatims. Screenshots of the overview and
the drill-down are saved under ``test-artifacts/``.

The /topics page: a theme nobody has a category for becomes a routing rule for a team and then a category,
which the taxonomy API lists and the next analysed item gets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.demo.load import load_demo
from closeloop.demo.setup import load_demo_setup
from closeloop.insight.alerts import run_alert_job
from closeloop.jobs.analysis import active_engine, analyse_items, load_engine
from closeloop.store.models import Alert, Analysis, FeedbackItem, Label, Team
from closeloop.web.dashboard_pages import open_alerts

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
DESKTOP = {"viewport": {"width": 1280, "height": 1100}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DEMO_SEED = 7
CHANNEL = "taobao"  # the demo's busiest channel


def load_analysed_demo(db, settings) -> list[int]:
    """The demo as ``closeloop demo`` loads it (feedback, teams, rules, surveys), every item analysed by
    the fast built-in engine, then the hourly alert job run once; returns the new alerts' ids."""
    load_demo(db, items=5000, days=180, seed=DEMO_SEED)
    load_demo_setup(db, seed=DEMO_SEED, responses=60)
    with db() as session:
        ids = list(session.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id)))
    analyse_items(db, ids, load_engine(None, fast=True))
    return run_alert_job(db, settings, notify=False)


def sign_in(page, base_url: str, path: str, email: str) -> None:
    page.goto(f"{base_url}{path}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(f"**{path.split('?')[0]}**")


def wait_for_load(page, count: int) -> None:
    """Wait until the dashboard has finished its ``count``-th load of the data."""
    page.wait_for_function(
        "n => document.body.dataset.loaded === 'true' && Number(document.body.dataset.loads) >= n", arg=count
    )


def category_values(page) -> dict[str, int]:
    return json.loads(page.locator("#chart-categories").get_attribute("data-values"))


def click_bar_segment(page, category: str, series_index: int) -> None:
    """A real mouse click on one stacked segment (0 negative, 1 other) of a category's bar."""
    page.locator("#chart-categories").scroll_into_view_if_needed()
    point = page.evaluate(
        """([category, series]) => {
            const chart = window.closeloopDashboard.charts['chart-categories'];
            const box = document.getElementById('chart-categories');
            const row = JSON.parse(box.dataset.ids).indexOf(category);
            const data = chart.getOption().series.map(s => s.data[row]);
            const start = data.slice(0, series).reduce((a, b) => a + b, 0);
            const [x, y] = chart.convertToPixel({gridIndex: 0}, [start + data[series] / 2, row]);
            const rect = box.getBoundingClientRect();
            return {x: rect.left + x, y: rect.top + y};
        }""",
        [category, series_index],
    )
    page.mouse.click(point["x"], point["y"])


def test_demo_alert_filter_drill_down_and_correction(browser, live_server, make_account, db, settings):
    new_alerts = load_analysed_demo(db, settings)
    with db() as session:
        packaging = session.scalars(
            select(Alert).where(Alert.key == "category:packaging", Alert.status == "open")
        ).first()
    assert packaging is not None and packaging.id in new_alerts  # the demo's planted story is flagged
    make_account("analyst", email="demo-analyst@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    overview_shot = ARTIFACTS / "demo-dashboard-overview.png"
    drill_shot = ARTIFACTS / "demo-dashboard-drill-down.png"
    for shot in (overview_shot, drill_shot):
        shot.unlink(missing_ok=True)

    context = browser.new_context(**DESKTOP, locale="zh-CN", reduced_motion="reduce")
    try:
        page = context.new_page()
        sign_in(page, live_server, "/dashboard", "demo-analyst@example.com")
        wait_for_load(page, 1)
        assert page.locator("#dash-error").is_hidden(), page.locator("#dash-error").inner_text()

        # The alerts panel: the packaging alert, with its evidence, first among the open alerts' severities.
        alert_row = page.locator(f"#alerts li.alert[data-id='{packaging.id}']")
        assert alert_row.count() == 1
        assert "包装" in alert_row.locator(".subject").inner_text()
        assert alert_row.locator(".started").inner_text() == packaging.started_on.isoformat()
        assert alert_row.get_attribute("data-key") == "category:packaging"
        assert alert_row.locator(".current").inner_text() and alert_row.locator(".baseline").inner_text()
        listed = [
            int(i)
            for i in page.locator("#alerts li.alert").evaluate_all("rows => rows.map(r => r.dataset.id)")
        ]
        with db() as session:
            assert listed == [alert.id for alert in open_alerts(session)]  # most severe, then newest, first
        everything = int(page.locator(".kpi[data-kpi='volume']").get_attribute("data-value"))
        assert everything > 1000
        assert category_values(page).get("packaging", 0) > 0
        page.screenshot(path=str(overview_shot), full_page=True)

        # Filter by channel: the URL carries it and the figures shrink to that channel's.
        page.select_option("#f-channel", CHANNEL)
        page.click("#f-apply")
        wait_for_load(page, 2)
        assert f"channel={CHANNEL}" in page.url
        on_channel = int(page.locator(".kpi[data-kpi='volume']").get_attribute("data-value"))
        assert 0 < on_channel < everything
        before = category_values(page)
        assert before["packaging"] > 1

        # Drill down from the packaging bar's negative part: its verbatims, all on the channel.
        click_bar_segment(page, "packaging", 0)
        page.wait_for_selector("#drill[data-loaded='true']")
        verbatims = page.locator("#drill-items li.verbatim")
        assert verbatims.count() > 0
        assert "包装" in page.locator("#drill-context").inner_text()
        shown = [int(v) for v in verbatims.evaluate_all("items => items.map(li => li.dataset.id)")]
        with db() as session:
            channels = set(session.scalars(select(FeedbackItem.channel).where(FeedbackItem.id.in_(shown))))
        assert channels == {CHANNEL}
        page.screenshot(path=str(drill_shot), full_page=False)

        # Correct the first one: not packaging but logistics. The packaging bar drops by exactly one.
        corrected = shown[0]
        row = page.locator(f"#drill-items li.verbatim[data-id='{corrected}']")
        row.locator(".correct-toggle").click()
        row.locator("input[name=categories][value=packaging]").uncheck()
        row.locator("input[name=categories][value=logistics]").check()
        row.locator(".correct-save").click()
        wait_for_load(page, 3)
        page.wait_for_selector("#drill-message:has-text('已保存')")
        assert category_values(page)["packaging"] == before["packaging"] - 1

        # The alert's link: the dashboard filtered to packaging since the alert started, verbatims open.
        page.locator("#drill-close").click()
        page.locator(f"#alerts li.alert[data-id='{packaging.id}'] a.alert-link").click()
        page.wait_for_url("**category=packaging**")
        page.wait_for_selector("#drill[data-loaded='true']")
        assert page.locator("#f-category").input_value() == "packaging"
        assert page.locator("#drill-items li.verbatim").count() > 0
    finally:
        context.close()

    with db() as session:
        labels = session.scalars(select(Label).where(Label.feedback_id == corrected)).all()
        assert [(label.field, label.author) for label in labels] == [
            ("categories", "demo-analyst@example.com")
        ]
        assert "packaging" not in labels[0].value and "logistics" in labels[0].value
    for shot in (overview_shot, drill_shot):
        assert shot.is_file() and shot.stat().st_size > 10_000, shot
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------- /topics

POINTS = [
    "会员积分怎么一直不到账",
    "积分兑换失败好几次了",
    "积分清零了也没通知",
    "我的积分兑换一直显示失败",
    "积分到底什么时候到账",
    "积分兑换总是失败，积分也没了",
    "会员积分一直不到账，好几天了",
]


def seed_points(db) -> None:
    """Uncategorised feedback about loyalty points, and a team to route it to."""
    now = datetime.now(UTC)
    records = [
        FeedbackRecord(text=text, channel="jd", created_at=now - timedelta(hours=n + 1))
        for n, text in enumerate(POINTS)
    ]
    with db() as session:
        for item_id in write_batch(session, records, emit_event=False, redact_pii=False).item_ids:
            session.add(Analysis(feedback_id=item_id, model_version="test-fixed", sentiment="negative"))
        session.add(Team(name="membership", label_zh="会员部", label_en="Membership"))
        session.commit()


def test_topics_page_makes_a_routing_rule_and_a_category(browser, live_server, make_account, db, model_dir):
    seed_points(db)
    make_account("analyst", email="topics-analyst@example.com")
    context = browser.new_context(**DESKTOP, locale="zh-CN", reduced_motion="reduce")
    try:
        page = context.new_page()
        sign_in(page, live_server, "/topics", "topics-analyst@example.com")
        theme = page.locator("article.theme", has=page.locator(".phrase", has_text="积分")).first
        assert int(theme.get_attribute("data-count")) >= 5
        assert "积分" in theme.locator(".examples").inner_text()
        assert page.locator("#nav-topics").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "topics-page.png"), full_page=True)

        # "生成路由规则": the theme's keywords go to the membership team, first in the rule set.
        theme.locator("details.make-rule summary").click()
        theme.locator("details.make-rule select[name=team]").select_option("membership")
        theme.locator("details.make-rule button[type=submit]").click()
        page.wait_for_selector("#topics-message")
        assert "topic" in page.locator("#topics-message").inner_text()

        # "设为类别": prefilled with the theme's names and keywords; give it an English name and create it.
        theme = page.locator("article.theme", has=page.locator(".phrase", has_text="积分")).first
        theme.locator("details.make-category summary").click()
        form = theme.locator("details.make-category form")
        assert "积分" in form.locator("input[name=name_zh]").input_value()
        assert "积分" in form.locator("input[name=keywords]").input_value()
        form.locator("input[name=name_zh]").fill("会员积分")
        form.locator("input[name=name_en]").fill("Loyalty points")
        form.locator("input[name=keywords]").fill("积分, loyalty points")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#topics-message")
        assert "会员积分" in page.locator("#topics-message").inner_text()
        assert page.locator("#taxonomy-list [data-category=loyalty_points]").count() == 1
        # Covered now: the theme is gone from the page.
        assert page.locator("article.theme", has=page.locator(".phrase", has_text="积分")).count() == 0
    finally:
        context.close()

    token = make_account("viewer")
    with httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}"}) as api:
        categories = [c["id"] for c in api.get("/api/v1/taxonomy").json()["categories"]]
        rules = api.get("/api/v1/routing-rules").json()["rules"]
    assert categories[-1] == "loyalty_points"
    assert rules[0]["then"]["team"] == "membership"
    assert any("积分" in keyword for keyword in rules[0]["when"]["keywords_any"])

    with db() as session:
        new_id = write_batch(
            session, [FeedbackRecord(text="积分又没到账", channel="jd")], emit_event=False, redact_pii=False
        ).item_ids[0]
        session.commit()
        engine = active_engine(session)
    analyse_items(db, [new_id], engine)
    with db() as session:
        analysis = session.scalars(select(Analysis).where(Analysis.feedback_id == new_id)).one()
    assert "loyalty_points" in analysis.categories
