"""Teams hear about their cases: a new case and an SLA breach reach the team's signed webhook and, by
e-mail, the team's address (real HTTP receiver, real SMTP server)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from closeloop.act.jobs import run_sla_check
from closeloop.jobs.events import process_pending
from closeloop.settings import get_settings
from closeloop.store.models import utcnow

SECRET = "team-secret"


@pytest.fixture
def receiver():
    received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_new_cases_and_breaches_reach_the_team(client, db, receiver, smtp_server, monkeypatch):
    url, received = receiver
    monkeypatch.setenv("CLOSELOOP_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CLOSELOOP_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    team = {
        "email": "logistics@example.com",
        "webhook_url": url,
        "webhook_kind": "generic",
        "webhook_secret": SECRET,
    }
    assert client.put("/api/v1/teams/logistics", json=team).json()["has_webhook"] is True
    rules = {
        "rules": [
            {
                "id": "all",
                "name": "全部",
                "when": {},
                "then": {"team": "logistics", "sla": {"first_response": "1h"}},
            }
        ]
    }
    assert client.put("/api/v1/routing-rules", json=rules).status_code == 200

    item = client.post("/api/v1/feedback", json={"channel": "jd", "text": "快递丢了"}).json()["ids"][0]
    from closeloop.jobs.analysis import active_engine, analyse_items

    analyse_items(db, [item], active_engine())
    process_pending(db)  # analysed → routed into a case
    process_pending(db)  # case opened → the team is told
    headers, body = received[0]
    expected = hmac.new(
        SECRET.encode(), f"{headers['X-Closeloop-Timestamp']}.".encode() + body, hashlib.sha256
    )
    assert headers["X-Closeloop-Signature"] == f"sha256={expected.hexdigest()}"
    assert json.loads(body)["event"] == "case.opened"
    assert [m["To"] for m in smtp_server.messages] == ["logistics@example.com"]

    assert run_sla_check(db, utcnow() + timedelta(hours=2)) != []
    assert json.loads(received[-1][1])["event"] == "case.sla_breach"
    assert "SLA breach" in smtp_server.messages[-1]["Subject"]
