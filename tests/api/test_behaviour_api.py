"""``/api/v1/insight/behaviour`` and ``/api/v1/insight/at-risk`` over real HTTP: JSON, paging, CSV and
Excel downloads that match the JSON, the audit of at-risk exports.

Story (Asia/Shanghai times), events sent through ``POST /api/v1/events``:
    C-1 gold    orders 09-03 100 CNY, 09-06 60 CNY; uses "scan" 09-05; complains 09-10 (negative)
    C-2 silver  uses "export" 09-06 and 09-07; negative feedback 09-12 and a negative NPS 3 on 09-20,
                never a complaint
"""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.api.behaviour import column_name
from closeloop.insight.behaviour import RISK_COLUMNS
from closeloop.store.models import Analysis, AuditEntry

WINDOW = {"since": "2026-09-01", "until": "2026-09-30"}


def post_item(client, **fields) -> int:
    response = client.post("/api/v1/feedback", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["ids"][0]


def analyse(db: sessionmaker[Session], item_id: int, sentiment: str, complaint: bool = False) -> None:
    with db() as session:
        session.add(
            Analysis(feedback_id=item_id, model_version="t", sentiment=sentiment, complaint=complaint)
        )
        session.commit()


def seed(client, db) -> None:
    one = {"external_id": "C-1", "tier": "gold"}
    two = {"external_id": "C-2", "tier": "silver"}
    events = [
        ("o-1", "order_completed", one, "2026-09-03T10:00:00+08:00", {"amount": 100, "currency": "CNY"}),
        ("o-2", "order_completed", one, "2026-09-06T10:00:00+08:00", {"amount": 60}),
        ("u-1", "feature_used", one, "2026-09-05T10:00:00+08:00", {"feature": "scan"}),
        ("u-2", "feature_used", two, "2026-09-06T10:00:00+08:00", {"feature": "export"}),
        ("u-3", "feature_used", two, "2026-09-07T10:00:00+08:00", {"feature": "export"}),
    ]
    body = {
        "events": [
            {"external_id": e, "type": t, "customer": c, "occurred_at": when, "payload": p}
            for e, t, c, when, p in events
        ]
    }
    response = client.post("/api/v1/events", json=body)
    assert response.status_code == 201 and response.json() == {"stored": 5, "duplicates": 0}
    complaint = post_item(
        client,
        text="扫码总是失败，我要投诉",
        channel="taobao",
        created_at="2026-09-10T10:00:00+08:00",
        customer=one,
    )
    slow = post_item(
        client, text="导出有点慢", channel="jd", created_at="2026-09-12T10:00:00+08:00", customer=two
    )
    detractor = post_item(
        client,
        text="不会推荐",
        channel="survey",
        kind="survey_answer",
        rating=3,
        rating_scale=[0, 10],
        metadata={"question_type": "nps"},
        created_at="2026-09-20T10:00:00+08:00",
        customer=two,
    )
    analyse(db, complaint, "negative", complaint=True)
    analyse(db, slow, "negative")
    analyse(db, detractor, "negative")


def test_behaviour_breakdowns_over_http(client, db):
    seed(client, db)
    response = client.get("/api/v1/insight/behaviour", params={**WINDOW, "days": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [
        (f["feature"], f["customers"], f["complaint_rate"], f["negative_share"]) for f in body["features"]
    ] == [
        ("scan", 1, 1.0, 1.0),
        ("export", 1, 0.0, 1.0),
    ]
    assert [(f["bucket"], f["customers"], f["nps"]) for f in body["frequency"]] == [
        ("0", 1, -100.0),
        ("1", 0, None),
        ("2-3", 1, None),
        ("4+", 0, None),
    ]
    assert body["spend"]["customers"] == 1
    assert body["spend"]["currencies"] == [
        {
            "currency": "CNY",
            "customers": 1,
            "total_before": 160.0,
            "total_after": 0.0,
            "avg_before": 160.0,
            "avg_after": 0.0,
            "change": -1.0,
        }
    ]
    gold = client.get("/api/v1/insight/behaviour", params={**WINDOW, "tier": "gold"}).json()
    assert [f["feature"] for f in gold["features"]] == ["scan"]
    assert client.get("/api/v1/insight/behaviour", params={"days": 0}).status_code == 422


def test_at_risk_is_paged_and_explained(client, client_as, db):
    seed(client, db)
    params = {"until": "2026-09-20", "days": 10}  # 09-01…09-10 against 09-11…09-20
    body = client.get("/api/v1/insight/at-risk", params=params).json()
    assert body["total"] == 2 and body["currency"] == "CNY"
    first, second = body["customers"]
    assert (first["external_id"], first["score"]) == ("C-2", 80)
    assert [r["code"] for r in first["reasons"]] == ["silent_negative", "falling_activity"]
    assert first["reasons"][0]["zh"] == "近 20 天有 2 条负面反馈，但从未投诉"
    assert (second["external_id"], second["score"], second["spend"]) == ("C-1", 40, 160.0)
    page = client_as("viewer").get("/api/v1/insight/at-risk", params={**params, "limit": 1, "offset": 1})
    assert page.status_code == 200
    assert [c["external_id"] for c in page.json()["customers"]] == ["C-1"]
    assert page.json()["total"] == 2
    by_spend = client.get("/api/v1/insight/at-risk", params={**params, "sort": "spend"}).json()
    assert [c["external_id"] for c in by_spend["customers"]] == ["C-1", "C-2"]
    assert client_as(None).get("/api/v1/insight/at-risk").status_code == 401


def test_downloads_match_the_json(client, db):
    seed(client, db)
    params = {"until": "2026-09-20", "days": 10}  # 09-01…09-10 against 09-11…09-20
    customers = client.get("/api/v1/insight/at-risk", params=params).json()["customers"]

    sheet = client.get("/api/v1/insight/at-risk", params={**params, "format": "xlsx", "lang": "en"})
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="closeloop-at-risk-' in sheet.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(sheet.content))["Customers at risk"].iter_rows(values_only=True))
    assert list(rows[0]) == [column_name(key, "en") for key in RISK_COLUMNS]
    assert rows[0][:4] == ("Customer id", "Tier", "Region", "Risk score")
    table = [dict(zip(RISK_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [(r["external_id"], r["score"], r["spend"]) for r in table] == [
        (c["external_id"], c["score"], c["spend"]) for c in customers
    ]
    assert table[0]["reasons_en"] == "; ".join(r["en"] for r in customers[0]["reasons"])

    text = client.get("/api/v1/insight/at-risk", params={**params, "format": "csv"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    assert text.content.startswith("\ufeff".encode())
    parsed = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert [(r["客户编号"], r["风险分"]) for r in parsed] == [("C-2", "80"), ("C-1", "40")]
    assert parsed[0]["原因"].startswith("近 20 天有 2 条负面反馈")

    figures = client.get("/api/v1/insight/behaviour", params={**WINDOW, "days": 7}).json()
    download = client.get(
        "/api/v1/insight/behaviour", params={**WINDOW, "days": 7, "format": "xlsx", "lang": "en"}
    )
    book = load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == ["By feature", "By purchase frequency", "Spend around a complaint"]
    features = list(book["By feature"].iter_rows(values_only=True))
    assert features[0][0] == "Feature" and features[0][6] == "Complaint rate"
    assert [row[0] for row in features[1:]] == [f["feature"] for f in figures["features"]]
    assert [row[6] for row in features[1:]] == [f["complaint_rate"] for f in figures["features"]]
    frequency = list(book["By purchase frequency"].iter_rows(values_only=True))
    assert [row[5] for row in frequency[1:]] == [f["nps"] for f in figures["frequency"]]
    spend = list(book["Spend around a complaint"].iter_rows(values_only=True))
    assert spend[1][:3] == ("CNY", 1, 160.0)
    long = client.get(
        "/api/v1/insight/behaviour", params={**WINDOW, "days": 7, "format": "csv", "lang": "en"}
    )
    breakdowns = [r["Breakdown"] for r in csv.DictReader(io.StringIO(long.content.decode("utf-8-sig")))]
    assert breakdowns == ["features", "features", *["frequency"] * 4, "spend"]

    with db() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("insight.%"))))
    assert actions == ["insight.at_risk_exported", "insight.at_risk_exported"]


def test_column_names_fall_back_to_the_dashboard_exports():
    assert column_name("score", "zh") == "风险分"  # not the dashboard's "aspect score"
    assert column_name("complaint_rate", "en") == "Complaint rate"
    assert column_name("no_such_key", "en") == "no_such_key"
