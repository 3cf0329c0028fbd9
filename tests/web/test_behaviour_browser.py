"""The behaviour and churn-risk page: in a real headless Chromium a viewer signs in from the nav, sees the
three charts drawn and the silent unhappy customer at the top of the at-risk list with the reasons, and
opens that customer's feedback. A screenshot is saved under ``test-artifacts/``. The customer page and
the English texts are also checked over plain HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from closeloop.store.models import Analysis, Customer, CustomerEvent, FeedbackItem

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
DESKTOP = {"viewport": {"width": 1280, "height": 1100}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUIET_TEXT = "扫码功能老是卡住，算了不用了"


def seed(db) -> None:
    """C-quiet: unhappy, never complained, stopped using the app. C-loud: complained 40 days ago after
    ordering; still active."""
    now = datetime.now(UTC).replace(microsecond=0)
    with db() as session:
        quiet = Customer(external_id="C-quiet", tier="gold")
        loud = Customer(external_id="C-loud", tier="silver")
        session.add_all([quiet, loud])
        session.flush()
        events = [
            (quiet, "feature_used", 45, {"feature": "scan"}),
            (quiet, "feature_used", 40, {"feature": "scan"}),
            (quiet, "order_completed", 38, {"amount": 88, "currency": "CNY"}),
            (loud, "order_completed", 50, {"amount": 120, "currency": "CNY"}),
            (loud, "feature_used", 20, {"feature": "export"}),
            (loud, "feature_used", 10, {"feature": "export"}),
        ]
        for n, (customer, kind, days, payload) in enumerate(events):
            session.add(
                CustomerEvent(
                    external_id=f"ev-{n}",
                    type=kind,
                    customer_id=customer.id,
                    occurred_at=now - timedelta(days=days),
                    payload=payload,
                )
            )
        for n, (customer, text, days, sentiment, complaint) in enumerate(
            [
                (quiet, QUIET_TEXT, 5, "negative", False),
                (loud, "导出报表一直失败，我要投诉！", 40, "negative", True),
                (loud, "客服处理得不错", 8, "positive", False),
            ]
        ):
            item = FeedbackItem(
                channel="taobao",
                kind="review",
                direction="direct",
                dedupe_key=f"b-{n}",
                content_hash=f"h-{n}",
                text=text,
                created_at=now - timedelta(days=days),
                customer_id=customer.id,
            )
            session.add(item)
            session.flush()
            session.add(
                Analysis(feedback_id=item.id, model_version="t", sentiment=sentiment, complaint=complaint)
            )
        session.commit()


def test_the_at_risk_page_in_chromium(browser, live_server, make_account, db):
    seed(db)
    make_account("viewer", email="vera@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "behaviour-at-risk.png"
    shot.unlink(missing_ok=True)
    context = browser.new_context(**DESKTOP, locale="zh-CN", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/dashboard")
        page.fill("input[name=email]", "vera@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_url("**/dashboard**")
        page.click("#nav-behaviour")
        page.wait_for_url("**/customers/at-risk**")
        page.wait_for_function("document.body.dataset.loaded === 'true'")
        assert page.locator("#bh-error").is_hidden(), page.locator("#bh-error").inner_text()
        for chart in ("features", "frequency", "spend"):
            assert page.locator(f"#chart-{chart} canvas").count() >= 1
        features = json.loads(page.locator("#chart-features").get_attribute("data-values"))
        assert features == [["export", 0.5], ["scan", 0.0]]
        spend = json.loads(page.locator("#chart-spend").get_attribute("data-values"))
        assert [(s["currency"], s["avg_before"], s["avg_after"]) for s in spend] == [("CNY", 120.0, 0.0)]

        rows = page.locator("#risk-table tbody tr")
        assert rows.count() == 1
        first = rows.first
        assert first.get_attribute("data-customer") == "C-quiet"
        reasons = first.locator("li").all_inner_texts()
        assert reasons[0] == "近 60 天有 1 条负面反馈，但从未投诉"
        assert reasons[1] == "近 30 天下单/使用 0 次，之前 30 天 3 次"
        assert first.locator(".score").inner_text() == "75"
        page.screenshot(path=str(shot), full_page=True)

        first.locator("a.history-link").click()
        page.wait_for_url("**/customers/C-quiet/history**")
        assert QUIET_TEXT in page.locator("#history-feedback").inner_text()
        assert "使用功能" in page.locator("#history-events").inner_text()
    finally:
        context.close()
    assert shot.exists() and shot.stat().st_size > 10_000


def test_pages_over_http_in_english(browser_as, db):
    seed(db)
    http = browser_as("viewer")
    page = http.get("/customers/at-risk", params={"lang": "en"})
    assert page.status_code == 200
    assert "Customers at risk" in page.text and "Complaint rate by feature used" in page.text
    history = http.get("/customers/C-loud/history", params={"lang": "en"})
    assert history.status_code == 200
    assert "导出报表一直失败" in history.text and ">complaint<" in history.text and ">Order<" in history.text
    assert http.get("/customers/C-nobody/history").status_code == 404
