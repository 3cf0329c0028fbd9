"""Cases over HTTP: opened for a team, assigned within it, worked through their states with a history;
an agent sees and works only its own team's cases; SLA breaches are found with a controllable clock."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from closeloop.act.cases import detect_breaches
from closeloop.store.models import Case, utcnow


def _item(client, text: str) -> int:
    response = client.post("/api/v1/feedback", json={"channel": "jd", "text": text})
    assert response.status_code == 201, response.text
    return response.json()["ids"][0]


def _as(live_server: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_cases_are_assigned_within_the_team_and_agents_see_only_their_team(client, live_server, make_account):
    assert (
        client.put(
            "/api/v1/teams/logistics", json={"label_zh": "物流部", "label_en": "Logistics"}
        ).status_code
        == 200
    )
    client.put("/api/v1/teams/service", json={"label_zh": "客服部", "assignment": "round_robin"})
    ann = _as(live_server, make_account("agent", email="ann@example.com", team="logistics"))
    bob = _as(live_server, make_account("agent", email="bob@example.com", team="logistics"))
    sue = _as(live_server, make_account("agent", email="sue@example.com", team="service"))
    viewer = _as(live_server, make_account("viewer"))
    teams = {t["name"]: t for t in client.get("/api/v1/teams").json()}
    assert teams["logistics"]["members"] == ["ann@example.com", "bob@example.com"]

    first = client.post(
        "/api/v1/cases",
        json={
            "feedback_ids": [_item(client, "快递丢件了")],
            "team": "logistics",
            "priority": "urgent",
            "first_response_hours": 4,
        },
    )
    assert first.status_code == 201, first.text
    case = first.json()
    assert (case["status"], case["assignee"], case["priority"]) == ("assigned", "ann@example.com", "urgent")
    assert case["first_response_due"] is not None and case["items"][0]["text"] == "快递丢件了"
    second = client.post(
        "/api/v1/cases", json={"feedback_ids": [_item(client, "物流太慢")], "team": "logistics"}
    )
    assert second.json()["assignee"] == "bob@example.com"  # least loaded
    again = client.post(
        "/api/v1/cases",
        json={"feedback_ids": case["items"][0]["id"] and [case["items"][0]["id"]], "team": "logistics"},
    )
    assert again.status_code == 409  # an item is in one case at most
    service_case = client.post(
        "/api/v1/cases", json={"feedback_ids": [_item(client, "客服不理人")], "team": "service"}
    )

    assert {c["id"] for c in sue.get("/api/v1/cases").json()} == {service_case.json()["id"]}
    assert sue.get(f"/api/v1/cases/{case['id']}").status_code == 404
    assert sue.patch(f"/api/v1/cases/{case['id']}", json={"status": "in_progress"}).status_code == 404
    assert sue.post(f"/api/v1/cases/{case['id']}/comments", json={"body": "偷看"}).status_code == 404
    assert {c["team"] for c in ann.get("/api/v1/cases").json()} == {"logistics"}
    assert len(viewer.get("/api/v1/cases").json()) == 3
    assert viewer.patch(f"/api/v1/cases/{case['id']}", json={"status": "in_progress"}).status_code == 403
    assert ann.post("/api/v1/cases", json={"feedback_ids": [1], "team": "logistics"}).status_code == 403
    moved = ann.patch(f"/api/v1/cases/{case['id']}", json={"team": "service"})
    assert moved.status_code == 403  # moving between teams is for managers
    for http in (ann, bob, sue, viewer):
        http.close()


def test_a_case_is_worked_through_its_states_with_a_history(client, live_server, make_account):
    client.put("/api/v1/teams/logistics", json={"assignment": "manual"})
    ann = _as(live_server, make_account("agent", email="ann2@example.com", team="logistics"))
    case = client.post(
        "/api/v1/cases", json={"feedback_ids": [_item(client, "包裹破损")], "team": "logistics"}
    ).json()
    assert (case["status"], case["assignee"]) == ("new", None)  # manual assignment: waits in the queue
    url = f"/api/v1/cases/{case['id']}"
    taken = ann.post(f"{url}/take").json()
    assert (taken["status"], taken["assignee"]) == ("assigned", "ann2@example.com")
    ann.post(f"{url}/comments", json={"body": "已联系快递公司核实"})
    assert ann.get(url).json()["first_responded_at"] is None  # an internal note is not a response
    replied = ann.post(f"{url}/comments", json={"body": "您好，我们已安排补发。", "internal": False}).json()
    assert replied["first_responded_at"] is not None
    for state in ("in_progress", "waiting_on_customer", "resolved"):
        assert ann.patch(url, json={"status": state}).status_code == 200
    closed = ann.patch(url, json={"status": "closed", "note": "客户确认收到"}).json()
    assert closed["status"] == "closed" and closed["resolved_at"] is not None
    refused = ann.patch(url, json={"status": "waiting_on_customer"})
    assert refused.status_code == 409 and "cannot become" in refused.json()["detail"]
    reopened = ann.patch(url, json={"status": "in_progress"}).json()
    assert reopened["reopened"] == 1 and reopened["resolved_at"] is None
    kinds = [e["kind"] for e in reopened["events"]]
    assert kinds == [
        "created",
        "assigned",
        "comment",
        "reply",
        "status",
        "status",
        "status",
        "status",
        "status",
    ]
    assert reopened["events"][-2]["body"] == "客户确认收到"
    ann.close()


def test_sla_breaches_are_found_once_with_a_controllable_clock(client, db):
    created = client.post(
        "/api/v1/cases",
        json={
            "feedback_ids": [_item(client, "退款一直没到账")],
            "team": "finance",
            "first_response_hours": 4,
            "resolve_hours": 72,
        },
    ).json()
    start = utcnow()
    with db() as session:
        assert detect_breaches(session, start + timedelta(hours=3)) == []
        assert detect_breaches(session, start + timedelta(hours=5)) == [(created["id"], "first_response")]
        assert detect_breaches(session, start + timedelta(hours=6)) == []  # reported once
        assert detect_breaches(session, start + timedelta(hours=73)) == [(created["id"], "resolve")]
        session.commit()
        case = session.scalars(select(Case)).one()
        assert case.first_response_breached_at is not None
    breached = client.get("/api/v1/cases", params={"breached": "true"}).json()
    assert [c["id"] for c in breached] == [created["id"]] and breached[0]["first_response_breached"] is True
