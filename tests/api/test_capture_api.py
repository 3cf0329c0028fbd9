"""``/api/v1/capture``: staff log what a customer said; safe retries, explicit consent, no viewers."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from closeloop.store.models import Consent, Customer, FeedbackItem, User


def body(**changes) -> dict:
    values = {
        "client_id": "phone-7f3a9c21",
        "location": "上海南京路店",
        "topic": "complaint",
        "sentiment": "negative",
        "text": "试衣间太少，排了半小时",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def count(db, model) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(model))


def user_id_of(http: httpx.Client) -> int:
    return http.get("/api/v1/me").json()["id"]


def test_an_agent_captures_and_a_retry_returns_the_same_item(client_as, db):
    agent = client_as("agent")
    first = agent.post("/api/v1/capture", json=body())
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    retry = agent.post("/api/v1/capture", json=body())
    assert retry.status_code == 200, retry.text
    assert retry.json() == {"id": first.json()["id"], "created": False}
    assert count(db, FeedbackItem) == 1
    with db() as session:
        item = session.get(FeedbackItem, first.json()["id"])
        assert item.channel == "frontline" and item.kind == "complaint"
        assert item.text == "试衣间太少，排了半小时"
        assert item.meta["location"] == "上海南京路店" and item.meta["topic"] == "complaint"
        assert item.meta["staff_sentiment"] == "negative"
        assert item.meta["captured_by"] == user_id_of(agent)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"topic": None}, "topic"),  # missing
        ({"topic": "rant"}, "topic"),
        ({"sentiment": "😡"}, "sentiment"),
        ({"location": ""}, "location"),
        ({"text": " "}, "text"),
        ({"client_id": "x"}, "client_id"),
        ({"contact": "13812345678"}, "consent"),
        ({"contact": "nobody", "consent": True}, "contact"),
        ({"consent": "maybe"}, "consent"),
    ],
)
def test_validation_errors_name_the_field(client_as, db, changes, field):
    response = client_as("agent").post("/api/v1/capture", json=body(**changes))
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert count(db, FeedbackItem) == 0 and count(db, Customer) == 0


def test_consent_is_recorded_only_when_ticked(client_as, db):
    agent = client_as("agent")
    ticked = agent.post(
        "/api/v1/capture",
        json=body(client_id="with-consent-1", contact="li.lei@example.com", consent=True),
    )
    assert ticked.status_code == 201, ticked.text
    unticked = agent.post("/api/v1/capture", json=body(client_id="no-consent-1", consent=False))
    assert unticked.status_code == 201, unticked.text
    with db() as session:
        (consent,) = session.scalars(select(Consent)).all()
        assert (consent.purpose, consent.granted, consent.source) == ("follow_up", True, "frontline")
        customer = session.get(Customer, consent.customer_id)
        assert customer.email == "li.lei@example.com"
        assert session.get(FeedbackItem, ticked.json()["id"]).customer_id == customer.id
        assert session.get(FeedbackItem, unticked.json()["id"]).customer_id is None


def test_personal_data_in_the_text_is_redacted(client_as):
    agent = client_as("agent")
    created = agent.post("/api/v1/capture", json=body(text="顾客留了电话 13812345678，希望店长回电"))
    assert created.status_code == 201, created.text
    shown = agent.get(f"/api/v1/feedback/{created.json()['id']}").json()
    assert "13812345678" not in shown["text"] and "mobile" in shown["pii_redacted"]


def test_recent_lists_only_the_callers_captures(client_as):
    agent, analyst = client_as("agent"), client_as("analyst")
    for n in range(3):
        sentiment = ("negative", "neutral", "positive")[n]
        assert agent.post(
            "/api/v1/capture", json=body(client_id=f"agent-{n:04d}", sentiment=sentiment)
        ).is_success
    assert analyst.post("/api/v1/capture", json=body(client_id="analyst-0001")).status_code == 201
    recent = agent.get("/api/v1/capture/recent", params={"limit": 2})
    assert recent.status_code == 200, recent.text
    assert [r["sentiment"] for r in recent.json()] == ["positive", "neutral"]
    assert all(r["location"] == "上海南京路店" and r["topic"] == "complaint" for r in recent.json())
    assert [r["sentiment"] for r in analyst.get("/api/v1/capture/recent").json()] == ["negative"]


def test_a_viewer_cannot_capture_and_strangers_must_sign_in(client_as, db):
    viewer = client_as("viewer")
    assert viewer.post("/api/v1/capture", json=body()).status_code == 403
    assert viewer.get("/api/v1/capture/recent").status_code == 403
    assert client_as(None).post("/api/v1/capture", json=body()).status_code == 401
    assert count(db, FeedbackItem) == 0


def test_a_token_scoped_to_capture_can_capture_and_nothing_else(client_as, live_server, db):
    agent = client_as("agent")
    created = agent.post("/api/v1/tokens", json={"name": "shop phone", "scopes": ["feedback:capture"]})
    assert created.status_code == 201, created.text
    phone = httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {created.json()['token']}"})
    with phone:
        assert phone.post("/api/v1/capture", json=body()).status_code == 201
        assert phone.get("/api/v1/feedback").status_code == 403
    with db() as session:
        (user,) = session.scalars(select(User).where(User.role == "agent")).all()
        assert session.scalars(select(FeedbackItem)).one().meta["captured_by"] == user.id


def test_configured_locations_are_enforced(serve, settings, make_account):
    stores = settings.model_copy(update={"capture_locations": "SH01=上海南京路店,BJ02=北京三里屯店"})
    with (
        serve(stores) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {make_account('agent')}"}) as agent,
    ):
        unknown = agent.post("/api/v1/capture", json=body(location="上海南京路店"))
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "location"]
        assert "SH01" in unknown.json()["detail"][0]["msg"]
        known = agent.post("/api/v1/capture", json=body(location="BJ02"))
        assert known.status_code == 201, known.text
        (recent,) = agent.get("/api/v1/capture/recent").json()
        assert (recent["location"], recent["location_name"]) == ("BJ02", "北京三里屯店")
