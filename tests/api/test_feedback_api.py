"""The feedback API: create one or a batch (atomic, idempotent), list with filters, get one."""

from __future__ import annotations

from sqlalchemy import func, select

from closeloop.store.models import Customer, Event, FeedbackItem


def count_items(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(FeedbackItem))


def item(text: str = "物流太慢了，等了一个星期", **extra):
    return {"text": text, "channel": "taobao", **extra}


def test_create_one_item_round_trips(client, db):
    body = item(
        external_id="TB-1",
        rating=2,
        created_at="2026-11-01T08:30:00+08:00",
        product="保温杯",
        order_id="O-9",
        customer={"external_id": "C-1", "name": "王女士", "tier": "gold"},
        metadata={"shop": "旗舰店"},
    )
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    [item_id] = response.json()["ids"]
    got = client.get(f"/api/v1/feedback/{item_id}")
    assert got.status_code == 200, got.text
    got = got.json()
    assert got["text"] == body["text"]
    assert got["channel"] == "taobao" and got["kind"] == "review" and got["direction"] == "indirect"
    assert got["rating"] == 2 and got["rating_scale"] == [1, 5]
    assert got["created_at"].startswith("2026-11-01T00:30:00")
    assert got["metadata"] == {"shop": "旗舰店"}
    with db() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.external_id, customer.name, customer.tier) == ("C-1", "王女士", "gold")
        assert session.scalars(select(FeedbackItem)).one().customer_id == customer.id
        event = session.scalars(select(Event)).one()
        assert event.type == "feedback.created" and event.payload == {"ids": [item_id]}


def test_reposting_the_same_item_does_not_duplicate(client, db):
    first = client.post("/api/v1/feedback", json=item(external_id="TB-7"))
    again = client.post("/api/v1/feedback", json=item(text="edited text", external_id="TB-7"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"imported": 0, "duplicates": 1, "ids": []}
    # Without an external id the content decides.
    client.post("/api/v1/feedback", json=item("同样的内容"))
    client.post("/api/v1/feedback", json=item("同样的内容"))
    assert count_items(db) == 2


def test_batch_is_written_whole_or_not_at_all(client, db):
    good = [item(f"第{i}条反馈", external_id=f"B-{i}") for i in range(5)]
    bad = [*good[:2], item("   "), *good[2:], item("x", rating=9)]
    response = client.post("/api/v1/feedback/batch", json={"items": bad})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {"loc": ["body", "items", 2, "text"], "msg": "empty text", "type": "value_error"} in detail
    assert any(d["loc"] == ["body", "items", 6, "rating"] and "off the 1–5 scale" in d["msg"] for d in detail)
    assert count_items(db) == 0
    response = client.post("/api/v1/feedback/batch", json={"items": good + good[:1]})
    assert response.status_code == 201
    assert response.json()["imported"] == 5 and response.json()["duplicates"] == 1
    assert count_items(db) == 5


def test_bad_inputs_say_what_and_where(client, settings):
    cases = [
        (item("x", channel="nowhere"), "channel", "unknown channel 'nowhere'"),
        (item("x" * (settings.max_text_chars + 1)), "text", "longer than"),
        (item("x", rating=0), "rating", "off the 1–5 scale"),
        (item("x", rating=11, rating_scale=[0, 10]), "rating", "off the 0–10 scale"),
        (item("x", kind="rumour"), "kind", "unknown kind"),
    ]
    for body, field, message in cases:
        response = client.post("/api/v1/feedback", json=body)
        assert response.status_code == 422, body
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", field] and message in error["msg"], error
    response = client.post(
        "/api/v1/feedback", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_list_filters_and_paginates(client):
    items = [
        item(
            "包装破损",
            external_id="1",
            product="杯子",
            rating=1,
            created_at="2026-10-01T00:00:00Z",
            customer={"external_id": "C-1"},
        ),
        item("很好用", external_id="2", product="杯子", rating=5, created_at="2026-10-05T00:00:00Z"),
        {"text": "客服态度差", "channel": "wechat", "external_id": "3", "created_at": "2026-10-09T00:00:00Z"},
        item(
            "Great value",
            external_id="4",
            product="Bottle",
            rating=4,
            language="en",
            created_at="2026-10-10T00:00:00Z",
        ),
    ]
    assert client.post("/api/v1/feedback/batch", json={"items": items}).status_code == 201

    def texts(**params):
        return [i["text"] for i in client.get("/api/v1/feedback", params=params).json()["items"]]

    assert texts() == ["Great value", "客服态度差", "很好用", "包装破损"]
    assert texts(channel="wechat") == ["客服态度差"]
    assert texts(kind="chat") == ["客服态度差"]
    assert texts(product="杯子") == ["很好用", "包装破损"]
    assert texts(rating_max=2) == ["包装破损"]
    assert texts(rating_min=4) == ["Great value", "很好用"]
    assert texts(since="2026-10-05T00:00:00Z", until="2026-10-10T00:00:00Z") == ["客服态度差", "很好用"]
    assert texts(customer="C-1") == ["包装破损"]
    assert texts(q="态度") == ["客服态度差"]
    assert texts(q="100%") == []
    assert texts(language="en") == ["Great value"]

    first = client.get("/api/v1/feedback", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = client.get("/api/v1/feedback", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [i["text"] for i in second["items"]] == ["包装破损"] and second["next_cursor"] is None
    assert client.get("/api/v1/feedback", params={"cursor": "garbage"}).status_code == 422


def test_unknown_item_is_404(client):
    response = client.get("/api/v1/feedback/999999")
    assert response.status_code == 404 and "999999" in response.json()["detail"]


def test_oversize_body_is_refused(client, settings):
    big = {
        "items": [item("x" * 1000, external_id=str(i)) for i in range(settings.max_body_bytes // 1000 + 10)]
    }
    response = client.post("/api/v1/feedback/batch", json=big)
    assert response.status_code == 413


def test_healthz_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/feedback",
        "/api/v1/feedback/batch",
        "/api/v1/feedback/{item_id}",
        "/api/v1/webhooks/{source}",
    ):
        assert path in spec["paths"]
