"""Surveys through the API: definitions as YAML or JSON, invitation rules, customer events, scores checked
against hand-computed figures, and the A/B test with its "no winner yet"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from closeloop.ask.definitions import EXAMPLES_DIR
from closeloop.ask.service import load, save_answers, start_response
from closeloop.collect.customers import upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.store.models import AuditEntry, CustomerEvent, Invitation

NPS_YAML = (EXAMPLES_DIR / "post_purchase_nps.yaml").read_text(encoding="utf-8")
CSAT = {
    "id": "support-csat",
    "title": {"zh": "服务满意度", "en": "Support satisfaction"},
    "questions": [
        {"id": "csat", "type": "csat", "required": True, "text": {"zh": "满意吗？", "en": "Satisfied?"}}
    ],
}


def test_surveys_are_defined_in_yaml_or_json_by_analysts(client_as, db):
    analyst = client_as("analyst")
    created = analyst.post("/api/v1/surveys", content=NPS_YAML, headers={"content-type": "application/yaml"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "post-purchase-nps" and created.json()["revision"] == 1
    assert analyst.post("/api/v1/surveys", json=CSAT).status_code == 201
    again = analyst.post("/api/v1/surveys", json={**CSAT, "title": {"zh": "客服满意度"}})
    assert again.json()["revision"] == 2
    assert client_as("viewer").post("/api/v1/surveys", json=CSAT).status_code == 403

    bad = analyst.post(
        "/api/v1/surveys",
        json={
            **CSAT,
            "questions": [
                *CSAT["questions"],
                {
                    "id": "x",
                    "type": "text",
                    "text": "为什么",
                    "show_if": {"question": "q9", "op": "<=", "value": 3},
                },
            ],
        },
    )
    assert bad.status_code == 422 and any("q9" in problem for problem in bad.json()["detail"])
    assert (
        analyst.post(
            "/api/v1/surveys", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )

    listed = {s["id"]: s for s in client_as("viewer").get("/api/v1/surveys").json()}
    assert set(listed) == {"post-purchase-nps", "support-csat"}
    closed = analyst.patch("/api/v1/surveys/support-csat", json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert analyst.get("/api/v1/surveys/nope").status_code == 404
    with db() as session:
        actions = {e.action for e in session.query(AuditEntry)}
    assert {"survey.saved", "survey.status_changed"} <= actions


def test_rules_and_events(client, db):
    client.post("/api/v1/surveys", content=NPS_YAML, headers={"content-type": "application/yaml"})
    rule = {
        "id": "after_order",
        "survey_id": "post-purchase-nps",
        "event_type": "order_completed",
        "delay": "7-15d",
        "reminder_after": "3d",
        "max_per_customer_days": 30,
    }
    assert client.post("/api/v1/invitation-rules", json=rule).status_code == 201
    bad = client.post("/api/v1/invitation-rules", json={**rule, "id": "r2", "delay": "15-7d"})
    assert bad.status_code == 422 and "delay" in bad.json()["detail"]
    assert [r["id"] for r in client.get("/api/v1/invitation-rules").json()] == ["after_order"]
    events = {
        "events": [
            {
                "external_id": "o-1",
                "type": "order_completed",
                "occurred_at": "2026-11-20T10:00:00+08:00",
                "customer": {"external_id": "C-1", "email": "a@example.com"},
            },
            {
                "external_id": "o-2",
                "type": "order_completed",
                "occurred_at": "2026-11-21T10:00:00+08:00",
                "customer": {"external_id": "C-2"},
            },
        ]
    }
    assert client.post("/api/v1/events", json=events).json() == {"stored": 2, "duplicates": 0}
    assert client.post("/api/v1/events", json=events).json() == {"stored": 0, "duplicates": 2}
    with db() as session:
        assert session.query(CustomerEvent).count() == 2


def _answer(
    db, survey_id: str, score: int, *, tier: str, question: str = "nps", variant: str | None = None
) -> None:
    with db() as session:
        loaded = load(session, survey_id)
        customer = upsert_customer(session, CustomerRef(external_id=f"{tier}-{score}-{variant}", tier=tier))
        response = start_response(session, loaded, customer=customer)
        if variant:
            response.variant = variant
        save_answers(session, response, {question: score}, finish=True)
        session.commit()


def test_scores_match_hand_computed_figures(client, db):
    client.post("/api/v1/surveys", content=NPS_YAML, headers={"content-type": "application/yaml"})
    client.post("/api/v1/surveys", json=CSAT)
    # NPS: 10, 9 promoters; 8, 7 passives; 6, 3, 0 detractors → (2 − 3) / 7 = −14.29
    for score, tier in [
        (10, "gold"),
        (9, "gold"),
        (8, "gold"),
        (7, "silver"),
        (6, "silver"),
        (3, "silver"),
        (0, "silver"),
    ]:
        _answer(db, "post-purchase-nps", score, tier=tier)
    found = client.get("/api/v1/surveys/post-purchase-nps/results", params={"group_by": "tier"}).json()
    overall = found["questions"]["nps"]["overall"]
    assert (overall["promoters"], overall["passives"], overall["detractors"], overall["responses"]) == (
        2,
        1 + 1,
        3,
        7,
    )
    assert round(overall["value"], 2) == -14.29
    gold, silver = found["questions"]["nps"]["groups"]["gold"], found["questions"]["nps"]["groups"]["silver"]
    assert round(gold["value"], 2) == round((2 - 0) / 3 * 100, 2)  # 66.67
    assert silver["value"] == -75.0  # (0 − 3) / 4
    assert found["responses"] == {"started": 7, "completed": 7}
    # CSAT: 5, 4, 2, 1 → 2 of 4 satisfied = 50 %, mean 3.0
    for score in (5, 4, 2, 1):
        _answer(db, "support-csat", score, tier="x", question="csat")
    csat = client.get("/api/v1/surveys/support-csat/results").json()["questions"]["csat"]["overall"]
    assert (csat["value"], csat["mean"], csat["responses"]) == (50.0, 3.0, 4)


def test_ab_test_says_no_winner_until_the_data_does(client, db):
    client.post("/api/v1/surveys", content=NPS_YAML, headers={"content-type": "application/yaml"})
    with db() as session:
        customer = upsert_customer(session, CustomerRef(external_id="ab"))
        event = CustomerEvent(
            external_id="e",
            type="order_completed",
            customer_id=customer.id,
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        session.add(event)
        session.flush()
        sent = datetime(2026, 1, 8, tzinfo=UTC)

        def invitations(variant: str, answered: int, total: int, offset: int) -> None:
            for n in range(total):
                session.add(
                    Invitation(
                        key=f"invite:r:{offset + n}",
                        rule_id="r",
                        survey_id="post-purchase-nps",
                        event_id=event.id,
                        customer_id=customer.id,
                        variant=variant,
                        token=f"t{offset + n}",
                        status="sent",
                        due_at=sent,
                        sent_at=sent,
                        answered_at=sent + timedelta(hours=1) if n < answered else None,
                    )
                )

        invitations("full", 3, 10, 0)
        invitations("short", 5, 10, 100)
        session.commit()
    early = client.get("/api/v1/surveys/post-purchase-nps/experiment").json()
    assert early["response_rate"]["winner"] is None  # 10 each: too few to say
    with db() as session:
        session.query(Invitation).delete()
        session.commit()
        event_id = session.query(CustomerEvent.id).scalar()
        customer_id = session.query(CustomerEvent.customer_id).scalar()
        for variant, answered, offset in (("full", 30, 0), ("short", 45, 1000)):
            for n in range(100):
                session.add(
                    Invitation(
                        key=f"invite:r:{offset + n}",
                        rule_id="r",
                        survey_id="post-purchase-nps",
                        event_id=event_id,
                        customer_id=customer_id,
                        variant=variant,
                        token=f"t{offset + n}",
                        status="sent",
                        due_at=sent,
                        sent_at=sent,
                        answered_at=sent if n < answered else None,
                    )
                )
        session.commit()
    # 30/100 vs 45/100: pooled z = 2.1909, two-sided p = 0.0285 < 0.05 → "short" answers more often.
    result = client.get("/api/v1/surveys/post-purchase-nps/experiment").json()["response_rate"]
    assert result["winner"] == "short" and round(result["p_value"], 4) == 0.0285
    rates = {r["variant"]: r for r in result["rates"]}
    assert rates["short"]["rate"] == 0.45 and rates["full"]["ci_low"] < 0.30 < rates["full"]["ci_high"]
