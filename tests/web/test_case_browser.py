"""The case workflow in a real headless Chromium: an agent signs in, opens the queue, opens a case, takes
it, replies to the customer and resolves it; the store then holds all of that."""

from __future__ import annotations

import re

from sqlalchemy import select

from closeloop.store.models import Case, CaseEvent

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def open_case(client, text: str, team: str, priority: str) -> int:
    item = client.post("/api/v1/feedback", json={"channel": "jd", "text": text, "rating": 1})
    assert item.status_code == 201, item.text
    case = client.post(
        "/api/v1/cases",
        json={
            "feedback_ids": item.json()["ids"],
            "team": team,
            "priority": priority,
            "first_response_hours": 4,
        },
    )
    assert case.status_code == 201, case.text
    return case.json()["id"]


def test_an_agent_takes_replies_to_and_resolves_a_case(browser, client, live_server, make_account, db):
    client.put("/api/v1/teams/logistics", json={"label_zh": "物流部", "assignment": "manual"})
    make_account("agent", email="ann@example.com", team="logistics")
    open_case(client, "纸箱有点旧", "logistics", "low")
    case_id = open_case(client, "快递丢件了，三天没人管", "logistics", "urgent")
    open_case(client, "客服电话打不通", "service", "urgent")

    context = browser.new_context(**DESKTOP, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/cases")
        assert "/login" in page.url  # signed out: sent to the sign-in form first
        page.fill("input[name=email]", "ann@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#cases")
        assert page.url.endswith("/cases")
        titles = page.locator("#cases a.case-link").all_inner_texts()
        assert titles == ["快递丢件了，三天没人管", "纸箱有点旧"]  # urgent first, only the team's

        page.click(f"tr[data-id='{case_id}'] a.case-link")
        page.wait_for_selector("#case-title")
        assert page.locator("#case-status").get_attribute("data-status") == "new"
        page.click("#take")
        page.wait_for_selector("#done")
        assert page.locator("#case-assignee").inner_text() == "ann@example.com"
        assert page.locator("#take").count() == 0

        page.fill("#comment-body", "您好，包裹已找到，明天送达。")
        page.check("#to-customer")
        page.click("#comment-submit")
        page.wait_for_selector("#history li.reply")
        assert "包裹已找到" in page.locator("#history li.reply").inner_text()

        page.click("#status-resolved")
        page.wait_for_selector("#case-status[data-status='resolved']")
        assert re.search("已解决", page.locator("#case-status").inner_text())
    finally:
        context.close()

    with db() as session:
        case = session.get(Case, case_id)
        assert case.status == "resolved" and case.resolved_at is not None
        assert case.assignee is not None and case.assignee.email == "ann@example.com"
        assert case.first_responded_at is not None
        replies = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "reply")
        ).all()
        assert [(e.actor, e.body) for e in replies] == [("ann@example.com", "您好，包裹已找到，明天送达。")]
