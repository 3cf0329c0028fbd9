"""The case pages over HTTP, signed in through the real /login form: an agent's queue holds only its team's
cases, a case is taken, answered and resolved by form posts carrying the CSRF token, another team's case
is a 404, refused changes are shown on the page, and HTML in feedback and comments is escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from closeloop.act.cases import TRANSITIONS
from closeloop.store.models import Case, CaseEvent, utcnow
from closeloop.web.case_pages import duration, relative_time, status_buttons

PASSWORD = "correct horse battery staple"  # the password conftest gives every account


def sign_in(live_server: str, email: str) -> httpx.Client:
    """A browser-like client signed in with e-mail and password through the /login form."""
    http = httpx.Client(base_url=live_server, follow_redirects=False, timeout=30)
    form = http.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    signed = http.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf, "next": "/cases"}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/cases"
    return http


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def open_case(client: httpx.Client, text: str, team: str, **extra) -> int:
    item = client.post("/api/v1/feedback", json={"channel": "jd", "text": text, "rating": 1})
    assert item.status_code == 201, item.text
    case = client.post(
        "/api/v1/cases", json={"feedback_ids": item.json()["ids"], "team": team, "title": text, **extra}
    )
    assert case.status_code == 201, case.text
    return case.json()["id"]


@pytest.fixture
def teams(client, make_account) -> Iterator[dict[str, str]]:
    """Two teams with manual assignment (cases wait in the queue), an agent in each, and a viewer."""
    client.put(
        "/api/v1/teams/logistics",
        json={"label_zh": "物流部", "label_en": "Logistics", "assignment": "manual"},
    )
    client.put("/api/v1/teams/service", json={"label_zh": "客服部", "assignment": "manual"})
    make_account("agent", email="ann@example.com", team="logistics")
    make_account("agent", email="sue@example.com", team="service")
    make_account("viewer", email="vic@example.com")
    yield {"ann": "ann@example.com", "sue": "sue@example.com", "viewer": "vic@example.com"}


def test_anonymous_visitors_are_sent_to_sign_in(live_server):
    with httpx.Client(base_url=live_server, follow_redirects=False) as http:
        response = http.get("/cases", params={"view": "mine"})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/cases%3Fview%3Dmine")
        assert http.get("/cases/1").status_code == 303


def test_an_agents_queue_holds_its_teams_open_cases_urgent_first(client, live_server, teams, db):
    low = open_case(client, "包装有点旧", "logistics", priority="low")
    urgent = open_case(client, "快递丢件了", "logistics", priority="urgent")
    open_case(client, "客服不理人", "service", priority="urgent")
    done = open_case(client, "物流已解决的老问题", "logistics")
    client.patch(f"/api/v1/cases/{done}", json={"status": "resolved"})

    ann = sign_in(live_server, teams["ann"])
    queue = ann.get("/cases")
    assert queue.status_code == 200 and "text/html" in queue.headers["content-type"]
    assert 'id="view-team" class="current"' in queue.text  # an agent starts on its team's open cases
    rows = re.findall(r'<tr data-id="(\d+)" data-priority="(\w+)"', queue.text)
    assert rows == [(str(urgent), "urgent"), (str(low), "low")]
    assert "客服不理人" not in queue.text and "物流已解决的老问题" not in queue.text
    assert "物流部" in queue.text and "紧急" in queue.text and "未分配" in queue.text
    english = ann.get("/cases", params={"lang": "en"}).text
    assert "Case queue" in english and "urgent" in english and "Logistics" in english
    # Everything open is still only the team's for an agent; "mine" is empty until a case is taken.
    assert "客服不理人" not in ann.get("/cases", params={"view": "open"}).text
    assert 'id="empty"' in ann.get("/cases", params={"view": "mine"}).text

    viewer = sign_in(live_server, teams["viewer"])
    everything = viewer.get("/cases").text
    assert 'id="view-open" class="current"' in everything
    assert "客服不理人" in everything and "快递丢件了" in everything
    for http in (ann, viewer):
        http.close()


def test_overdue_cases_are_red_and_listed_as_breached(client, live_server, teams, db):
    late = open_case(client, "三天没人回复", "logistics", first_response_hours=4)
    on_time = open_case(client, "刚刚提交", "logistics", first_response_hours=4)
    with db() as session:
        session.get(Case, late).first_response_due = utcnow() - timedelta(hours=3)
        session.commit()
    ann = sign_in(live_server, teams["ann"])
    breached = ann.get("/cases", params={"view": "breached"}).text
    assert re.findall(r'<tr data-id="(\d+)"', breached) == [str(late)]
    assert 'class="sla late"' in breached and "3 小时前" in breached and "已超时" in breached
    queue = ann.get("/cases").text
    assert f'<tr data-id="{on_time}"' in queue and "3 小时后" in queue
    ann.close()


def test_an_agent_takes_replies_and_resolves_through_forms(client, live_server, teams, db):
    case_id = open_case(client, "包裹破损，要求补发", "logistics")
    ann = sign_in(live_server, teams["ann"])
    page = ann.get(f"/cases/{case_id}")
    assert page.status_code == 200 and 'id="take"' in page.text and "包裹破损，要求补发" in page.text
    csrf = csrf_of(page)

    taken = ann.post(f"/cases/{case_id}/take", data={"csrf_token": csrf})
    assert taken.status_code == 303 and taken.headers["location"].startswith(f"/cases/{case_id}?")
    after = ann.get(taken.headers["location"]).text
    assert "你已领取此工单" in after and 'id="take"' not in after and "ann@example.com" in after
    note = ann.post(f"/cases/{case_id}/comments", data={"csrf_token": csrf, "body": "已联系快递公司核实"})
    assert note.status_code == 303
    with db() as session:
        assert session.get(Case, case_id).first_responded_at is None  # an internal note is no response
    reply = ann.post(
        f"/cases/{case_id}/comments",
        data={"csrf_token": csrf, "body": "您好，我们已安排补发。", "to_customer": "1"},
    )
    assert reply.status_code == 303 and "done=reply" in reply.headers["location"]
    resolved = ann.post(f"/cases/{case_id}/status", data={"csrf_token": csrf, "to": "resolved"})
    assert resolved.status_code == 303
    urgent = ann.post(f"/cases/{case_id}/priority", data={"csrf_token": csrf, "priority": "high"})
    assert urgent.status_code == 303

    with db() as session:
        case = session.get(Case, case_id)
        assert (case.status, case.assignee.email, case.priority) == ("resolved", "ann@example.com", "high")
        assert case.first_responded_at is not None and case.resolved_at is not None
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
        assert [(e.kind, e.actor) for e in events][1:] == [
            ("assigned", "ann@example.com"),
            ("comment", "ann@example.com"),
            ("reply", "ann@example.com"),
            ("status", "ann@example.com"),
            ("priority", "ann@example.com"),
        ]
    history = ann.get(f"/cases/{case_id}").text
    # Internal notes and replies to the customer look different in the history.
    assert re.search(r'<li class="comment" data-kind="comment">\s*<strong>内部备注', history)
    assert re.search(r'<li class="reply" data-kind="reply">\s*<strong>回复客户', history)
    assert 'id="status-in_progress"' in history and "重新打开" in history  # a resolved case can reopen
    assert 'id="case-status" data-status="resolved"' in history
    ann.close()


def test_a_form_post_without_the_csrf_token_is_refused(client, live_server, teams, db):
    case_id = open_case(client, "发错货了", "logistics")
    ann = sign_in(live_server, teams["ann"])
    assert ann.post(f"/cases/{case_id}/take").status_code == 403
    assert ann.post(f"/cases/{case_id}/take", data={"csrf_token": "forged"}).status_code == 403
    refused = ann.post(f"/cases/{case_id}/comments", data={"body": "x", "to_customer": "1"})
    assert refused.status_code == 403
    with db() as session:
        case = session.get(Case, case_id)
        assert (case.status, case.assignee_id, case.first_responded_at) == ("new", None, None)
    ann.close()


def test_another_teams_case_is_not_found_and_a_viewer_only_reads(client, live_server, teams, db):
    case_id = open_case(client, "快递员态度差", "logistics")
    sue = sign_in(live_server, teams["sue"])
    csrf = csrf_of(sue.get("/cases"))
    missing = sue.get(f"/cases/{case_id}")
    assert (
        missing.status_code == 404 and "找不到这个工单" in missing.text and "快递员态度差" not in missing.text
    )
    for path, data in (
        ("take", {}),
        ("status", {"to": "resolved"}),
        ("comments", {"body": "偷看", "to_customer": "1"}),
        ("priority", {"priority": "low"}),
    ):
        response = sue.post(f"/cases/{case_id}/{path}", data={"csrf_token": csrf, **data})
        assert response.status_code == 404, path
    assert sue.get("/cases/999999").status_code == 404
    with db() as session:
        case = session.get(Case, case_id)
        assert (case.status, case.assignee_id, case.priority) == ("new", None, "normal")
        assert session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all() == [
            "created"
        ]

    viewer = sign_in(live_server, teams["viewer"])
    page = viewer.get(f"/cases/{case_id}")
    assert page.status_code == 200 and 'id="read-only"' in page.text and 'id="take"' not in page.text
    assert viewer.post(f"/cases/{case_id}/take", data={"csrf_token": csrf_of(page)}).status_code == 403
    for http in (sue, viewer):
        http.close()


def test_a_refused_change_is_shown_on_the_page_in_both_languages(client, live_server, teams, db):
    case_id = open_case(client, "退款一直没到", "logistics")
    client.patch(f"/api/v1/cases/{case_id}", json={"status": "closed"})
    ann = sign_in(live_server, teams["ann"])
    csrf = csrf_of(ann.get(f"/cases/{case_id}"))
    refused = ann.post(f"/cases/{case_id}/status", data={"csrf_token": csrf, "to": "waiting_on_customer"})
    assert refused.status_code == 409 and 'id="error"' in refused.text
    assert (
        "cannot become" in refused.text and "工单状态不能从" in refused.text and "操作未执行" in refused.text
    )
    empty = ann.post(f"/cases/{case_id}/comments?lang=en", data={"csrf_token": csrf, "body": "   "})
    assert empty.status_code == 409 and "Not done" in empty.text and "评论为空" in empty.text
    bad = ann.post(f"/cases/{case_id}/priority", data={"csrf_token": csrf, "priority": "whenever"})
    assert bad.status_code == 409 and "优先级无效" in bad.text
    with db() as session:
        case = session.get(Case, case_id)
        assert (case.status, case.priority) == ("closed", "normal")
    ann.close()


def test_html_in_feedback_and_comments_is_escaped(client, live_server, teams):
    case_id = open_case(client, '<script>alert("item")</script>', "logistics")
    ann = sign_in(live_server, teams["ann"])
    csrf = csrf_of(ann.get(f"/cases/{case_id}"))
    ann.post(
        f"/cases/{case_id}/comments", data={"csrf_token": csrf, "body": "<script>alert(2)</script><b>x</b>"}
    )
    for page in (ann.get(f"/cases/{case_id}").text, ann.get("/cases").text):
        assert "<script>alert" not in page and "<b>x</b>" not in page
        assert "&lt;script&gt;alert(" in page
    ann.close()


@pytest.mark.parametrize(
    ("delta", "lang", "expected"),
    [
        (timedelta(seconds=20), "zh", "刚刚"),
        (timedelta(minutes=5), "zh", "5 分钟后"),
        (timedelta(hours=-3, minutes=-10), "zh", "3 小时前"),
        (timedelta(hours=3), "en", "in 3 h"),
        (timedelta(days=-4), "en", "4 d ago"),
    ],
)
def test_relative_time(delta, lang, expected):
    assert relative_time(delta, lang) == expected


def test_duration_ignores_the_sign():
    assert duration(timedelta(days=-3), "zh") == duration(timedelta(days=3), "zh") == "3 天"


@pytest.mark.parametrize(
    ("state", "buttons"),
    [
        ("new", ["in_progress", "resolved", "closed"]),
        ("waiting_on_customer", ["in_progress", "resolved", "closed"]),
        ("resolved", ["in_progress", "closed"]),
        ("closed", ["in_progress"]),
    ],
)
def test_status_buttons_follow_the_transitions(state, buttons):
    assert status_buttons(Case(status=state)) == buttons
    assert set(buttons) <= TRANSITIONS[state]
