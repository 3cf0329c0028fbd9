"""Routing in the store: analysed feedback that matches a rule becomes a case for the right team with the
right SLA; rules are replaced as YAML through the API; a dry run shows what a rule would match."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from closeloop.jobs.analysis import active_engine, analyse_items
from closeloop.jobs.events import process_pending
from closeloop.store.models import Case, CaseItem

RULES = """
rules:
  - id: vip-logistics-complaint
    name: {zh: 高价值客户物流投诉, en: Logistics complaint from a high-value customer}
    when: {categories_any: [logistics], sentiment: [negative], complaint: true, min_lifetime_value: 5000}
    then: {team: logistics, priority: urgent, sla: {first_response: 4h, resolve: 2d}, tags: [vip]}
  - id: negative-any
    name: 差评
    when: {sentiment: [negative]}
    then: {team: service, priority: normal, sla: {first_response: 1d}}
"""


def test_matching_feedback_becomes_a_case_for_the_right_team_with_its_sla(client, client_as, db):
    refused = client_as("agent").put(
        "/api/v1/routing-rules", content=RULES, headers={"content-type": "application/yaml"}
    )
    assert refused.status_code == 403
    saved = client.put("/api/v1/routing-rules", content=RULES, headers={"content-type": "application/yaml"})
    assert saved.status_code == 200, saved.text
    assert [r["id"] for r in client.get("/api/v1/routing-rules").json()["rules"]] == [
        "vip-logistics-complaint",
        "negative-any",
    ]
    bad = client.put(
        "/api/v1/routing-rules",
        json={
            "rules": [{"id": "x", "name": "x", "when": {"categories_any": ["nope"]}, "then": {"team": "t"}}]
        },
    )
    assert bad.status_code == 422 and any("nope" in p for p in bad.json()["detail"])

    client.put("/api/v1/customers/VIP-1", json={"external_id": "VIP-1", "lifetime_value": 12000})
    client.put("/api/v1/customers/NEW-1", json={"external_id": "NEW-1", "lifetime_value": 100})
    posted = {}
    for key, text, customer in [
        ("vip", "快递三天都没到，我要退款，太差了", "VIP-1"),
        ("small", "快递三天都没到，我要退款，太差了！", "NEW-1"),
        ("happy", "东西很好，很满意", "VIP-1"),
    ]:
        body = {"channel": "taobao", "text": text, "customer": {"external_id": customer}}
        posted[key] = client.post("/api/v1/feedback", json=body).json()["ids"][0]
    analyse_items(db, list(posted.values()), active_engine())
    assert process_pending(db) >= 1  # the feedback.analysed event routes them

    with db() as session:
        cases = {
            item_id: case
            for item_id, case in session.execute(
                select(CaseItem.feedback_id, Case).join(Case, Case.id == CaseItem.case_id)
            )
        }
    vip = cases[posted["vip"]]
    assert (vip.team, vip.priority, vip.routing_rule_id, vip.tags) == (
        "logistics",
        "urgent",
        "vip-logistics-complaint",
        ["vip"],
    )
    assert vip.first_response_due - vip.created_at <= timedelta(hours=4, seconds=5)
    assert vip.resolve_due - vip.first_response_due == timedelta(days=2) - timedelta(hours=4)
    assert cases[posted["small"]].team == "service"  # not high-value: the next rule
    assert posted["happy"] not in cases

    # Re-analysis does not open a second case for the same item.
    analyse_items(db, list(posted.values()), active_engine().__class__.load(None, fast=True))
    process_pending(db)
    with db() as session:
        assert len(session.scalars(select(Case)).all()) == 2

    dry = client.post(
        "/api/v1/routing-rules/dry-run",
        json={
            "rule": {
                "id": "all-taobao",
                "name": "淘宝",
                "when": {"channels": ["taobao"]},
                "then": {"team": "ecommerce"},
            }
        },
    )
    assert dry.status_code == 200
    found = dry.json()
    # Items already in a case are not routed again: only the happy one is examined, and it matches.
    assert (found["examined"], found["matched_ids"], found["by_team"]) == (
        1,
        [posted["happy"]],
        {"ecommerce": 1},
    )
