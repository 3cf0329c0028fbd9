"""Trend alerts on the store: the demo's planted packaging story is flagged once per episode, flat noise
is not, the API lists and acknowledges alerts, and the insight team hears about them (webhook, e-mail)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.collect.ingest import ChannelCache, write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.collect.webhooks import sign
from closeloop.demo.generate import generate_demo
from closeloop.insight.alerts import history_window, run_alert_job, run_detection
from closeloop.store.models import Alert, Analysis, AuditEntry, FeedbackItem, Team

DEMO_END = datetime(2026, 3, 2, tzinfo=UTC)  # the demo's "now": detection runs as of this day
TODAY = DEMO_END.date()


def store_demo(factory: sessionmaker[Session], *, now: datetime = DEMO_END) -> None:
    """The demo feedback, with one analysis per item written from the generator's answer key (no model):
    categories = the aspects the item talks about, complaint = its overall sentiment is negative."""
    demo = generate_demo(items=5000, days=180, seed=7, now=now)
    with factory() as session:
        write_batch(
            session, demo.feedback, channels=ChannelCache(session), emit_event=False, redact_pii=False
        )
        truth = session.execute(select(FeedbackItem.id, FeedbackItem.meta)).all()
        session.execute(
            insert(Analysis),
            [
                {
                    "feedback_id": item_id,
                    "model_version": "answer-key",
                    "sentiment": meta["demo_truth"]["sentiment"],
                    "complaint": meta["demo_truth"]["sentiment"] == "negative",
                    "categories": sorted(meta["demo_truth"]["aspects"]),
                    "aspects": [],
                    "needs_review": False,
                }
                for item_id, meta in truth
            ],
        )
        session.commit()


def store_flat_noise(factory: sessionmaker[Session], *, today: date, seed: int = 11) -> int:
    """70 days of feedback with a weekly rhythm and over-dispersed daily volume but nothing rising:
    three channels, three products, four categories, a constant 20% complaint rate."""
    rng = np.random.default_rng(seed)
    window = history_window(today)
    records, analyses = [], []
    for offset in range((window.today - window.start).days):
        day_start = window.since + timedelta(days=offset)
        weekday = 1.25 if day_start.weekday() >= 5 else 1.0
        for _ in range(rng.poisson(40 * weekday * rng.gamma(20, 1 / 20))):
            number = len(records)
            records.append(
                FeedbackRecord(
                    text=f"平常的反馈 ordinary feedback {number}",
                    channel=str(rng.choice(["jd", "taobao", "wechat"])),
                    external_id=f"FLAT-{number}",
                    created_at=day_start + timedelta(seconds=int(rng.integers(0, 86_400))),
                    product=str(rng.choice(["知屿电热水壶", "知屿台灯", "知屿枕头"])),
                )
            )
            analyses.append(
                (str(rng.choice(["quality", "logistics", "price", "packaging"])), rng.random() < 0.2)
            )
    with factory() as session:
        ids = write_batch(session, records, emit_event=False, redact_pii=False).item_ids
        session.execute(
            insert(Analysis),
            [
                {
                    "feedback_id": item_id,
                    "model_version": "m1",
                    "complaint": complaint,
                    "categories": [category],
                }
                for item_id, (category, complaint) in zip(ids, analyses, strict=True)
            ],
        )
        session.commit()
    return len(records)


def alert_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Alert)) or 0


def test_the_planted_packaging_story_is_flagged_once(db):
    store_demo(db)
    with db() as session:
        new = run_detection(session, today=TODAY)
        session.commit()
        packaging = [alert for alert in new if alert.key == "category:packaging"]
        assert packaging and all(alert.status == "open" for alert in packaging)
        alert = packaging[0]
        # The story starts 21 days before the demo's end; the detector dates the rise within a few days.
        assert abs((alert.started_on - (TODAY - timedelta(days=21))).days) <= 5
        assert alert.ratio >= 2 and alert.severity == "high" and alert.p_value < 0.01
        assert "category:packaging" in alert.message_zh and "投诉" in alert.message_zh
        assert "complaint" in alert.message_en
        assert len(alert.evidence["periods"]) == len(alert.evidence["counts"]) > 28
        assert alert.dedupe_key == f"category:packaging|{alert.signal}|{alert.started_on.isoformat()}"
    stored = alert_count(db)
    # Hourly runs the same day, and the next days of the same episode, add nothing.
    for later in (TODAY, TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=3)):
        with db() as session:
            assert run_detection(session, today=later) == []
            session.commit()
    assert alert_count(db) == stored


def test_flat_noise_raises_no_alert(db):
    assert store_flat_noise(db, today=TODAY) > 2000
    with db() as session:
        assert run_detection(session, today=TODAY) == []
        session.commit()
    assert alert_count(db) == 0


def test_the_api_lists_and_acknowledges_alerts(db, client_as):
    store_demo(db)
    with db() as session:
        run_detection(session, today=TODAY)
        session.commit()
    viewer, agent = client_as("viewer"), client_as("agent")
    listed = viewer.get("/api/v1/alerts", params={"status": "open"})
    assert listed.status_code == 200
    packaging = next(alert for alert in listed.json() if alert["key"] == "category:packaging")
    assert packaging["status"] == "open" and packaging["severity"] == "high"
    assert packaging["evidence"]["counts"] and "投诉" in packaging["message_zh"]
    assert viewer.get("/api/v1/alerts", params={"status": "nonsense"}).status_code == 422

    assert viewer.post(f"/api/v1/alerts/{packaging['id']}/ack").status_code == 403
    acked = agent.post(f"/api/v1/alerts/{packaging['id']}/ack")
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"].startswith("agent-")
    again = agent.post(f"/api/v1/alerts/{packaging['id']}/ack")
    assert again.status_code == 200 and again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]
    assert agent.post("/api/v1/alerts/999999/ack").status_code == 404

    still_open = viewer.get("/api/v1/alerts", params={"status": "open"}).json()
    assert packaging["id"] not in [alert["id"] for alert in still_open]
    by_key = viewer.get("/api/v1/alerts", params={"key": "category:packaging"}).json()
    assert [alert["status"] for alert in by_key if alert["id"] == packaging["id"]] == ["acknowledged"]
    with db() as session:
        stored = session.get(Alert, packaging["id"])
        assert stored is not None and stored.status == "acknowledged"
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.acknowledged")).all()
        assert [entry.target for entry in audits] == [f"alert:{packaging['id']}"]  # once, not twice


class WebhookReceiver:
    """A local HTTP endpoint recording every POST (headers lower-cased, raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/insight"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


def test_the_insight_team_is_told_once_by_webhook_and_email(db, settings, receiver, smtp_server):
    store_demo(db)
    with db() as session:
        session.add(
            Team(
                name="insight",
                label_zh="洞察组",
                email="insight@example.com",
                webhook_url=receiver.url,
                webhook_kind="generic",
                webhook_secret="s3cret",
            )
        )
        session.commit()
    configured = settings.model_copy(
        update={
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "public_url": "https://cl.example",
        }
    )
    new_ids = run_alert_job(db, configured, now=DEMO_END + timedelta(hours=3))
    assert new_ids

    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers["x-closeloop-event"] == "alert.opened"
    assert headers["x-closeloop-signature"] == sign("s3cret", headers["x-closeloop-timestamp"], body)
    document = json.loads(body)
    keys = [alert["key"] for alert in document["payload"]["alerts"]]
    assert "category:packaging" in keys and sorted(a["id"] for a in document["payload"]["alerts"]) == sorted(
        new_ids
    )
    assert "趋势预警" in document["title"] and "category:packaging" in document["text"]
    assert document["url"] == "https://cl.example/api/v1/alerts?status=open"

    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == "insight@example.com" and mail["X-Closeloop-Event"] == "alert.opened"
    assert "category:packaging" in mail.get_content()
    with db() as session:
        assert all(session.get(Alert, alert_id).notified_at is not None for alert_id in new_ids)

    # The next hourly run: nothing new, nothing sent again.
    assert run_alert_job(db, configured, now=DEMO_END + timedelta(hours=4)) == []
    assert len(receiver.received) == 1 and len(smtp_server.messages) == 1


def test_an_alert_is_sent_later_when_the_team_appears(db, settings, receiver):
    store_demo(db)
    first = run_alert_job(db, settings, now=DEMO_END)  # no insight team yet: stored, not sent
    assert first and receiver.received == []
    with db() as session:
        session.add(Team(name="insight", webhook_url=receiver.url, webhook_kind="generic"))
        session.commit()
    assert run_alert_job(db, settings, now=DEMO_END + timedelta(hours=1)) == []
    assert len(receiver.received) == 1
    sent = json.loads(receiver.received[0][1])["payload"]["alerts"]
    assert sorted(alert["id"] for alert in sent) == sorted(first)


def test_the_cli_runs_detection_and_prints_new_alerts(db, settings):
    store_demo(db)
    result = CliRunner().invoke(app, ["alerts", "--today", TODAY.isoformat(), "--json", "--no-notify"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert "category:packaging" in [alert["key"] for alert in printed]
    assert alert_count(db) == len(printed)
    again = CliRunner().invoke(app, ["alerts", "--today", TODAY.isoformat(), "--json", "--no-notify"])
    assert again.exit_code == 0 and json.loads(again.output) == []
    wrong = CliRunner().invoke(app, ["alerts", "--today", "2026-3-2"])
    assert wrong.exit_code == 2 and "2026-03-01" in wrong.output and "Traceback" not in wrong.output
