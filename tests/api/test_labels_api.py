"""Corrections of the analysis are stored as labels, newest per field wins, bad ones are refused."""

from __future__ import annotations

from closeloop.collect.labels import labelled_examples


def test_corrections_are_stored_as_labels(client, db):
    item_id = client.post(
        "/api/v1/feedback", json={"text": "快递三天才到，盒子也压扁了", "channel": "jd"}
    ).json()["ids"][0]
    first = client.post(
        f"/api/v1/feedback/{item_id}/labels",
        json={"sentiment": "negative", "categories": ["logistics"], "author": "analyst-1"},
    )
    assert first.status_code == 201, first.text
    second = client.post(
        f"/api/v1/feedback/{item_id}/labels",
        json={
            "categories": ["logistics", "packaging"],
            "aspects": ["packaging:negative"],
            "complaint": False,
        },
    )
    body = second.json()
    assert body["current"] == {
        "sentiment": "negative",
        "categories": "logistics;packaging",
        "aspects": "packaging:negative",
        "complaint": "false",
    }
    assert len(body["history"]) == 5
    assert client.get(f"/api/v1/feedback/{item_id}/labels").json()["current"] == body["current"]
    with db() as session:
        [example] = labelled_examples(session)
        assert (example.text, example.sentiment, example.categories) == (
            "快递三天才到，盒子也压扁了",
            "negative",
            "logistics;packaging",
        )


def test_bad_corrections_are_refused(client):
    item_id = client.post("/api/v1/feedback", json={"text": "还行", "channel": "jd"}).json()["ids"][0]
    url = f"/api/v1/feedback/{item_id}/labels"
    assert "sentiment" in client.post(url, json={"sentiment": "meh"}).json()["detail"]
    assert "aspects" in client.post(url, json={"aspects": ["price"]}).json()["detail"]
    assert "categories" in client.post(url, json={"categories": ["a;b"]}).json()["detail"]
    assert client.post(url, json={}).status_code == 422
    assert client.post("/api/v1/feedback/99999/labels", json={"sentiment": "positive"}).status_code == 404
