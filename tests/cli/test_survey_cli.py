"""`closeloop survey`: add a survey and a rule, load events from CSV, send over real SMTP, read results."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from closeloop.ask.definitions import EXAMPLES_DIR
from closeloop.cli import app
from closeloop.collect.customers import get_customer, record_consent
from closeloop.settings import get_settings

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_survey_from_the_command_line(settings, db, tmp_path, smtp_server, monkeypatch):
    assert invoke("survey", "add", str(EXAMPLES_DIR / "post_purchase_nps.yaml")).exit_code == 0
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "id: after_order\nsurvey_id: post-purchase-nps\nevent_type: order_completed\n"
        "delay: 7d\nquiet_hours: null\n",
        encoding="utf-8",
    )
    assert invoke("survey", "rule", str(rule)).exit_code == 0
    bad_rule = tmp_path / "bad.yaml"
    bad_rule.write_text("id: x\nsurvey_id: nope\nevent_type: e\n", encoding="utf-8")
    failed = invoke("survey", "rule", str(bad_rule))
    assert failed.exit_code == 2 and "no survey 'nope'" in failed.output

    occurred = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,type,customer_id,occurred_at,email\n"
        f"o-1,order_completed,C-1,{occurred},c1@example.com\n"
        f"o-2,order_completed,C-2,{occurred},c2@example.com\n",
        encoding="utf-8",
    )
    loaded = invoke("survey", "events", str(events))
    assert loaded.exit_code == 0 and json.loads(loaded.stdout) == {"stored": 2, "duplicates": 0}
    assert json.loads(invoke("survey", "events", str(events)).stdout) == {"stored": 0, "duplicates": 2}
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "event_id,type,customer_id,occurred_at\no-9,order_completed,C-9,yesterday\n", encoding="utf-8"
    )
    refused = invoke("survey", "events", str(broken))
    assert refused.exit_code == 2 and "row 2, field occurred_at" in refused.output

    with db() as session:
        record_consent(session, get_customer(session, "C-1"), purpose="survey", granted=True, source="test")
        session.commit()
    assert invoke("survey", "send").exit_code == 2  # no SMTP configured: a clear error
    monkeypatch.setenv("CLOSELOOP_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CLOSELOOP_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    sent = invoke("survey", "send")
    assert sent.exit_code == 0, sent.output
    report = json.loads(sent.stdout)
    assert (report["sent"], report["skipped"]) == (1, 1)  # C-2 never consented
    assert [m["To"] for m in smtp_server.messages] == ["c1@example.com"]

    results = invoke("survey", "results", "post-purchase-nps")
    assert results.exit_code == 0
    rules = json.loads(results.stdout)["invitation_rules"]["after_order"]
    assert (rules["sent"], rules["skipped"]) == (1, {"no_consent": 1})
