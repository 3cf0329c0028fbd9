"""``/api/v1/insight``: the dashboard's JSON over real HTTP — figures, drill-down, corrections, filters."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from closeloop.store.models import Analysis

WINDOW = {"since": "2026-09-07", "until": "2026-09-20"}  # two Shanghai weeks, the 20th included


def post_item(client, **fields) -> int:
    response = client.post("/api/v1/feedback", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["ids"][0]


def analyse(db: sessionmaker[Session], item_id: int, sentiment: str, categories=(), complaint=False) -> None:
    with db() as session:
        session.add(
            Analysis(
                feedback_id=item_id,
                model_version="test-1",
                sentiment=sentiment,
                complaint=complaint,
                categories=list(categories),
                aspects=[{"category": c, "polarity": sentiment} for c in categories],
            )
        )
        session.commit()


def seed(client, db) -> dict[str, int]:
    """Four reviews and two NPS answers over two weeks; returns ids by name."""
    ids = {
        "late_box": post_item(
            client,
            text="箱子压坏了，快递也慢",
            channel="taobao",
            created_at="2026-09-08T10:00:00+08:00",
            product="ZY-CW11",
            customer={"external_id": "C-1", "tier": "gold", "region": "上海"},
        ),
        "good": post_item(client, text="很好用", channel="jd", created_at="2026-09-09T10:00:00+08:00"),
        "broken": post_item(
            client,
            text="包装破了 the box was broken",
            channel="taobao",
            created_at="2026-09-15T10:00:00+08:00",
        ),
        "fine": post_item(client, text="还行", channel="jd", created_at="2026-09-16T10:00:00+08:00"),
        "promoter": post_item(
            client,
            text="会推荐给朋友",
            channel="survey",
            kind="survey_answer",
            rating=9,
            rating_scale=[0, 10],
            metadata={"question_type": "nps"},
            created_at="2026-09-17T10:00:00+08:00",
        ),
        "detractor": post_item(
            client,
            text="不会推荐",
            channel="survey",
            kind="survey_answer",
            rating=2,
            rating_scale=[0, 10],
            metadata={"question_type": "nps"},
            created_at="2026-09-18T10:00:00+08:00",
        ),
    }
    analyse(db, ids["late_box"], "negative", ["packaging", "logistics"], complaint=True)
    analyse(db, ids["good"], "positive", ["product_quality"])
    analyse(db, ids["broken"], "negative", ["product_quality"], complaint=True)
    analyse(db, ids["fine"], "neutral")
    analyse(db, ids["promoter"], "positive")
    analyse(db, ids["detractor"], "negative")
    return ids


def test_overview_over_http(client, db):
    seed(client, db)
    response = client.get("/api/v1/insight/overview", params={**WINDOW, "granularity": "week"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["periods"] == ["2026-09-07", "2026-09-14"]
    assert body["series"]["volume"] == [2, 4]
    assert body["series"]["negative"] == [1, 2]
    assert body["series"]["nps"] == [None, 0.0]
    assert body["totals"] == {
        "volume": 6,
        "negative_share": 0.5,
        "complaint_rate": 0.3333,
        "nps": 0.0,
        "csat": None,
        "analysed": 6,
    }
    assert body["previous"]["volume"] == 0 and body["change"]["negative_share"] is None
    assert body["filters"]["until"] == "2026-09-21T00:00:00+08:00"
    assert [c["id"] for c in body["categories"]] == ["product_quality", "logistics", "packaging"]
    assert body["categories"][0]["name_zh"] and body["categories"][0]["series"] == [1, 1]


def test_repeated_filters_and_segments(client, db):
    seed(client, db)
    overview = client.get("/api/v1/insight/overview", params={**WINDOW, "channel": ["jd", "survey"]}).json()
    assert overview["totals"]["volume"] == 4 and overview["filters"]["channel"] == ["jd", "survey"]
    packaging = client.get(
        "/api/v1/insight/overview", params={**WINDOW, "category": ["packaging", "logistics"]}
    )
    assert packaging.json()["totals"]["volume"] == 1
    tiers = client.get("/api/v1/insight/segments", params={**WINDOW, "by": "tier"}).json()
    assert tiers[0] == {
        "segment": None,
        "volume": 5,
        "negative_share": 0.4,
        "complaint_rate": 0.2,
        "nps": 0.0,
        "csat": None,
        "analysed": 5,
    }
    assert tiers[1]["segment"] == "gold" and tiers[1]["complaint_rate"] == 1.0
    regions = client.get("/api/v1/insight/segments", params={**WINDOW, "by": "region", "tier": "gold"})
    assert [row["segment"] for row in regions.json()] == ["上海"]


def test_drill_down_then_correct_a_category_and_see_the_chart_change(client, db):
    ids = seed(client, db)
    params = {**WINDOW, "granularity": "week", "category": "product_quality"}
    drill = client.get("/api/v1/insight/verbatims", params={**params, "period": "2026-09-14"})
    assert drill.status_code == 200, drill.text
    page = drill.json()
    assert page["total"] == 1 and page["next_cursor"] is None
    (item,) = page["items"]
    assert item["id"] == ids["broken"] and item["text"].startswith("包装破了")
    assert item["analysis"]["categories"] == ["product_quality"]
    assert item["effective"]["categories"] == ["product_quality"] and item["effective"]["corrected"] == []

    corrected = client.post(f"/api/v1/feedback/{ids['broken']}/labels", json={"categories": ["packaging"]})
    assert corrected.status_code == 201, corrected.text

    after = client.get("/api/v1/insight/overview", params={**WINDOW, "granularity": "week"}).json()
    by_id = {c["id"]: c for c in after["categories"]}
    assert by_id["packaging"]["series"] == [1, 1]
    assert by_id["product_quality"]["series"] == [1, 0]
    again = client.get("/api/v1/insight/verbatims", params={**params, "period": "2026-09-14"}).json()
    assert again["total"] == 0 and again["items"] == []
    moved = client.get(
        "/api/v1/insight/verbatims", params={**WINDOW, "category": "packaging", "period": "2026-09-14"}
    ).json()
    assert [i["id"] for i in moved["items"]] == [ids["broken"]]
    assert moved["items"][0]["effective"] == {
        "sentiment": "negative",
        "complaint": True,
        "categories": ["packaging"],
        "aspects": [{"category": "product_quality", "polarity": "negative"}],
        "corrected": ["categories"],
    }


def test_verbatims_paginate_newest_first(client, db):
    ids = seed(client, db)
    seen, cursor = [], None
    for _ in range(5):
        params = {**WINDOW, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/insight/verbatims", params=params).json()
        assert page["total"] == 6
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[n] for n in ("detractor", "promoter", "fine", "broken", "good", "late_box")]


def test_aspects_heat_map_by_product(client, db):
    seed(client, db)
    body = client.get("/api/v1/insight/aspects", params={**WINDOW, "by": "product"}).json()
    assert body["columns"][0] == "ZY-CW11"
    row = body["rows"].index("packaging")
    assert body["cells"][row][0] == {"positive": 0, "negative": 1, "neutral": 0, "score": -1.0}
    weekly = client.get("/api/v1/insight/aspects", params={**WINDOW, "by": "period"}).json()
    assert weekly["columns"] == ["2026-09-07", "2026-09-14"] and len(weekly["cells"]) == len(weekly["rows"])


def test_bad_parameters_are_422(client):
    bad = [
        ("/api/v1/insight/overview", {"since": "last week"}),
        ("/api/v1/insight/overview", {"since": "2026-09-20", "until": "2026-09-01"}),
        ("/api/v1/insight/overview", {"granularity": "hour"}),
        ("/api/v1/insight/overview", {"sentiment": "angry"}),
        ("/api/v1/insight/verbatims", {"period": "September"}),
        ("/api/v1/insight/verbatims", {"cursor": "not-a-cursor"}),
        ("/api/v1/insight/segments", {"by": "gender"}),
        ("/api/v1/insight/aspects", {"by": "channel"}),
    ]
    for path, params in bad:
        response = client.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)


def test_viewers_may_read_the_dashboard_and_anonymous_may_not(client_as):
    assert client_as("viewer").get("/api/v1/insight/overview").status_code == 200
    assert client_as(None).get("/api/v1/insight/segments").status_code == 401
