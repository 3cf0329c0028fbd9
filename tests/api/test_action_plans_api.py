"""Action plans over HTTP: created for a theme with an owner and a team, moved planned → in_progress →
shipped, and their effect read back (figures checked by hand); who may change them; what is refused."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import select

from closeloop.store.models import ActionPlan, Analysis, AuditEntry, FeedbackItem, utcnow

_serial = itertools.count()


def _window(db, start: datetime, *, negative: int, positive: int, others: int) -> None:
    """28 days of feedback from ``start``: packaging items (negative or positive) and logistics items, each
    kind spread evenly over the window."""
    groups = [
        ("negative", -0.8, "packaging", negative),
        ("positive", 0.6, "packaging", positive),
        ("neutral", 0.1, "logistics", others),
    ]
    with db() as session:
        for sentiment, score, category, count in groups:
            for i in range(count):
                n = next(_serial)
                item = FeedbackItem(
                    channel="taobao",
                    kind="review",
                    direction="indirect",
                    dedupe_key=f"k{n}",
                    content_hash=f"{n:064d}",
                    text="包装破了" if sentiment == "negative" else "还行",
                    created_at=start + timedelta(seconds=(i + 0.5) * 28 * 86400 / count),
                )
                session.add(item)
                session.flush()
                session.add(
                    Analysis(
                        feedback_id=item.id,
                        model_version="v1",
                        sentiment=sentiment,
                        sentiment_score=score,
                        complaint=sentiment == "negative",
                        categories=[category],
                    )
                )
        session.commit()


def _audit(db) -> list[tuple[str, str | None]]:
    with db() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.target) for e in entries]


def test_a_plan_is_created_shipped_and_its_effect_read(client, db, make_account):
    make_account("analyst", email="lin@example.com")
    assert client.put("/api/v1/teams/packaging", json={"label_zh": "包装组"}).status_code == 200
    created = client.post(
        "/api/v1/action-plans",
        json={
            "title": "换包装供应商 / new packaging supplier",
            "description": "纸箱加厚",
            "theme": {"category": "packaging"},
            "owner": "lin@example.com",
            "team": "packaging",
        },
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["status"], plan["owner"], plan["team"], plan["shipped_at"]) == (
        "planned",
        "lin@example.com",
        "packaging",
        None,
    )
    assert plan["theme"] == {"category": "packaging"}
    plan_id = plan["id"]
    assert [p["id"] for p in client.get("/api/v1/action-plans").json()] == [plan_id]
    assert client.get("/api/v1/action-plans", params={"status": "shipped"}).json() == []
    assert client.get(f"/api/v1/action-plans/{plan_id}").json()["title"] == plan["title"]

    not_yet = client.get(f"/api/v1/action-plans/{plan_id}/effect")
    assert not_yet.status_code == 409 and "not shipped yet" in not_yet.json()["detail"]
    moved = client.patch(f"/api/v1/action-plans/{plan_id}", json={"status": "in_progress"})
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    back = client.patch(f"/api/v1/action-plans/{plan_id}", json={"status": "planned"})
    assert back.status_code == 409 and "cannot become planned" in back.json()["detail"]

    shipped_at = (utcnow() - timedelta(days=35)).replace(microsecond=0)
    shipped = client.patch(
        f"/api/v1/action-plans/{plan_id}", json={"status": "shipped", "shipped_at": shipped_at.isoformat()}
    )
    assert shipped.status_code == 200, shipped.text
    assert datetime.fromisoformat(shipped.json()["shipped_at"]) == shipped_at

    _window(db, shipped_at - timedelta(days=28), negative=30, positive=10, others=160)
    _window(db, shipped_at, negative=4, positive=16, others=180)
    response = client.get(f"/api/v1/action-plans/{plan_id}/effect")
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["before"]["items"], found["before"]["all_items"]) == (40, 200)
    assert (found["after"]["items"], found["after"]["all_items"]) == (20, 200)
    assert (found["before"]["negative_share"], found["after"]["negative_share"]) == (0.75, 0.2)
    assert (found["before"]["share"], found["after"]["share"]) == (0.2, 0.1)
    assert found["partial"] is False
    assert (found["verdict"], found["verdict_zh"], found["verdict_en"]) == ("improved", "已改善", "improved")
    assert found["tests"]["negative_share"]["significant"] and len(found["weekly"]) == 8

    # Fortnights each side: the later half of the before window (15 + 5), the first half after (2 + 8).
    short = client.get(f"/api/v1/action-plans/{plan_id}/effect", params={"window_days": 14}).json()
    assert (short["before"]["items"], short["before"]["negative"]) == (20, 15)
    assert (short["after"]["items"], short["after"]["negative"]) == (10, 2) and len(short["weekly"]) == 4
    assert client.get(f"/api/v1/action-plans/{plan_id}/effect", params={"window_days": 0}).status_code == 422

    with db() as session:
        stored = session.get(ActionPlan, plan_id)
        assert stored.status == "shipped" and stored.shipped_at == shipped_at
    assert [e for e in _audit(db) if e[0].startswith("action_plan.")] == [
        ("action_plan.created", f"action_plan:{plan_id}"),
        ("action_plan.updated", f"action_plan:{plan_id}"),  # → in_progress (the refused change is not)
        ("action_plan.updated", f"action_plan:{plan_id}"),  # → shipped
    ]


def test_a_past_change_is_recorded_as_shipped_and_fields_are_cleared_by_null(client, db):
    shipped_at = (utcnow() - timedelta(days=3)).replace(microsecond=0)
    created = client.post(
        "/api/v1/action-plans",
        json={
            "title": "漏水维修指南",
            "theme": {"query": "漏水", "topic": ["渗水", "漏水"], "channel": "taobao"},
            "status": "shipped",
            "shipped_at": shipped_at.isoformat(),
            "due_on": shipped_at.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["status"] == "shipped" and datetime.fromisoformat(plan["shipped_at"]) == shipped_at
    cleared = client.patch(f"/api/v1/action-plans/{plan['id']}", json={"due_on": None, "title": "漏水指南"})
    assert cleared.status_code == 200 and cleared.json()["due_on"] is None
    assert cleared.json()["title"] == "漏水指南" and cleared.json()["shipped_at"] == plan["shipped_at"]
    early = client.get(f"/api/v1/action-plans/{plan['id']}/effect").json()
    assert early["verdict"] == "no_clear_change" and early["after"]["partial"] is True
    assert "needs 7" in early["reasons"][0]["en"]
    with db() as session:
        assert session.scalars(select(ActionPlan.due_on)).one() is None


def test_bad_plans_are_refused_and_only_managers_change_plans(client, client_as, db):
    bad = {
        "no theme kind": {"title": "x", "theme": {"channel": "jd"}},
        "unknown theme key": {"title": "x", "theme": {"query": "漏水", "colour": "red"}},
        "empty title": {"title": "", "theme": {"query": "漏水"}},
        "unknown owner": {"title": "x", "theme": {"query": "漏水"}, "owner": "nobody@example.com"},
        "unknown team": {"title": "x", "theme": {"query": "漏水"}, "team": "nobody"},
        "dropped at birth": {"title": "x", "theme": {"query": "漏水"}, "status": "dropped"},
        "future ship date": {
            "title": "x",
            "theme": {"query": "漏水"},
            "status": "shipped",
            "shipped_at": (utcnow() + timedelta(days=2)).isoformat(),
        },
    }
    for case, body in bad.items():
        response = client.post("/api/v1/action-plans", json=body)
        assert response.status_code == 422, (case, response.text)
    refused = client.post("/api/v1/action-plans", json=bad["no theme kind"]).json()["detail"]
    assert "needs a category, a topic or a query" in refused and "主题须指定" in refused
    with db() as session:
        assert session.scalars(select(ActionPlan)).all() == []

    viewer, agent, analyst = client_as("viewer"), client_as("agent"), client_as("analyst")
    body = {"title": "客服话术培训", "theme": {"category": "service"}}
    assert viewer.post("/api/v1/action-plans", json=body).status_code == 403
    assert agent.post("/api/v1/action-plans", json=body).status_code == 403
    made = analyst.post("/api/v1/action-plans", json=body)
    assert made.status_code == 201
    plan_id = made.json()["id"]
    assert viewer.get(f"/api/v1/action-plans/{plan_id}").status_code == 200
    assert viewer.get(f"/api/v1/action-plans/{plan_id}/effect").status_code == 409
    assert viewer.patch(f"/api/v1/action-plans/{plan_id}", json={"status": "dropped"}).status_code == 403
    assert client.patch("/api/v1/action-plans/999999", json={"status": "dropped"}).status_code == 404
    assert client.get("/api/v1/action-plans/999999/effect").status_code == 404
    theme_bad = client.patch(f"/api/v1/action-plans/{plan_id}", json={"theme": {"query": " "}})
    assert theme_bad.status_code == 422
    dropped = analyst.patch(f"/api/v1/action-plans/{plan_id}", json={"status": "dropped"})
    assert dropped.status_code == 200 and dropped.json()["status"] == "dropped"
    assert client.patch(f"/api/v1/action-plans/{plan_id}", json={"status": "shipped"}).status_code == 409
    with db() as session:
        assert session.get(ActionPlan, plan_id).status == "dropped"
