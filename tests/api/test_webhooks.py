"""Webhooks: signed deliveries are mapped and stored; bad signatures and replays are refused and logged."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from closeloop.collect.webhooks import add_source, sign
from closeloop.store.models import FeedbackItem, WebhookDelivery

SECRET = "s3cret-for-tests"


def register(db, **mapping):
    with db() as session:
        add_source(
            session,
            name="wecom",
            channel="wechat",
            mapping=mapping
            or {
                "text": "msg.content",
                "external_id": "msg.id",
                "customer_id": "from.openid",
                "customer_name": "from.nick",
                "created_at": "msg.time",
            },
            secret=SECRET,
        )
        session.commit()


def deliver(client, payload, *, secret=SECRET, timestamp=None, source="wecom"):
    body = json.dumps(payload, ensure_ascii=False).encode()
    ts = str(int(timestamp if timestamp is not None else time.time()))
    headers = {
        "X-Closeloop-Timestamp": ts,
        "X-Closeloop-Signature": sign(secret, ts, body),
        "Content-Type": "application/json",
    }
    return client.post(f"/api/v1/webhooks/{source}", content=body, headers=headers)


MESSAGE = {
    "msg": {"id": "m-1", "content": "你们的客服一直不回消息", "time": 1764000000},
    "from": {"openid": "o-42", "nick": "小李"},
    "room": "售后群",
}


def test_signed_delivery_is_mapped_and_stored(client, db):
    register(db)
    response = deliver(client, MESSAGE)
    assert response.status_code == 202, response.text
    assert response.json()["imported"] == 1
    with db() as session:
        stored = session.scalars(select(FeedbackItem)).one()
        assert (
            stored.text == "你们的客服一直不回消息" and stored.channel == "wechat" and stored.kind == "chat"
        )
        assert stored.external_id == "m-1" and stored.customer.external_id == "o-42"
        assert stored.customer.name == "小李"
        assert stored.meta == {"room": "售后群", "webhook_source": "wecom"}
        assert session.scalars(select(WebhookDelivery.status)).all() == ["accepted"]


def test_redelivery_is_idempotent_and_lists_work(client, db):
    register(db)
    assert deliver(client, MESSAGE).json()["imported"] == 1
    again = deliver(client, {"items": [MESSAGE, {**MESSAGE, "msg": {**MESSAGE["msg"], "id": "m-2"}}]})
    assert again.json()["imported"] == 1 and again.json()["duplicates"] == 1


def test_bad_signature_is_refused_and_logged(client, db):
    register(db)
    response = deliver(client, MESSAGE, secret="wrong")
    assert response.status_code == 401 and response.json()["detail"] == "bad signature"
    unsigned = client.post("/api/v1/webhooks/wecom", json=MESSAGE)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    with db() as session:
        assert session.scalars(select(FeedbackItem)).all() == []
        logged = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        assert (logged[0].status, logged[0].reason) == ("refused", "bad signature")
        assert len(logged) == 2


def test_replayed_delivery_is_refused(client, db):
    register(db)
    response = deliver(client, MESSAGE, timestamp=time.time() - 3600)
    assert response.status_code == 401 and "window" in response.json()["detail"]


def test_unknown_source_and_bad_payloads(client, db):
    register(db)
    assert deliver(client, MESSAGE, source="nobody").status_code == 404
    broken = deliver(client, {"msg": {"id": "m-9", "content": "  "}})
    assert broken.status_code == 422 and "item 0, field 'text': empty text" in broken.json()["detail"]
    body = b"{not json"
    ts = str(int(time.time()))
    response = client.post(
        "/api/v1/webhooks/wecom",
        content=body,
        headers={"X-Closeloop-Timestamp": ts, "X-Closeloop-Signature": sign(SECRET, ts, body)},
    )
    assert response.status_code == 422 and "malformed JSON" in response.json()["detail"]
    with db() as session:
        assert session.scalars(select(FeedbackItem)).all() == []
