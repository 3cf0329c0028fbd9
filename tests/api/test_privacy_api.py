"""Privacy by design, through the API: personal data redacted and encrypted, unmasked views audited,
consent honoured, a customer's data exported and erased, retention applied, exports safe to open."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from closeloop.jobs.analysis import analyse_items
from closeloop.store.models import Analysis, AuditEntry, Customer, Embedding, FeedbackItem

PHONE = "13912345678"
EMAIL = "li.lei@example.com"


def _post(
    client, text_: str, *, customer: str | None = "C-1", external_id: str | None = None, **extra
) -> int:
    body = {"channel": "wechat", "text": text_, **extra}
    if customer:
        body["customer"] = {"external_id": customer, "email": EMAIL, "phone": PHONE, "name": "李雷"}
    if external_id:
        body["external_id"] = external_id
    response = client.post("/api/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    return response.json()["ids"][0]


def _audit_actions(db) -> list[tuple[str, str | None]]:
    with db() as session:
        return [(e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_personal_data_in_text_is_redacted_and_the_original_kept_encrypted(client, db):
    item_id = _post(client, f"快递三天没到，打我电话{PHONE}或者发邮件到{EMAIL}，太慢了")
    shown = client.get(f"/api/v1/feedback/{item_id}").json()
    assert PHONE not in shown["text"] and EMAIL not in shown["text"]
    assert "快递三天没到" in shown["text"] and "太慢了" in shown["text"]
    assert set(shown["pii_redacted"]) == {"mobile", "email"}
    listed = client.get("/api/v1/feedback", params={"q": "快递"}).json()["items"]
    assert all(PHONE not in item["text"] for item in listed)
    # Searching for the number finds nothing: the searchable text holds no personal data.
    assert client.get("/api/v1/feedback", params={"q": PHONE[-6:]}).json()["items"] == []

    # In the database: neither the text nor any other column holds the number in clear.
    with db() as session:
        raw = session.execute(
            text("SELECT text, text_original FROM feedback_items WHERE id = :id"), {"id": item_id}
        ).one()
        contact = session.execute(text("SELECT name, email, phone FROM customers")).one()
    assert PHONE not in raw.text and PHONE not in raw.text_original and raw.text_original.startswith("gAAAA")
    assert all(value.startswith("gAAAA") for value in contact)
    assert PHONE not in "".join(contact) and EMAIL not in "".join(contact)

    original = client.get(f"/api/v1/feedback/{item_id}/original")
    assert original.status_code == 200 and PHONE in original.json()["text"]
    assert ("pii.viewed", f"feedback:{item_id}") in _audit_actions(db)


def test_only_those_allowed_see_personal_data(client, client_as, db):
    item_id = _post(client, f"客服电话{PHONE}打不通")
    for role in ("analyst", "agent", "viewer"):
        http = client_as(role)
        assert http.get(f"/api/v1/feedback/{item_id}/original").status_code == 403
        assert http.get("/api/v1/customers/C-1/contact").status_code == 403
        masked = http.get("/api/v1/customers/C-1").json()
        assert (masked["phone"], masked["email"], masked["name"]) == (
            "139****5678",
            "l***@example.com",
            "李*",
        )
    assert [a for a, _ in _audit_actions(db) if a == "pii.viewed"] == []


def test_withdrawing_consent_to_analytics_removes_and_stops_analysis(client, db, settings):
    from closeloop.jobs.analysis import active_engine

    first = _post(client, "物流很快，包装也好", customer="C-9")
    other = _post(client, "质量一般", customer="C-10")
    engine = active_engine()
    analyse_items(db, [first, other], engine)
    with db() as session:
        assert session.scalar(select(Analysis.id).where(Analysis.feedback_id == first)) is not None
    response = client.post("/api/v1/customers/C-9/consents", json={"purpose": "analytics", "granted": False})
    assert response.status_code == 201
    later = _post(client, "第二次买，还是很满意", customer="C-9")
    assert analyse_items(db, [first, later], engine) == 0
    with db() as session:
        assert session.scalars(select(Analysis).where(Analysis.feedback_id.in_([first, later]))).all() == []
        assert session.scalars(select(Embedding).where(Embedding.feedback_id.in_([first, later]))).all() == []
        assert session.scalar(select(Analysis.id).where(Analysis.feedback_id == other)) is not None
    # Consenting again lets analysis resume.
    client.post("/api/v1/customers/C-9/consents", json={"purpose": "analytics", "granted": True})
    assert analyse_items(db, [first, later], engine) == 2


def test_a_customer_exports_and_erases_every_copy(client, client_as, db):
    kept = _post(client, "别的客户的评价，和我无关", customer="C-2")
    ids = [
        _post(client, f"订单丢了，电话{PHONE}", customer="C-1", external_id="m-1", rating=1),
        _post(client, "第二次反馈：客服态度很好", customer="C-1", external_id="m-2", rating=5),
    ]
    client.post("/api/v1/customers/C-1/consents", json={"purpose": "survey", "granted": True})
    client.post(f"/api/v1/feedback/{ids[1]}/labels", json={"sentiment": "positive"})
    with db() as session:
        session.add(Embedding(feedback_id=ids[0], encoder="test", vector=b"\x00\x01"))
        session.commit()

    assert client_as("analyst").get("/api/v1/customers/C-1/export").status_code == 403
    export = client.get("/api/v1/customers/C-1/export")
    assert export.status_code == 200
    data = export.json()
    assert data["customer"]["phone"] == PHONE and data["customer"]["name"] == "李雷"
    assert [f["id"] for f in data["feedback"]] == ids
    assert PHONE in data["feedback"][0]["text"]  # the export is for the customer: original text
    assert data["consents"][0]["purpose"] == "survey"
    assert data["feedback"][1]["labels"][0]["value"] == "positive"
    json.dumps(data)  # JSON-ready

    erased = client.delete("/api/v1/customers/C-1")
    assert erased.status_code == 200, erased.text
    assert erased.json()["feedback_items"] == 2 and erased.json()["embeddings_removed"] == 1
    assert client.get("/api/v1/customers/C-1").status_code == 404
    with db() as session:
        assert session.scalars(select(Customer).where(Customer.external_id == "C-1")).all() == []
        dump = " ".join(
            str(value) for row in session.execute(text("SELECT * FROM feedback_items")).all() for value in row
        )
        assert "订单丢了" not in dump and "m-1" not in dump
        items = {i.id: i for i in session.scalars(select(FeedbackItem))}
        assert items[ids[0]].customer_id is None and items[ids[0]].rating == 1  # scores stay, anonymous
        assert items[kept].text == "别的客户的评价，和我无关"
        assert session.scalars(select(Embedding)).all() == []
    assert client.get("/api/v1/feedback", params={"q": "订单丢了"}).json()["items"] == []
    actions = [a for a, _ in _audit_actions(db)]
    assert "customer.exported" in actions and "customer.erased" in actions
    with db() as session:
        details = json.dumps([e.detail for e in session.scalars(select(AuditEntry))], ensure_ascii=False)
    assert PHONE not in details and "C-1" not in details  # the audit log holds no personal data

    # Re-sending the same messages after erasure stores them again (the dedupe keys were erased too).
    # (Survey answers, events, invitations and follow-ups: see test_erasure_covers_surveys_and_cases.)
    _post(client, f"订单丢了，电话{PHONE}", customer="C-1", external_id="m-1")


def test_erasure_can_delete_the_feedback_instead(client, db):
    ids = [_post(client, "退货太麻烦", customer="C-3"), _post(client, "价格贵", customer="C-3")]
    response = client.delete("/api/v1/customers/C-3", params={"delete_feedback": "true"})
    assert response.status_code == 200 and response.json()["feedback_deleted"] is True
    with db() as session:
        assert session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(ids))).all() == []


def test_channel_retention_purges_old_feedback(client, client_as, db):
    now = datetime.now(UTC)
    old = _post(client, "很久以前的评价", customer=None, created_at=(now - timedelta(days=40)).isoformat())
    new = _post(client, "昨天的评价", customer=None, created_at=(now - timedelta(days=1)).isoformat())
    assert (
        client_as("analyst").patch("/api/v1/channels/wechat", json={"retention_days": 30}).status_code == 403
    )
    set_ = client.patch("/api/v1/channels/wechat", json={"retention_days": 30})
    assert set_.status_code == 200 and set_.json()["retention_days"] == 30
    dry = client.post("/api/v1/privacy/purge", params={"dry_run": "true"}).json()
    assert dry["purged"]["wechat"] == 1
    with db() as session:
        assert session.get(FeedbackItem, old) is not None
    done = client.post("/api/v1/privacy/purge").json()
    assert done["purged"] == {"wechat": 1}
    with db() as session:
        assert session.get(FeedbackItem, old) is None and session.get(FeedbackItem, new) is not None
    assert ("channel.retention_changed", "channel:wechat") in _audit_actions(db)
    channels = {c["name"]: c for c in client.get("/api/v1/channels").json()}
    assert channels["wechat"]["retention_days"] == 30 and channels["weibo"]["retention_days"] is None


def test_csv_export_neutralises_formulas(client, client_as, db):
    hostile = ['=HYPERLINK("http://evil.example","点我")', "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1+1", "＝1+1"]
    for n, value in enumerate(hostile):
        _post(client, value, customer=None, external_id=f"x-{n}")
    _post(client, "正常的评价 -- 还不错", customer=None, external_id="ok", rating=4)
    assert client_as("viewer").get("/api/v1/feedback/export").status_code == 403
    response = client_as("analyst").get("/api/v1/feedback/export", params={"channel": "wechat"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    texts = {row["text"] for row in rows}
    assert texts == {"'" + value for value in hostile} | {"正常的评价 -- 还不错"}
    assert {row["rating"] for row in rows if row["text"].startswith("正常")} == {"4.0"}
    assert "feedback.exported" in [a for a, _ in _audit_actions(db)]


def test_erasure_covers_survey_answers_events_and_cases(client, db):
    from closeloop.ask.definitions import EXAMPLES_DIR
    from closeloop.ask.service import load, save_answers, save_survey, start_response
    from closeloop.store.models import CustomerEvent, SurveyResponse

    with db() as session:
        save_survey(session, (EXAMPLES_DIR / "post_purchase_nps.yaml").read_text(encoding="utf-8"))
        session.commit()
    item = _post(client, "退款还没到", customer="C-5")
    client.post("/api/v1/cases", json={"feedback_ids": [item], "team": "finance"})
    client.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "external_id": "o-5",
                    "type": "order_completed",
                    "occurred_at": "2026-11-01T00:00:00Z",
                    "customer": {"external_id": "C-5"},
                }
            ]
        },
    )
    with db() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == "C-5")).one()
        response = start_response(session, load(session, "post-purchase-nps"), customer=customer)
        save_answers(session, response, {"nps": 2, "why": f"打{PHONE}没人接"}, finish=True)
        session.commit()
    exported = client.get("/api/v1/customers/C-5/export").json()
    assert (
        exported["survey_responses"][0]["answers"]["nps"] == 2
        and exported["events"][0]["type"] == "order_completed"
    )
    assert exported["cases"][0]["title"]
    assert client.delete("/api/v1/customers/C-5").status_code == 200
    with db() as session:
        [kept] = session.scalars(select(SurveyResponse)).all()
        assert kept.answers == {"nps": 2} and kept.customer_id is None  # the score stays, anonymous
        assert session.scalars(select(CustomerEvent)).all() == []
        assert session.scalar(text("SELECT customer_id FROM cases")) is None
