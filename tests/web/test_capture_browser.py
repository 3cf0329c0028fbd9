"""Quick capture in a real headless Chromium on a 375×667 phone over a slow connection: sign in, tap a
topic and a face, type what the customer said, save, and find it in the store and in the inbox. With
JavaScript and without; with JavaScript a dropped response is retried without a duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from closeloop.store.models import Consent, FeedbackItem

PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {
    "viewport": {"width": 375, "height": 667},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
# Roughly a weak 3G link: 300 ms round trips, ~400 kbit/s down, ~150 kbit/s up.
SLOW_3G = {"offline": False, "latency": 300, "downloadThroughput": 50_000, "uploadThroughput": 19_000}


def open_phone(browser, live_server: str, email: str, *, javascript: bool):
    """A phone-sized page signed in as ``email`` on a slow connection, showing the capture form."""
    context = browser.new_context(**PHONE, java_script_enabled=javascript, locale="zh-CN")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    page.goto(f"{live_server}/capture")
    assert "/login" in page.url  # signed out: the sign-in form first, then back here
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#capture")
    return context, page


def fill_in(page, text: str) -> None:
    page.fill("#location", "上海南京路店")
    page.locator("label[for='topic-complaint']").tap()
    page.locator("label[for='sentiment-negative']").tap()
    page.fill("#text", text)
    page.fill("#contact", "13812345678")
    page.locator("label[for='consent']").tap()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_capture_from_a_phone_lands_in_the_store_and_the_inbox(
    browser, live_server, make_account, db, javascript
):
    email = f"shop-{'js' if javascript else 'nojs'}@example.com"
    make_account("agent", email=email)
    text = "顾客说试衣间太少，排了半小时"
    context, page = open_phone(browser, live_server, email, javascript=javascript)
    try:
        # Big tap targets that fit the narrow screen.
        for selector in (
            "label[for='topic-complaint']",
            "label[for='sentiment-positive']",
            "#submit",
            "#text",
        ):
            box = page.locator(selector).bounding_box()
            assert box and box["height"] >= 44 and box["x"] + box["width"] <= 375, (selector, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling

        fill_in(page, text)
        assert page.locator("#sentiment-negative").is_checked() and page.locator("#consent").is_checked()
        if javascript:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "capture-phone-form.png"), full_page=True)
        page.locator("#submit").tap()
        page.wait_for_selector("#saved", timeout=30_000)
        assert "已记录" in page.locator("#saved").inner_text()
        saved_id = int(page.locator("#saved").get_attribute("data-id"))
        if javascript:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "capture-phone-saved.png"), full_page=True)

        page.locator("#another").tap()
        page.wait_for_selector("#capture")
        assert page.locator("#location").input_value() == "上海南京路店"  # remembered for the next one

        page.goto(f"{live_server}/?channel=frontline")
        assert text in page.locator("#feedback").inner_text()  # visible in the inbox
    finally:
        context.close()

    with db() as session:
        item = session.scalars(select(FeedbackItem)).one()
        assert item.id == saved_id and item.channel == "frontline" and item.kind == "complaint"
        assert item.text == text
        assert (item.meta["location"], item.meta["topic"], item.meta["staff_sentiment"]) == (
            "上海南京路店",
            "complaint",
            "negative",
        )
        (consent,) = session.scalars(select(Consent)).all()
        assert consent.customer_id == item.customer_id and consent.source == "frontline"


def test_with_javascript_a_problem_is_shown_in_place_and_fixed(browser, live_server, make_account, db):
    make_account("agent", email="hasty@example.com")
    context, page = open_phone(browser, live_server, "hasty@example.com", javascript=True)
    try:
        page.fill("#location", "北京三里屯店")
        page.fill("#text", "想要会员积分")
        page.locator("#submit").tap()  # no topic, no mood
        page.wait_for_selector("#error-topic")
        assert page.locator("#error-sentiment").is_visible()
        assert page.locator("#text").input_value() == "想要会员积分"  # nothing typed is lost
        page.locator("label[for='topic-suggestion']").tap()
        page.locator("label[for='sentiment-neutral']").tap()
        page.locator("#submit").tap()
        page.wait_for_selector("#saved", timeout=30_000)
    finally:
        context.close()
    with db() as session:
        item = session.scalars(select(FeedbackItem)).one()
        assert (item.kind, item.meta["staff_sentiment"], item.meta["location"]) == (
            "suggestion",
            "neutral",
            "北京三里屯店",
        )


def test_with_javascript_a_lost_response_is_retried_without_a_duplicate(
    browser, live_server, make_account, db
):
    make_account("agent", email="flaky@example.com")
    context, page = open_phone(browser, live_server, "flaky@example.com", javascript=True)
    dropped: list[int] = []

    def drop_first_answer(route) -> None:
        if route.request.method == "POST" and not dropped:
            # The capture reaches the server and is stored, but the phone never hears back.
            dropped.append(route.fetch(max_redirects=0).status)
            route.abort("connectionreset")
            return
        route.continue_()

    try:
        page.route("**/capture?*", drop_first_answer)
        fill_in(page, "洗手间没有纸了")
        page.locator("#submit").tap()
        page.wait_for_selector("#saved", timeout=30_000)
        assert dropped == [303]
    finally:
        context.close()

    with db() as session:
        (item,) = session.scalars(select(FeedbackItem)).all()  # stored once, though sent twice
        assert item.text == "洗手间没有纸了"
        assert len(session.scalars(select(Consent)).all()) == 1
